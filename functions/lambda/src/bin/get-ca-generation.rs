//! Lambda function `get-ca-generation`: GET /public/ca/{generation}.
fn main() -> std::process::ExitCode {
    orgcert_lambda::http_main::<
        { orgcert_lambda::needs(orgcert_http::Operation::CaGeneration).bits() },
    >(
        orgcert_http::Operation::CaGeneration,
        orgcert_http::handler!(CaGeneration),
    )
}
