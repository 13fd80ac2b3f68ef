//! Lambda function `deliver-events`: the scheduled job that puts undelivered lifecycle
//! events on EventBridge and marks them delivered (at least once; see
//! `orgcert_core::events::deliver`).
use std::process::ExitCode;

async fn run() -> Result<(), lambda_runtime::Error> {
    let (store, bus) = orgcert_aws::eventbus::delivery_from_env()
        .await
        .map_err(|e| e.to_string())?;
    lambda_runtime::run(lambda_runtime::service_fn(
        move |_event: lambda_runtime::LambdaEvent<serde_json::Value>| {
            let (store, bus) = (store.clone(), bus.clone());
            async move {
                // At most 100 batches of 10 per run; the next minute's run continues.
                let report = orgcert_core::events::deliver(&store, &bus, 100)
                    .await
                    .map_err(|e| format!("deliver-events failed: {e}"))?;
                tracing::info!(
                    delivered = report.delivered,
                    refused = report.refused,
                    "lifecycle events delivered"
                );
                Ok::<_, lambda_runtime::Error>(serde_json::to_value(report)?)
            }
        },
    ))
    .await
}

fn main() -> ExitCode {
    tracing_subscriber::fmt().with_ansi(false).init();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "function stopped");
            ExitCode::FAILURE
        }
    }
}
