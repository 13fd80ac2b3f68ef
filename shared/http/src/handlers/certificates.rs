//! One certificate: read, renew, revoke, delete a pending order, send its link again
//! (`orgcert_core::app` certificates.rs).

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Json;
use orgcert_core::model::RevocationReason;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::{idempotency, order_response, serial, Caller};
use crate::json::{NoBody, OptionalJsonBody};
use crate::problem::ApiResult;
use crate::routes::Operation;
use crate::{views, HttpState};

pub async fn get_certificate(
    State(s): State<HttpState>,
    Caller(a): Caller,
    Path(sn): Path<String>,
) -> ApiResult<Json<Value>> {
    let d = s.app.get_certificate(&a, &serial(&sn)?).await?;
    let mut v = views::certificate(&d.certificate, s.app.now());
    if d.certificate.certificate_pem.is_some() {
        v["chain_pem"] = json!(s.app.ca_pem());
    }
    Ok(Json(v))
}

pub async fn renew_certificate(
    State(s): State<HttpState>,
    Caller(a): Caller,
    Path(sn): Path<String>,
    headers: HeaderMap,
    _: NoBody,
) -> ApiResult<Response> {
    let serial = serial(&sn)?;
    let idem = idempotency(&headers, Operation::RenewCertificate, serial.as_str(), b"")?;
    let r = s.app.renew(&a, &serial, idem).await?;
    Ok(order_response(&s, &r))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokeBody {
    #[serde(default)]
    reason: Option<RevocationReason>,
}

pub async fn revoke_certificate(
    State(s): State<HttpState>,
    Caller(a): Caller,
    Path(sn): Path<String>,
    OptionalJsonBody(body): OptionalJsonBody<RevokeBody>,
) -> ApiResult<Json<Value>> {
    let reason = body.value.reason.unwrap_or(RevocationReason::Unspecified);
    let c = s.app.revoke(&a, &serial(&sn)?, reason).await?;
    Ok(Json(views::certificate(&c, s.app.now())))
}

pub async fn delete_certificate(
    State(s): State<HttpState>,
    Caller(a): Caller,
    Path(sn): Path<String>,
    _: NoBody,
) -> ApiResult<StatusCode> {
    s.app.delete_order(&a, &serial(&sn)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn send_issuance_link(
    State(s): State<HttpState>,
    Caller(a): Caller,
    Path(sn): Path<String>,
    _: NoBody,
) -> ApiResult<Json<Value>> {
    let (c, d) = s.app.resend_link(&a, &serial(&sn)?).await?;
    let mut obj = Map::new();
    obj.insert("certificate".into(), views::certificate(&c, s.app.now()));
    views::delivery(&mut obj, &d);
    Ok(Json(Value::Object(obj)))
}
