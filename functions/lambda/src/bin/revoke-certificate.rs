//! Lambda function `revoke-certificate`: POST /v1/certificates/{serial}/revoke.
fn main() -> std::process::ExitCode {
    orgcert_lambda::http_main::<
        { orgcert_lambda::needs(orgcert_http::Operation::RevokeCertificate).bits() },
    >(
        orgcert_http::Operation::RevokeCertificate,
        orgcert_http::handler!(RevokeCertificate),
    )
}
