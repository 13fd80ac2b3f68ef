//! Server-side key generation (issue 15): the embedded server's server-keygen issuance path
//! (`PkiAuthority::issue` with `KeySource::Generate`: key, certificate signed by an RSA-3072
//! CA with RSASSA-PSS, PKCS#12) with and without the key pool, next to an OpenSSL pipeline
//! doing the same work in the same run (`openssl genpkey` + `openssl req` + `openssl x509
//! -req` + `openssl pkcs12 -export`). Two holders in parallel. Prints figures, asserts none.
//!
//! Two loads: "busy" (each holder issues back to back: the pool drains and every further key
//! is generated on the request path, and the refill thread at nice 19 gets what is left)
//! and "paced" (each holder waits 1 s between issuances, as holders arriving one by one:
//! two a second in all, which one core refilling at nice 19 keeps up with, so the pool
//! covers them; at 400 ms it drained like the busy load). HTTP is left out (about 1 ms of a ~100 ms issuance).
//!
//! `cargo bench -p orgcert-pki --bench keygen`; `ORGCERT_BENCH_QUICK=1` issues 6 per mode;
//! `ORGCERT_BENCH_OUT=path.json` writes the figures for bench/report.py.

mod common;

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use orgcert_core::model;
use orgcert_core::ports::{CertificateAuthority, KeySource};
use orgcert_core::secret::SecretString;
use orgcert_pki::port::PkiAuthority;
use orgcert_pki::{KeyAlgorithm, KeyPool};

const HOLDERS: usize = 2;
const PACE: Duration = Duration::from_millis(1000);

struct Figures {
    label: String,
    per_s: f64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    cpu_ms: f64,
}

impl Figures {
    fn new(label: String, mut lat: Vec<f64>, wall: f64, cpu: f64) -> Self {
        lat.sort_by(f64::total_cmp);
        let n = lat.len() as f64;
        let f = Self {
            label,
            per_s: n / wall,
            p50_ms: percentile(&lat, 0.5),
            p99_ms: percentile(&lat, 0.99),
            max_ms: lat.last().copied().unwrap_or(f64::NAN),
            cpu_ms: cpu * 1000.0 / n,
        };
        println!(
            "  {:<46} {:>6.1}/s  p50 {:>5.0} ms  p99 {:>5.0} ms  max {:>5.0} ms  CPU {:>5.0} ms/issuance",
            f.label, f.per_s, f.p50_ms, f.p99_ms, f.max_ms, f.cpu_ms
        );
        f
    }

    fn json(&self, alg: &str, load: &str) -> serde_json::Value {
        serde_json::json!({"label": self.label, "key": alg, "load": load, "per_s": self.per_s,
            "p50_ms": self.p50_ms, "p99_ms": self.p99_ms, "max_ms": self.max_ms,
            "cpu_ms": self.cpu_ms})
    }
}

fn orgcert(
    rt: &tokio::runtime::Runtime,
    alg: model::KeyAlgorithm,
    pool_size: usize,
    per_holder: usize,
    pace: Option<Duration>,
) -> (Vec<f64>, f64, f64) {
    let pool = Arc::new(KeyPool::new(pool_size));
    if pool_size > 0 {
        pool.warm();
        assert!(pool.wait_ready(pool_size, Duration::from_secs(600)));
    }
    let ca =
        Arc::new(PkiAuthority::new(Arc::new(authority(KeyAlgorithm::Rsa3072))).with_key_pool(pool));
    let (cpu0, _) = cpu_seconds();
    let start = Instant::now();
    let lat = rt.block_on(async {
        let holders: Vec<_> = (0..HOLDERS)
            .map(|_| {
                let ca = Arc::clone(&ca);
                tokio::spawn(async move {
                    let mut lat = Vec::new();
                    for _ in 0..per_holder {
                        let key = KeySource::Generate {
                            algorithm: alg,
                            format: model::P12Format::Modern,
                            password: SecretString::from("bench password 1".to_owned()),
                        };
                        let t = Instant::now();
                        ca.issue(spec(), key).await.unwrap();
                        lat.push(t.elapsed().as_secs_f64() * 1000.0);
                        if let Some(p) = pace {
                            tokio::time::sleep(p).await;
                        }
                    }
                    lat
                })
            })
            .collect();
        let mut all = Vec::new();
        for h in holders {
            all.extend(h.await.unwrap());
        }
        all
    });
    let wall = start.elapsed().as_secs_f64();
    let (cpu1, _) = cpu_seconds();
    (lat, wall, cpu1 - cpu0)
}

/// The OpenSSL pipeline, `per_holder` times in each of two threads.
fn openssl(alg: &str, per_holder: usize, pace: Option<Duration>) -> (Vec<f64>, f64, f64) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_owned();
    openssl_ca(&d);
    let (_, child0) = cpu_seconds();
    let start = Instant::now();
    let lat: Vec<f64> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..HOLDERS)
            .map(|h| {
                let d = d.clone();
                s.spawn(move || {
                    let mut lat = Vec::new();
                    for i in 0..per_holder {
                        let p = |ext: &str| d.join(format!("{h}-{i}.{ext}"));
                        let t = Instant::now();
                        let keyopt: &[&str] = if alg == "RSA-3072" {
                            &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:3072"]
                        } else {
                            &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"]
                        };
                        run(Command::new("openssl")
                            .arg("genpkey")
                            .args(keyopt)
                            .arg("-out")
                            .arg(p("key")));
                        run(Command::new("openssl")
                            .args([
                                "req",
                                "-new",
                                "-subj",
                                "/CN=Bench holder/O=Bench A\\/S",
                                "-key",
                            ])
                            .arg(p("key"))
                            .arg("-out")
                            .arg(p("csr")));
                        run(Command::new("openssl")
                            .args(["x509", "-req", "-days", "365", "-sha256"])
                            .args([
                                "-sigopt",
                                "rsa_padding_mode:pss",
                                "-sigopt",
                                "rsa_pss_saltlen:32",
                            ])
                            .arg("-in")
                            .arg(p("csr"))
                            .arg("-CA")
                            .arg(d.join("ca.pem"))
                            .arg("-CAkey")
                            .arg(d.join("ca.key"))
                            .arg("-set_serial")
                            .arg(format!("0x{}", hex::encode(orgcert_pki::random_serial())))
                            .arg("-out")
                            .arg(p("pem")));
                        run(Command::new("openssl")
                            .args(["pkcs12", "-export", "-passout", "pass:bench password 1"])
                            .arg("-inkey")
                            .arg(p("key"))
                            .arg("-in")
                            .arg(p("pem"))
                            .arg("-certfile")
                            .arg(d.join("ca.pem"))
                            .arg("-out")
                            .arg(p("p12")));
                        lat.push(t.elapsed().as_secs_f64() * 1000.0);
                        if let Some(p) = pace {
                            std::thread::sleep(p);
                        }
                    }
                    lat
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let wall = start.elapsed().as_secs_f64();
    let (_, child1) = cpu_seconds();
    (lat, wall, child1 - child0)
}

fn main() {
    let quick = quick();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut rows = Vec::new();
    for (alg, name, per_holder) in [
        (
            model::KeyAlgorithm::Rsa3072,
            "RSA-3072",
            if quick { 3 } else { 30 },
        ),
        (
            model::KeyAlgorithm::EcdsaP256,
            "ECDSA-P256",
            if quick { 3 } else { 100 },
        ),
    ] {
        println!("Server-keygen issuance, {name} leaf, {HOLDERS} holders in parallel:");
        for (load, pace) in [("busy", None), ("paced", Some(PACE))] {
            if name != "RSA-3072" && load == "paced" {
                continue;
            }
            let (lat, wall, cpu) = openssl(name, per_holder, pace);
            rows.push(
                Figures::new(format!("OpenSSL pipeline, {load}"), lat, wall, cpu).json(name, load),
            );
            // Quick: a pool of 2 (the fill runs at nice 19 and may wait for a busy machine).
            let pools: &[usize] = match (name, quick) {
                ("RSA-3072", false) => &[0, 8],
                ("RSA-3072", true) => &[0, 2],
                _ => &[0],
            };
            for &pool in pools {
                let (lat, wall, cpu) = orgcert(&rt, alg, pool, per_holder, pace);
                let label = if pool == 0 {
                    format!("orgcert, no pool, {load}")
                } else {
                    format!("orgcert, pool {pool}, {load}")
                };
                rows.push(Figures::new(label, lat, wall, cpu).json(name, load));
            }
        }
    }
    if let Ok(out) = std::env::var("ORGCERT_BENCH_OUT") {
        std::fs::write(
            &out,
            serde_json::to_vec_pretty(&serde_json::json!({"quick": quick, "keygen": rows}))
                .unwrap(),
        )
        .unwrap();
    }
}
