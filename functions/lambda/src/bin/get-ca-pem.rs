//! Lambda function `get-ca-pem`: GET /public/ca.pem.
fn main() -> std::process::ExitCode {
    orgcert_lambda::http_main::<{ orgcert_lambda::needs(orgcert_http::Operation::CaPem).bits() }>(
        orgcert_http::Operation::CaPem,
        orgcert_http::handler!(CaPem),
    )
}
