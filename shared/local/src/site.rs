//! The local-only routes of the embedded default (API.md "Local-only routes"): rows of
//! the route table ([`Operation::LOCAL`]) whose handlers need this crate's adapters (the
//! signed downloads, the outbox, the token key), so they live here rather than in
//! `orgcert-http`. Each calls a use case or an adapter of its own, never a port of [`App`].

use std::sync::Arc;

use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use orgcert_core::app::App;
use orgcert_core::DomainError;
use orgcert_http::{Access, ApiError, LocalReach, Operation};
use serde::Deserialize;
use serde_json::{json, Value};
use time::{Duration, OffsetDateTime};

use crate::demo::{DEMO_CVR, DEMO_USERS};
use crate::tokens::TokenKeys;
use crate::{FsObjects, OutboxMailer};

/// What the local-only routes serve: the use cases and the embedded adapters behind them.
#[derive(Clone)]
pub struct LocalSite {
    /// Files behind signed links.
    pub objects: Arc<FsObjects>,
    /// Mails sent.
    pub outbox: Arc<OutboxMailer>,
    /// The key of local bearer tokens.
    pub tokens: Arc<TokenKeys>,
    /// Use cases.
    pub app: App,
}

#[derive(Deserialize)]
struct LinkQuery {
    expires: Option<i64>,
    sig: Option<String>,
}

async fn object(
    State(s): State<LocalSite>,
    UrlPath(key): UrlPath<String>,
    Query(q): Query<LinkQuery>,
) -> Response {
    let (Some(expires), Some(sig)) = (q.expires, q.sig) else {
        return ApiError(DomainError::Forbidden("the link is not signed".into())).into_response();
    };
    match s.objects.verify(&key, expires, &sig, s.app.now()).await {
        Ok(bytes) => {
            let name = key
                .rsplit('/')
                .next()
                .unwrap_or("certificate.p12")
                .to_owned();
            (
                [
                    (header::CONTENT_TYPE, "application/x-pkcs12".to_owned()),
                    (
                        header::CONTENT_DISPOSITION,
                        format!("attachment; filename=\"{name}\""),
                    ),
                    (header::CACHE_CONTROL, "no-store".to_owned()),
                ],
                bytes,
            )
                .into_response()
        }
        Err(e) => {
            use crate::LinkError as L;
            let (status, err) = match &e {
                L::Expired => (StatusCode::GONE, DomainError::Gone(e.to_string())),
                L::NotFound => (StatusCode::NOT_FOUND, DomainError::NotFound("download")),
                L::Unavailable(m) => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    DomainError::Unavailable(m.clone()),
                ),
                _ => (StatusCode::FORBIDDEN, DomainError::Forbidden(e.to_string())),
            };
            let mut r = ApiError(err).into_response();
            *r.status_mut() = status;
            r
        }
    }
}

async fn outbox(State(s): State<LocalSite>) -> Response {
    Json(json!(s.outbox.list())).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    org: String,
    email: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    roles: Vec<String>,
}

/// Local-only sign-in for the browser pages: a token for a user of the data dir.
async fn login(State(s): State<LocalSite>, body: axum::body::Bytes) -> Response {
    let parsed: Result<LoginBody, _> = serde_json::from_slice(&body);
    let b = match parsed {
        Ok(b) => b,
        Err(e) => {
            return ApiError(DomainError::Malformed {
                field: None,
                message: e.to_string(),
            })
            .into_response()
        }
    };
    if let Some(bad) = b
        .roles
        .iter()
        .find(|r| orgcert_core::auth::Role::parse(r).is_none())
    {
        return ApiError(DomainError::invalid("roles", format!("unknown role {bad}")))
            .into_response();
    }
    if orgcert_core::ids::Email::parse(&b.email).is_err() {
        return ApiError(DomainError::invalid("email", "not an email address")).into_response();
    }
    let roles: Vec<&str> = b.roles.iter().map(String::as_str).collect();
    match s
        .tokens
        .token(&b.org, &b.email, &b.name, &roles, Duration::hours(8))
    {
        Ok(t) => (
            [(header::CACHE_CONTROL, "no-store")],
            Json(json!({ "token": t, "expires_in": 8 * 3600 })),
        )
            .into_response(),
        Err(e) => ApiError(e).into_response(),
    }
}

/// The users the local sign-in page offers: the demo administrators of each organisation
/// and the contacts of its profiles.
async fn users(State(s): State<LocalSite>) -> Response {
    let orgs = match s.app.organisations_and_contacts().await {
        Ok(o) => o,
        Err(e) => return ApiError(e).into_response(),
    };
    let mut out = Vec::new();
    for (org, mut contacts) in orgs {
        for (label, email, name, roles) in DEMO_USERS.iter().filter(|u| !u.3.is_empty()) {
            out.push(json!({ "org": org.cvr, "organisation": org.name, "email": email, "name": name, "roles": roles, "label": label }));
        }
        if org.cvr.as_str() == DEMO_CVR {
            contacts.push(DEMO_USERS[3].1.to_owned());
        }
        contacts.sort();
        contacts.dedup();
        for c in contacts {
            out.push(json!({ "org": org.cvr, "organisation": org.name, "email": c, "name": "", "roles": [], "label": "contact" }));
        }
    }
    Json(json!({ "users": out })).into_response()
}

#[derive(Deserialize)]
struct JobQuery {
    now: Option<String>,
}

/// Runs a scheduled job now (or as of `?now=RFC3339`).
async fn job(
    State(s): State<LocalSite>,
    UrlPath(name): UrlPath<String>,
    Query(q): Query<JobQuery>,
) -> Response {
    run_job(&s.app, &name, q.now.as_deref()).await
}

/// Runs the scheduled job `name` as of `now` (RFC 3339; unset: the app's clock), as its
/// schedule would: the `/_local/jobs/{name}` answer of the embedded default and of the
/// test harness of the AWS composition.
pub async fn run_job(app: &App, name: &str, now: Option<&str>) -> Response {
    let Some(job) = orgcert_core::app::Job::from_name(name) else {
        return ApiError(DomainError::NotFound("job")).into_response();
    };
    let now = match now
        .map(|t| OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339))
    {
        None => app.now(),
        Some(Ok(t)) => t,
        Some(Err(_)) => {
            return ApiError(DomainError::Malformed {
                field: Some("now".into()),
                message: "now must be an RFC 3339 time".into(),
            })
            .into_response()
        }
    };
    match app.run_job(job, now).await {
        Ok(r) => Json(json!(r)).into_response(),
        Err(e) => ApiError(e).into_response(),
    }
}

async fn jwks(State(s): State<LocalSite>) -> Json<Value> {
    Json(s.tokens.jwks().clone())
}

/// Who may reach the machine-only routes: the names this machine answers to.
#[derive(Clone)]
struct MachineNames {
    /// Host of `ORGCERT_PUBLIC_URL` (lower case), besides the loopback names.
    public_host: Option<String>,
}

impl MachineNames {
    fn new(public_url: &str) -> Self {
        let public_host = public_url.parse::<axum::http::Uri>().ok().and_then(|u| {
            u.host()
                .map(|h| h.trim_matches(['[', ']']).to_ascii_lowercase())
        });
        Self { public_host }
    }

    /// Whether a `Host` header value (`name`, `name:port`, `[v6]:port`) names this machine.
    fn names_this_machine(&self, host: &str) -> bool {
        // A Host header is `host[:port]`; user info (`x@127.0.0.1`) has no place in it.
        let Ok(authority) = host.parse::<axum::http::uri::Authority>() else {
            return false;
        };
        if authority.as_str().contains('@') {
            return false;
        }
        let name = authority
            .host()
            .trim_matches(['[', ']'])
            .trim_end_matches('.')
            .to_ascii_lowercase();
        name == "localhost"
            || name
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.to_canonical().is_loopback())
            || self.public_host.as_deref() == Some(name.as_str())
    }
}

/// 415 as problem+json (RFC 9457), naming the header at fault.
fn unsupported_media_type() -> Response {
    let detail = "local-only routes that change state accept only Content-Type: application/json";
    (
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        [(header::CONTENT_TYPE, "application/problem+json")],
        Json(json!({
            "type": "urn:orgcert:problem:unsupported-media-type",
            "title": "Unsupported media type",
            "status": 415,
            "detail": detail,
            "errors": [{ "field": "Content-Type", "message": detail }],
        })),
    )
        .into_response()
}

fn refuse(message: &str) -> Response {
    ApiError(DomainError::Forbidden(message.into())).into_response()
}

/// Guards the routes that hand out tokens and mail or run jobs (API.md "Local-only routes"):
/// the TCP peer must be on this machine, and the `Host` header must name this machine, so
/// that a page from elsewhere whose name was rebound to 127.0.0.1 (DNS rebinding) is
/// refused; a state-changing request must be `application/json`, which no cross-site form
/// can send without a CORS preflight that we never grant (Fetch standard, "CORS-safelisted
/// request-header").
async fn machine_only(
    State(names): State<MachineNames>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let Some(peer) = req
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip().to_canonical())
    else {
        // A server that does not know its peers cannot tell this machine from another.
        return refuse("local-only route: the server cannot tell where this request comes from");
    };
    if !peer.is_loopback() {
        return refuse("local-only route: use it from the machine the server runs on");
    }
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()));
    if !host.is_some_and(|h| names.names_this_machine(h)) {
        return refuse(
            "local-only route: the Host header must name this machine (localhost, a loopback \
             address or the host of ORGCERT_PUBLIC_URL)",
        );
    }
    if req.method() != axum::http::Method::GET && req.method() != axum::http::Method::HEAD {
        let json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"));
        if !json {
            return unsupported_media_type();
        }
    }
    next.run(req).await
}

/// The handler of a local-only row of the route table ([`Operation::LOCAL`]).
fn local_handler(op: Operation) -> Option<axum::routing::MethodRouter<LocalSite>> {
    use Operation as O;
    Some(match op {
        O::LocalObject => get(object),
        O::LocalJwks => get(jwks),
        O::LocalOutbox => get(outbox),
        O::LocalUsers => get(users),
        O::LocalLogin => axum::routing::post(login),
        O::RunJob => axum::routing::post(job),
        _ => return None,
    })
}

/// The local-only rows of the route table ([`Operation::LOCAL`]) with their handlers:
/// those for anyone with the link as they are, those for this machine behind
/// [`machine_only`]. `public_url`'s host also names this machine.
pub fn routes(site: LocalSite, public_url: &str) -> Router {
    let routes = |reach: LocalReach| {
        Operation::LOCAL
            .iter()
            .filter(|op| op.access() == Access::LocalOnly(reach))
            .fold(Router::new(), |router, op| match local_handler(*op) {
                Some(handler) => router.route(op.path(), handler),
                None => router,
            })
    };
    let machine = routes(LocalReach::ThisMachine)
        .layer(axum::middleware::from_fn_with_state(
            MachineNames::new(public_url),
            machine_only,
        ))
        .with_state(site.clone());
    routes(LocalReach::Anyone).with_state(site).merge(machine)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_local_row_has_a_handler() {
        for op in Operation::LOCAL {
            assert!(local_handler(*op).is_some(), "{op:?}");
        }
        for op in Operation::ALL {
            assert!(local_handler(*op).is_none(), "{op:?}");
        }
    }
}
