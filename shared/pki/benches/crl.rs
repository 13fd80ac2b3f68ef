//! Full CRL build time and peak memory at 100k and 1M entries, orgcert next to
//! `openssl ca -gencrl` on the same revoked set (issue 15). Prints figures, asserts none.
//!
//! `cargo bench -p orgcert-pki --bench crl`; `ORGCERT_BENCH_QUICK=1`: 10k (and orgcert at
//! 100k); `ORGCERT_BENCH_OUT=path.json` writes the figures for bench/report.py.
//! orgcert's memory: VmHWM of this process after resetting it with the entries already
//! built (so the figure is what building the CRL adds, the CRL itself included), next to
//! the DER size. openssl's: the maximum RSS of the whole `openssl ca` process
//! (`/usr/bin/time`), which reads its index.txt itself.

mod common;

use std::io::Write as _;
use std::process::Command;
use std::time::Instant;

use common::*;
use orgcert_pki::{CrlSpec, KeyAlgorithm, RevokedEntry};
use time::OffsetDateTime;

fn entries(n: usize, now: OffsetDateTime) -> Vec<RevokedEntry> {
    (0..n)
        .map(|i| {
            let mut serial = orgcert_pki::random_serial();
            serial[12..16].copy_from_slice(&(i as u32).to_be_bytes());
            RevokedEntry {
                serial,
                revoked_at: now - time::Duration::seconds(60 + i as i64 % 86_400),
                reason_code: [0u8, 1, 4, 5][i % 4],
            }
        })
        .collect()
}

fn orgcert(alg: KeyAlgorithm, n: usize, now: OffsetDateTime) -> serde_json::Value {
    let ca = authority(alg);
    let spec = CrlSpec {
        number: 1,
        this_update: now,
        next_update: now + time::Duration::hours(24),
        entries: entries(n, now),
        partition: None,
    };
    let mut best = f64::MAX;
    let mut extra_mb = 0.0;
    let mut der_mb = 0.0;
    // Three builds, the fastest counts (the first also warms the allocator).
    // ORGCERT_BENCH_CRL_ORGCERT_ONLY=1 skips openssl (before/after comparisons).
    for _ in 0..3 {
        let before = status_kb("VmRSS");
        let reset = reset_peak();
        let start = Instant::now();
        let crl = ca.sign_crl(&spec).unwrap();
        let ms = start.elapsed().as_secs_f64() * 1000.0;
        let peak = status_kb("VmHWM");
        best = best.min(ms);
        der_mb = crl.len() as f64 / 1e6;
        if reset {
            // The largest over the three (later builds may reuse memory freed by earlier).
            extra_mb = f64::max(extra_mb, peak.saturating_sub(before) as f64 / 1e3);
        }
        drop(crl);
    }
    println!(
        "  orgcert {:<10} CA {:>9} entries: {:>7.0} ms, DER {:>5.1} MB, RSS added {:>5.1} MB ({:.2}x DER)",
        alg.as_str(),
        n,
        best,
        der_mb,
        extra_mb,
        extra_mb / der_mb
    );
    serde_json::json!({"tool": "orgcert", "ca": alg.as_str(), "entries": n, "ms": best,
        "der_mb": der_mb, "peak_mb": extra_mb})
}

/// `openssl ca -gencrl` with an index.txt of `n` revoked certificates (built here, timed
/// separately), RSA-3072 CA key.
fn openssl(n: usize, now: OffsetDateTime) -> serde_json::Value {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    openssl_ca(d);
    std::fs::write(
        d.join("ca.cnf"),
        format!(
            "[ca]\ndefault_ca = bench\n[bench]\ndir = {}\ndatabase = $dir/index.txt\n\
             certificate = $dir/ca.pem\nprivate_key = $dir/ca.key\ncrlnumber = $dir/crlnumber\n\
             default_md = sha256\ndefault_crl_days = 1\nnew_certs_dir = $dir\nunique_subject = no\n",
            d.display()
        ),
    )
    .unwrap();
    std::fs::write(d.join("crlnumber"), "01\n").unwrap();
    let build = Instant::now();
    let mut index = std::io::BufWriter::new(std::fs::File::create(d.join("index.txt")).unwrap());
    let utc = |t: OffsetDateTime| {
        let f = time::macros::format_description!(
            "[year repr:last_two][month][day][hour][minute][second]Z"
        );
        t.format(&f).unwrap()
    };
    let expiry = utc(now + time::Duration::days(365));
    let reasons = ["", ",keyCompromise", ",superseded", ",cessationOfOperation"];
    for (i, e) in entries(n, now).iter().enumerate() {
        writeln!(
            index,
            "R\t{expiry}\t{}{}\t{}\tunknown\t/CN=holder {i}",
            utc(e.revoked_at),
            reasons[i % 4],
            hex::encode_upper(&e.serial)
        )
        .unwrap();
    }
    index.flush().unwrap();
    drop(index);
    let index_s = build.elapsed().as_secs_f64();
    let start = Instant::now();
    let out = run(Command::new("/usr/bin/time")
        .args(["-f", "%M"])
        .args(["openssl", "ca", "-gencrl", "-batch", "-config"])
        .arg(d.join("ca.cnf"))
        .arg("-out")
        .arg(d.join("crl.pem")));
    let ms = start.elapsed().as_secs_f64() * 1000.0;
    let peak_kb: f64 = String::from_utf8_lossy(&out.stderr)
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or(f64::NAN);
    let der = run(Command::new("openssl")
        .args(["crl", "-outform", "DER", "-in"])
        .arg(d.join("crl.pem")))
    .stdout;
    let der_mb = der.len() as f64 / 1e6;
    println!(
        "  openssl ca -gencrl RSA-3072 {:>9} entries: {:>7.0} ms, DER {:>5.1} MB, peak RSS {:>6.1} MB (index.txt built in {:.1} s)",
        n, ms, der_mb, peak_kb / 1e3, index_s
    );
    serde_json::json!({"tool": "openssl ca -gencrl", "ca": "RSA-3072", "entries": n, "ms": ms,
        "der_mb": der_mb, "peak_mb": peak_kb / 1e3, "index_s": index_s})
}

fn main() {
    let quick = quick();
    let now = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    println!("Full CRL, build + sign (one signature) and memory:");
    let mut rows = Vec::new();
    let sizes: &[usize] = if quick {
        &[10_000, 100_000]
    } else {
        &[100_000, 1_000_000]
    };
    for &n in sizes {
        for alg in [KeyAlgorithm::Rsa3072, KeyAlgorithm::EcdsaP256] {
            rows.push(orgcert(alg, n, now));
        }
    }
    let openssl_sizes: &[usize] = if quick {
        &[10_000]
    } else {
        &[100_000, 1_000_000]
    };
    let openssl_sizes = if std::env::var("ORGCERT_BENCH_CRL_ORGCERT_ONLY").is_ok_and(|v| v == "1") {
        &[][..]
    } else {
        openssl_sizes
    };
    for &n in openssl_sizes {
        rows.push(openssl(n, now));
    }
    if let Ok(out) = std::env::var("ORGCERT_BENCH_OUT") {
        std::fs::write(
            &out,
            serde_json::to_vec_pretty(&serde_json::json!({"quick": quick, "crl": rows})).unwrap(),
        )
        .unwrap();
    }
}
