//! Lambda function `public-certificates`: GET /public/certificates.
fn main() -> std::process::ExitCode {
    orgcert_lambda::http_main::<
        { orgcert_lambda::needs(orgcert_http::Operation::PublicCertificates).bits() },
    >(
        orgcert_http::Operation::PublicCertificates,
        orgcert_http::handler!(PublicCertificates),
    )
}
