//! Lambda function `get-root-cer`: GET /public/root.cer.
fn main() -> std::process::ExitCode {
    orgcert_lambda::http_main::<{ orgcert_lambda::needs(orgcert_http::Operation::RootCer).bits() }>(
        orgcert_http::Operation::RootCer,
        orgcert_http::handler!(RootCer),
    )
}
