//! The OCSP load generator of the benches (`tests/benches/status.rs`, `compare.rs`): the
//! same client drives orgcert and `openssl ocsp`, so their figures compare.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// POSTs the DER OCSP `requests` round-robin to `url` from `concurrency` tasks for `length`;
/// returns (good responses per second, failures). A response is good when it is a 200 whose
/// body is an OCSP response of status successful(0) (it starts `30 xx 0a 01 00`, RFC 6960
/// §4.2.1); anything else, a timeout (10 s) included, is a failure.
///
/// # Panics
/// If the HTTP client cannot be built.
pub async fn ocsp_load(
    url: &str,
    requests: Arc<Vec<Vec<u8>>>,
    concurrency: usize,
    length: Duration,
) -> (f64, u64) {
    let ok = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + length;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .timeout(Duration::from_secs(10))
        .build()
        .expect("HTTP client");
    let start = Instant::now();
    let mut tasks = Vec::new();
    for t in 0..concurrency {
        let (client, url, requests, ok, errors) = (
            client.clone(),
            url.to_owned(),
            requests.clone(),
            ok.clone(),
            errors.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut i = t;
            while Instant::now() < deadline {
                let body = requests[i % requests.len()].clone();
                i += concurrency;
                let sent = client
                    .post(&url)
                    .header("content-type", "application/ocsp-request")
                    .body(body)
                    .send()
                    .await;
                let good = match sent {
                    Ok(r) if r.status() == 200 => r.bytes().await.is_ok_and(|b| {
                        b.len() > 5 && b.windows(3).take(8).any(|w| w == [0x0a, 0x01, 0x00])
                    }),
                    _ => false,
                };
                if good {
                    ok.fetch_add(1, Ordering::Relaxed);
                } else {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let rate = ok.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64();
    (rate, errors.load(Ordering::Relaxed))
}
