//! Lambda function `public-certificate-file`: GET /public/certificates/{serial}/{file}.
fn main() -> std::process::ExitCode {
    orgcert_lambda::http_main::<
        { orgcert_lambda::needs(orgcert_http::Operation::PublicCertificateFile).bits() },
    >(
        orgcert_http::Operation::PublicCertificateFile,
        orgcert_http::handler!(PublicCertificateFile),
    )
}
