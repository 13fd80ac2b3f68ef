//! Lambda function `ocsp-get`: GET /ocsp/{*request}.
fn main() -> std::process::ExitCode {
    orgcert_lambda::http_main::<{ orgcert_lambda::needs(orgcert_http::Operation::OcspGet).bits() }>(
        orgcert_http::Operation::OcspGet,
        orgcert_http::handler!(OcspGet),
    )
}
