//! Lambda function `healthz`: GET /healthz.
fn main() -> std::process::ExitCode {
    orgcert_lambda::http_main::<{ orgcert_lambda::needs(orgcert_http::Operation::Healthz).bits() }>(
        orgcert_http::Operation::Healthz,
        orgcert_http::handler!(Healthz),
    )
}
