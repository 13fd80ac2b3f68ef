//! Lambda function `send-issuance-link`: POST /v1/certificates/{serial}/issuance-link.
fn main() -> std::process::ExitCode {
    orgcert_lambda::http_main::<
        { orgcert_lambda::needs(orgcert_http::Operation::SendIssuanceLink).bits() },
    >(
        orgcert_http::Operation::SendIssuanceLink,
        orgcert_http::handler!(SendIssuanceLink),
    )
}
