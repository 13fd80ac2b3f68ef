//! Lambda function `list-events`: GET /v1/events.
fn main() -> std::process::ExitCode {
    orgcert_lambda::http_main::<{ orgcert_lambda::needs(orgcert_http::Operation::ListEvents).bits() }>(
        orgcert_http::Operation::ListEvents,
        orgcert_http::handler!(ListEvents),
    )
}
