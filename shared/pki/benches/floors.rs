//! What one issuance cannot do without, timed alone on this machine (issue 15): the
//! figures the goals in docs/perf/RESULTS.md are measured against. One operation at a
//! time, nothing else running in this process (CPU counts all its threads: an RSA CA signs
//! on the blocking pool):
//!
//! - the CA's certificate signature: RSA-3072 RSASSA-PSS and ECDSA P-256 (`CaSigner`);
//! - the CSR's proof of possession: `parse_csr` of a P-256 CSR (parse + ECDSA verify);
//! - a whole certificate from a P-256 CSR: `PkiAuthority::issue` with `KeySource::Csr` (CSR
//!   check, certificate, CA signature, its self-check), RSA-3072 and P-256 CAs;
//! - one RSA-3072 key (`generate_key`), one at a time: the latency of a server-keygen
//!   issuance that finds the key pool empty cannot be lower.
//!
//! The durable commit (SQLite, one fsync) is timed by `cargo bench -p orgcert-local --bench
//! commit`. Prints figures, asserts none.
//! `cargo bench -p orgcert-pki --bench floors`; `ORGCERT_BENCH_QUICK=1`: small counts;
//! `ORGCERT_BENCH_OUT=path.json` writes the figures for bench/report.py.

mod common;

use std::sync::Arc;
use std::time::Instant;

use common::*;
use orgcert_core::ports::{CertificateAuthority, KeySource};
use orgcert_pki::port::PkiAuthority;
use orgcert_pki::{generate_key, parse_csr, CaSigner, KeyAlgorithm, KeyFileSigner, RsaSignature};

/// A P-256 CSR as a holder's tool makes it.
fn p256_csr() -> String {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Bench holder");
    params.serialize_request(&key).unwrap().pem().unwrap()
}

/// User + system CPU seconds of this process, all threads (the blocking pool's included),
/// at microsecond resolution (`/proc/self/stat` counts 10 ms ticks).
fn cpu_now() -> f64 {
    // SAFETY: getrusage only writes the struct it is given.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    assert_eq!(unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) }, 0);
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(ru.ru_utime) + secs(ru.ru_stime)
}

/// Runs `op` `n` times; prints and returns CPU µs per call (process user + system) and
/// the latency percentiles in µs.
fn measure(what: &str, n: usize, mut op: impl FnMut()) -> serde_json::Value {
    op(); // warm: first-use setup is not the floor
    let mut lat = Vec::with_capacity(n);
    let cpu0 = cpu_now();
    for _ in 0..n {
        let t = Instant::now();
        op();
        lat.push(t.elapsed().as_secs_f64() * 1e6);
    }
    let cpu1 = cpu_now();
    lat.sort_by(f64::total_cmp);
    let cpu_us = (cpu1 - cpu0) * 1e6 / n as f64;
    let (p50, p99) = (percentile(&lat, 0.5), percentile(&lat, 0.99));
    println!("  {what:<64} CPU {cpu_us:>9.1} µs  p50 {p50:>9.1} µs  p99 {p99:>9.1} µs  (n={n})");
    serde_json::json!({ "what": what, "n": n, "cpu_us": cpu_us, "p50_us": p50, "p99_us": p99 })
}

fn main() {
    let quick = quick();
    let (n_sign, n_issue, n_rsa_keys) = if quick { (20, 20, 3) } else { (2000, 1000, 60) };
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let message = vec![0x5a_u8; 1000]; // about a certificate's to-be-signed part
    let mut rows = Vec::new();
    println!("floors, one operation at a time:");
    let rsa = KeyFileSigner::generate(KeyAlgorithm::Rsa3072)
        .unwrap()
        .with_rsa_signature(RsaSignature::Pss)
        .unwrap();
    rows.push(measure("RSA-3072 RSASSA-PSS signature", n_sign / 4, || {
        rsa.sign_pss(&message).unwrap();
    }));
    let p256 = KeyFileSigner::generate(KeyAlgorithm::EcdsaP256).unwrap();
    rows.push(measure("ECDSA P-256 signature", n_sign, || {
        p256.sign(&message).unwrap();
    }));
    let csr = p256_csr();
    rows.push(measure(
        "P-256 CSR parsed and its signature checked",
        n_sign,
        || {
            parse_csr(csr.as_bytes()).unwrap();
        },
    ));
    for (label, alg) in [
        ("RSA-3072", KeyAlgorithm::Rsa3072),
        ("ECDSA P-256", KeyAlgorithm::EcdsaP256),
    ] {
        let ca = PkiAuthority::new(Arc::new(authority(alg)));
        let what = format!("certificate from a P-256 CSR, {label} CA (no store, no HTTP)");
        rows.push(measure(&what, n_issue, || {
            rt.block_on(ca.issue(spec(), KeySource::Csr(csr.clone())))
                .unwrap();
        }));
    }
    rows.push(measure("RSA-3072 key generated", n_rsa_keys, || {
        generate_key(KeyAlgorithm::Rsa3072).unwrap();
    }));
    if let Ok(path) = std::env::var("ORGCERT_BENCH_OUT") {
        let out = serde_json::json!({ "quick": quick, "floors": rows });
        std::fs::write(&path, serde_json::to_vec_pretty(&out).unwrap()).unwrap();
        println!("results: {path}");
    }
}
