//! Lambda function `mark-notifications-read`: POST /v1/notifications/read.
fn main() -> std::process::ExitCode {
    orgcert_lambda::http_main(
        orgcert_http::Operation::MarkNotificationsRead,
        orgcert_http::handler!(MarkNotificationsRead),
    )
}
