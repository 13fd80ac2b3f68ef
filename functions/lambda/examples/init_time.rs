//! Init time of a function's composition, against moto: `orgcert_aws::compose` as every
//! Lambda function runs it once per cold start (SDK config load, the DynamoDB, KMS, S3 and
//! SES clients, the CA certificate read from the table, KMS `GetPublicKey`).
//!
//!   MOTO_SERVER=.venv/bin/moto_server \
//!     cargo run --release -p orgcert-lambda --example init_time [-- N [rsa-3072|ecdsa-p256|ecdsa-p384]]
//!
//! Prints the first composition in the process (one-time costs included) and the median
//! and p90 of the next N (default 20). Figures, not a test: moto answers on loopback, so
//! real AWS adds its round trips (two calls: GetItem, GetPublicKey).

use std::sync::Arc;
use std::time::{Duration, Instant};

use orgcert_core::clock::SystemClock;
use orgcert_pki::KeyAlgorithm;
use orgcert_tests::moto::Moto;

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// The `q`-quantile (nearest rank) of sorted samples.
fn quantile(sorted: &[Duration], q: f64) -> Duration {
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n: usize = args.first().map_or(20, |a| a.parse().expect("N"));
    let alg = match args.get(1).map_or("rsa-3072", String::as_str) {
        "rsa-3072" => KeyAlgorithm::Rsa3072,
        "ecdsa-p256" => KeyAlgorithm::EcdsaP256,
        "ecdsa-p384" => KeyAlgorithm::EcdsaP384,
        other => panic!("unknown key algorithm {other}"),
    };
    assert!(n > 0, "N must be positive");
    let moto = Moto::start();
    let cfg = moto.provision_with_ca(alg).await;

    let compose = || async {
        let t = Instant::now();
        let app = orgcert_aws::compose(&cfg, Arc::new(SystemClock))
            .await
            .expect("compose");
        let took = t.elapsed();
        drop(app);
        took
    };
    let first = compose().await;
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        samples.push(compose().await);
    }
    samples.sort();
    println!(
        "orgcert_aws::compose on moto ({alg:?} CA key, {} build): first {}; N={n}: median {}, p90 {}, min {}, max {}",
        if cfg!(debug_assertions) { "debug" } else { "release" },
        ms(first),
        ms(quantile(&samples, 0.5)),
        ms(quantile(&samples, 0.9)),
        ms(samples[0]),
        ms(samples[n - 1]),
    );
}
