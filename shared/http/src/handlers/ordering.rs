//! Creating a profile with its first order, and ordering under a profile
//! (`orgcert_core::app` ordering.rs).

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use orgcert_core::app::ProfileInput;

use super::{idempotency, order_response, profile_id, Caller};
use crate::json::{JsonBody, NoBody};
use crate::problem::ApiResult;
use crate::routes::Operation;
use crate::HttpState;

pub async fn create_profile(
    State(s): State<HttpState>,
    Caller(a): Caller,
    headers: HeaderMap,
    body: JsonBody<ProfileInput>,
) -> ApiResult<Response> {
    let idem = idempotency(
        &headers,
        Operation::CreateProfile,
        "/v1/profiles",
        &body.raw,
    )?;
    let r = s.app.create_profile(&a, body.value, idem).await?;
    Ok(order_response(&s, &r))
}

pub async fn order_certificate(
    State(s): State<HttpState>,
    Caller(a): Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    _: NoBody,
) -> ApiResult<Response> {
    let pid = profile_id(&id)?;
    let idem = idempotency(&headers, Operation::OrderCertificate, &id, b"")?;
    let r = s.app.order_certificate(&a, pid, idem).await?;
    Ok(order_response(&s, &r))
}
