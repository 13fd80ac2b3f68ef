//! Lambda function `get-root-crl`: GET /public/root.crl.
fn main() -> std::process::ExitCode {
    orgcert_lambda::http_main::<{ orgcert_lambda::needs(orgcert_http::Operation::RootCrl).bits() }>(
        orgcert_http::Operation::RootCrl,
        orgcert_http::handler!(RootCrl),
    )
}
