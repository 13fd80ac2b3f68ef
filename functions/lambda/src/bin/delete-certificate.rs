//! Lambda function `delete-certificate`: DELETE /v1/certificates/{serial}.
fn main() -> std::process::ExitCode {
    orgcert_lambda::http_main::<
        { orgcert_lambda::needs(orgcert_http::Operation::DeleteCertificate).bits() },
    >(
        orgcert_http::Operation::DeleteCertificate,
        orgcert_http::handler!(DeleteCertificate),
    )
}
