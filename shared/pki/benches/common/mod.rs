//! Helpers shared by the pki benches (process CPU and memory from /proc, percentiles).
#![allow(dead_code)]

use std::sync::Arc;

use orgcert_core::ids::{Cvr, Serial};
use orgcert_core::model;
use orgcert_core::ports::CertSpec;
use orgcert_pki::{create_ca_certificate, Authority, CaSigner, CaSubject, KeyAlgorithm};
use orgcert_pki::{KeyFileSigner, RsaSignature};
use time::OffsetDateTime;

/// `/proc/self/status` field in kB (VmHWM, VmRSS).
pub fn status_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Resets VmHWM to the current RSS (Linux ≥ 4.0: `echo 5 > /proc/self/clear_refs`).
pub fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// (own user+sys, waited-for children's user+sys) CPU seconds of this process.
pub fn cpu_seconds() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    // Fields after the command name (which may hold spaces) start at field 3.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<f64> = rest
        .split_whitespace()
        .map(|v| v.parse().unwrap_or(0.0))
        .collect();
    // utime, stime, cutime, cstime are fields 14..=17 (1-based) = rest[11..=14].
    let tick = 100.0; // USER_HZ on Linux
    ((f[11] + f[12]) / tick, (f[13] + f[14]) / tick)
}

pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

pub fn quick() -> bool {
    std::env::var("ORGCERT_BENCH_QUICK").is_ok_and(|v| v == "1")
}

/// An issuing CA as the embedded default makes it (RSA keys sign RSASSA-PSS).
pub fn authority(alg: KeyAlgorithm) -> Authority {
    let signer = KeyFileSigner::generate(alg)
        .unwrap()
        .with_rsa_signature(RsaSignature::Pss)
        .unwrap();
    let now = OffsetDateTime::now_utc();
    let subject = CaSubject {
        common_name: "Bench CA".into(),
        organisation: "orgcert".into(),
        country: "DK".into(),
    };
    let der = create_ca_certificate(
        &signer,
        &subject,
        now - time::Duration::days(1),
        now + time::Duration::days(3650),
    )
    .unwrap();
    let signer: Arc<dyn CaSigner> = Arc::new(signer);
    Authority::new(
        signer,
        der,
        "http://pki.example.dk",
        Authority::default_policies(),
    )
    .unwrap()
}

/// Runs a command, panicking with its stderr when it fails.
pub fn run(cmd: &mut std::process::Command) -> std::process::Output {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// An RSA-3072 OpenSSL CA in `dir`: `ca.key` and the self-signed `ca.pem` (ten years), what
/// the OpenSSL side of each bench signs with.
pub fn openssl_ca(dir: &std::path::Path) {
    run(std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:3072",
            "-nodes",
            "-subj",
            "/CN=Bench CA",
        ])
        .args(["-days", "3650", "-keyout"])
        .arg(dir.join("ca.key"))
        .arg("-out")
        .arg(dir.join("ca.pem")));
}

/// An organisation certificate's spec, valid a year from now, with a fresh serial.
pub fn spec() -> CertSpec {
    let now = OffsetDateTime::now_utc();
    CertSpec {
        serial: Serial::from_bytes(&orgcert_pki::random_serial()),
        kind: model::CertKind::Organisation,
        cvr: Cvr::parse("10150817").unwrap(),
        organisation_name: "Bench A/S".into(),
        profile_id: uuid::Uuid::new_v4(),
        common_name: "Bench holder".into(),
        email: None,
        not_before: now,
        not_after: now + time::Duration::days(365),
        crl_partition: None,
    }
}
