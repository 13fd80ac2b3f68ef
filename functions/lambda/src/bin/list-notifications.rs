//! Lambda function `list-notifications`: GET /v1/notifications.
fn main() -> std::process::ExitCode {
    orgcert_lambda::http_main::<
        { orgcert_lambda::needs(orgcert_http::Operation::ListNotifications).bits() },
    >(
        orgcert_http::Operation::ListNotifications,
        orgcert_http::handler!(ListNotifications),
    )
}
