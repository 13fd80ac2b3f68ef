//! Lambda function `get-root-pem`: GET /public/root.pem.
fn main() -> std::process::ExitCode {
    orgcert_lambda::http_main::<{ orgcert_lambda::needs(orgcert_http::Operation::RootPem).bits() }>(
        orgcert_http::Operation::RootPem,
        orgcert_http::handler!(RootPem),
    )
}
