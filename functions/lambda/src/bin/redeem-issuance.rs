//! Lambda function `redeem-issuance`: POST /v1/issuance/redeem.
fn main() -> std::process::ExitCode {
    orgcert_lambda::http_main::<
        { orgcert_lambda::needs(orgcert_http::Operation::RedeemIssuance).bits() },
    >(
        orgcert_http::Operation::RedeemIssuance,
        orgcert_http::handler!(RedeemIssuance),
    )
}
