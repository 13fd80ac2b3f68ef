//! Lambda function `self-renew`: POST /v1/certificates/self/renew (machine API, mutual TLS).
fn main() -> std::process::ExitCode {
    orgcert_lambda::http_main::<{ orgcert_lambda::needs(orgcert_http::Operation::SelfRenew).bits() }>(
        orgcert_http::Operation::SelfRenew,
        orgcert_http::handler!(SelfRenew),
    )
}
