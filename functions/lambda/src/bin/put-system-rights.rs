//! Lambda function `put-system-rights`: PUT /v1/profiles/{id}/system-rights.
fn main() -> std::process::ExitCode {
    orgcert_lambda::http_main::<
        { orgcert_lambda::needs(orgcert_http::Operation::PutSystemRights).bits() },
    >(
        orgcert_http::Operation::PutSystemRights,
        orgcert_http::handler!(PutSystemRights),
    )
}
