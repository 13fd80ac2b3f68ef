//! Lambda function `get-crl`: GET /public/crl.
fn main() -> std::process::ExitCode {
    orgcert_lambda::http_main::<{ orgcert_lambda::needs(orgcert_http::Operation::GetCrl).bits() }>(
        orgcert_http::Operation::GetCrl,
        orgcert_http::handler!(GetCrl),
    )
}
