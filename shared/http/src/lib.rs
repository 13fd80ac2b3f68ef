//! orgcert's HTTP surface: the route table, handlers, auth extraction and problem+json.
//!
//! The same axum `Router` runs under `lambda_http` (one operation per function) and
//! under the local server (every operation).
#![forbid(unsafe_code)]

pub mod auth;
pub mod export;
mod handlers;
pub mod json;
pub mod limit;
pub mod openapi;
pub mod problem;
pub mod routes;
pub mod views;

use std::sync::Arc;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{self, MethodRouter};
use axum::Router;
use orgcert_core::app::App;
use orgcert_core::DomainError;

pub use auth::Authenticator;
pub use problem::ApiError;
pub use routes::{Access, MachineRight, Method, Operation};

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

fn method_router(op: Operation) -> MethodRouter<HttpState> {
    use handlers as h;
    use Operation as O;
    match op {
        O::GetOrganisation => routing::get(h::get_organisation),
        O::UpdateSettings => routing::patch(h::update_settings),
        O::CreateProfile => routing::post(h::create_profile),
        O::ListProfiles => routing::get(h::list_profiles),
        O::ExportProfiles => routing::get(h::export_profiles),
        O::GetProfile => routing::get(h::get_profile),
        O::UpdateProfile => routing::patch(h::update_profile),
        O::PutSystemRights => routing::put(h::put_system_rights),
        O::PutSealGeneration => routing::put(h::put_seal_generation),
        O::OrderCertificate => routing::post(h::order_certificate),
        O::GetCertificate => routing::get(h::get_certificate),
        O::RenewCertificate => routing::post(h::renew_certificate),
        O::RevokeCertificate => routing::post(h::revoke_certificate),
        O::DeleteCertificate => routing::delete(h::delete_certificate),
        O::SendIssuanceLink => routing::post(h::send_issuance_link),
        O::RedeemIssuance => routing::post(h::redeem_issuance),
        O::GetIssuance => routing::get(h::get_issuance),
        O::IssueCertificate => routing::post(h::issue_certificate),
        O::IssueByApi => routing::post(h::issue_by_api),
        O::SelfRenew => routing::post(h::self_renew),
        O::ListNotifications => routing::get(h::list_notifications),
        O::MarkNotificationsRead => routing::post(h::mark_notifications_read),
        O::ListAudit => routing::get(h::list_audit),
        O::ExportAudit => routing::get(h::export_audit),
        O::ListEvents => routing::get(h::list_events),
        O::CaPem => routing::get(h::ca_pem),
        O::CaCer => routing::get(h::ca_cer),
        O::CaGeneration => routing::get(h::ca_generation),
        O::RootPem => routing::get(h::root_pem),
        O::RootCer => routing::get(h::root_cer),
        O::RootCrl => routing::get(h::root_crl),
        O::GetCrl => routing::get(h::crl),
        O::GetCrlPartition => routing::get(h::crl_partition),
        O::OcspGet => routing::get(h::ocsp_get),
        O::OcspPost => routing::post(h::ocsp_post),
        O::PublicCertificates => routing::get(h::public_certificates),
        O::PublicCertificateFile => routing::get(h::public_certificate_file),
        O::OpenApi => routing::get(h::openapi),
        O::Healthz => routing::get(h::healthz),
    }
}

async fn not_found() -> Response {
    ApiError(DomainError::NotFound("route")).into_response()
}

async fn no_store(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let api = req.uri().path().starts_with("/v1/");
    // The route template, never the path: paths carry issuance tokens and link signatures.
    // Cloned (a reference count), not formatted: the log line is off unless debugging,
    // and this runs on every request, the OCSP ones included.
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .cloned();
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

/// A router serving one operation (a Lambda function).
pub fn router_for(op: Operation, state: HttpState) -> Router {
    finish(Router::new().route(op.path(), method_router(op)), state)
}

/// A router serving every operation (the local server), before local-only routes are merged.
pub fn api_routes() -> Router<HttpState> {
    Operation::ALL.iter().fold(Router::new(), |r, op| {
        r.route(op.path(), method_router(*op))
    })
}

/// The full API router with state.
pub fn router(state: HttpState) -> Router {
    finish(api_routes(), state)
}

/// Finishes a router built from [`api_routes`] plus extra routes.
pub fn with_state(router: Router<HttpState>, state: HttpState) -> Router {
    finish(router, state)
}
