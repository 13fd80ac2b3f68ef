//! Lambda function `order-certificate`: POST /v1/profiles/{id}/certificates.
fn main() -> std::process::ExitCode {
    orgcert_lambda::http_main::<
        { orgcert_lambda::needs(orgcert_http::Operation::OrderCertificate).bits() },
    >(
        orgcert_http::Operation::OrderCertificate,
        orgcert_http::handler!(OrderCertificate),
    )
}
