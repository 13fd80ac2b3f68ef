//! Lambda function `issue-by-api`: POST /v1/certificates/{serial}/issue (machine API, mutual TLS).
fn main() -> std::process::ExitCode {
    orgcert_lambda::http_main::<{ orgcert_lambda::needs(orgcert_http::Operation::IssueByApi).bits() }>(
        orgcert_http::Operation::IssueByApi,
        orgcert_http::handler!(IssueByApi),
    )
}
