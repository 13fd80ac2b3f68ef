//! Revocation-status figures: CRL build + sign time and size at 100,000 and 1,000,000
//! entries, and OCSP responses per second on loopback under a load generator, side by side
//! with `openssl ocsp` acting as responder over the same certificates.
//!
//! `cargo bench -p orgcert-tests --bench status` (release). Prints a table; asserts nothing
//! about speed. `ORGCERT_BENCH_SECONDS` sets the load duration (default 5).

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use orgcert_core::clock::SystemClock;
use orgcert_core::ports::Store;
use orgcert_functions::local::{self, LocalConfig};
use orgcert_pki::{CaSigner, CrlSpec, KeyAlgorithm, KeyFileSigner, RevokedEntry};
use orgcert_tests::conformance::signer::test_authority;
use orgcert_tests::conformance::{issued, pending, profile, put_issued};
use orgcert_tests::load::ocsp_load;
use orgcert_tests::spawn::{free_port, Killed};
use time::OffsetDateTime;

/// `t` as an openssl index.txt time (UTCTime: YYMMDDHHMMSSZ).
fn index_time(t: OffsetDateTime) -> String {
    format!(
        "{:02}{:02}{:02}{:02}{:02}{:02}Z",
        t.year() % 100,
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

fn crl_bench() {
    println!("CRL build + sign (full CRL, one signature):");
    for alg in [KeyAlgorithm::Rsa3072, KeyAlgorithm::EcdsaP256] {
        let signer: Arc<dyn CaSigner> = Arc::new(KeyFileSigner::generate(alg).unwrap());
        let now = OffsetDateTime::now_utc();
        let (ca, _) = test_authority(
            signer,
            "Bench CA",
            now - time::Duration::days(1),
            now + time::Duration::days(3650),
        );
        for n in [100_000usize, 1_000_000] {
            let entries: Vec<RevokedEntry> = (0..n)
                .map(|i| {
                    let mut serial = orgcert_pki::random_serial();
                    serial[12..16].copy_from_slice(&(i as u32).to_be_bytes());
                    RevokedEntry {
                        serial,
                        revoked_at: now - time::Duration::seconds(i as i64 % 86_400),
                        reason_code: [0u8, 1, 4, 5][i % 4],
                    }
                })
                .collect();
            let spec = CrlSpec {
                number: 1,
                this_update: now,
                next_update: now + time::Duration::hours(24),
                entries,
                partition: None,
            };
            let start = Instant::now();
            let crl = ca.sign_crl(&spec).unwrap();
            let took = start.elapsed();
            println!(
                "  {:<10} CA, {:>9} entries: {:>8.0} ms, {:>6.1} MB",
                alg.as_str(),
                n,
                took.as_secs_f64() * 1000.0,
                crl.len() as f64 / 1e6
            );
        }
    }
}

async fn ocsp_bench() {
    let secs: u64 = std::env::var("ORGCERT_BENCH_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let mut cfg = LocalConfig::new(
        d.join("data"),
        &base,
        "http://pki.example.dk",
        KeyAlgorithm::Rsa3072,
    );
    cfg.ocsp_delegated = false; // same signer as the openssl responder below: the CA key
    let l = local::open(&cfg, Arc::new(SystemClock)).await.unwrap();
    let org = orgcert_core::ids::Cvr::parse(local::DEMO_CVR).unwrap();
    let now = OffsetDateTime::now_utc();
    // 1,000 certificates, every tenth revoked.
    let mut writes = Vec::new();
    let mut index = String::new();
    let mut serials = Vec::new();
    for i in 0..1000 {
        let p = profile(&org, &format!("Bench {i}"));
        let mut c = issued(&pending(&p, now), now);
        let na = c.not_after.unwrap();
        let exp = index_time(na);
        if i % 10 == 0 {
            c.status = orgcert_core::model::CertStatus::Revoked;
            c.revoked_at = Some(now);
            c.revocation_reason = Some(orgcert_core::model::RevocationReason::KeyCompromise);
            let rt = index_time(now);
            index.push_str(&format!(
                "R\t{exp}\t{rt},keyCompromise\t{}\tunknown\t/CN=Bench {i}\n",
                c.serial.as_str().to_uppercase()
            ));
        } else {
            index.push_str(&format!(
                "V\t{exp}\t\t{}\tunknown\t/CN=Bench {i}\n",
                c.serial.as_str().to_uppercase()
            ));
        }
        serials.push(c.serial.clone());
        writes.extend(put_issued(&p, c));
    }
    l.store.commit(writes).await.unwrap();
    let start = Instant::now();
    let refreshed = l.state.app.refresh_stale_ocsp(now).await.unwrap();
    println!(
        "OCSP pre-signing: {refreshed} certificates × 2 CertID hashes in {:.0} ms",
        start.elapsed().as_secs_f64() * 1000.0
    );
    let router = local::router(&l);
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });

    std::fs::write(d.join("index.txt"), index).unwrap();
    std::fs::write(d.join("ca.pem"), l.state.app.ca_pem()).unwrap();
    let mut requests = Vec::new();
    for (i, s) in serials.iter().enumerate().take(200) {
        let file = d.join(format!("req{i}.der"));
        let st = Command::new("openssl")
            .current_dir(d)
            .args([
                "ocsp",
                "-issuer",
                "ca.pem",
                "-no_nonce",
                "-serial",
                &format!("0x{}", s.as_str()),
                "-reqout",
            ])
            .arg(&file)
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(st.success());
        requests.push(std::fs::read(&file).unwrap());
    }
    let requests = Arc::new(requests);
    let port = free_port();
    let _openssl = Killed(
        Command::new("openssl")
            .current_dir(d)
            .args([
                "ocsp",
                "-index",
                "index.txt",
                "-port",
                &port.to_string(),
                "-rsigner",
                "ca.pem",
                "-rkey",
            ])
            .arg(d.join("data/ca.key"))
            .args(["-CA", "ca.pem", "-nmin", "60"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    println!("OCSP responses per second, POST over loopback, {secs} s each, 200 distinct requests, RSA-3072 CA key signing:");
    let mut ours_best = 0.0f64;
    let mut openssl_best = 0.0f64;
    for c in [1usize, 8, 32] {
        let length = Duration::from_secs(secs);
        let (ours, e1) = ocsp_load(&format!("{base}/ocsp"), requests.clone(), c, length).await;
        let (theirs, e2) = ocsp_load(
            &format!("http://127.0.0.1:{port}/"),
            requests.clone(),
            c,
            length,
        )
        .await;
        ours_best = ours_best.max(ours);
        openssl_best = openssl_best.max(theirs);
        println!("  concurrency {c:>2}: orgcert {ours:>9.0}/s ({e1} errors)   openssl ocsp {theirs:>8.0}/s ({e2} errors)   ratio {:>6.1}×", ours / theirs.max(1.0));
    }
    println!(
        "  best: orgcert {ours_best:.0}/s, openssl ocsp {openssl_best:.0}/s, ratio {:.1}×",
        ours_best / openssl_best.max(1.0)
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    crl_bench();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(ocsp_bench());
}
