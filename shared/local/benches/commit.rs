//! One commit of the SQLite store on this machine's disk (issue 15): the floor under every
//! issuance, which answers only after its certificate is durable. Each commit writes what
//! an issuance's final commit writes most of: a certificate (a new row in `certificates`
//! and its three indexes) and its audit event (the chained `audit` row). Timed two ways:
//!
//! - `Store::commit`: `synchronous=FULL`, the WAL fsynced before the answer;
//! - `Store::commit_lease`: the same writes without waiting for the disk (the issuance
//!   claim's kind of commit).
//!
//! CPU is user + system of this process (the blocking pool's thread included).
//! `cargo bench -p orgcert-local --bench commit`; `ORGCERT_BENCH_QUICK=1`: small counts;
//! `ORGCERT_BENCH_OUT=path.json` writes the figures for bench/report.py. Asserts nothing
//! about time.

mod common;

use std::time::Instant;

use common::{issued, percentile, seed};
use orgcert_core::ids::Cvr;
use orgcert_core::model::AuditEvent;
use orgcert_core::ports::{Store, Write};
use orgcert_local::SqliteStore;
use time::{Duration, OffsetDateTime};

/// User + system CPU seconds of this process, all threads, at microsecond resolution.
fn cpu_now() -> f64 {
    // SAFETY: getrusage only writes the struct it is given.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    assert_eq!(unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) }, 0);
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(ru.ru_utime) + secs(ru.ru_stime)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let quick = std::env::var("ORGCERT_BENCH_QUICK").is_ok_and(|v| v == "1");
    let n: u128 = if quick { 20 } else { 1000 };
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("orgcert.db")).unwrap();
    let now = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    let p = seed(&store, now).await;
    let writes = |serial: u128| {
        let cert = issued(&p, serial, now, now + Duration::days(365));
        vec![
            Write::Audit(AuditEvent {
                id: uuid::Uuid::new_v4(),
                org: Cvr::parse("10150817").unwrap(),
                at: now,
                actor: "admin@example.dk".into(),
                action: "certificate.issue".into(),
                target: cert.serial.to_string(),
                detail: serde_json::json!({ "key": "csr", "fingerprint": "ab".repeat(32) }),
                seq: None,
                prev_hash: None,
                hash: None,
            }),
            Write::PutCertificate {
                cert,
                expected: None,
            },
        ]
    };
    println!("SQLite store commits (certificate + audit event), {n} each:");
    let mut rows = Vec::new();
    for (i, what) in [
        "durable commit (Store::commit: WAL fsynced)",
        "lease commit (Store::commit_lease: no fsync)",
    ]
    .into_iter()
    .enumerate()
    {
        let base = (i as u128 + 1) << 64;
        let mut lat = Vec::with_capacity(n as usize);
        let cpu0 = cpu_now();
        for k in 0..n {
            let w = writes(base + k);
            let t = Instant::now();
            if i == 0 {
                store.commit(w).await.unwrap();
            } else {
                store.commit_lease(w).await.unwrap();
            }
            lat.push(t.elapsed().as_secs_f64() * 1e6);
        }
        // Building the writes is counted too; it is a few µs next to the commit.
        let cpu_us = (cpu_now() - cpu0) * 1e6 / n as f64;
        lat.sort_by(f64::total_cmp);
        let (p50, p99) = (percentile(&lat, 0.5), percentile(&lat, 0.99));
        println!("  {what:<46} CPU {cpu_us:>7.1} µs  p50 {p50:>8.1} µs  p99 {p99:>8.1} µs");
        rows.push(serde_json::json!({ "what": what, "n": n, "cpu_us": cpu_us,
                                      "p50_us": p50, "p99_us": p99 }));
    }
    if let Ok(path) = std::env::var("ORGCERT_BENCH_OUT") {
        let out = serde_json::json!({ "quick": quick, "floors": rows });
        std::fs::write(&path, serde_json::to_vec_pretty(&out).unwrap()).unwrap();
        println!("results: {path}");
    }
}
