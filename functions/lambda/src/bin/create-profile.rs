//! Lambda function `create-profile`: POST /v1/profiles.
fn main() -> std::process::ExitCode {
    orgcert_lambda::http_main::<
        { orgcert_lambda::needs(orgcert_http::Operation::CreateProfile).bits() },
    >(
        orgcert_http::Operation::CreateProfile,
        orgcert_http::handler!(CreateProfile),
    )
}
