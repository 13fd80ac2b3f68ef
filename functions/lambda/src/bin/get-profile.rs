//! Lambda function `get-profile`: GET /v1/profiles/{id}.
fn main() -> std::process::ExitCode {
    orgcert_lambda::http_main(
        orgcert_http::Operation::GetProfile,
        orgcert_http::handler!(GetProfile),
    )
}
