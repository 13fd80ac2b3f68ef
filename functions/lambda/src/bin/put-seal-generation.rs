//! Lambda function `put-seal-generation`: PUT /v1/profiles/{id}/seal-generation.
fn main() -> std::process::ExitCode {
    orgcert_lambda::http_main::<
        { orgcert_lambda::needs(orgcert_http::Operation::PutSealGeneration).bits() },
    >(
        orgcert_http::Operation::PutSealGeneration,
        orgcert_http::handler!(PutSealGeneration),
    )
}
