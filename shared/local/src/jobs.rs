//! Background work of the embedded default: the CRL rebuild after a revocation (the
//! scheduled jobs run from `orgcert job` or `POST /_local/jobs/{name}`).

use std::sync::Arc;

use orgcert_core::app::App;
use orgcert_core::ports::StatusEvents;

/// Rebuilds the CRL in the background shortly after a revocation (coalescing bursts).
#[derive(Default)]
pub struct CrlRebuilder {
    notify: Arc<tokio::sync::Notify>,
}

impl CrlRebuilder {
    /// Starts the background task that rebuilds the CRLs after each [`StatusEvents::crl_stale`]
    /// (at most one rebuild per burst).
    pub fn start(&self, app: App) {
        let notify = self.notify.clone();
        tokio::spawn(async move {
            loop {
                notify.notified().await;
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                if let Err(e) = app.rebuild_crls(app.now()).await {
                    tracing::warn!(error = %e, "CRL rebuild after revocation failed; the crl-refresh job will retry");
                }
            }
        });
    }
}

impl StatusEvents for CrlRebuilder {
    fn crl_stale(&self) {
        self.notify.notify_one();
    }
}
