//! Certificate profiles: list, export, read, edit (`orgcert_core::app` profiles.rs).

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use orgcert_core::app::MasterDataPatch;
use orgcert_core::model::{CertKind, CertStatus, SystemRights};
use orgcert_core::ports::ProfileQuery;
use orgcert_core::DomainError;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{limit, malformed, profile_id, reject_unknown, Caller};
use crate::json::JsonBody;
use crate::problem::{ApiError, ApiResult};
use crate::routes::Operation;
use crate::{views, HttpState};

pub async fn list_profiles(
    State(s): State<HttpState>,
    Caller(a): Caller,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    reject_unknown(&q, Operation::ListProfiles)?;
    let status = match q.get("status").map(String::as_str) {
        None | Some("") => None,
        Some(v) => Some(serde_json::from_value::<CertStatus>(json!(v)).map_err(|_| {
            malformed(
                "status",
                "status must be pending, issued, revoked or expired",
            )
        })?),
    };
    let kind = match q.get("type").map(String::as_str) {
        None | Some("") => None,
        Some(v) => Some(
            serde_json::from_value::<CertKind>(json!(v))
                .map_err(|_| malformed("type", "type must be organisation or system"))?,
        ),
    };
    let query = ProfileQuery {
        q: q.get("q").cloned(),
        status,
        kind,
        limit: limit(&q, 50)?,
        cursor: q.get("cursor").filter(|c| !c.is_empty()).cloned(),
        now: None,
    };
    let page = s.app.list_profiles(&a, query).await?;
    let now = s.app.now();
    let items: Vec<Value> = page.items.iter().map(|p| views::profile(p, now)).collect();
    Ok(Json(
        json!({ "items": items, "next_cursor": page.next_cursor }),
    ))
}

pub async fn export_profiles(State(s): State<HttpState>, Caller(a): Caller) -> ApiResult<Response> {
    let profiles = s.app.export_profiles(&a).await?;
    let body = crate::export::profiles_csv(&profiles, s.app.now())
        .map_err(|e| ApiError(DomainError::Internal(format!("csv: {e}"))))?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "text/csv; charset=utf-8; header=present",
            ),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"certificate-profiles.csv\"",
            ),
        ],
        body,
    )
        .into_response())
}

pub async fn get_profile(
    State(s): State<HttpState>,
    Caller(a): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let (p, certs) = s.app.get_profile(&a, profile_id(&id)?).await?;
    let now = s.app.now();
    let certs: Vec<Value> = certs
        .iter()
        .rev()
        .map(|c| views::certificate(c, now))
        .collect();
    Ok(Json(
        json!({ "profile": views::profile(&p, now), "certificates": certs }),
    ))
}

pub async fn update_profile(
    State(s): State<HttpState>,
    Caller(a): Caller,
    Path(id): Path<String>,
    body: JsonBody<MasterDataPatch>,
) -> ApiResult<Json<Value>> {
    let p = s
        .app
        .update_master_data(&a, profile_id(&id)?, body.value)
        .await?;
    Ok(Json(views::profile(&p, s.app.now())))
}

pub async fn put_system_rights(
    State(s): State<HttpState>,
    Caller(a): Caller,
    Path(id): Path<String>,
    body: JsonBody<SystemRights>,
) -> ApiResult<Json<Value>> {
    let p = s
        .app
        .set_system_rights(&a, profile_id(&id)?, body.value)
        .await?;
    Ok(Json(views::profile(&p, s.app.now())))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SealBody {
    enabled: bool,
}

pub async fn put_seal_generation(
    State(s): State<HttpState>,
    Caller(a): Caller,
    Path(id): Path<String>,
    body: JsonBody<SealBody>,
) -> ApiResult<Json<Value>> {
    let p = s
        .app
        .set_seal_generation(&a, profile_id(&id)?, body.value.enabled)
        .await?;
    Ok(Json(views::profile(&p, s.app.now())))
}
