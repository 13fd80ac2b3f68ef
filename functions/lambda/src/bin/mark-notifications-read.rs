//! Lambda function `mark-notifications-read`: POST /v1/notifications/read.
fn main() -> std::process::ExitCode {
    orgcert_lambda::http_main::<
        { orgcert_lambda::needs(orgcert_http::Operation::MarkNotificationsRead).bits() },
    >(
        orgcert_http::Operation::MarkNotificationsRead,
        orgcert_http::handler!(MarkNotificationsRead),
    )
}
