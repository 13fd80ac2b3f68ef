//! The measured run behind `docs/perf/COST.md`: AWS calls per operation on the AWS
//! composition (moto), counted by the usage wrapper of `tests/aws/moto/sitecustomize.py`
//! (calls by `service:action`, DynamoDB request units). Figures, not assertions beyond
//! "every operation succeeded": `bench/cost` runs it with
//! `ORGCERT_TEST_BACKEND=aws cargo test -p orgcert-tests --test api -- --ignored
//! --nocapture aws_calls_per_operation` and turns the JSON it writes into the model.

use std::time::Instant;

use orgcert_pki::KeyAlgorithm;
use reqwest::Method;
use serde_json::{json, Map, Value};
use time::Duration;

use crate::helpers::*;

/// One operation `n` times: the usage and wall time per call.
struct Phase<'a> {
    app: &'a TestApp,
    out: Map<String, Value>,
}

impl Phase<'_> {
    /// Runs `op(0..n)` in turn; returns what each call gave.
    async fn measure<F, Fut, T>(&mut self, name: &str, n: usize, mut op: F) -> Vec<T>
    where
        F: FnMut(usize) -> Fut,
        Fut: std::future::Future<Output = T>,
    {
        let moto = self.app.moto().expect("the AWS composition");
        moto.reset_usage().await;
        let start = Instant::now();
        let mut results = Vec::with_capacity(n);
        for i in 0..n {
            results.push(op(i).await);
        }
        let ms = start.elapsed().as_secs_f64() * 1000.0 / n as f64;
        let usage = moto.usage().await;
        let per = |v: &Value| v.as_f64().unwrap_or(0.0) / n as f64;
        let calls: Map<String, Value> = usage["calls"]
            .as_object()
            .expect("calls")
            .iter()
            .map(|(k, v)| (k.clone(), json!(per(v))))
            .collect();
        let entry = json!({
            "n": n,
            "calls": calls,
            "dynamodb_read_units": per(&usage["dynamodb_units"]["read"]),
            "dynamodb_write_units": per(&usage["dynamodb_units"]["write"]),
            "wall_ms_on_moto": ms,
        });
        println!("{name}: {entry}");
        self.out.insert(name.to_owned(), entry);
        results
    }
}

/// `GET path` without a token, which must answer 200.
async fn public_get(app: &TestApp, path: &str) {
    let r = app.call(Method::GET, path, None, None, &[]).await;
    assert_eq!(r.status, 200, "{path}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measured run for docs/perf/COST.md (bench/cost); AWS composition only"]
async fn aws_calls_per_operation() {
    assert_eq!(
        Backend::current(),
        Backend::Aws,
        "run with ORGCERT_TEST_BACKEND=aws (bench/cost does)"
    );
    let n: usize = std::env::var("ORGCERT_COST_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10)
        .clamp(1, 200);
    let app = spawn_app_with(KeyAlgorithm::Rsa3072).await;
    // Warm functions, as a deployment under load has them: the figures per call then
    // leave out each function's one-off cold start (COST.md leaves cold starts out).
    app.warm_functions().await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    let mut phase = Phase {
        app: &app,
        out: Map::new(),
    };

    // Orders of the two kinds of issuance the guide has: PKCS#12 made here, and a CSR.
    let p12_links = phase
        .measure("order", n, |_| {
            let a = &app;
            async move {
                let c = a.create(json!({ "key_algorithm": "rsa-3072" })).await;
                c.ok(201)["issuance_url"].as_str().unwrap().to_owned()
            }
        })
        .await;
    let issued = phase
        .measure("issue_pkcs12_rsa3072", n, |i| {
            let (a, url) = (&app, p12_links[i].clone());
            async move {
                let r = a.issue_via(&url, json!({ "accept_terms": true })).await;
                r.ok(201).clone()
            }
        })
        .await;
    phase
        .measure("download_pkcs12", n, |i| {
            let (a, url) = (&app, issued[i]["download_url"].as_str().unwrap().to_owned());
            async move {
                let r = a.call(Method::GET, &url, None, None, &[]).await;
                assert_eq!(r.status, 200, "download");
            }
        })
        .await;
    let mut csr_links = Vec::new();
    for _ in 0..n {
        let c = app.create(json!({ "key_algorithm": "ecdsa-p256" })).await;
        csr_links.push(c.ok(201)["issuance_url"].as_str().unwrap().to_owned());
    }
    let csrs: Vec<String> = (0..n)
        .map(|i| orgcert_tests::tools::openssl_csr(&d, &format!("k{i}"), "ec", "/CN=cost"))
        .collect();
    phase
        .measure("issue_csr", n, |i| {
            let (a, url, csr) = (&app, csr_links[i].clone(), csrs[i].clone());
            async move {
                let r = a
                    .issue_via(&url, json!({ "accept_terms": true, "csr": csr }))
                    .await;
                r.ok(201);
            }
        })
        .await;

    // Status: OCSP for a good certificate (the pre-signed answer), the CA file, the CRL.
    std::fs::write(
        d.join("ca.pem"),
        app.call(Method::GET, "/public/ca.pem", None, None, &[])
            .await
            .bytes,
    )
    .unwrap();
    std::fs::write(
        d.join("leaf.pem"),
        issued[0]["certificate_pem"].as_str().unwrap(),
    )
    .unwrap();
    let req = orgcert_tests::tools::openssl_ocsp_request(&d, "ca.pem", "leaf.pem");
    // The crl-refresh job pre-signs the answers OCSP serves.
    phase
        .measure("job_crl_refresh_after_issuance", 1, |_| {
            app.run_job("crl-refresh")
        })
        .await;
    phase
        .measure("ocsp_post", n * 10, |_| {
            let (a, req) = (&app, req.clone());
            async move {
                let r = a
                    .http
                    .post(format!("{}/ocsp", a.base))
                    .header("content-type", "application/ocsp-request")
                    .body(req)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200);
                assert!(!r.bytes().await.unwrap().is_empty());
            }
        })
        .await;
    phase
        .measure("get_ca_pem", n, |_| public_get(&app, "/public/ca.pem"))
        .await;
    phase
        .measure("revoke", n / 2, |i| {
            let (a, serial) = (&app, issued[i]["serial"].as_str().unwrap().to_owned());
            async move {
                let revoked = a.revoke(&serial, json!({ "reason": "superseded" })).await;
                revoked.ok(200);
            }
        })
        .await;
    phase
        .measure("job_crl_refresh_after_revocations", 1, |_| {
            app.run_job("crl-refresh")
        })
        .await;
    // An idle minute: what the every-minute schedule costs when nothing changed.
    app.clock.advance(Duration::minutes(1));
    phase
        .measure("job_crl_refresh_idle", 1, |_| app.run_job("crl-refresh"))
        .await;
    for name in ["renewal-reminders", "housekeeping"] {
        phase
            .measure(&format!("job_{}", name.replace('-', "_")), 1, |_| {
                app.run_job(name)
            })
            .await;
    }
    phase
        .measure("get_crl", n, |_| public_get(&app, "/public/crl"))
        .await;

    let mut out = phase.out;
    // Lambda time is billed: a debug build's figures overstate it (bench/cost builds release).
    out.insert(
        "build".into(),
        json!(if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }),
    );
    let out = Value::Object(out);
    if let Ok(path) = std::env::var("ORGCERT_COST_OUT") {
        std::fs::write(&path, serde_json::to_vec_pretty(&out).unwrap()).expect("cost output");
        println!("wrote {path}");
    }
}
