//! Lambda function `get-ca-pem`: GET /public/ca.pem.
fn main() -> std::process::ExitCode {
    orgcert_lambda::http_main(
        orgcert_http::Operation::CaPem,
        orgcert_http::handler!(CaPem),
    )
}
