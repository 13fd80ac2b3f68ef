//! Status and jobs at AWS scale on moto (DESIGN §5a): no public request costs a KMS
//! signature; jobs work in independent batches that fit one DynamoDB transaction; items
//! that expire carry the table's TTL attribute.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use orgcert_aws::AwsApp;
use orgcert_core::app::Job;
use orgcert_core::clock::{Clock, ManualClock};
use orgcert_core::error::DomainError;
use orgcert_core::model::CertStatus;
use orgcert_core::ports::{Store, Write};
use orgcert_pki::{CaSigner, KeyAlgorithm, PkiError};
use orgcert_tests::conformance::{
    code_secret, idempotency_record, issued, pending, profile, put_issued, put_organisation,
    random_cvr, reference_of, T0,
};
use orgcert_tests::moto::Moto;
use time::{Duration, OffsetDateTime};

use crate::helpers::clients;

/// Counts the CA key's signatures (each one a KMS `Sign` call).
struct CountingSigner {
    inner: Arc<dyn CaSigner>,
    signs: AtomicU64,
}

impl CaSigner for CountingSigner {
    fn algorithm(&self) -> KeyAlgorithm {
        self.inner.algorithm()
    }
    fn public_key_spki_der(&self) -> Vec<u8> {
        self.inner.public_key_spki_der()
    }
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, PkiError> {
        self.signs.fetch_add(1, Ordering::SeqCst);
        self.inner.sign(message)
    }
}

fn openssl(dir: &Path, args: &[&str]) -> String {
    orgcert_tests::tools::must(dir, "openssl", args)
}

/// The responseStatus of a DER OCSPResponse (RFC 6960 §4.2.1).
fn response_status(der: &[u8]) -> u8 {
    let at = if der[1] & 0x80 != 0 {
        2 + usize::from(der[1] & 0x7f)
    } else {
        2
    };
    assert_eq!(&der[at..at + 2], &[0x0a, 0x01], "ENUMERATED responseStatus");
    der[at + 2]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_ocsp_and_crl_requests_cost_no_kms_signature() {
    let Some(moto) = Moto::try_start() else {
        return;
    };
    let cfg = moto.provision_with_ca(KeyAlgorithm::EcdsaP256).await;
    let clock = Arc::new(ManualClock::new(OffsetDateTime::now_utc()));
    let job = AwsApp::compose(&cfg, clock.clone()).await.expect("compose");
    let counter = Arc::new(CountingSigner {
        inner: job.authority.signer().clone(),
        signs: AtomicU64::new(0),
    });
    let public = AwsApp::compose_with_signer(&cfg, clock.clone(), counter.clone())
        .await
        .expect("compose the public function");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("ca.pem"), job.authority.ca_pem()).unwrap();
    openssl(
        d,
        &[
            "ocsp",
            "-issuer",
            "ca.pem",
            "-serial",
            "0x1c0ffee1",
            "-reqout",
            "sha1.der",
        ],
    );
    openssl(
        d,
        &[
            "ocsp",
            "-issuer",
            "ca.pem",
            "-sha384",
            "-serial",
            "0x2c0ffee2",
            "-reqout",
            "sha384.der",
        ],
    );
    openssl(
        d,
        &[
            "ocsp",
            "-issuer",
            "ca.pem",
            "-sha512",
            "-serial",
            "0x3c0ffee3",
            "-no_nonce",
            "-reqout",
            "sha512.der",
        ],
    );
    let requests: Vec<Vec<u8>> = ["sha1.der", "sha384.der", "sha512.der"]
        .iter()
        .map(|f| std::fs::read(d.join(f)).unwrap())
        .collect();

    // Before the job ran: no CRL (503, not a signature) and no responder (tryLater).
    let r = public.app.crl(None).await;
    assert!(matches!(r, Err(DomainError::Unavailable(_))), "{r:?}");
    assert_eq!(response_status(&public.app.ocsp(&requests[0]).await), 3);
    assert_eq!(counter.signs.load(Ordering::SeqCst), 0);

    // The job (a signing principal) mints the responder and builds the CRL.
    let report = job.app.run_job(Job::CrlRefresh, clock.now()).await.unwrap();
    assert_eq!(report.detail["failed"], 0, "{}", report.detail);
    let crl = public.app.crl(None).await.unwrap();

    // A day and a half later the CRL is past its nextUpdate: still served as stored.
    clock.advance(Duration::hours(36));
    let mut answers = Vec::new();
    for i in 0..100 {
        match i % 4 {
            3 => assert_eq!(public.app.crl(None).await.unwrap(), crl),
            k => {
                let der = public.app.ocsp(&requests[k]).await;
                assert_eq!(response_status(&der), 0, "request {i}");
                answers.push(der);
            }
        }
    }
    // A pre-signed answer (as issuance and revocation make) is signed by the responder too.
    let org = random_cvr();
    let cert = issued(&pending(&profile(&org, "Pre-signed"), T0), clock.now());
    public.app.refresh_ocsp(&cert, clock.now()).await.unwrap();
    assert_eq!(
        counter.signs.load(Ordering::SeqCst),
        0,
        "KMS Sign calls made by public requests"
    );
    // The answers verify against the CA through the delegated responder, nonce echoed.
    std::fs::write(d.join("resp.der"), &answers[1]).unwrap();
    let text = openssl(
        d,
        &[
            "ocsp",
            "-respin",
            "resp.der",
            "-CAfile",
            "ca.pem",
            "-resp_text",
            "-issuer",
            "ca.pem",
            "-reqin",
            "sha384.der",
        ],
    );
    assert!(text.contains("Response verify OK"), "{text}");
    assert!(text.contains("OCSP Responder"), "{text}");
    assert!(text.contains("OCSP Nonce"), "{text}");
    assert!(text.contains("unknown"), "{text}");
    // The job signed: the CRL and the responder certificate, both through KMS.
    drop(moto);
}

/// moto with a P-256 CA, and the app composed on it with a manual clock at [`T0`];
/// `None` (after saying why) without moto.
async fn on_manual_clock() -> Option<(Moto, orgcert_aws::AwsConfig, AwsApp)> {
    let moto = Moto::try_start()?;
    let cfg = moto.provision_with_ca(KeyAlgorithm::EcdsaP256).await;
    let aws = AwsApp::compose(&cfg, Arc::new(ManualClock::new(T0)))
        .await
        .expect("compose");
    Some((moto, cfg, aws))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn housekeeping_deletes_250_expired_code_secrets_in_batches() {
    let Some((_moto, _, aws)) = on_manual_clock().await else {
        return;
    };
    let org = random_cvr();
    let c = pending(&profile(&org, "Many codes"), T0);
    let secrets: Vec<_> = (0..250).map(|_| code_secret(&c)).collect();
    aws.store
        .import(
            secrets
                .iter()
                .map(|s| Write::PutSecret {
                    secret: s.clone(),
                    expected: None,
                })
                .collect(),
        )
        .await
        .unwrap();
    let now = T0 + Duration::days(20);
    let report = aws.app.run_job(Job::Housekeeping, now).await.unwrap();
    assert_eq!(report.detail["secrets_deleted"], 250, "{}", report.detail);
    assert_eq!(report.detail["failed"], 0, "{}", report.detail);
    assert!(aws
        .store
        .expired_secrets(now, 1000)
        .await
        .unwrap()
        .is_empty());
    for s in secrets.iter().step_by(25) {
        assert!(aws.store.secret(&s.hash).await.unwrap().is_none());
        assert!(aws
            .store
            .secret_by_reference(reference_of(s))
            .await
            .unwrap()
            .is_none());
    }
    let again = aws.app.run_job(Job::Housekeeping, now).await.unwrap();
    assert_eq!(again.detail["secrets_deleted"], 0, "{}", again.detail);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_contact_with_150_due_certificates_is_reminded_once_each() {
    let Some((moto, _, aws)) = on_manual_clock().await else {
        return;
    };
    let org = random_cvr();
    let now = T0 + Duration::days(400);
    let mut writes = vec![put_organisation(&org)];
    let mut serials = Vec::new();
    for i in 0..150 {
        let p = profile(&org, &format!("Server {i:03}"));
        let mut c = issued(&pending(&p, T0), T0);
        c.not_after = Some(now + Duration::days(20) + Duration::minutes(i));
        serials.push(c.serial.clone());
        writes.extend(put_issued(&p, c));
    }
    aws.store.import(writes).await.unwrap();

    let report = aws.app.run_job(Job::RenewalReminders, now).await.unwrap();
    let d = &report.detail;
    assert_eq!(d["certificates"], 150, "{d}");
    assert_eq!(d["failed"], 0, "{d}");
    let mails = d["mails"].as_u64().unwrap();
    assert!((2..=3).contains(&mails), "digests of at most 90: {d}");
    for s in &serials {
        let c = aws.store.certificate_any_org(s).await.unwrap().unwrap();
        assert_eq!(c.reminders_sent, vec![30], "{s}");
        assert_eq!(c.status, CertStatus::Issued);
    }
    let sent = moto.data().await["ses"]["Message"]
        .as_array()
        .map_or(0, Vec::len);
    assert_eq!(sent as u64, mails, "one SES mail per digest");

    let again = aws.app.run_job(Job::RenewalReminders, now).await.unwrap();
    assert_eq!(again.detail["mails"], 0, "{}", again.detail);
    assert_eq!(again.detail["already_sent"], 150, "{}", again.detail);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiring_items_carry_the_ttl_attribute() {
    let Some((moto, cfg, aws)) = on_manual_clock().await else {
        return;
    };
    let org = random_cvr();
    let p = profile(&org, "TTL");
    let c = pending(&p, T0);
    let secret = code_secret(&c);
    aws.store
        .commit(vec![
            Write::PutSecret {
                secret: secret.clone(),
                expected: None,
            },
            Write::Idempotency(idempotency_record(&org, "ttl-key", &p, &c.serial)),
        ])
        .await
        .unwrap();
    let items = clients(&moto)
        .await
        .dynamodb
        .scan()
        .table_name(&cfg.table)
        .send()
        .await
        .unwrap()
        .items
        .unwrap_or_default();
    let ttl = |it: &std::collections::HashMap<String, AttributeValue>| match it.get("ttl") {
        Some(AttributeValue::N(n)) => n.parse::<i64>().ok(),
        _ => None,
    };
    let sk = |it: &std::collections::HashMap<String, AttributeValue>| {
        it.get("SK")
            .and_then(|v| v.as_s().ok())
            .cloned()
            .unwrap_or_default()
    };
    let secret_ttl = (secret.expires_at + Duration::days(2)).unix_timestamp();
    let of = |name: &str| -> Vec<Option<i64>> {
        items.iter().filter(|i| sk(i) == name).map(ttl).collect()
    };
    assert_eq!(of("SECRET"), vec![Some(secret_ttl)], "secret item");
    assert_eq!(of("REF"), vec![Some(secret_ttl)], "reference item");
    assert_eq!(
        of("IDEM"),
        vec![Some((T0 + Duration::days(30)).unix_timestamp())],
        "idempotency item"
    );
}
