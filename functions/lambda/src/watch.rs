//! Every request of the AWS shape within its deadline, and watched (issue 17, items 2, 6).
//!
//! [`layer`] wraps a router so that each request
//! - runs under a deadline ([`orgcert_aws::deadline`]): the Lambda context's when the
//!   request came through the Lambda runtime, else the configured budget
//!   (`ORGCERT_AWS_BUDGET_MS`); past it less a margin, the answer is a 503 problem+json
//!   instead of the bare timeout API Gateway would send;
//! - leaves one structured log line (`request`): route template (never the raw path, which
//!   can hold an issuance token), method, status, latency in ms, actor kind and the Lambda
//!   request id; never a header, a query or a body;
//! - counts what relying parties and auditors care about as CloudWatch Embedded Metric
//!   Format lines ([`emf`]): issuances, revocations, OCSP answers; the crl-refresh job adds
//!   the seconds until the published CRL's nextUpdate ([`crl_freshness`]).
//!
//! Logs are JSON ([`init_tracing`]), one object a line, with the Lambda request id on the
//! request line and, through the runtime's invocation span, on every line of the request.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use lambda_http::request::RequestContext;
use orgcert_aws::deadline;
use orgcert_http::ApiError;

/// CloudWatch namespace of the EMF metrics.
pub const NAMESPACE: &str = "orgcert";

/// Wraps `router` with the deadline, the request log line and the metrics.
pub fn layer(router: axum::Router) -> axum::Router {
    router.layer(axum::middleware::from_fn(watched))
}

/// Who called, as far as the gateway told: never who exactly (that is the audit log's).
fn actor_kind(req: &Request) -> &'static str {
    let jwt = match req.extensions().get::<RequestContext>() {
        Some(RequestContext::ApiGatewayV2(ctx)) => Some(
            ctx.authorizer
                .as_ref()
                .and_then(|a| a.jwt.as_ref())
                .is_some(),
        ),
        _ => None,
    };
    match jwt {
        Some(true) => "user",
        None if req
            .headers()
            .contains_key(axum::http::header::AUTHORIZATION) =>
        {
            "bearer"
        }
        _ => "anonymous",
    }
}

async fn watched(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let lambda = req.extensions().get::<lambda_runtime::Context>().cloned();
    let deadline = lambda
        .as_ref()
        .and_then(|c| deadline::from_lambda_deadline_ms(c.deadline))
        .unwrap_or_else(|| started + deadline::budget());
    // One invocation at a time per Lambda environment: the KMS signer, on a blocking
    // thread, sees this deadline too. Locally (many requests at once) it keeps its own.
    if lambda.is_some() {
        deadline::set_invocation_deadline(Some(deadline));
    }
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = req.method().clone();
    let actor = actor_kind(&req);
    let request_id = lambda.as_ref().map(|c| c.request_id.clone());
    // What the request had to work with (a deadline of 0 or an emulator's is replaced by
    // the configured budget).
    let budget_ms =
        u64::try_from(deadline.saturating_duration_since(started).as_millis()).unwrap_or(u64::MAX);

    let resp = match deadline::scope(deadline, next.run(req)).await {
        Ok(resp) => resp,
        Err(e) => ApiError(e).into_response(),
    };
    if lambda.is_some() {
        deadline::set_invocation_deadline(None);
    }
    let status = resp.status().as_u16();
    let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    tracing::info!(
        target: "request",
        route = %route,
        method = %method,
        status,
        latency_ms,
        budget_ms,
        actor,
        request_id = request_id.as_deref().unwrap_or(""),
        "request"
    );
    if let Some(metric) = metric_of(&method, &route, status) {
        emf::print(metric, 1.0, "Count");
    }
    resp
}

/// The metric a successful request counts, by its route template.
fn metric_of(method: &axum::http::Method, route: &str, status: u16) -> Option<&'static str> {
    if !(200..300).contains(&status) {
        return None;
    }
    match (method.as_str(), route) {
        ("POST", r) if r.starts_with("/v1/issuance/") || r.ends_with("/issue") => Some("Issuances"),
        ("POST", r) if r.ends_with("/revoke") => Some("Revocations"),
        (_, r) if r.starts_with("/ocsp") => Some("OcspAnswers"),
        _ => None,
    }
}

/// The log filter: `RUST_LOG`, else `ORGCERT_LOG`, else the level Lambda's `LoggingConfig`
/// sets (`AWS_LAMBDA_LOG_LEVEL`: TRACE..FATAL), else `info`.
pub fn log_filter() -> tracing_subscriber::EnvFilter {
    use tracing_subscriber::EnvFilter;
    EnvFilter::try_from_env("RUST_LOG")
        .or_else(|_| EnvFilter::try_from_env("ORGCERT_LOG"))
        .ok()
        .or_else(|| {
            let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
                .ok()?
                .to_ascii_lowercase();
            let level = if level == "fatal" {
                "error".into()
            } else {
                level
            };
            EnvFilter::try_new(level).ok()
        })
        .unwrap_or_else(|| EnvFilter::new("info"))
}

/// The JSON log layer: one object a line, the event's fields flattened into it, the
/// current span (the Lambda runtime's invocation span carries `requestId`) alongside.
pub fn json_layer<S, W>(writer: W) -> impl tracing_subscriber::Layer<S>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt::layer()
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(true)
        .with_writer(writer)
}

/// Installs JSON logs on stdout with [`log_filter`] (once; later calls do nothing).
pub fn init_tracing() {
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let _ = tracing_subscriber::registry()
        .with(log_filter())
        .with(json_layer(std::io::stdout))
        .try_init();
}

/// After a crl-refresh run: the seconds until the published full CRL's nextUpdate, as an
/// EMF metric (`CrlSecondsUntilNextUpdate`; the template's alarm fires when it falls
/// below a quarter of the CRL's validity). A CRL that cannot be read is logged, not
/// printed: the alarm treats missing data as breaching.
pub async fn crl_freshness(app: &orgcert_core::app::App, now: time::OffsetDateTime) {
    match app.crl(None).await {
        Ok(der) => match x509_parser::parse_x509_crl(&der) {
            Ok((_, crl)) => {
                if let Some(next) = crl.next_update() {
                    let left = next.timestamp() - now.unix_timestamp();
                    #[allow(clippy::cast_precision_loss)] // seconds: far below 2^52
                    emf::print("CrlSecondsUntilNextUpdate", left as f64, "Seconds");
                }
            }
            Err(e) => tracing::error!(error = %e, "published CRL does not parse"),
        },
        Err(e) => tracing::error!(error = %e, "no published CRL to measure"),
    }
}

/// CloudWatch Embedded Metric Format: a JSON log line CloudWatch Logs turns into a metric
/// (<https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>).
/// Printed to stdout as it is (not through tracing: the line must be the bare object).
pub mod emf {
    use serde_json::json;

    /// The EMF object of one metric value, with the function name as its dimension.
    pub fn line(name: &str, value: f64, unit: &str, at_ms: u64) -> serde_json::Value {
        let function =
            std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|_| "orgcert".into());
        json!({
            "_aws": {
                "Timestamp": at_ms,
                "CloudWatchMetrics": [{
                    "Namespace": super::NAMESPACE,
                    "Dimensions": [["Function"]],
                    "Metrics": [{ "Name": name, "Unit": unit }],
                }],
            },
            "Function": function,
            name: value,
        })
    }

    /// Prints one metric value now.
    pub fn print(name: &str, value: f64, unit: &str) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        println!("{}", line(name, value, unit, now));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_follow_route_templates_and_success_only() {
        let post = axum::http::Method::POST;
        assert_eq!(
            metric_of(&post, "/v1/issuance/{token}", 201),
            Some("Issuances")
        );
        assert_eq!(metric_of(&post, "/v1/issuance/{token}", 409), None);
        assert_eq!(
            metric_of(&axum::http::Method::GET, "/ocsp/{request}", 200),
            Some("OcspAnswers")
        );
    }

    #[test]
    fn an_emf_line_names_its_metric_and_value() {
        let l = emf::line("Issuances", 1.0, "Count", 5);
        assert_eq!(
            l["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"],
            "Issuances"
        );
        assert_eq!(l["Issuances"], 1.0);
        assert_eq!(l["_aws"]["Timestamp"], 5);
    }
}
