//! Lambda function `export-profiles`: GET /v1/profiles/export.csv.
fn main() -> std::process::ExitCode {
    orgcert_lambda::http_main::<
        { orgcert_lambda::needs(orgcert_http::Operation::ExportProfiles).bits() },
    >(
        orgcert_http::Operation::ExportProfiles,
        orgcert_http::handler!(ExportProfiles),
    )
}
