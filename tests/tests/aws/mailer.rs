//! Mailer conformance: the outbox, and SES-on-moto read back from `/moto-api/data.json`.

use orgcert_aws::{provision, SesMailer};
use orgcert_local::OutboxMailer;
use orgcert_tests::conformance::mailer::Delivered;
use orgcert_tests::conformance::mailer_conformance;
use orgcert_tests::moto::{Moto, SENDER};

use crate::helpers::clients;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbox_mailer_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = OutboxMailer::new(dir.path()).unwrap();
    mailer_conformance(&outbox, || async {
        outbox
            .list()
            .into_iter()
            .map(|e| Delivered {
                to: e.to,
                subject: e.subject,
                text: e.text,
            })
            .collect()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ses_mailer_conforms() {
    let Some(moto) = Moto::try_start() else {
        return;
    };
    let c = clients(&moto).await;
    provision::verify_sender(&c.ses, SENDER)
        .await
        .expect("identity");
    let mailer = SesMailer::new(c.ses.clone(), SENDER);
    mailer_conformance(&mailer, || async {
        let data = moto.data().await;
        data["ses"]["Message"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|m| m["source"] == SENDER)
            .map(|m| Delivered {
                to: m["destinations"]["ToAddresses"][0]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                subject: m["subject"].as_str().unwrap_or_default().to_owned(),
                text: m["body"].as_str().unwrap_or_default().to_owned(),
            })
            .collect()
    })
    .await;
}
