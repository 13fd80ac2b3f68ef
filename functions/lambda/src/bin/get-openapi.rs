//! Lambda function `get-openapi`: GET /openapi.json.
fn main() -> std::process::ExitCode {
    orgcert_lambda::http_main::<{ orgcert_lambda::needs(orgcert_http::Operation::OpenApi).bits() }>(
        orgcert_http::Operation::OpenApi,
        orgcert_http::handler!(OpenApi),
    )
}
