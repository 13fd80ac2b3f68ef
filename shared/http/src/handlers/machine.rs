//! Issuance and self-renewal by system certificates over mutual TLS (`orgcert_core::app`
//! machine.rs).

use axum::extract::{Path, State};
use axum::response::Response;
use orgcert_core::app::{ApiIssueRequest, SelfRenewRequest};

use super::{issued, serial, MachineCaller};
use crate::json::{JsonBody, OptionalJsonBody};
use crate::problem::ApiResult;
use crate::HttpState;

/// API issuance by a system certificate (`issuance_api`); an empty body means a
/// server-side key in a PKCS#12.
pub async fn issue_by_api(
    State(s): State<HttpState>,
    MachineCaller(m): MachineCaller,
    Path(serial_text): Path<String>,
    OptionalJsonBody(body): OptionalJsonBody<ApiIssueRequest>,
) -> ApiResult<Response> {
    let serial = serial(&serial_text)?;
    let r = s.app.issue_for_machine(&m, &serial, body.value).await?;
    Ok(issued(&s, r))
}

/// Self-renewal: the calling system certificate's successor, issued from the CSR.
pub async fn self_renew(
    State(s): State<HttpState>,
    MachineCaller(m): MachineCaller,
    body: JsonBody<SelfRenewRequest>,
) -> ApiResult<Response> {
    let r = s.app.self_renew(&m, body.value).await?;
    Ok(issued(&s, r))
}
