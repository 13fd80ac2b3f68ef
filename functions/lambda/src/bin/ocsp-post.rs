//! Lambda function `ocsp-post`: POST /ocsp.
fn main() -> std::process::ExitCode {
    orgcert_lambda::http_main::<{ orgcert_lambda::needs(orgcert_http::Operation::OcspPost).bits() }>(
        orgcert_http::Operation::OcspPost,
        orgcert_http::handler!(OcspPost),
    )
}
