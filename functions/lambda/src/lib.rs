//! AWS composition roots: every Lambda bin calls one function of this crate.
//!
//! HTTP functions serve the shared router for one [`Operation`] under `lambda_http`; API
//! Gateway's JWT authorizer has already verified the token, so the caller is read from the
//! request context's claims. Job functions run one [`Job`] per EventBridge event. The
//! `web-console` function serves the browser pages (no AWS clients: they are in the binary).
#![forbid(unsafe_code)]

use std::process::ExitCode;
use std::sync::Arc;

use axum::routing::MethodRouter;
use lambda_http::request::RequestContext;
use orgcert_aws::{AwsConfig, Needs};
use orgcert_core::app::Job;
use orgcert_core::auth::Actor;
use orgcert_core::clock::SystemClock;
use orgcert_core::DomainError;
use orgcert_http::auth::{Authenticator, Claims, ClientCertificate};
use orgcert_http::{HttpState, Operation};

pub mod watch;

/// Reads the claims API Gateway's JWT authorizer verified (HTTP API payload 2.0).
pub struct ApiGatewayClaims;

/// API Gateway flattens array claims to `[a b]` (or passes JSON text); accept both and commas.
pub fn parse_roles(raw: &str) -> Vec<String> {
    if let Ok(v) = serde_json::from_str::<Vec<String>>(raw) {
        return v;
    }
    raw.trim_matches(|c| c == '[' || c == ']')
        .split(|c: char| c == ',' || c.is_whitespace())
        .map(|r| r.trim_matches('"').to_owned())
        .filter(|r| !r.is_empty())
        .collect()
}

impl Authenticator for ApiGatewayClaims {
    fn authenticate(&self, parts: &axum_parts::Parts) -> Result<Actor, DomainError> {
        let claims = match parts.extensions.get::<RequestContext>() {
            Some(RequestContext::ApiGatewayV2(ctx)) => ctx
                .authorizer
                .as_ref()
                .and_then(|a| a.jwt.as_ref())
                .map(|j| &j.claims),
            _ => None,
        }
        .ok_or_else(|| {
            DomainError::Unauthenticated("no verified token claims in the request context".into())
        })?;
        let get = |k: &str| claims.get(k).cloned().unwrap_or_default();
        Claims {
            sub: get("sub"),
            email: get("email"),
            name: get("name"),
            org: get("org"),
            roles: parse_roles(&get("roles")),
            iss: get("iss"),
            aud: get("aud"),
            // API Gateway hands numeric claims over as strings.
            iat: get("iat").parse().unwrap_or(0),
            exp: 0,
        }
        .into_actor()
    }
}

/// `http::request::Parts`, named through lambda_http's re-export so both sides agree.
mod axum_parts {
    pub use lambda_http::http::request::Parts;
}

fn init_tracing() {
    watch::init_tracing();
}

/// The composition of one function: what `NEEDS` ([`Needs::bits`]) names, nothing else
/// (`orgcert_aws::compose_for`).
async fn compose<const NEEDS: u8>() -> Result<orgcert_core::app::App, DomainError> {
    let cfg = AwsConfig::from_env()?;
    orgcert_aws::compose_for::<NEEDS>(&cfg, Arc::new(SystemClock)).await
}

/// What the function of `op` uses besides the DynamoDB table, read from its use case
/// (`shared/core/src/app`): the CA certificates, the KMS CA key, S3 (PKCS#12 files,
/// published CRLs, OCSP responders, the one-time-code key) and SES. A bin composes only
/// these, so it links no other SDK; a port left out refuses with `Internal`.
///
/// Only issuance signs with the CA key (as `infra/template.yaml` grants, DESIGN §5a);
/// revocation re-signs OCSP with the delegated responder in S3, never with KMS.
pub const fn needs(op: Operation) -> Needs {
    use Operation as O;
    let table = Needs::STORE;
    match op {
        O::GetOrganisation
        | O::UpdateSettings
        | O::ListProfiles
        | O::ExportProfiles
        | O::GetProfile
        | O::UpdateProfile
        | O::PutSystemRights
        | O::PutSealGeneration
        | O::DeleteCertificate
        | O::GetIssuance
        | O::ListNotifications
        | O::MarkNotificationsRead
        | O::ListAudit
        | O::ExportAudit
        | O::ListEvents
        | O::PublicCertificates
        | O::PublicCertificateFile
        | O::OpenApi
        | O::Healthz => table,
        // The CA certificate: the CA files, and the chain of a certificate's answer.
        O::GetCertificate
        | O::CaPem
        | O::CaCer
        | O::CaGeneration
        | O::RootPem
        | O::RootCer
        | O::RootCrl => table.ca(),
        // Published CRLs and the delegated OCSP responders are in S3.
        O::GetCrl | O::GetCrlPartition | O::OcspGet | O::OcspPost => table.ca().objects(),
        // An order announces a one-time code (its key is in S3) by mail.
        O::CreateProfile | O::OrderCertificate | O::RenewCertificate | O::SendIssuanceLink => {
            table.objects().mailer()
        }
        // Re-signs the OCSP answer (responder in S3) and mails the holder.
        O::RevokeCertificate => table.ca().objects().mailer(),
        // Signs the certificate (KMS), stores the PKCS#12 file and re-signs OCSP (S3).
        O::RedeemIssuance | O::IssueCertificate | O::IssueByApi | O::SelfRenew => {
            table.signer().objects()
        }
        // Local-only routes: never a Lambda function.
        O::LocalObject
        | O::LocalJwks
        | O::LocalOutbox
        | O::LocalUsers
        | O::LocalLogin
        | O::RunJob => Needs::ALL,
    }
}

/// What the function of a scheduled job uses besides the table (see [`needs`]).
pub const fn job_needs(job: Job) -> Needs {
    match job {
        // Signs CRLs and mints the OCSP responder (KMS); publishes both to S3.
        Job::CrlRefresh => Needs::STORE.signer().objects(),
        // Purges expired PKCS#12 files.
        Job::Housekeeping => Needs::STORE.objects(),
        // Mails the reminders.
        Job::RenewalReminders => Needs::STORE.mailer(),
    }
}

/// Refuses to start a bin whose compiled-in needs are not its operation's row (a bin
/// written by hand with the wrong constant).
fn check_needs<const NEEDS: u8>(name: &str, expected: Needs) -> Result<(), String> {
    if Needs::from_bits(NEEDS) == expected {
        Ok(())
    } else {
        Err(format!(
            "{name}: built with {:?}, its operation needs {expected:?}",
            Needs::from_bits(NEEDS)
        ))
    }
}

/// Serves one operation as a Lambda function, with the handler its bin names
/// (`orgcert_http::handler!`), so that the bin links no other operation's handler, on
/// the composition of its [`needs`] (`NEEDS` = `needs(op).bits()`), so that it links no
/// other SDK.
///
/// # Errors
/// When the composition (configuration, CA certificate) or the runtime fails, or
/// `NEEDS` is not `needs(op)`.
pub async fn serve_http<const NEEDS: u8>(
    op: Operation,
    handler: MethodRouter<HttpState>,
) -> Result<(), lambda_http::Error> {
    check_needs::<NEEDS>(op.name(), needs(op))?;
    let app = compose::<NEEDS>().await.map_err(|e| format!("{e}"))?;
    let state = HttpState::new(app, Arc::new(ApiGatewayClaims));
    let machine_domain = std::env::var(MACHINE_DOMAIN_VAR).ok();
    lambda_http::run(watch::layer(with_machine_certificate_layer(
        with_source_ip_layer(orgcert_http::router_with(op, handler, state)),
        machine_domain,
    )))
    .await
}

/// The machine API's custom domain (`MachineDomainName` in `infra/template.yaml`); unset
/// or empty: no machine API, and no client certificate is ever trusted.
pub const MACHINE_DOMAIN_VAR: &str = "ORGCERT_MACHINE_DOMAIN";

/// The client certificate API Gateway verified (mutual TLS on the machine API's custom
/// domain, truststore = our CA) as the same [`ClientCertificate`] the local listener sets.
///
/// Trusted only when the request came through the machine API: its `domainName` is the
/// machine domain (the only way in, its execute-api endpoint being disabled), so a client
/// certificate block can never be claimed through the JWT API. API Gateway checked the
/// chain and validity; the use cases still check the store (issued, system certificate,
/// fingerprint) on every request, as for the local listener.
pub fn machine_certificate(
    extensions: &lambda_http::http::Extensions,
    machine_domain: Option<&str>,
) -> Option<ClientCertificate> {
    let domain = machine_domain.map(str::trim).filter(|d| !d.is_empty())?;
    let Some(RequestContext::ApiGatewayV2(ctx)) = extensions.get::<RequestContext>() else {
        return None;
    };
    if !ctx
        .domain_name
        .as_deref()
        .is_some_and(|d| d.eq_ignore_ascii_case(domain))
    {
        return None;
    }
    let pem = ctx
        .authentication
        .as_ref()?
        .client_cert
        .as_ref()?
        .client_cert_pem
        .as_deref()?;
    let b64: String = pem
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN CERTIFICATE"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .map(str::trim)
        .collect();
    use base64::Engine as _;
    let der = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
    Some(ClientCertificate(der.into()))
}

/// Inserts [`machine_certificate`] into the request's extensions when there is one.
pub fn with_machine_certificate_layer(
    router: axum::Router,
    machine_domain: Option<String>,
) -> axum::Router {
    let domain: Arc<Option<String>> = Arc::new(machine_domain);
    router.layer(axum::middleware::map_request(
        move |mut req: lambda_http::http::Request<axum::body::Body>| {
            let domain = domain.clone();
            async move {
                if let Some(c) = machine_certificate(req.extensions(), domain.as_deref()) {
                    req.extensions_mut().insert(c);
                }
                req
            }
        },
    ))
}

/// Hands API Gateway's source IP to the rate limits as [`orgcert_http::limit::SourceIp`].
pub fn with_source_ip_layer(router: axum::Router) -> axum::Router {
    router.layer(axum::middleware::map_request(
        with_source_ip::<axum::body::Body>,
    ))
}

/// The client address API Gateway saw (`requestContext.http.sourceIp`, payload 2.0), for
/// the per-client rate limits; `X-Forwarded-For` is never read (any client can set it).
pub fn source_ip(parts_extensions: &lambda_http::http::Extensions) -> Option<std::net::IpAddr> {
    match parts_extensions.get::<RequestContext>() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.http.source_ip.as_deref()?.parse().ok(),
        _ => None,
    }
}

async fn with_source_ip<B>(
    mut req: lambda_http::http::Request<B>,
) -> lambda_http::http::Request<B> {
    if let Some(ip) = source_ip(req.extensions()) {
        req.extensions_mut()
            .insert(orgcert_http::limit::SourceIp(ip));
    }
    req
}

/// Serves the browser pages and their assets, signing in by OIDC (the AWS shape has no
/// local sign-in). Cheap to start: no AWS client, no composition.
///
/// # Errors
/// When `ORGCERT_WEB_AUTH` is not `oidc`, the OIDC settings are unusable, or the runtime
/// fails.
pub async fn serve_web() -> Result<(), lambda_http::Error> {
    let cfg = orgcert_web::WebConfig::from_env().map_err(|e| format!("{e}"))?;
    if cfg.auth == orgcert_web::AuthMode::Local {
        return Err("ORGCERT_WEB_AUTH: must be oidc in the AWS shape (no local sign-in)".into());
    }
    lambda_http::run(orgcert_web::routes_with::<()>(cfg)).await
}

/// Runs one scheduled job per event; `now` is the EventBridge event's `time` when present.
///
/// # Errors
/// When the composition or the runtime fails; a failed job run is returned to Lambda so
/// that EventBridge's retry policy applies.
pub async fn serve_job<const NEEDS: u8>(job: Job) -> Result<(), lambda_runtime::Error> {
    check_needs::<NEEDS>(job.name(), job_needs(job))?;
    let app = compose::<NEEDS>().await.map_err(|e| format!("{e}"))?;
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: lambda_runtime::LambdaEvent<serde_json::Value>| {
            let app = app.clone();
            async move {
                let now = event
                    .payload
                    .get("time")
                    .and_then(|t| t.as_str())
                    .and_then(|t| {
                        time::OffsetDateTime::parse(
                            t,
                            &time::format_description::well_known::Rfc3339,
                        )
                        .ok()
                    })
                    .unwrap_or_else(|| app.now());
                // The invocation's deadline bounds the job's AWS retries as it bounds a
                // request's; a job cut off is an error Lambda sends to the failure
                // destination, not a silent timeout.
                let deadline =
                    orgcert_aws::deadline::from_lambda_deadline_ms(event.context.deadline)
                        .unwrap_or_else(|| {
                            std::time::Instant::now() + orgcert_aws::deadline::budget()
                        });
                orgcert_aws::deadline::set_invocation_deadline(Some(deadline));
                let report = orgcert_aws::deadline::scope(deadline, app.run_job(job, now))
                    .await
                    .and_then(|r| r)
                    .map_err(|e| format!("{} failed: {e}", job.name()));
                orgcert_aws::deadline::set_invocation_deadline(None);
                let report = report?;
                tracing::info!(job = job.name(), detail = %report.detail, "job ran");
                if job == Job::CrlRefresh {
                    watch::crl_freshness(&app, now).await;
                }
                Ok::<_, lambda_runtime::Error>(serde_json::to_value(report)?)
            }
        },
    ))
    .await
}

fn block_on<F: std::future::Future<Output = Result<(), E>>, E: std::fmt::Display>(
    f: F,
) -> ExitCode {
    init_tracing();
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => match rt.block_on(f) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                tracing::error!(error = %e, "function stopped");
                ExitCode::FAILURE
            }
        },
        Err(e) => {
            eprintln!("runtime: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `main` of an HTTP function:
/// `http_main::<{ needs(Operation::X).bits() }>(Operation::X, orgcert_http::handler!(X))`.
pub fn http_main<const NEEDS: u8>(op: Operation, handler: MethodRouter<HttpState>) -> ExitCode {
    block_on(serve_http::<NEEDS>(op, handler))
}

/// `main` of the `web-console` function.
pub fn web_main() -> ExitCode {
    block_on(serve_web())
}

/// `main` of a job function: `job_main::<{ job_needs(Job::X).bits() }>(Job::X)`.
pub fn job_main<const NEEDS: u8>(job: Job) -> ExitCode {
    block_on(serve_job::<NEEDS>(job))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A payload-2.0 request context on `domain`, with a client certificate block when
    /// `pem` is given (API Gateway adds it only on a mutual-TLS custom domain).
    fn context(domain: &str, pem: Option<&str>) -> lambda_http::http::Extensions {
        let mut v = serde_json::json!({
            "domainName": domain,
            "http": { "method": "POST", "path": "/v1/certificates/self/renew",
                      "protocol": "HTTP/1.1", "sourceIp": "198.51.100.4" },
        });
        if let Some(pem) = pem {
            v["authentication"] = serde_json::json!({ "clientCert": {
                "clientCertPem": pem, "subjectDN": "CN=IdM", "issuerDN": "CN=orgcert CA",
                "serialNumber": "01", "validity": { "notBefore": "May 28 12:30:02 2019 GMT",
                "notAfter": "Aug  5 09:36:04 2021 GMT" } } });
        }
        let ctx: lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext =
            serde_json::from_value(v).expect("context");
        let mut ext = lambda_http::http::Extensions::new();
        ext.insert(RequestContext::ApiGatewayV2(ctx));
        ext
    }

    #[test]
    fn a_client_certificate_is_trusted_only_on_the_machine_domain() {
        let der = [0x30u8, 0x03, 0x02, 0x01, 0x07];
        use base64::Engine as _;
        let pem = format!(
            "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
            base64::engine::general_purpose::STANDARD.encode(der)
        );
        let machine = Some("mtls.orgcert.example");
        let got = machine_certificate(&context("mtls.orgcert.example", Some(&pem)), machine)
            .expect("trusted on the machine domain");
        assert_eq!(&*got.0, &der);
        // The JWT API's domain, no machine API configured, or no certificate: nothing.
        let jwt_api = context("a1b2c3.execute-api.eu-west-1.amazonaws.com", Some(&pem));
        assert!(machine_certificate(&jwt_api, machine).is_none());
        let on_machine = context("mtls.orgcert.example", Some(&pem));
        assert!(machine_certificate(&on_machine, None).is_none());
        assert!(machine_certificate(&on_machine, Some(" ")).is_none());
        let without = context("mtls.orgcert.example", None);
        assert!(machine_certificate(&without, machine).is_none());
        assert!(machine_certificate(&lambda_http::http::Extensions::new(), machine).is_none());
    }

    #[test]
    fn source_ip_comes_from_the_request_context_only() {
        let mut ctx =
            lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext::default();
        ctx.http.source_ip = Some("198.51.100.4".into());
        let mut ext = lambda_http::http::Extensions::new();
        assert_eq!(source_ip(&ext), None);
        ext.insert(RequestContext::ApiGatewayV2(ctx));
        assert_eq!(source_ip(&ext), Some("198.51.100.4".parse().unwrap()));
    }

    #[tokio::test]
    async fn the_layer_gives_the_limits_the_source_ip_not_x_forwarded_for() {
        use tower::ServiceExt as _;
        let router = with_source_ip_layer(axum::Router::new().route(
            "/ip",
            axum::routing::get(|parts: lambda_http::http::request::Parts| async move {
                format!("{:?}", orgcert_http::limit::client_addr(&parts))
            }),
        ));
        let mut ctx =
            lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext::default();
        ctx.http.source_ip = Some("198.51.100.4".into());
        let mut req = lambda_http::http::Request::builder()
            .uri("/ip")
            .header("x-forwarded-for", "203.0.113.99")
            .body(axum::body::Body::empty())
            .unwrap();
        req.extensions_mut()
            .insert(RequestContext::ApiGatewayV2(ctx));
        let resp = router.oneshot(req).await.unwrap();
        let body = axum::body::to_bytes(resp.into_body(), 1024).await.unwrap();
        assert_eq!(&body[..], b"Some(198.51.100.4)");
    }

    #[test]
    fn only_issuance_and_the_crl_job_sign_and_a_bin_must_match_its_row() {
        let signing: Vec<&str> = Operation::ALL
            .iter()
            .filter(|op| needs(**op).signer)
            .map(|op| op.name())
            .collect();
        assert_eq!(
            signing,
            [
                "redeem-issuance",
                "issue-certificate",
                "issue-by-api",
                "self-renew"
            ]
        );
        assert!(job_needs(Job::CrlRefresh).signer);
        assert!(!job_needs(Job::Housekeeping).signer && !job_needs(Job::RenewalReminders).signer);
        // The public status functions read S3 and never sign.
        for op in [Operation::OcspGet, Operation::OcspPost, Operation::GetCrl] {
            assert_eq!(needs(op), Needs::STORE.ca().objects(), "{}", op.name());
        }
        const GET_PROFILE: u8 = needs(Operation::GetProfile).bits();
        assert!(check_needs::<GET_PROFILE>("get-profile", needs(Operation::GetProfile)).is_ok());
        assert!(check_needs::<GET_PROFILE>(
            "issue-certificate",
            needs(Operation::IssueCertificate)
        )
        .is_err());
    }

    #[test]
    fn roles_in_every_shape_api_gateway_sends() {
        assert_eq!(
            parse_roles("[user_admin rights_admin]"),
            ["user_admin", "rights_admin"]
        );
        assert_eq!(parse_roles(r#"["org_admin"]"#), ["org_admin"]);
        assert_eq!(
            parse_roles("user_admin,org_admin"),
            ["user_admin", "org_admin"]
        );
        assert!(parse_roles("").is_empty());
    }
}
