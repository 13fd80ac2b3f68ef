//! Embedded-default figures: time to first response of `orgcert serve` (cold: new data dir,
//! CA key generated; warm: existing data dir) and issuance latency per key algorithm.
//!
//! `cargo bench -p orgcert-tests --bench local` (builds `target/release/orgcert` if needed;
//! `ORGCERT_BIN` overrides the binary). Prints a table; asserts nothing about speed.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use orgcert_core::clock::SystemClock;
use orgcert_functions::local::{self, LocalConfig, DEMO_CVR};
use orgcert_pki::KeyAlgorithm;
use orgcert_tests::spawn::{free_port, release_binary};
use serde_json::{json, Value};

fn stats(mut v: Vec<Duration>) -> String {
    v.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let p = |q: f64| v[((v.len() as f64 - 1.0) * q).round() as usize];
    format!(
        "n={:<3} min {:>8.1} ms  median {:>8.1} ms  p90 {:>8.1} ms  max {:>8.1} ms",
        v.len(),
        ms(v[0]),
        ms(p(0.5)),
        ms(p(0.9)),
        ms(v[v.len() - 1])
    )
}

fn first_response(bin: &PathBuf, dir: &std::path::Path, ca: &str) -> Duration {
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/healthz");
    let start = Instant::now();
    let mut child = Command::new(bin)
        .args(["serve", "--data-dir"])
        .arg(dir)
        .args(["--addr", &format!("127.0.0.1:{port}")])
        .env("ORGCERT_CA_KEY_ALGORITHM", ca)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let client = reqwest::blocking_client();
    let took = loop {
        if client.get(&url).send().is_ok_and(|r| r.status() == 200) {
            break start.elapsed();
        }
        assert!(start.elapsed() < Duration::from_secs(60), "no response");
        std::thread::sleep(Duration::from_millis(1));
    };
    let _ = child.kill();
    let _ = child.wait();
    took
}

mod reqwest {
    pub use ::reqwest::*;
    /// A tiny blocking GET over a current-thread runtime (reqwest's blocking feature is not enabled).
    pub fn blocking_client() -> Blocking {
        Blocking(
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
            Client::new(),
        )
    }
    pub struct Blocking(tokio::runtime::Runtime, Client);
    pub struct Req<'a>(&'a Blocking, String);
    impl Blocking {
        pub fn get(&self, url: &str) -> Req<'_> {
            Req(self, url.to_owned())
        }
    }
    impl Req<'_> {
        pub fn send(self) -> Result<Response> {
            self.0 .0.block_on(self.0 .1.get(&self.1).send())
        }
    }
}

async fn issuance(alg: &str, ca: KeyAlgorithm, n: usize) -> Vec<Duration> {
    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let cfg = LocalConfig::new(dir.path().to_path_buf(), &base, "http://pki.example.dk", ca);
    let l = local::open(&cfg, Arc::new(SystemClock)).await.unwrap();
    let router = local::router(&l);
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let admin = l
        .tokens
        .token(
            DEMO_CVR,
            "a@demo-org.dk",
            "A",
            &["user_admin"],
            time::Duration::hours(1),
        )
        .unwrap();
    let contact = l
        .tokens
        .token(
            DEMO_CVR,
            "c@demo-org.dk",
            "C",
            &[],
            time::Duration::hours(1),
        )
        .unwrap();
    let http = ::reqwest::Client::new();
    let mut out = Vec::new();
    for i in 0..n {
        let order: Value = http
            .post(format!("{base}/v1/profiles"))
            .bearer_auth(&admin)
            .json(&json!({ "type": "organisation", "name": format!("Bench {i}"), "contact_email": "c@demo-org.dk", "issuing": "direct", "key_algorithm": alg }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let token = order["issuance_url"]
            .as_str()
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap()
            .to_owned();
        let start = Instant::now();
        let r = http
            .post(format!("{base}/v1/issuance/{token}"))
            .bearer_auth(&contact)
            .json(&json!({ "accept_terms": true }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let _ = r.bytes().await.unwrap();
        out.push(start.elapsed());
    }
    out
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` asks benches to list themselves
    }
    let bin = release_binary();
    println!(
        "time to first response of `orgcert serve` ({}):",
        bin.display()
    );
    for ca in ["rsa-3072", "ecdsa-p256"] {
        let mut cold = Vec::new();
        let mut warm = Vec::new();
        for _ in 0..10 {
            let dir = tempfile::tempdir().unwrap();
            cold.push(first_response(&bin, dir.path(), ca));
            warm.push(first_response(&bin, dir.path(), ca));
        }
        println!(
            "  cold, new data dir, {ca:<10} CA key generated: {}",
            stats(cold)
        );
        println!(
            "  warm, existing data dir, {ca:<10} CA:           {}",
            stats(warm)
        );
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    println!("issuance latency (POST /v1/issuance/{{token}}: key generation, signing, PKCS#12, store, link; RSA-3072 CA):");
    for alg in ["rsa-3072", "ecdsa-p256", "ecdsa-p384"] {
        let d = rt.block_on(issuance(alg, KeyAlgorithm::Rsa3072, 30));
        println!("  {alg:<10}: {}", stats(d));
    }
}
