//! Lambda function `get-ca-cer`: GET /public/ca.cer.
fn main() -> std::process::ExitCode {
    orgcert_lambda::http_main::<{ orgcert_lambda::needs(orgcert_http::Operation::CaCer).bits() }>(
        orgcert_http::Operation::CaCer,
        orgcert_http::handler!(CaCer),
    )
}
