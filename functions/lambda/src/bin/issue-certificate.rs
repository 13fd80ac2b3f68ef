//! Lambda function `issue-certificate`: POST /v1/issuance/{token}.
fn main() -> std::process::ExitCode {
    orgcert_lambda::http_main::<
        { orgcert_lambda::needs(orgcert_http::Operation::IssueCertificate).bits() },
    >(
        orgcert_http::Operation::IssueCertificate,
        orgcert_http::handler!(IssueCertificate),
    )
}
