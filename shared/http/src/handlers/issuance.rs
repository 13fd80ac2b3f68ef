//! Issuance by the holder: with a link or a reference and one-time code
//! (`orgcert_core::app` issuance.rs).

use axum::extract::{Path, State};
use axum::response::Response;
use axum::Json;
use orgcert_core::app::IssueRequest;
use serde_json::{json, Value};

use super::{issued, Caller, ClientAddr};
use crate::json::JsonBody;
use crate::problem::ApiResult;
use crate::{views, HttpState};

pub async fn get_issuance(
    State(s): State<HttpState>,
    Caller(a): Caller,
    Path(token): Path<String>,
) -> ApiResult<Json<Value>> {
    let i = s.app.inspect_issuance(&a, &token).await?;
    let c = &i.certificate;
    Ok(Json(json!({
        "serial": c.serial, "type": c.snapshot.kind, "name": c.snapshot.name,
        "cvr": i.cvr, "organisation": i.organisation_name,
        "contact_email": i.profile.contact_email, "certificate_email": c.snapshot.certificate_email,
        "seal_generation": c.snapshot.seal_generation, "key_algorithm": c.snapshot.key_algorithm,
        "p12_format": c.snapshot.p12_format, "p12_formats": ["modern", "legacy"],
        "renewal_of": c.renewal_of, "terms": i.terms, "expires_at": views::rfc3339(i.expires_at),
    })))
}

pub async fn issue_certificate(
    State(s): State<HttpState>,
    Caller(a): Caller,
    Path(token): Path<String>,
    body: JsonBody<IssueRequest>,
) -> ApiResult<Response> {
    let r = s.app.issue_with_link(&a, &token, body.value).await?;
    Ok(issued(&s, r))
}

pub async fn redeem_issuance(
    State(s): State<HttpState>,
    client: ClientAddr,
    Caller(a): Caller,
    body: JsonBody<IssueRequest>,
) -> ApiResult<Response> {
    // Counted before the code is looked at: guessing across many references from one
    // address meets 429 long before it meets the per-order lock.
    s.redeem_limit.check_addr(client.0)?;
    let r = s.app.redeem(&a, body.value).await?;
    Ok(issued(&s, r))
}
