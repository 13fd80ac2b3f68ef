//! Lambda function `get-issuance`: GET /v1/issuance/{token}.
fn main() -> std::process::ExitCode {
    orgcert_lambda::http_main::<
        { orgcert_lambda::needs(orgcert_http::Operation::GetIssuance).bits() },
    >(
        orgcert_http::Operation::GetIssuance,
        orgcert_http::handler!(GetIssuance),
    )
}
