//! Lambda function `get-profile`: GET /v1/profiles/{id}.
fn main() -> std::process::ExitCode {
    orgcert_lambda::http_main::<{ orgcert_lambda::needs(orgcert_http::Operation::GetProfile).bits() }>(
        orgcert_http::Operation::GetProfile,
        orgcert_http::handler!(GetProfile),
    )
}
