//! Lambda function `update-profile`: PATCH /v1/profiles/{id}.
fn main() -> std::process::ExitCode {
    orgcert_lambda::http_main::<
        { orgcert_lambda::needs(orgcert_http::Operation::UpdateProfile).bits() },
    >(
        orgcert_http::Operation::UpdateProfile,
        orgcert_http::handler!(UpdateProfile),
    )
}
