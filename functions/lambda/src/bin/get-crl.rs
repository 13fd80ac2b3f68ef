//! Lambda function `get-crl`: GET /public/crl.
fn main() -> std::process::ExitCode {
    orgcert_lambda::http_main(
        orgcert_http::Operation::GetCrl,
        orgcert_http::handler!(GetCrl),
    )
}
