//! Lifecycle events on Amazon EventBridge: source `orgcert`, detail-type = the event
//! type, detail = the event as `GET /v1/events` shows it.

use async_trait::async_trait;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use aws_sdk_eventbridge::Client;
use uuid::Uuid;

use orgcert_core::error::{DomainError, Result};
use orgcert_core::events::LifecycleEvent;
use orgcert_core::ports::EventBus;

use crate::error::sdk_error;

/// The `source` of every event this service puts on the bus.
pub const SOURCE: &str = "orgcert";

/// EventBridge's limit of entries in one PutEvents call.
const MAX_ENTRIES: usize = 10;

/// Puts events on one EventBridge bus.
#[derive(Clone)]
pub struct EventBridgeBus {
    client: Client,
    bus: String,
}

impl EventBridgeBus {
    /// A bus by name or ARN (`default` for the account's default bus).
    pub fn new(client: Client, bus: impl Into<String>) -> Self {
        Self {
            client,
            bus: bus.into(),
        }
    }
}

#[async_trait]
impl EventBus for EventBridgeBus {
    async fn publish(&self, events: &[LifecycleEvent]) -> Result<Vec<Uuid>> {
        let mut accepted = Vec::with_capacity(events.len());
        for chunk in events.chunks(MAX_ENTRIES) {
            let mut entries = Vec::with_capacity(chunk.len());
            for e in chunk {
                let detail = serde_json::to_string(e)
                    .map_err(|err| DomainError::Internal(format!("event to JSON: {err}")))?;
                entries.push(
                    PutEventsRequestEntry::builder()
                        .source(SOURCE)
                        .detail_type(&e.kind)
                        .detail(detail)
                        .event_bus_name(&self.bus)
                        .time(aws_sdk_eventbridge::primitives::DateTime::from_secs(
                            e.at.unix_timestamp(),
                        ))
                        .build(),
                );
            }
            let out = self
                .client
                .put_events()
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|err| sdk_error("EventBridge PutEvents", err))?;
            // Result entries are in request order; one with an error code was refused.
            for (e, r) in chunk.iter().zip(out.entries()) {
                if r.error_code().is_none() && r.event_id().is_some() {
                    accepted.push(e.id);
                } else {
                    tracing::warn!(id = %e.id, code = ?r.error_code(), message = ?r.error_message(), "EventBridge refused an event");
                }
            }
        }
        Ok(accepted)
    }
}

/// The store and the bus of the `deliver-events` job, from the environment
/// (`AwsConfig::from_env`, and `ORGCERT_EVENT_BUS`, default `default`).
///
/// # Errors
/// `Invalid` for a missing or bad variable.
pub async fn delivery_from_env() -> Result<(crate::DynamoStore, EventBridgeBus)> {
    let cfg = crate::AwsConfig::from_env()?;
    let sdk = crate::sdk_config(&cfg).await;
    let store = crate::DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), cfg.table.clone());
    let bus = std::env::var("ORGCERT_EVENT_BUS")
        .ok()
        .filter(|b| !b.is_empty())
        .unwrap_or_else(|| "default".into());
    Ok((store, EventBridgeBus::new(Client::new(&sdk), bus)))
}
