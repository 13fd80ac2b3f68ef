//! Lambda function `get-crl-partition`: GET /public/crl/{partition}.
fn main() -> std::process::ExitCode {
    orgcert_lambda::http_main::<
        { orgcert_lambda::needs(orgcert_http::Operation::GetCrlPartition).bits() },
    >(
        orgcert_http::Operation::GetCrlPartition,
        orgcert_http::handler!(GetCrlPartition),
    )
}
