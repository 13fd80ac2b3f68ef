//! Lambda function `export-audit`: GET /v1/audit/export.
fn main() -> std::process::ExitCode {
    orgcert_lambda::http_main::<
        { orgcert_lambda::needs(orgcert_http::Operation::ExportAudit).bits() },
    >(
        orgcert_http::Operation::ExportAudit,
        orgcert_http::handler!(ExportAudit),
    )
}
