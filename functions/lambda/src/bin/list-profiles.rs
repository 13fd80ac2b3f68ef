//! Lambda function `list-profiles`: GET /v1/profiles.
fn main() -> std::process::ExitCode {
    orgcert_lambda::http_main::<
        { orgcert_lambda::needs(orgcert_http::Operation::ListProfiles).bits() },
    >(
        orgcert_http::Operation::ListProfiles,
        orgcert_http::handler!(ListProfiles),
    )
}
