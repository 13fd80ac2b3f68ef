//! Reminder reads at 10k, 100k and 1M certificates with 40 due (issue 15): the renewal
//! reminders job reads `Store::expiring` page by page; with the `certificates_by_expiry`
//! index (status, not_after) its cost follows the 40 rows due, not the table. The same
//! query forced to scan the table (`NOT INDEXED`) is timed next to it for contrast.
//!
//! `cargo bench -p orgcert-local --bench reminders` (env `ORGCERT_BENCH_QUICK=1`: 1k and
//! 10k; `ORGCERT_BENCH_OUT=path.json` writes the figures for bench/report.py).
//! Seeding: the 40 due certificates go through the store's own `commit`; the other rows are
//! inserted by SQL in one transaction (a copy of a real certificate document, never read
//! by the query: their expiry is outside the window), which keeps 1M rows to about a minute.

mod common;

use std::time::Instant;

use common::{issued, percentile, seed};
use orgcert_core::ports::{Store, Write};
use orgcert_local::SqliteStore;
use time::{Duration, OffsetDateTime};

const DUE: usize = 40;
/// Reads timed per size (the job's read: pages of 500 until the window is exhausted).
const READS: usize = 200;

fn ts(t: OffsetDateTime) -> String {
    // The store's TEXT form (orgcert-local store::TS), which sorts as time.
    let f = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:9]Z"
    );
    t.format(&f).unwrap()
}

struct Row {
    certificates: usize,
    seed_s: f64,
    db_mb: f64,
    read_p50_ms: f64,
    read_p99_ms: f64,
    scan_ms: f64,
    plan: String,
}

async fn one(n: usize) -> Row {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("orgcert.db");
    let store = SqliteStore::open(&path).unwrap();
    let now = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    let seeding = Instant::now();
    let p = seed(&store, now).await;
    // The 40 due: expiring within the 90-day window, through the store's own API.
    for i in 0..DUE {
        let cert = issued(
            &p,
            1 + i as u128,
            now,
            now + Duration::days(1 + i as i64 * 2),
        );
        store
            .commit(vec![Write::PutCertificate {
                cert,
                expected: None,
            }])
            .await
            .unwrap();
    }
    let mut conn = rusqlite::Connection::open(&path).unwrap();
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .unwrap();
    let doc: String = conn
        .query_row("SELECT doc FROM certificates LIMIT 1", [], |r| r.get(0))
        .unwrap();
    {
        let tx = conn.transaction().unwrap();
        {
            let mut insert = tx
                .prepare(
                    "INSERT INTO certificates
                     (serial, org, profile_id, status, ordered_at, not_after, version, doc)
                     VALUES (?1, '10150817', ?2, ?3, ?4, ?5, 1, ?6)",
                )
                .unwrap();
            let ordered = ts(now);
            let profile_id = p.id.to_string();
            for i in DUE..n {
                // Not due: expiring 100 days to 3 years out; every 10th revoked.
                let not_after = ts(now + Duration::days(100 + (i % 1000) as i64));
                let status = if i % 10 == 0 { "revoked" } else { "issued" };
                insert
                    .execute(rusqlite::params![
                        format!("{:032x}", 1_000_000_000u128 + i as u128),
                        profile_id,
                        status,
                        ordered,
                        not_after,
                        doc
                    ])
                    .unwrap();
            }
        }
        tx.commit().unwrap();
    }
    conn.execute_batch("ANALYZE").unwrap();
    let seed_s = seeding.elapsed().as_secs_f64();
    let until = now + Duration::days(90);
    let plan: Vec<String> = conn
        .prepare(
            "EXPLAIN QUERY PLAN SELECT not_after, serial, doc FROM certificates
             WHERE status = 'issued' AND not_after > ?1 AND not_after <= ?2
               AND (not_after > ?3 OR (not_after = ?3 AND serial > ?4))
             ORDER BY not_after, serial LIMIT ?5",
        )
        .unwrap()
        .query_map(
            rusqlite::params![ts(now), ts(until), ts(now), "", 501],
            |r| r.get::<_, String>(3),
        )
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut times = Vec::with_capacity(READS);
    for _ in 0..READS {
        let start = Instant::now();
        // The reminders job's read (core app/jobs.rs): pages of 500 until the cursor ends.
        let mut cursor: Option<String> = None;
        let mut seen = 0;
        loop {
            let page = store
                .expiring(now, until, 500, cursor.as_deref())
                .await
                .unwrap();
            seen += page.items.len();
            cursor = page.next_cursor;
            if cursor.is_none() {
                break;
            }
        }
        times.push(start.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(seen, DUE);
    }
    times.sort_by(f64::total_cmp);
    // Contrast: the same window counted without the index (a full scan).
    let scan = Instant::now();
    let scanned: i64 = conn
        .query_row(
            "SELECT count(*) FROM certificates NOT INDEXED
             WHERE status = 'issued' AND not_after > ?1 AND not_after <= ?2",
            rusqlite::params![ts(now), ts(until)],
            |r| r.get(0),
        )
        .unwrap();
    let scan_ms = scan.elapsed().as_secs_f64() * 1000.0;
    assert_eq!(scanned as usize, DUE);
    let db_mb = std::fs::metadata(&path).unwrap().len() as f64 / 1e6;
    Row {
        certificates: n,
        seed_s,
        db_mb,
        read_p50_ms: percentile(&times, 0.5),
        read_p99_ms: percentile(&times, 0.99),
        scan_ms,
        plan: plan.join("; "),
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let quick = std::env::var("ORGCERT_BENCH_QUICK").is_ok_and(|v| v == "1");
    let sizes: &[usize] = if quick {
        &[1_000, 10_000]
    } else {
        &[10_000, 100_000, 1_000_000]
    };
    println!("Reminder reads ({DUE} due; median/p99 of {READS} reads of Store::expiring):");
    let mut rows = Vec::new();
    for &n in sizes {
        let r = one(n).await;
        println!(
            "  {:>9} certificates: read p50 {:.3} ms, p99 {:.3} ms; full scan {:.1} ms; seeded in {:.1} s ({:.0} MB)\n    plan: {}",
            r.certificates, r.read_p50_ms, r.read_p99_ms, r.scan_ms, r.seed_s, r.db_mb, r.plan
        );
        rows.push(serde_json::json!({
            "certificates": r.certificates,
            "due": DUE,
            "read_p50_ms": r.read_p50_ms,
            "read_p99_ms": r.read_p99_ms,
            "scan_ms": r.scan_ms,
            "seed_s": r.seed_s,
            "db_mb": r.db_mb,
            "plan": r.plan,
        }));
    }
    if let Ok(out) = std::env::var("ORGCERT_BENCH_OUT") {
        std::fs::write(
            &out,
            serde_json::to_vec_pretty(&serde_json::json!({ "quick": quick, "reminders": rows }))
                .unwrap(),
        )
        .unwrap();
    }
}
