//! Notifications and the audit log (`orgcert_core::app` activity.rs).

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use orgcert_core::DomainError;
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

use super::{limit, reject_unknown, Caller};
use crate::json::OptionalJsonBody;
use crate::problem::{ApiError, ApiResult};
use crate::routes::Operation;
use crate::HttpState;

pub async fn list_notifications(
    State(s): State<HttpState>,
    Caller(a): Caller,
) -> ApiResult<Json<Value>> {
    let items = s.app.notifications(&a).await?;
    let unread = items.iter().filter(|n| !n.read).count();
    Ok(Json(json!({ "items": items, "unread": unread })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadBody {
    #[serde(default)]
    ids: Vec<Uuid>,
}

pub async fn mark_notifications_read(
    State(s): State<HttpState>,
    Caller(a): Caller,
    OptionalJsonBody(body): OptionalJsonBody<ReadBody>,
) -> ApiResult<Json<Value>> {
    s.app.mark_notifications_read(&a, body.value.ids).await?;
    let items = s.app.notifications(&a).await?;
    let unread = items.iter().filter(|n| !n.read).count();
    Ok(Json(json!({ "items": items, "unread": unread })))
}

pub async fn list_audit(
    State(s): State<HttpState>,
    Caller(a): Caller,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    reject_unknown(&q, Operation::ListAudit)?;
    let page = s
        .app
        .audit_log(
            &a,
            limit(&q, 100)?,
            q.get("cursor")
                .map(String::as_str)
                .filter(|c| !c.is_empty()),
        )
        .await?;
    Ok(Json(
        json!({ "items": page.items, "next_cursor": page.next_cursor }),
    ))
}

/// The audit chain as JSON lines (one event per line, oldest first), the input of
/// `orgcert audit verify FILE`.
pub async fn export_audit(
    State(s): State<HttpState>,
    Caller(a): Caller,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    reject_unknown(&q, Operation::ExportAudit)?;
    let events = s.app.audit_export(&a).await?;
    let mut body = String::new();
    for e in &events {
        let line = serde_json::to_string(e)
            .map_err(|e| ApiError(DomainError::Internal(format!("audit event to JSON: {e}"))))?;
        body.push_str(&line);
        body.push('\n');
    }
    Ok((
        [
            (header::CONTENT_TYPE, "application/x-ndjson; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"audit.jsonl\"",
            ),
        ],
        body,
    )
        .into_response())
}
