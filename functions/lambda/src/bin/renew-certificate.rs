//! Lambda function `renew-certificate`: POST /v1/certificates/{serial}/renew.
fn main() -> std::process::ExitCode {
    orgcert_lambda::http_main::<
        { orgcert_lambda::needs(orgcert_http::Operation::RenewCertificate).bits() },
    >(
        orgcert_http::Operation::RenewCertificate,
        orgcert_http::handler!(RenewCertificate),
    )
}
