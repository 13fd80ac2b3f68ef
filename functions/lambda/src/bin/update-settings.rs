//! Lambda function `update-settings`: PATCH /v1/organisation/settings.
fn main() -> std::process::ExitCode {
    orgcert_lambda::http_main::<
        { orgcert_lambda::needs(orgcert_http::Operation::UpdateSettings).bits() },
    >(
        orgcert_http::Operation::UpdateSettings,
        orgcert_http::handler!(UpdateSettings),
    )
}
