//! Lambda function `crl-refresh`: the scheduled job, one run per EventBridge event.
fn main() -> std::process::ExitCode {
    orgcert_lambda::job_main::<
        { orgcert_lambda::job_needs(orgcert_core::app::Job::CrlRefresh).bits() },
    >(orgcert_core::app::Job::CrlRefresh)
}
