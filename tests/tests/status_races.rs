//! Status promises under concurrency (DESIGN §5a), on the embedded default's adapters:
//! a stale OCSP sweep never overwrites a revocation, and concurrent CRL rebuilds publish
//! each cRLNumber with exactly one content, in increasing order; a failing job batch does
//! not stop the others.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use orgcert_core::app::{App, Job};
use orgcert_core::auth::{Actor, Role};
use orgcert_core::clock::{Clock, ManualClock};
use orgcert_core::error::{DomainError, Result};
use orgcert_core::model::{CertStatus, Certificate, OcspRecord, RevocationReason};
use orgcert_core::ports::{Objects, Store, Write};
use orgcert_functions::local::{self, LocalConfig};
use orgcert_pki::KeyAlgorithm;
use orgcert_tests::conformance::{
    issued, pending, profile, put_issued, put_organisation, random_cvr, T0,
};
use orgcert_tests::faults::{FailMode, FailingStore, FaultPlan};
use time::{Duration, OffsetDateTime};

async fn local_app(dir: &std::path::Path) -> (App, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(T0));
    let cfg = LocalConfig::new(
        dir.to_path_buf(),
        "http://127.0.0.1:1",
        "http://pki.example.dk",
        KeyAlgorithm::EcdsaP256,
    );
    let l = local::open(&cfg, clock.clone()).await.expect("open");
    (l.state.app.clone(), clock)
}

/// An issued certificate of a fresh organisation, and an admin of it.
async fn issued_certificate(app: &App) -> (Certificate, Actor) {
    let store = app.ports().store;
    let org = random_cvr();
    let p = profile(&org, "Sweep target");
    let c = issued(&pending(&p, T0), T0);
    let [put_profile, put_cert] = put_issued(&p, c.clone());
    store
        .commit(vec![put_organisation(&org), put_profile, put_cert])
        .await
        .expect("fixture");
    let admin = Actor {
        subject: "admin".into(),
        email: "admin@eksempel.dk".into(),
        name: "Admin".into(),
        org,
        roles: vec![Role::UserAdmin],
        authenticated_at: None,
    };
    (c, admin)
}

/// [`local_app`] in `dir` with an [`issued_certificate`] whose OCSP answer ("good") was
/// pre-signed an hour after its issuance, the clock standing there.
async fn presigned_certificate(
    dir: &std::path::Path,
) -> (App, Arc<ManualClock>, Certificate, Actor) {
    let (app, clock) = local_app(dir).await;
    let (cert, admin) = issued_certificate(&app).await;
    clock.set(T0 + Duration::hours(1));
    app.refresh_ocsp(&cert, clock.now()).await.unwrap();
    (app, clock, cert, admin)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_sweep_never_turns_revoked_back_to_good() {
    let dir = tempfile::tempdir().unwrap();
    let (app, clock, cert, admin) = presigned_certificate(dir.path()).await;
    let store = app.ports().store;

    // The sweep read the certificate (issued) before the revocation ...
    let swept: Certificate = store
        .certificate_any_org(&cert.serial)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(swept.status, CertStatus::Issued);
    // ... the revocation commits and pre-signs "revoked" ...
    clock.set(T0 + Duration::hours(2));
    app.revoke(&admin, &cert.serial, RevocationReason::KeyCompromise)
        .await
        .unwrap();
    let rec = store.ocsp_record(&cert.serial).await.unwrap().unwrap();
    assert_eq!(rec.status, CertStatus::Revoked);
    // ... then the sweep writes what it read, signed later: refused, and no error.
    clock.set(T0 + Duration::hours(3));
    let written = app.refresh_ocsp(&swept, clock.now()).await.unwrap();
    assert_eq!(written, None, "the stale sweep's record must be refused");
    let rec = store.ocsp_record(&cert.serial).await.unwrap().unwrap();
    assert_eq!(rec.status, CertStatus::Revoked);
    assert_eq!(rec.this_update, T0 + Duration::hours(2));
    // A sweep that reads afresh keeps it revoked and moves it forward.
    clock.set(T0 + Duration::days(2));
    let n = app.refresh_stale_ocsp(clock.now()).await.unwrap();
    assert!(n >= 1, "the sweep refreshed the revoked record");
    let rec = store.ocsp_record(&cert.serial).await.unwrap().unwrap();
    assert_eq!(rec.status, CertStatus::Revoked);
    assert_eq!(rec.this_update, T0 + Duration::days(2));
}

/// The process keeps pre-signed OCSP answers in memory (`OcspCache`): a revocation must
/// still reach every query that starts after it returned, while queries run in parallel
/// with it (and with the cache warm, holding "good").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_ocsp_answer_after_a_revocation_returned_says_revoked() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let dir = tempfile::tempdir().unwrap();
    let (app, clock, cert, admin) = presigned_certificate(dir.path()).await;
    let store = app.ports().store;
    std::fs::write(dir.path().join("ca.pem"), app.ca_pem()).unwrap();
    let req = Arc::new(openssl_ocsp_request(dir.path(), &cert));
    let good = store.ocsp_record(&cert.serial).await.unwrap().unwrap().sha1;
    // Warm: the good answer is now held in memory.
    assert_eq!(app.ocsp(&req).await, good);
    assert_eq!(app.ocsp(&req).await, good);

    let returned = Arc::new(AtomicBool::new(false));
    let mut queriers = Vec::new();
    for _ in 0..4 {
        let (app, req, returned) = (app.clone(), req.clone(), returned.clone());
        queriers.push(tokio::spawn(async move {
            // (started after the revocation returned, answer)
            let mut seen = Vec::new();
            let mut after = 0;
            for _ in 0..100_000 {
                let started_after = returned.load(Ordering::SeqCst);
                seen.push((started_after, app.ocsp(&req).await));
                if started_after {
                    after += 1;
                    if after == 50 {
                        return seen;
                    }
                }
                tokio::task::yield_now().await;
            }
            panic!("the revocation never returned");
        }));
    }
    clock.set(T0 + Duration::hours(2));
    app.revoke(&admin, &cert.serial, RevocationReason::KeyCompromise)
        .await
        .unwrap();
    returned.store(true, Ordering::SeqCst);
    let revoked = store.ocsp_record(&cert.serial).await.unwrap().unwrap();
    assert_eq!(revoked.status, CertStatus::Revoked);
    let mut others = std::collections::BTreeSet::new();
    for q in queriers {
        let seen = q.await.unwrap();
        for (started_after, der) in seen {
            if started_after {
                assert_eq!(der, revoked.sha1, "an answer after the revocation returned");
            } else if der != good && der != revoked.sha1 {
                others.insert(der);
            }
        }
    }
    // Between the revocation's commit and its pre-signed answers, a query is signed on
    // demand from the revoked certificate: whatever else was answered says revoked.
    for der in others {
        assert_eq!(openssl_cert_status(dir.path(), &der), "revoked");
    }
    // A write straight to the store (no use case around it) is seen by the next query.
    clock.set(T0 + Duration::hours(3));
    let newer = OcspRecord {
        sha1: b"a newer stored answer".to_vec().into(),
        this_update: clock.now(),
        next_update: clock.now() + Duration::days(1),
        ..revoked
    };
    store
        .commit(vec![Write::PutOcsp(newer.clone())])
        .await
        .unwrap();
    assert_eq!(app.ocsp(&req).await, newer.sha1);
}

/// Objects that record every CRL written, in order.
struct Recording {
    inner: Arc<dyn Objects>,
    puts: Mutex<Vec<(String, Vec<u8>)>>,
}

#[async_trait]
impl Objects for Recording {
    async fn put(&self, key: &str, bytes: Vec<u8>, content_type: &str) -> Result<()> {
        if key.starts_with("crl/") {
            self.puts
                .lock()
                .unwrap()
                .push((key.to_owned(), bytes.clone()));
        }
        self.inner.put(key, bytes, content_type).await
    }
    async fn presign(&self, key: &str, ttl: Duration, now: OffsetDateTime) -> Result<String> {
        self.inner.presign(key, ttl, now).await
    }
    async fn delete(&self, key: &str) -> Result<()> {
        self.inner.delete(key).await
    }
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        self.inner.get(key).await
    }
    async fn purge(&self, prefix: &str, older_than: OffsetDateTime) -> Result<usize> {
        self.inner.purge(prefix, older_than).await
    }
}

/// The cRLNumber of a DER CRL, as OpenSSL reads it.
fn crl_number(dir: &std::path::Path, der: &[u8]) -> u64 {
    let path = dir.join("n.der");
    std::fs::write(&path, der).unwrap();
    let out = std::process::Command::new("openssl")
        .args(["crl", "-inform", "DER", "-noout", "-crlnumber", "-in"])
        .arg(&path)
        .output()
        .expect("openssl (ORGCERT_REQUIRE_TOOLS: install it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let hex = text
        .trim()
        .trim_start_matches("crlNumber=")
        .trim_start_matches("0x");
    u64::from_str_radix(hex, 16).unwrap_or_else(|_| panic!("crlNumber in {text:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_rebuilds_publish_one_content_per_number_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let (app, clock) = local_app(dir.path()).await;
    let recording = Arc::new(Recording {
        inner: app.ports().objects,
        puts: Mutex::new(Vec::new()),
    });
    let app = app.rewired(|p, _| {
        p.objects = recording.clone();
        // Only the rebuilds of this test: no background rebuild after the revocation.
        p.events = Arc::new(orgcert_core::ports::NoEvents);
    });
    let (cert, admin) = issued_certificate(&app).await;
    clock.set(T0 + Duration::hours(1));

    // Eight rebuilds at once, one of them after a revocation, while a reader polls.
    let rebuilds: Vec<_> = (0..8)
        .map(|i| {
            let app = app.clone();
            let (admin, serial) = (admin.clone(), cert.serial.clone());
            tokio::spawn(async move {
                if i == 4 {
                    app.revoke(&admin, &serial, RevocationReason::Superseded)
                        .await
                        .unwrap();
                }
                app.rebuild_crls(T0 + Duration::hours(1)).await.unwrap()
            })
        })
        .collect();
    let reader = {
        let app = app.clone();
        tokio::spawn(async move {
            let mut seen = Vec::new();
            for _ in 0..50 {
                match app.crl(None).await {
                    Ok(der) => seen.push(der),
                    Err(e) => panic!("a reader got {e:?}"),
                }
                tokio::task::yield_now().await;
            }
            seen
        })
    };
    let mut claimed = Vec::new();
    for r in rebuilds {
        claimed.push(r.await.unwrap()[0].number);
    }
    let seen = reader.await.unwrap();

    // Every number was written once, under its own key, with that number inside.
    let puts = recording.puts.lock().unwrap().clone();
    let mut by_number: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
    for (key, der) in &puts {
        let n = crl_number(dir.path(), der);
        assert_eq!(key, &format!("crl/full/{n}.crl"));
        assert!(
            by_number.insert(n, der.clone()).is_none(),
            "cRLNumber {n} was written twice"
        );
    }
    claimed.sort_unstable();
    claimed.dedup();
    assert!(
        claimed.len() >= 8,
        "each rebuild claimed its own number: {claimed:?}"
    );
    // The reader saw complete CRLs, each one published under its number, never going back.
    let mut last = 0;
    for der in &seen {
        let n = crl_number(dir.path(), der);
        assert_eq!(
            by_number.get(&n),
            Some(der),
            "CRL {n} differs from what was written"
        );
        assert!(n >= last, "the current CRL went back from {last} to {n}");
        last = n;
    }
    // The current CRL is the highest number written.
    let current = app.crl(None).await.unwrap();
    assert_eq!(
        crl_number(dir.path(), &current),
        *by_number.keys().last().unwrap()
    );
}

/// A local service whose store fails at a planned step, with one contact's `n` due
/// certificates; returns the app, the plan, the outbox and the serials.
async fn reminder_rig(
    dir: &std::path::Path,
    n: usize,
) -> (
    App,
    Arc<FaultPlan>,
    Arc<orgcert_local::OutboxMailer>,
    Vec<orgcert_core::ids::Serial>,
) {
    let cfg = LocalConfig::new(
        dir.to_path_buf(),
        "http://127.0.0.1:1",
        "http://pki.example.dk",
        KeyAlgorithm::EcdsaP256,
    );
    let l = local::open(&cfg, Arc::new(ManualClock::new(T0)))
        .await
        .expect("open");
    let org = random_cvr();
    let mut writes = vec![put_organisation(&org)];
    let mut serials = Vec::new();
    for i in 0..n {
        let p = profile(&org, &format!("Server {i:03}"));
        let mut c = issued(&pending(&p, T0), T0);
        c.not_after = Some(DUE_AT + Duration::days(20) + Duration::minutes(i as i64));
        serials.push(c.serial.clone());
        writes.extend(put_issued(&p, c));
    }
    l.store.commit(writes).await.expect("fixture");
    let plan = FaultPlan::new();
    let app = l.state.app.clone().rewired(|p, _| {
        p.store = Arc::new(FailingStore::new(p.store.clone(), plan.clone()));
    });
    (app, plan, l.outbox.clone(), serials)
}

const DUE_AT: OffsetDateTime = time::macros::datetime!(2026-04-01 09:00:00 UTC);

fn digests(outbox: &orgcert_local::OutboxMailer) -> usize {
    outbox
        .list()
        .iter()
        .filter(|m| m.subject.contains("expire within 30 days"))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_digest_batch_does_not_stop_the_others_and_a_rerun_sends_it() {
    // A probe run counts the store steps: the digests' commits are the last two.
    let probe_dir = tempfile::tempdir().unwrap();
    let (app, plan, outbox, _) = reminder_rig(probe_dir.path(), 150).await;
    plan.arm(0, FailMode::Before);
    let r = app.run_job(Job::RenewalReminders, DUE_AT).await.unwrap();
    assert_eq!(r.detail["mails"], 2, "{}", r.detail);
    assert_eq!(digests(&outbox), 2);
    let steps = plan.steps();

    for failing in [steps - 1, steps] {
        let dir = tempfile::tempdir().unwrap();
        let (app, plan, outbox, serials) = reminder_rig(dir.path(), 150).await;
        let store = app.ports().store;
        plan.arm(failing, FailMode::Before);
        let r = app.run_job(Job::RenewalReminders, DUE_AT).await;
        let fired = plan.fired().expect("the fault fired");
        assert!(fired.contains("store.commit"), "{fired}");
        assert!(
            matches!(&r, Err(DomainError::Unavailable(m)) if m.contains("1 batch")),
            "{r:?}"
        );
        // The other batch went out in the same run.
        assert_eq!(digests(&outbox), 1);
        let mut marked = 0;
        for s in &serials {
            let c = store.certificate_any_org(s).await.unwrap().unwrap();
            marked += usize::from(c.reminders_sent == vec![30]);
        }
        assert!(marked == 90 || marked == 60, "{marked} marked");
        // The schedule's retry sends the failed batch, and nothing twice.
        plan.disarm();
        let r = app.run_job(Job::RenewalReminders, DUE_AT).await.unwrap();
        assert_eq!(r.detail["mails"], 1, "{}", r.detail);
        assert_eq!(digests(&outbox), 2);
        for s in &serials {
            let c = store.certificate_any_org(s).await.unwrap().unwrap();
            assert_eq!(c.reminders_sent, vec![30], "{s}");
        }
    }
}

/// `openssl ocsp`'s DER request (no nonce) for `cert` under `dir/ca.pem`.
fn openssl_ocsp_request(dir: &std::path::Path, cert: &Certificate) -> Vec<u8> {
    let out = std::process::Command::new("openssl")
        .current_dir(dir)
        .args([
            "ocsp",
            "-issuer",
            "ca.pem",
            "-no_nonce",
            "-reqout",
            "req.der",
        ])
        .arg("-serial")
        .arg(format!("0x{}", cert.serial))
        .output()
        .expect("openssl (ORGCERT_REQUIRE_TOOLS: it must be installed)");
    assert!(out.status.success(), "{out:?}");
    std::fs::read(dir.join("req.der")).unwrap()
}

/// What `openssl ocsp` reads in a DER OCSP response: "good", "revoked" or "unknown".
fn openssl_cert_status(dir: &std::path::Path, der: &[u8]) -> String {
    std::fs::write(dir.join("resp.der"), der).unwrap();
    let out = std::process::Command::new("openssl")
        .current_dir(dir)
        .args(["ocsp", "-respin", "resp.der", "-resp_text", "-noverify"])
        .output()
        .expect("openssl (ORGCERT_REQUIRE_TOOLS: it must be installed)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.lines()
        .find_map(|l| l.trim().strip_prefix("Cert Status: "))
        .unwrap_or_else(|| panic!("no Cert Status in {text}"))
        .to_owned()
}

/// A revocation whose OCSP re-sign does not land (the store or signer fails after the
/// revocation committed) must not leave the pre-signed "good" answer served: every store
/// step of `revoke` is failed in turn, and wherever the revocation itself succeeded, the
/// next OCSP answer says revoked (openssl reads it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_whose_ocsp_resign_fails_is_still_answered_revoked() {
    let dir = tempfile::tempdir().unwrap();
    let (base, clock) = local_app(dir.path()).await;
    std::fs::write(dir.path().join("ca.pem"), base.ca_pem()).unwrap();
    let plan = FaultPlan::new();
    let app = base.clone().rewired(|p, _| {
        p.store = Arc::new(FailingStore::new(p.store.clone(), plan.clone()));
    });
    let (mut failed_after_commit, mut step) = (0, 1);
    loop {
        let (cert, admin) = issued_certificate(&base).await;
        clock.set(T0 + Duration::hours(step as i64));
        base.refresh_ocsp(&cert, clock.now()).await.unwrap();
        let req = openssl_ocsp_request(dir.path(), &cert);
        // Warm: the pre-signed "good" answer is served (and held in memory).
        assert_eq!(
            openssl_cert_status(dir.path(), &app.ocsp(&req).await),
            "good"
        );

        plan.arm(step, FailMode::Before);
        let revoked = app
            .revoke(&admin, &cert.serial, RevocationReason::KeyCompromise)
            .await;
        let Some(fired) = plan.fired() else {
            break; // every step of a revocation has been failed once
        };
        plan.disarm();
        if revoked.is_ok() {
            failed_after_commit += 1;
            assert_eq!(
                openssl_cert_status(dir.path(), &app.ocsp(&req).await),
                "revoked",
                "the OCSP answer after a revocation whose step {fired} failed"
            );
        }
        step += 1;
        assert!(
            step < 100,
            "a revocation takes a bounded number of store steps"
        );
    }
    assert!(
        failed_after_commit >= 1,
        "at least the OCSP record's own commit fails after the revocation committed"
    );
}

/// `orgcert serve` answers `POST /ocsp` outside the router (`local::OcspFirst`, issue 15):
/// every answer, pre-signed or refused, and every other request, is byte for byte the
/// router's, headers included.
#[tokio::test]
async fn the_servers_ocsp_fast_path_answers_as_the_router_does() {
    use axum::http::{header, Method};
    use tower::ServiceExt as _;
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let cfg = LocalConfig::new(
        dir.path().to_path_buf(),
        "http://127.0.0.1:1",
        "http://pki.example.dk",
        KeyAlgorithm::EcdsaP256,
    );
    let l = local::open(&cfg, clock.clone()).await.expect("open");
    let app = l.state.app.clone();
    let (cert, _) = issued_certificate(&app).await;
    clock.set(T0 + Duration::hours(1));
    app.refresh_ocsp(&cert, clock.now()).await.unwrap();
    std::fs::write(dir.path().join("ca.pem"), app.ca_pem()).unwrap();
    let good = openssl_ocsp_request(dir.path(), &cert);
    let router = local::router(&l);
    let fast = local::OcspFirst::new(router.clone(), &l);
    let ocsp_ct = Some("application/ocsp-request");
    let cases: Vec<(Method, &str, Option<&str>, Vec<u8>)> = vec![
        (Method::POST, "/ocsp", ocsp_ct, good.clone()),
        (Method::POST, "/ocsp", None, good.clone()),
        (Method::POST, "/ocsp", Some("text/plain"), good.clone()),
        (
            Method::POST,
            "/ocsp",
            ocsp_ct,
            b"not an OCSP request".to_vec(),
        ),
        (Method::POST, "/ocsp", ocsp_ct, Vec::new()),
        (Method::POST, "/ocsp", ocsp_ct, vec![0x30; 70 * 1024]),
        (Method::POST, "/ocsp/", ocsp_ct, good.clone()),
        (Method::PUT, "/ocsp", ocsp_ct, good.clone()),
        (Method::GET, "/healthz", None, Vec::new()),
    ];
    let mut presigned = 0;
    for (method, path, ct, body) in cases {
        let request = || {
            let mut b = axum::http::Request::builder()
                .method(method.clone())
                .uri(path);
            if let Some(ct) = ct {
                b = b.header(header::CONTENT_TYPE, ct);
            }
            b.body(axum::body::Body::from(body.clone())).unwrap()
        };
        let mut answers = Vec::new();
        for r in [
            router.clone().oneshot(request()).await.unwrap(),
            fast.clone().oneshot(request()).await.unwrap(),
        ] {
            let (mut parts, b) = r.into_parts();
            // The router states Content-Length itself; hyper writes the same one from the
            // body's exact size when it is absent, so the wire is the same.
            let exact = axum::body::HttpBody::size_hint(&b).exact();
            let b = axum::body::to_bytes(b, usize::MAX).await.unwrap();
            assert_eq!(exact, Some(b.len() as u64), "{method} {path}: a sized body");
            if let Some(len) = parts.headers.remove(header::CONTENT_LENGTH) {
                assert_eq!(len, b.len().to_string().as_str());
            }
            answers.push((parts.status, parts.headers, b));
        }
        assert_eq!(answers[0], answers[1], "{method} {path} {ct:?}");
        if answers[0].1.contains_key(header::ETAG) {
            presigned += 1;
        }
    }
    assert_eq!(presigned, 2, "the pre-signed answer was among them");
}
