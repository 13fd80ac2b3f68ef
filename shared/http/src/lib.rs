//! orgcert's HTTP surface: the route table, handlers, auth extraction and problem+json.
//!
//! The same axum `Router` runs under `lambda_http` (one operation per function) and
//! under the local server (every operation).
#![forbid(unsafe_code)]

pub mod auth;
pub mod export;
#[doc(hidden)]
pub mod handlers;
pub mod json;
pub mod limit;
pub mod openapi;
pub mod problem;
pub mod routes;
pub mod views;

use std::sync::Arc;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;

#[doc(hidden)]
pub use axum::routing as __routing;
use axum::Router;
use orgcert_core::app::App;
use orgcert_core::DomainError;

pub use auth::Authenticator;
pub use problem::ApiError;
pub use routes::{Access, Answer, LocalReach, MachineRight, Method, Operation, Request, Users};

/// What every handler needs.
#[derive(Clone)]
pub struct HttpState {
    /// Use cases.
    pub app: App,
    /// Credential verification.
    pub auth: Arc<dyn Authenticator>,
    /// Rate limit of the public directory, per client address.
    pub directory_limit: Arc<limit::Limiter>,
    /// Rate limit of one-time-code redemption, per client address (wrong codes are also
    /// counted per order and lock it after 5).
    pub redeem_limit: Arc<limit::Limiter>,
}

impl HttpState {
    /// State with the default limits per client address: the directory 5 requests/s in
    /// bursts of 20, redemption 1/s in bursts of 20.
    pub fn new(app: App, auth: Arc<dyn Authenticator>) -> Self {
        Self {
            app,
            auth,
            directory_limit: Arc::new(limit::Limiter::per_second("directory requests", 5, 20)),
            redeem_limit: Arc::new(limit::Limiter::per_second("one-time-code attempts", 1, 20)),
        }
    }
}

/// The handler of one API operation as an axum `MethodRouter<HttpState>`, chosen when
/// compiling: `orgcert_http::handler!(CreateProfile)`. A Lambda bin names its operation
/// this way, so that the linker keeps that one handler and drops the others (a `match`
/// over every operation, as in [`router_for`], keeps them all).
#[macro_export]
macro_rules! handler {
    (GetOrganisation) => {
        $crate::__routing::get($crate::handlers::organisation::get_organisation)
    };
    (UpdateSettings) => {
        $crate::__routing::patch($crate::handlers::organisation::update_settings)
    };
    (CreateProfile) => {
        $crate::__routing::post($crate::handlers::ordering::create_profile)
    };
    (ListProfiles) => {
        $crate::__routing::get($crate::handlers::profiles::list_profiles)
    };
    (ExportProfiles) => {
        $crate::__routing::get($crate::handlers::profiles::export_profiles)
    };
    (GetProfile) => {
        $crate::__routing::get($crate::handlers::profiles::get_profile)
    };
    (UpdateProfile) => {
        $crate::__routing::patch($crate::handlers::profiles::update_profile)
    };
    (PutSystemRights) => {
        $crate::__routing::put($crate::handlers::profiles::put_system_rights)
    };
    (PutSealGeneration) => {
        $crate::__routing::put($crate::handlers::profiles::put_seal_generation)
    };
    (OrderCertificate) => {
        $crate::__routing::post($crate::handlers::ordering::order_certificate)
    };
    (GetCertificate) => {
        $crate::__routing::get($crate::handlers::certificates::get_certificate)
    };
    (RenewCertificate) => {
        $crate::__routing::post($crate::handlers::certificates::renew_certificate)
    };
    (RevokeCertificate) => {
        $crate::__routing::post($crate::handlers::certificates::revoke_certificate)
    };
    (DeleteCertificate) => {
        $crate::__routing::delete($crate::handlers::certificates::delete_certificate)
    };
    (SendIssuanceLink) => {
        $crate::__routing::post($crate::handlers::certificates::send_issuance_link)
    };
    (RedeemIssuance) => {
        $crate::__routing::post($crate::handlers::issuance::redeem_issuance)
    };
    (GetIssuance) => {
        $crate::__routing::get($crate::handlers::issuance::get_issuance)
    };
    (IssueCertificate) => {
        $crate::__routing::post($crate::handlers::issuance::issue_certificate)
    };
    (IssueByApi) => {
        $crate::__routing::post($crate::handlers::machine::issue_by_api)
    };
    (SelfRenew) => {
        $crate::__routing::post($crate::handlers::machine::self_renew)
    };
    (ListNotifications) => {
        $crate::__routing::get($crate::handlers::activity::list_notifications)
    };
    (MarkNotificationsRead) => {
        $crate::__routing::post($crate::handlers::activity::mark_notifications_read)
    };
    (ListAudit) => {
        $crate::__routing::get($crate::handlers::activity::list_audit)
    };
    (ExportAudit) => {
        $crate::__routing::get($crate::handlers::activity::export_audit)
    };
    (ListEvents) => {
        $crate::__routing::get($crate::handlers::feed::list_events)
    };
    (CaPem) => {
        $crate::__routing::get($crate::handlers::public::ca_pem)
    };
    (CaCer) => {
        $crate::__routing::get($crate::handlers::public::ca_cer)
    };
    (CaGeneration) => {
        $crate::__routing::get($crate::handlers::public::ca_generation)
    };
    (RootPem) => {
        $crate::__routing::get($crate::handlers::public::root_pem)
    };
    (RootCer) => {
        $crate::__routing::get($crate::handlers::public::root_cer)
    };
    (RootCrl) => {
        $crate::__routing::get($crate::handlers::public::root_crl)
    };
    (GetCrl) => {
        $crate::__routing::get($crate::handlers::status::crl)
    };
    (GetCrlPartition) => {
        $crate::__routing::get($crate::handlers::status::crl_partition)
    };
    (OcspGet) => {
        $crate::__routing::get($crate::handlers::status::ocsp_get)
    };
    (OcspPost) => {
        $crate::__routing::post($crate::handlers::status::ocsp_post)
    };
    (PublicCertificates) => {
        $crate::__routing::get($crate::handlers::directory::public_certificates)
    };
    (PublicCertificateFile) => {
        $crate::__routing::get($crate::handlers::directory::public_certificate_file)
    };
    (OpenApi) => {
        $crate::__routing::get($crate::handlers::public::openapi)
    };
    (Healthz) => {
        $crate::__routing::get($crate::handlers::public::healthz)
    };
}

/// The handler of an API operation, by its row; `None` for the local-only rows, which the
/// embedded default routes itself (their handlers need its adapters: `orgcert_local::site`).
fn method_router(op: Operation) -> Option<MethodRouter<HttpState>> {
    use Operation as O;
    Some(match op {
        O::GetOrganisation => handler!(GetOrganisation),
        O::UpdateSettings => handler!(UpdateSettings),
        O::CreateProfile => handler!(CreateProfile),
        O::ListProfiles => handler!(ListProfiles),
        O::ExportProfiles => handler!(ExportProfiles),
        O::GetProfile => handler!(GetProfile),
        O::UpdateProfile => handler!(UpdateProfile),
        O::PutSystemRights => handler!(PutSystemRights),
        O::PutSealGeneration => handler!(PutSealGeneration),
        O::OrderCertificate => handler!(OrderCertificate),
        O::GetCertificate => handler!(GetCertificate),
        O::RenewCertificate => handler!(RenewCertificate),
        O::RevokeCertificate => handler!(RevokeCertificate),
        O::DeleteCertificate => handler!(DeleteCertificate),
        O::SendIssuanceLink => handler!(SendIssuanceLink),
        O::RedeemIssuance => handler!(RedeemIssuance),
        O::GetIssuance => handler!(GetIssuance),
        O::IssueCertificate => handler!(IssueCertificate),
        O::IssueByApi => handler!(IssueByApi),
        O::SelfRenew => handler!(SelfRenew),
        O::ListNotifications => handler!(ListNotifications),
        O::MarkNotificationsRead => handler!(MarkNotificationsRead),
        O::ListAudit => handler!(ListAudit),
        O::ExportAudit => handler!(ExportAudit),
        O::ListEvents => handler!(ListEvents),
        O::CaPem => handler!(CaPem),
        O::CaCer => handler!(CaCer),
        O::CaGeneration => handler!(CaGeneration),
        O::RootPem => handler!(RootPem),
        O::RootCer => handler!(RootCer),
        O::RootCrl => handler!(RootCrl),
        O::GetCrl => handler!(GetCrl),
        O::GetCrlPartition => handler!(GetCrlPartition),
        O::OcspGet => handler!(OcspGet),
        O::OcspPost => handler!(OcspPost),
        O::PublicCertificates => handler!(PublicCertificates),
        O::PublicCertificateFile => handler!(PublicCertificateFile),
        O::OpenApi => handler!(OpenApi),
        O::Healthz => handler!(Healthz),
        O::LocalObject
        | O::LocalJwks
        | O::LocalOutbox
        | O::LocalUsers
        | O::LocalLogin
        | O::RunJob => return None,
    })
}

async fn not_found() -> Response {
    ApiError(DomainError::NotFound("route")).into_response()
}

async fn no_store(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let api = req.uri().path().starts_with("/v1/");
    // The route template, never the path: paths carry issuance tokens and link signatures.
    // Looked up only when the log line is on: this runs on every request, the OCSP ones
    // included.
    let route = if tracing::enabled!(tracing::Level::DEBUG) {
        req.extensions()
            .get::<axum::extract::MatchedPath>()
            .cloned()
    } else {
        None
    };
    let method = req.method().clone();
    let mut resp = next.run(req).await;
    tracing::debug!(
        %method,
        route = route.as_ref().map_or("(no route)", |m| m.as_str()),
        status = resp.status().as_u16(),
        "request"
    );
    if api {
        // Answers may carry passwords, codes and links: never cache them.
        resp.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if resp.status() == StatusCode::METHOD_NOT_ALLOWED
        && resp.headers().get(header::CONTENT_TYPE).is_none()
    {
        let mut r = ApiError(DomainError::Malformed {
            field: None,
            message: "method not allowed on this route".into(),
        })
        .into_response();
        *r.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
        // RFC 9110 §15.5.6: a 405 names the methods the route does take.
        if let Some(allow) = resp.headers().get(header::ALLOW) {
            r.headers_mut().insert(header::ALLOW, allow.clone());
        }
        return r;
    }
    resp
}

fn finish(router: Router<HttpState>, state: HttpState) -> Router {
    router
        .fallback(not_found)
        .layer(axum::middleware::from_fn(no_store))
        .with_state(state)
}

/// A router serving one operation with the handler [`handler!`] names (a Lambda function):
/// only that handler is linked.
pub fn router_with(op: Operation, handler: MethodRouter<HttpState>, state: HttpState) -> Router {
    finish(Router::new().route(op.path(), handler), state)
}

/// A router serving one operation, its handler looked up by the row (links every handler).
pub fn router_for(op: Operation, state: HttpState) -> Router {
    let router = match method_router(op) {
        Some(handler) => Router::new().route(op.path(), handler),
        None => Router::new(),
    };
    finish(router, state)
}

/// A router serving every operation (the local server), before local-only routes are merged.
pub fn api_routes() -> Router<HttpState> {
    Operation::ALL
        .iter()
        .filter_map(|op| Some((op.path(), method_router(*op)?)))
        .fold(Router::new(), |r, (path, handler)| r.route(path, handler))
}

/// The full API router with state.
pub fn router(state: HttpState) -> Router {
    finish(api_routes(), state)
}

/// Finishes a router built from [`api_routes`] plus extra routes.
pub fn with_state(router: Router<HttpState>, state: HttpState) -> Router {
    finish(router, state)
}
