//! Lambda function `get-certificate`: GET /v1/certificates/{serial}.
fn main() -> std::process::ExitCode {
    orgcert_lambda::http_main(
        orgcert_http::Operation::GetCertificate,
        orgcert_http::handler!(GetCertificate),
    )
}
