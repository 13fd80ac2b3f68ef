//! Lambda function `get-organisation`: GET /v1/organisation.
fn main() -> std::process::ExitCode {
    orgcert_lambda::http_main::<
        { orgcert_lambda::needs(orgcert_http::Operation::GetOrganisation).bits() },
    >(
        orgcert_http::Operation::GetOrganisation,
        orgcert_http::handler!(GetOrganisation),
    )
}
