//! One handler per operation: parse, call the use case, render.

use std::collections::HashMap;

use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use orgcert_core::app::{
    ApiIssueRequest, IdempotencyKey, IssueRequest, IssueResult, MasterDataPatch, OcspAnswer,
    ProfileInput, SelfRenewRequest, SettingsPatch,
};
use orgcert_core::auth::{Actor, Machine};
use orgcert_core::ids::Serial;
use orgcert_core::model::{CertKind, CertStatus, RevocationReason, SystemRights};
use orgcert_core::ports::ProfileQuery;
use orgcert_core::secret::ExposeSecret as _;
use orgcert_core::DomainError;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::auth::ClientCertificate;
use crate::json::{JsonBody, OptionalJsonBody};
use crate::problem::{ApiError, ApiResult};
use crate::routes::{MachineRight, Operation};
use crate::{views, HttpState};

/// The client address the rate limits count (never `X-Forwarded-For`; see [`crate::limit`]).
pub struct ClientAddr(pub Option<std::net::IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(crate::limit::client_addr(parts)))
    }
}

/// The authenticated caller: over mutual TLS the system certificate (a bearer token sent
/// along is ignored: the certificate is the caller), else the bearer token.
pub struct Caller(pub Actor);

impl FromRequestParts<HttpState> for Caller {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &HttpState) -> Result<Self, ApiError> {
        if parts.extensions.get::<ClientCertificate>().is_some() {
            let MachineCaller(m) = MachineCaller::from_request_parts(parts, state).await?;
            return Ok(Caller(m.actor()));
        }
        Ok(Caller(state.auth.authenticate(parts)?))
    }
}

/// A system certificate over mutual TLS, allowed the operation of this route by its rights
/// (API.md "System certificates"). Refusals for want of a right are audited.
pub struct MachineCaller(pub Machine);

impl FromRequestParts<HttpState> for MachineCaller {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &HttpState) -> Result<Self, ApiError> {
        let Some(client) = parts.extensions.get::<ClientCertificate>().cloned() else {
            return Err(ApiError(DomainError::Unauthenticated(
                "this route takes a system certificate over mutual TLS (the listener on \
                 ORGCERT_MTLS_ADDR), not a bearer token"
                    .into(),
            )));
        };
        let (serial, fingerprint) = client.identify()?;
        let machine = state
            .app
            .authenticate_machine(&serial, &fingerprint)
            .await?;
        let op = parts
            .extensions
            .get::<axum::extract::MatchedPath>()
            .and_then(|m| Operation::find(parts.method.as_str(), m.as_str()));
        let right = op.and_then(Operation::machine_right);
        let allowed = match right {
            Some(MachineRight::AdministrationApi) => machine.rights.administration_api,
            Some(MachineRight::IssuanceApi) => machine.rights.issuance_api,
            Some(MachineRight::Itself) => true,
            None => false,
        };
        if !allowed {
            let name = op.map_or("(no route)", Operation::name);
            let needed = right.map_or("a user's login", MachineRight::as_str);
            if let Err(e) = state
                .app
                .record_machine_refusal(&machine, name, needed)
                .await
            {
                // The refusal stands either way; only its record is missing.
                tracing::warn!(serial = %machine.serial, error = %e, "refused machine call not audited");
            }
            return Err(ApiError(DomainError::Forbidden(match right {
                Some(r) => format!(
                    "this system certificate does not have the right {}",
                    r.as_str()
                ),
                None => "this route is for people, not system certificates".into(),
            })));
        }
        Ok(MachineCaller(machine))
    }
}

fn malformed(field: &str, message: impl Into<String>) -> ApiError {
    ApiError(DomainError::Malformed {
        field: Some(field.into()),
        message: message.into(),
    })
}

/// A UUID in its hyphenated form only (RFC 9562 §4), as the OpenAPI document says.
fn uuid(field: &str, s: &str) -> ApiResult<Uuid> {
    Some(s)
        .filter(|s| s.len() == 36)
        .and_then(|s| Uuid::try_parse(s).ok())
        .ok_or_else(|| {
            malformed(
                field,
                format!("{field} must be a UUID (8-4-4-4-12 hex digits)"),
            )
        })
}

fn profile_id(s: &str) -> ApiResult<Uuid> {
    uuid("id", s)
}

fn serial(s: &str) -> ApiResult<Serial> {
    Serial::parse(s).map_err(|m| malformed("serial", m))
}

fn idempotency(
    headers: &HeaderMap,
    op: Operation,
    path: &str,
    body: &[u8],
) -> ApiResult<Option<IdempotencyKey>> {
    let Some(v) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let key = v
        .to_str()
        .map_err(|_| malformed("Idempotency-Key", "must be visible ASCII"))?
        .to_owned();
    // The OpenAPI document's shape for the key, checked for every route that takes one.
    let b = key.as_bytes();
    if b.is_empty()
        || b.len() > 255
        || !b.iter().all(|c| (b' '..=b'~').contains(c))
        || b[0] == b' '
        || b[b.len() - 1] == b' '
    {
        return Err(ApiError(DomainError::invalid(
            "Idempotency-Key",
            "must be 1 to 255 visible ASCII characters",
        )));
    }
    let mut h = Sha256::new();
    h.update(op.name().as_bytes());
    h.update(b"\n");
    h.update(path.as_bytes());
    h.update(b"\n");
    h.update(body);
    Ok(Some(IdempotencyKey {
        key,
        request_hash: hex::encode(h.finalize()),
    }))
}

fn created(v: Value, replayed: bool) -> Response {
    let mut r = (StatusCode::CREATED, Json(v)).into_response();
    if replayed {
        r.headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    r
}

fn order_response(state: &HttpState, r: &orgcert_core::app::OrderResult) -> Response {
    let replayed = matches!(r.delivery, orgcert_core::app::Delivery::Replayed);
    created(views::order(r, state.app.clock.now()), replayed)
}

fn reject_unknown(q: &HashMap<String, String>, known: &[&str]) -> ApiResult<()> {
    match q.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => Err(malformed(
            k,
            format!(
                "unknown query parameter; expected one of {}",
                known.join(", ")
            ),
        )),
        None => Ok(()),
    }
}

fn limit(q: &HashMap<String, String>, default: u32) -> ApiResult<u32> {
    q.get("limit").map_or(Ok(default), |l| {
        l.parse()
            .map_err(|_| malformed("limit", "limit must be a positive integer"))
    })
}

pub(crate) async fn get_organisation(
    State(s): State<HttpState>,
    Caller(a): Caller,
) -> ApiResult<Json<Value>> {
    Ok(Json(views::organisation(
        &s.app.get_organisation(&a).await?,
    )))
}

pub(crate) async fn update_settings(
    State(s): State<HttpState>,
    Caller(a): Caller,
    body: JsonBody<SettingsPatch>,
) -> ApiResult<Json<Value>> {
    Ok(Json(views::organisation(
        &s.app.update_settings(&a, body.value).await?,
    )))
}

pub(crate) async fn create_profile(
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

pub(crate) async fn list_profiles(
    State(s): State<HttpState>,
    Caller(a): Caller,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    reject_unknown(&q, &["q", "status", "type", "limit", "cursor"])?;
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
    let now = s.app.clock.now();
    let items: Vec<Value> = page.items.iter().map(|p| views::profile(p, now)).collect();
    Ok(Json(
        json!({ "items": items, "next_cursor": page.next_cursor }),
    ))
}

pub(crate) async fn export_profiles(
    State(s): State<HttpState>,
    Caller(a): Caller,
) -> ApiResult<Response> {
    let profiles = s.app.export_profiles(&a).await?;
    let body = crate::export::profiles_csv(&profiles, s.app.clock.now())
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

pub(crate) async fn get_profile(
    State(s): State<HttpState>,
    Caller(a): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let (p, certs) = s.app.get_profile(&a, profile_id(&id)?).await?;
    let now = s.app.clock.now();
    let certs: Vec<Value> = certs
        .iter()
        .rev()
        .map(|c| views::certificate(c, now))
        .collect();
    Ok(Json(
        json!({ "profile": views::profile(&p, now), "certificates": certs }),
    ))
}

pub(crate) async fn update_profile(
    State(s): State<HttpState>,
    Caller(a): Caller,
    Path(id): Path<String>,
    body: JsonBody<MasterDataPatch>,
) -> ApiResult<Json<Value>> {
    let p = s
        .app
        .update_master_data(&a, profile_id(&id)?, body.value)
        .await?;
    Ok(Json(views::profile(&p, s.app.clock.now())))
}

pub(crate) async fn put_system_rights(
    State(s): State<HttpState>,
    Caller(a): Caller,
    Path(id): Path<String>,
    body: JsonBody<SystemRights>,
) -> ApiResult<Json<Value>> {
    let p = s
        .app
        .set_system_rights(&a, profile_id(&id)?, body.value)
        .await?;
    Ok(Json(views::profile(&p, s.app.clock.now())))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SealBody {
    enabled: bool,
}

pub(crate) async fn put_seal_generation(
    State(s): State<HttpState>,
    Caller(a): Caller,
    Path(id): Path<String>,
    body: JsonBody<SealBody>,
) -> ApiResult<Json<Value>> {
    let p = s
        .app
        .set_seal_generation(&a, profile_id(&id)?, body.value.enabled)
        .await?;
    Ok(Json(views::profile(&p, s.app.clock.now())))
}

pub(crate) async fn order_certificate(
    State(s): State<HttpState>,
    Caller(a): Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let pid = profile_id(&id)?;
    let idem = idempotency(&headers, Operation::OrderCertificate, &id, b"")?;
    let r = s.app.order_certificate(&a, pid, idem).await?;
    Ok(order_response(&s, &r))
}

pub(crate) async fn get_certificate(
    State(s): State<HttpState>,
    Caller(a): Caller,
    Path(sn): Path<String>,
) -> ApiResult<Json<Value>> {
    let d = s.app.get_certificate(&a, &serial(&sn)?).await?;
    let mut v = views::certificate(&d.certificate, s.app.clock.now());
    if d.certificate.certificate_pem.is_some() {
        v["chain_pem"] = json!(s.app.ca.ca_pem());
    }
    Ok(Json(v))
}

pub(crate) async fn renew_certificate(
    State(s): State<HttpState>,
    Caller(a): Caller,
    Path(sn): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let serial = serial(&sn)?;
    let idem = idempotency(&headers, Operation::RenewCertificate, serial.as_str(), b"")?;
    let r = s.app.renew(&a, &serial, idem).await?;
    Ok(order_response(&s, &r))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RevokeBody {
    #[serde(default)]
    reason: Option<RevocationReason>,
}

pub(crate) async fn revoke_certificate(
    State(s): State<HttpState>,
    Caller(a): Caller,
    Path(sn): Path<String>,
    OptionalJsonBody(body): OptionalJsonBody<RevokeBody>,
) -> ApiResult<Json<Value>> {
    let reason = body.value.reason.unwrap_or(RevocationReason::Unspecified);
    let c = s.app.revoke(&a, &serial(&sn)?, reason).await?;
    Ok(Json(views::certificate(&c, s.app.clock.now())))
}

pub(crate) async fn delete_certificate(
    State(s): State<HttpState>,
    Caller(a): Caller,
    Path(sn): Path<String>,
) -> ApiResult<StatusCode> {
    s.app.delete_order(&a, &serial(&sn)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(crate) async fn send_issuance_link(
    State(s): State<HttpState>,
    Caller(a): Caller,
    Path(sn): Path<String>,
) -> ApiResult<Json<Value>> {
    let (c, d) = s.app.resend_link(&a, &serial(&sn)?).await?;
    let mut obj = Map::new();
    obj.insert(
        "certificate".into(),
        views::certificate(&c, s.app.clock.now()),
    );
    views::delivery(&mut obj, &d);
    Ok(Json(Value::Object(obj)))
}

pub(crate) async fn get_issuance(
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

fn issued(s: &HttpState, r: IssueResult) -> Response {
    let v = json!({
        "serial": r.certificate.serial,
        "status": r.certificate.status_at(s.app.clock.now()).as_str(),
        "not_before": r.certificate.not_before.map(views::rfc3339),
        "not_after": r.certificate.not_after.map(views::rfc3339),
        "fingerprint_sha256": r.certificate.fingerprint,
        "certificate_pem": r.certificate_pem,
        "chain_pem": r.chain_pem,
        // Shown once (DESIGN §4); the only place the password leaves its wrapper.
        "password": r.password.as_ref().map(|p| p.expose_secret()),
        "download_url": r.download_url,
    });
    created(v, false)
}

pub(crate) async fn issue_certificate(
    State(s): State<HttpState>,
    Caller(a): Caller,
    Path(token): Path<String>,
    body: JsonBody<IssueRequest>,
) -> ApiResult<Response> {
    let r = s.app.issue_with_link(&a, &token, body.value).await?;
    Ok(issued(&s, r))
}

/// API issuance by a system certificate (`issuance_api`); an empty body means a
/// server-side key in a PKCS#12.
pub(crate) async fn issue_by_api(
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
pub(crate) async fn self_renew(
    State(s): State<HttpState>,
    MachineCaller(m): MachineCaller,
    body: JsonBody<SelfRenewRequest>,
) -> ApiResult<Response> {
    let r = s.app.self_renew(&m, body.value).await?;
    Ok(issued(&s, r))
}

pub(crate) async fn redeem_issuance(
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

pub(crate) async fn list_notifications(
    State(s): State<HttpState>,
    Caller(a): Caller,
) -> ApiResult<Json<Value>> {
    let items = s.app.notifications(&a).await?;
    let unread = items.iter().filter(|n| !n.read).count();
    Ok(Json(json!({ "items": items, "unread": unread })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReadBody {
    #[serde(default)]
    ids: Vec<Uuid>,
}

pub(crate) async fn mark_notifications_read(
    State(s): State<HttpState>,
    Caller(a): Caller,
    OptionalJsonBody(body): OptionalJsonBody<ReadBody>,
) -> ApiResult<Json<Value>> {
    s.app.mark_notifications_read(&a, body.value.ids).await?;
    let items = s.app.notifications(&a).await?;
    let unread = items.iter().filter(|n| !n.read).count();
    Ok(Json(json!({ "items": items, "unread": unread })))
}

pub(crate) async fn list_audit(
    State(s): State<HttpState>,
    Caller(a): Caller,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    reject_unknown(&q, &["limit", "cursor"])?;
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

pub(crate) async fn list_events(
    State(s): State<HttpState>,
    Caller(a): Caller,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    reject_unknown(&q, &["after", "limit"])?;
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

/// The audit chain as JSON lines (one event per line, oldest first), the input of
/// `orgcert audit verify FILE`.
pub(crate) async fn export_audit(
    State(s): State<HttpState>,
    Caller(a): Caller,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    reject_unknown(&q, &[])?;
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

pub(crate) async fn ca_pem(State(s): State<HttpState>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/x-pem-file")],
        s.app.ca.ca_pem(),
    )
        .into_response()
}

/// The caIssuers of the first issuing CA generation's certificates: that generation's
/// certificate while it serves, after a rollover too (the current one is in `ca.pem`).
pub(crate) async fn ca_cer(State(s): State<HttpState>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/pkix-cert")],
        s.app
            .ca
            .generation_der(1)
            .unwrap_or_else(|| s.app.ca.ca_der()),
    )
        .into_response()
}

/// One issuing CA generation's certificate (the caIssuers of generation 2 on).
pub(crate) async fn ca_generation(
    State(s): State<HttpState>,
    Path(g): Path<String>,
) -> ApiResult<Response> {
    let cert = (!g.is_empty() && g.len() <= 10 && g.bytes().all(|b| b.is_ascii_digit()))
        .then(|| g.parse::<u32>().ok())
        .flatten()
        .and_then(|g| s.app.ca.generation_der(g))
        .ok_or(ApiError(DomainError::NotFound("CA generation")))?;
    Ok(der("application/pkix-cert", cert, "public, max-age=3600"))
}

pub(crate) async fn root_pem(State(s): State<HttpState>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/x-pem-file")],
        s.app.ca.root_pem(),
    )
        .into_response()
}

pub(crate) async fn root_cer(State(s): State<HttpState>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/pkix-cert")],
        s.app.ca.root_der(),
    )
        .into_response()
}

/// The root CRL is re-signed rarely (the root key is kept apart), so caches may keep it an hour.
pub(crate) async fn root_crl(State(s): State<HttpState>) -> ApiResult<Response> {
    let crl = s
        .app
        .ca
        .root_crl()
        .ok_or(ApiError(DomainError::NotFound("root CRL")))?;
    Ok(der("application/pkix-crl", crl, "public, max-age=3600"))
}

fn der(content_type: &'static str, bytes: Vec<u8>, cache: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, cache),
        ],
        bytes,
    )
        .into_response()
}

pub(crate) async fn crl(State(s): State<HttpState>) -> ApiResult<Response> {
    Ok(der(
        "application/pkix-crl",
        s.app.crl(None).await?,
        "public, max-age=300",
    ))
}

pub(crate) async fn crl_partition(
    State(s): State<HttpState>,
    Path(p): Path<String>,
) -> ApiResult<Response> {
    // `{n}`: a partition of generation 1; `g{g}` and `g{g}.{n}`: the CRLs of a later issuing
    // CA generation (after `orgcert ca rollover`).
    let not_found = || ApiError(DomainError::NotFound("CRL partition"));
    let number = |t: &str| -> Result<u32, ApiError> {
        if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
            return Err(not_found());
        }
        t.parse().map_err(|_| not_found())
    };
    let (generation, partition) = match p.strip_prefix('g') {
        Some(rest) => match rest.split_once('.') {
            Some((g, n)) => (number(g)?, Some(number(n)?)),
            None => (number(rest)?, None),
        },
        None => (1, Some(number(&p)?)),
    };
    if generation < 2 && p.starts_with('g') {
        return Err(not_found());
    }
    Ok(der(
        "application/pkix-crl",
        s.app.generation_crl(generation, partition).await?,
        "public, max-age=300",
    ))
}

/// Most seconds an HTTP cache may keep a pre-signed answer: a revocation replaces it at
/// once here, so caches must not stretch the old one much further.
const OCSP_MAX_AGE: i64 = 60;

/// IMF-fixdate (RFC 9110 §5.6.7).
const HTTP_DATE: &[time::format_description::FormatItem<'static>] = time::macros::format_description!(
    "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
);

fn http_date(t: time::OffsetDateTime) -> Option<HeaderValue> {
    let text = t.to_offset(time::UtcOffset::UTC).format(HTTP_DATE).ok()?;
    HeaderValue::from_str(&text).ok()
}

/// An OCSP answer with RFC 5019 §6.2 caching headers: a pre-signed response may be kept
/// by HTTP caches (`max-age` at most [`OCSP_MAX_AGE`] and never past its nextUpdate,
/// `ETag`, `Last-Modified` = thisUpdate, `Expires` = nextUpdate); one signed for this
/// request (it may echo a nonce) or an error status is not for shared caches.
fn ocsp_answer(answer: OcspAnswer, now: time::OffsetDateTime) -> Response {
    let mut resp = (
        [(header::CONTENT_TYPE, "application/ocsp-response")],
        answer.der,
    )
        .into_response();
    let h = resp.headers_mut();
    let Some(p) = answer.presigned else {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        return resp;
    };
    let max_age = (p.next_update - now).whole_seconds().clamp(0, OCSP_MAX_AGE);
    if let Ok(v) = HeaderValue::from_str(&format!(
        "max-age={max_age}, public, no-transform, must-revalidate"
    )) {
        h.insert(header::CACHE_CONTROL, v);
    }
    // The URL names the certificate and CertID hash; its record is named by thisUpdate and
    // status, so this identifies the bytes without hashing them on every request.
    let tag = format!(
        "\"{:x}{}\"",
        p.this_update.unix_timestamp_nanos(),
        if p.revoked { "r" } else { "g" }
    );
    if let Ok(v) = HeaderValue::from_str(&tag) {
        h.insert(header::ETAG, v);
    }
    if let Some(v) = http_date(p.this_update) {
        h.insert(header::LAST_MODIFIED, v);
    }
    if let Some(v) = http_date(p.next_update) {
        h.insert(header::EXPIRES, v);
    }
    resp
}

pub(crate) async fn ocsp_get(State(s): State<HttpState>, Path(request): Path<String>) -> Response {
    use base64::Engine;
    // RFC 6960 A.1: GET {url}/{url-encoding of base-64 encoding of the DER OCSPRequest}.
    let b64: String = request.chars().filter(|c| !c.is_whitespace()).collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(&b64)
        .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(&b64))
        .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(&b64))
        .unwrap_or_default();
    ocsp_answer(s.app.ocsp_answer(&bytes).await, s.app.clock.now())
}

pub(crate) async fn ocsp_post(
    State(s): State<HttpState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let ct_ok = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|ct| ct.starts_with("application/ocsp-request"));
    if !ct_ok || body.len() > 64 * 1024 {
        return ocsp_answer(s.app.ocsp_answer(&[]).await, s.app.clock.now());
    }
    ocsp_answer(s.app.ocsp_answer(&body).await, s.app.clock.now())
}

fn directory_view(
    c: &orgcert_core::model::Certificate,
    base: &str,
    now: time::OffsetDateTime,
) -> Value {
    let v = views::certificate(c, now);
    json!({
        "serial": c.serial, "profile_id": c.profile_id, "name": c.snapshot.name, "type": c.snapshot.kind,
        "cvr": c.org, "organisation": c.snapshot.organisation_name, "email": c.snapshot.certificate_email,
        "status": v["status"], "not_before": v["not_before"], "not_after": v["not_after"],
        "revoked_at": v["revoked_at"], "revocation_reason": v["revocation_reason"],
        "pem_url": format!("{base}/public/certificates/{}/certificate.pem", c.serial),
        "der_url": format!("{base}/public/certificates/{}/certificate.cer", c.serial),
    })
}

/// A CVR search term: not 8 digits is malformed (400); 8 digits that fail the modulus 11
/// check are a well-formed but invalid number (422), as in request bodies.
fn directory_cvr(v: &str) -> ApiResult<orgcert_core::ids::Cvr> {
    orgcert_core::ids::Cvr::parse(v).map_err(|m| {
        if v.len() == 8 && v.bytes().all(|b| b.is_ascii_digit()) {
            ApiError(DomainError::invalid("cvr", m))
        } else {
            malformed("cvr", m)
        }
    })
}

pub(crate) async fn public_certificates(
    State(s): State<HttpState>,
    parts: Parts,
) -> ApiResult<Json<Value>> {
    s.directory_limit.check(&parts)?;
    let Query(q) = Query::<HashMap<String, String>>::try_from_uri(&parts.uri)
        .map_err(|_| malformed("query", "the query string could not be read"))?;
    reject_unknown(&q, &["email", "uuid", "cvr", "serial"])?;
    // Empty values mean "not given" (HTML forms send them); others are taken as they are.
    let val = |k: &str| q.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let query = orgcert_core::ports::DirectoryQuery {
        serial: val("serial")
            .map(|v| Serial::parse(v).map_err(|m| malformed("serial", m)))
            .transpose()?,
        profile_id: val("uuid").map(|v| uuid("uuid", v)).transpose()?,
        email: val("email")
            .map(|v| {
                orgcert_core::ids::Email::parse(v)
                    .map(|e| e.to_string())
                    .map_err(|m| malformed("email", m))
            })
            .transpose()?,
        // Last: a checksum failure (422) must not hide a malformed parameter (400).
        cvr: val("cvr").map(directory_cvr).transpose()?,
        limit: 50,
    };
    let items = s.app.directory(query).await?;
    let now = s.app.clock.now();
    let base = s.app.config.public_url.clone();
    Ok(Json(
        json!({ "items": items.iter().map(|c| directory_view(c, &base, now)).collect::<Vec<_>>() }),
    ))
}

pub(crate) async fn public_certificate_file(
    State(s): State<HttpState>,
    parts: Parts,
    Path((sn, file)): Path<(String, String)>,
) -> ApiResult<Response> {
    s.directory_limit.check(&parts)?;
    let cert = s.app.directory_certificate(&serial(&sn)?).await?;
    let pem = cert.certificate_pem.unwrap_or_default();
    let disposition = |name: &str| format!("attachment; filename=\"{}-{name}\"", cert.serial);
    match file.as_str() {
        "certificate.pem" => Ok((
            [
                (header::CONTENT_TYPE, "application/x-pem-file".to_owned()),
                (header::CONTENT_DISPOSITION, disposition("certificate.pem")),
            ],
            pem,
        )
            .into_response()),
        "certificate.cer" => {
            use base64::Engine;
            let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
            let der = base64::engine::general_purpose::STANDARD
                .decode(body)
                .map_err(|e| ApiError(DomainError::Internal(format!("stored PEM: {e}"))))?;
            Ok((
                [
                    (header::CONTENT_TYPE, "application/pkix-cert".to_owned()),
                    (header::CONTENT_DISPOSITION, disposition("certificate.cer")),
                ],
                der,
            )
                .into_response())
        }
        _ => Err(ApiError(DomainError::NotFound("file"))),
    }
}

pub(crate) async fn openapi() -> Json<Value> {
    Json(crate::openapi::document())
}

pub(crate) async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}
