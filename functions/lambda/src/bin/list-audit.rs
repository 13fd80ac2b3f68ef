//! Lambda function `list-audit`: GET /v1/audit.
fn main() -> std::process::ExitCode {
    orgcert_lambda::http_main::<{ orgcert_lambda::needs(orgcert_http::Operation::ListAudit).bits() }>(
        orgcert_http::Operation::ListAudit,
        orgcert_http::handler!(ListAudit),
    )
}
