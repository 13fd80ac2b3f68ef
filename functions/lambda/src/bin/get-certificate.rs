//! Lambda function `get-certificate`: GET /v1/certificates/{serial}.
fn main() -> std::process::ExitCode {
    orgcert_lambda::http_main::<
        { orgcert_lambda::needs(orgcert_http::Operation::GetCertificate).bits() },
    >(
        orgcert_http::Operation::GetCertificate,
        orgcert_http::handler!(GetCertificate),
    )
}
