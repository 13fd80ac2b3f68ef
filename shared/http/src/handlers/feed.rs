//! The lifecycle event feed (`orgcert_core::app` feed.rs).

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::Json;
use serde_json::{json, Value};

use super::{limit, reject_unknown, Caller};
use crate::problem::ApiResult;
use crate::routes::Operation;
use crate::HttpState;

pub async fn list_events(
    State(s): State<HttpState>,
    Caller(a): Caller,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    reject_unknown(&q, Operation::ListEvents)?;
    let page = s
        .app
        .lifecycle_events(
            &a,
            q.get("after").map(String::as_str).filter(|c| !c.is_empty()),
            limit(&q, 100)?,
        )
        .await?;
    Ok(Json(
        json!({ "items": page.items, "next_cursor": page.next_cursor }),
    ))
}
