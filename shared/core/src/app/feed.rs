//! The lifecycle event feed (`GET /v1/events`) and its delivery to an event bus.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use super::input::check_cursor;
use super::App;
use crate::auth::{Actor, Role};
use crate::error::{DomainError, Result};
use crate::events::LifecycleEvent;

/// A page of the feed: events oldest first and the cursor to ask with next time (the
/// last event's, or the one asked with when nothing new has happened).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventPage {
    /// Events after the cursor, oldest first.
    pub items: Vec<LifecycleEvent>,
    /// Pass as `after` to continue; `None` only when the organisation has no events.
    pub next_cursor: Option<String>,
}

/// The cursor names a position in the organisation's feed (the event's `seq`), so it
/// survives restarts and works on any instance.
fn encode(seq: u64) -> String {
    URL_SAFE_NO_PAD.encode(format!("ev1:{seq}"))
}

fn decode(c: &str) -> Result<u64> {
    URL_SAFE_NO_PAD
        .decode(c)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.strip_prefix("ev1:").and_then(|n| n.parse::<u64>().ok()))
        .ok_or_else(|| {
            DomainError::invalid(
                "after",
                "the cursor must be the next_cursor of an earlier page",
            )
        })
}

impl App {
    /// Lifecycle events of the caller's organisation after `after`, oldest first
    /// (user_admin, rights_admin, org_admin).
    ///
    /// # Errors
    /// `Forbidden`; `Invalid{limit}`; `Malformed{cursor}` for a cursor that is not
    /// base64url; `Invalid{after}` for one this service did not produce.
    pub async fn lifecycle_events(
        &self,
        actor: &Actor,
        after: Option<&str>,
        limit: u32,
    ) -> Result<EventPage> {
        actor.require(&[Role::UserAdmin, Role::RightsAdmin, Role::OrgAdmin])?;
        check_cursor(after)?;
        if limit == 0 || limit > 500 {
            return Err(DomainError::invalid(
                "limit",
                "limit must be between 1 and 500",
            ));
        }
        let from = after.map(decode).transpose()?.unwrap_or(0);
        let items = self.store.events(&actor.org, from, limit).await?;
        let next_cursor = match items.last() {
            Some(e) => Some(encode(e.seq)),
            None => after.map(str::to_owned),
        };
        Ok(EventPage { items, next_cursor })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_foreign_ones_are_refused() {
        assert_eq!(decode(&encode(42)).unwrap(), 42);
        for bad in ["", "MTI", "ZXYxOng"] {
            assert!(decode(bad).is_err(), "{bad}");
        }
    }
}
