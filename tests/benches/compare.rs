//! The engine of `bench/run`: orgcert next to the tools people use today, in the same run,
//! driven by the same client, with server CPU read from `/proc` (user + system time of the
//! server process only, so the load generator's own work is not counted).
//!
//! - OCSP: `orgcert serve` vs `openssl ocsp` as a responder, POST over loopback, at several
//!   concurrencies; responses/s and server CPU per response.
//! - Issuance from a P-256 CSR: `orgcert serve` order + issue (two requests: the order by an
//!   administrator, the issue by the holder) vs `cfssl serve` `/api/v1/cfssl/sign` (one
//!   request), with an RSA-3072 and a P-256 CA; server CPU per issued certificate and
//!   client-side latency.
//!
//! Writes JSON to `ORGCERT_BENCH_OUT` (default `target/bench/results.json`) and prints a
//! table. `ORGCERT_BENCH_QUICK=1`: small counts for CI. Asserts nothing about speed; it fails
//! only when a server does not answer correctly. Talks only to 127.0.0.1; every spawned
//! process is killed when the bench ends or panics.
//! `ORGCERT_BENCH_ISSUANCES=N`: N issuances per CA instead of 200 (to profile against).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use orgcert_tests::load::ocsp_load;
use orgcert_tests::spawn::{free_port, release_binary, Killed};
use serde_json::{json, Value};

const DEMO_CVR: &str = "12345674";
const CONTACT: &str = "bench.contact@demo-org.dk";

/// User + system CPU of a process in seconds, from `/proc/<pid>/stat` (fields 14 and 15,
/// counted in clock ticks). Hand-written: two numbers do not warrant the `procfs` crate.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("read /proc stat");
    // The command name (field 2) is in parentheses and may hold spaces: split after it.
    let rest = &stat[stat.rfind(')').expect("stat format") + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap();
    ticks as f64 / clock_ticks()
}

fn clock_ticks() -> f64 {
    let out = Command::new("getconf").arg("CLK_TCK").output();
    out.ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

fn run(cmd: &mut Command) -> Vec<u8> {
    let out = cmd.stderr(Stdio::piped()).output().expect("spawn");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

async fn wait_ready(http: &reqwest::Client, url: &str) {
    let start = Instant::now();
    loop {
        if let Ok(r) = http.get(url).send().await {
            if r.status().is_success() || r.status().is_client_error() {
                return;
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "{url} never answered"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A self-signed CA made by openssl for the anchors (cfssl, openssl ocsp).
fn openssl_ca(dir: &Path, alg: &str) {
    let newkey: &[&str] = match alg {
        "rsa-3072" => &["-newkey", "rsa:3072"],
        _ => &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
    };
    run(Command::new("openssl")
        .current_dir(dir)
        .args(["req", "-x509", "-nodes"])
        .args(newkey)
        .args(["-keyout", "ca-key.pem", "-out", "ca.pem", "-days", "3650"])
        .args(["-subj", "/C=DK/O=Bench/CN=Bench CA"]));
}

/// `n` P-256 CSRs (PEM) made by openssl, one key each.
fn csrs(dir: &Path, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let out = run(Command::new("openssl")
                .current_dir(dir)
                .args(["req", "-new", "-nodes", "-newkey", "ec"])
                .args(["-pkeyopt", "ec_paramgen_curve:P-256"])
                .args(["-keyout", &format!("leaf{i}.key")])
                .args(["-subj", "/CN=Bench leaf"]));
            String::from_utf8(out).unwrap()
        })
        .collect()
}

/// `orgcert serve` on a fresh data dir with its CA key algorithm `ca`.
struct Orgcert {
    proc: Killed,
    base: String,
    admin: String,
    contact: String,
    _dir: tempfile::TempDir,
}

async fn orgcert(bin: &Path, http: &reqwest::Client, ca: &str) -> Orgcert {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let proc = Killed(
        Command::new(bin)
            .args(["serve", "--data-dir"])
            .arg(dir.path())
            .args(["--addr", &format!("127.0.0.1:{port}")])
            .env("ORGCERT_CA_KEY_ALGORITHM", ca)
            .env("ORGCERT_MTLS_ADDR", "off")
            .env("ORGCERT_LOG", "warn")
            .env_remove("ORGCERT_PUBLIC_URL")
            .env_remove("ORGCERT_DATA_DIR")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn orgcert"),
    );
    wait_ready(http, &format!("{base}/healthz")).await;
    let token = |email: &str, role: &[&str]| {
        let mut c = Command::new(bin);
        c.args(["token", "--data-dir"])
            .arg(dir.path())
            .args(["--org", DEMO_CVR, "--email", email]);
        if !role.is_empty() {
            c.args(["--role", &role.join(",")]);
        }
        String::from_utf8(run(&mut c)).unwrap().trim().to_owned()
    };
    Orgcert {
        admin: token("bench.admin@demo-org.dk", &["user_admin"]),
        contact: token(CONTACT, &[]),
        proc,
        base,
        _dir: dir,
    }
}

fn link_token(order: &Value) -> String {
    order["issuance_url"]
        .as_str()
        .unwrap_or_else(|| panic!("no issuance_url in {order}"))
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned()
}

async fn json_ok(r: reqwest::Result<reqwest::Response>, what: &str) -> Value {
    let r = r.unwrap_or_else(|e| panic!("{what}: {e}"));
    let status = r.status();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{what}: {status} {body}");
    body
}

/// One organisation profile with direct issuance; returns its id after issuing its first
/// certificate (so every later order is a plain "order another certificate").
async fn setup_profile(o: &Orgcert, http: &reqwest::Client, csr: &str) -> String {
    let created = json_ok(
        http.post(format!("{}/v1/profiles", o.base))
            .bearer_auth(&o.admin)
            .json(
                &json!({ "type": "organisation", "name": "Bench", "contact_email": CONTACT,
                           "issuing": "direct", "key_algorithm": "ecdsa-p256" }),
            )
            .send()
            .await,
        "create profile",
    )
    .await;
    issue(o, http, &link_token(&created), csr).await;
    created["profile"]["id"].as_str().unwrap().to_owned()
}

async fn issue(o: &Orgcert, http: &reqwest::Client, token: &str, csr: &str) -> Value {
    let issued = json_ok(
        http.post(format!("{}/v1/issuance/{token}", o.base))
            .bearer_auth(&o.contact)
            .json(&json!({ "accept_terms": true, "csr": csr }))
            .send()
            .await,
        "issue",
    )
    .await;
    assert!(
        issued["certificate_pem"]
            .as_str()
            .is_some_and(|p| p.contains("BEGIN CERTIFICATE")),
        "no certificate in {issued}"
    );
    issued
}

struct Measured {
    cpu_us: f64,
    p50_ms: f64,
    p99_ms: f64,
    n: usize,
}

fn percentile(v: &mut [Duration], q: f64) -> f64 {
    v.sort();
    v[((v.len() as f64 - 1.0) * q).round() as usize].as_secs_f64() * 1000.0
}

/// Order + issue `csrs.len()` certificates one after the other.
async fn orgcert_issuance(
    o: &Orgcert,
    http: &reqwest::Client,
    profile: &str,
    csrs: &[String],
) -> (Measured, Vec<String>) {
    let mut lat = Vec::new();
    let mut serials = Vec::new();
    let cpu0 = cpu_seconds(o.proc.pid());
    for csr in csrs {
        let start = Instant::now();
        let order = json_ok(
            http.post(format!("{}/v1/profiles/{profile}/certificates", o.base))
                .bearer_auth(&o.admin)
                .json(&json!({}))
                .send()
                .await,
            "order",
        )
        .await;
        let issued = issue(o, http, &link_token(&order), csr).await;
        lat.push(start.elapsed());
        serials.push(issued["serial"].as_str().unwrap().to_owned());
    }
    let cpu = cpu_seconds(o.proc.pid()) - cpu0;
    let n = csrs.len();
    (
        Measured {
            cpu_us: cpu * 1e6 / n as f64,
            p50_ms: percentile(&mut lat, 0.5),
            p99_ms: percentile(&mut lat, 0.99),
            n,
        },
        serials,
    )
}

async fn cfssl_issuance(dir: &Path, http: &reqwest::Client, csrs: &[String]) -> Measured {
    let port = free_port();
    let proc = Killed(
        Command::new("cfssl")
            .current_dir(dir)
            .args(["serve", "-address", "127.0.0.1", "-port", &port.to_string()])
            .args(["-ca", "ca.pem", "-ca-key", "ca-key.pem"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn cfssl (bench/run installs golang-cfssl)"),
    );
    let url = format!("http://127.0.0.1:{port}/api/v1/cfssl/sign");
    wait_ready(http, &format!("http://127.0.0.1:{port}/api/v1/cfssl/info")).await;
    let mut lat = Vec::new();
    let cpu0 = cpu_seconds(proc.pid());
    for csr in csrs {
        let start = Instant::now();
        let r = json_ok(
            http.post(&url)
                .json(&json!({ "certificate_request": csr }))
                .send()
                .await,
            "cfssl sign",
        )
        .await;
        assert_eq!(r["success"], true, "{r}");
        lat.push(start.elapsed());
    }
    let cpu = cpu_seconds(proc.pid()) - cpu0;
    Measured {
        cpu_us: cpu * 1e6 / csrs.len() as f64,
        p50_ms: percentile(&mut lat, 0.5),
        p99_ms: percentile(&mut lat, 0.99),
        n: csrs.len(),
    }
}

/// OCSP requests (DER, no nonce) for `serials` under the CA certificate in `dir/ca_file`.
fn ocsp_requests(dir: &Path, ca_file: &str, serials: &[String]) -> Vec<Vec<u8>> {
    serials
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let file = dir.join(format!("req-{ca_file}-{i}.der"));
            run(Command::new("openssl")
                .current_dir(dir)
                .args(["ocsp", "-issuer", ca_file, "-no_nonce"])
                .args(["-serial", &format!("0x{s}"), "-reqout"])
                .arg(&file)
                .stdout(Stdio::null()));
            std::fs::read(&file).unwrap()
        })
        .collect()
}

async fn ocsp_series(
    name: &str,
    pid: u32,
    url: &str,
    requests: &Arc<Vec<Vec<u8>>>,
    levels: &[usize],
    secs: f64,
) -> Vec<Value> {
    let mut out = Vec::new();
    for &c in levels {
        let cpu0 = cpu_seconds(pid);
        let (rps, errors) =
            ocsp_load(url, requests.clone(), c, Duration::from_secs_f64(secs)).await;
        let cpu = cpu_seconds(pid) - cpu0;
        let responses = rps * secs;
        let cpu_us = if responses > 0.0 {
            cpu * 1e6 / responses
        } else {
            f64::NAN
        };
        println!("  {name:<24} c={c:<3} {rps:>9.0} responses/s  {cpu_us:>7.1} µs CPU/response  ({errors} errors)");
        assert!(rps > 0.0, "{name}: no successful OCSP response");
        out.push(json!({ "server": name, "concurrency": c, "rps": rps, "cpu_us": cpu_us, "errors": errors }));
    }
    out
}

fn machine() -> Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_default();
    let version = |cmd: &str, arg: &str| {
        Command::new(cmd)
            .arg(arg)
            .output()
            .ok()
            .map(|o| {
                String::from_utf8_lossy(if o.stdout.is_empty() {
                    &o.stderr
                } else {
                    &o.stdout
                })
                .lines()
                .next()
                .unwrap_or("")
                .to_owned()
            })
            .unwrap_or_default()
    };
    json!({
        "cpu": cpu,
        "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "openssl": version("openssl", "version"),
        "cfssl": version("cfssl", "version"),
        "date": time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap(),
    })
}

async fn bench(quick: bool) -> Value {
    let bin = release_binary();
    let http = reqwest::Client::new();
    let work = tempfile::tempdir().unwrap();
    let (n_issue, secs, levels): (usize, f64, &[usize]) = if quick {
        (8, 0.5, &[1, 16])
    } else {
        (200, 5.0, &[1, 4, 16, 64])
    };
    // A longer issuance run to profile against (`perf record -p` on the server).
    let n_issue = std::env::var("ORGCERT_BENCH_ISSUANCES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(n_issue);
    let leaf_csrs = csrs(work.path(), n_issue + 1);
    let mut issuance = Vec::new();
    let mut ocsp = Vec::new();
    for ca in ["rsa-3072", "ecdsa-p256"] {
        println!(
            "issuance from a P-256 CSR, {ca} CA, {n_issue} certificates, one client, keep-alive:"
        );
        let o = orgcert(&bin, &http, ca).await;
        let profile = setup_profile(&o, &http, &leaf_csrs[n_issue]).await;
        let (ours, serials) = orgcert_issuance(&o, &http, &profile, &leaf_csrs[..n_issue]).await;
        let dir = work.path().join(format!("cfssl-{ca}"));
        std::fs::create_dir_all(&dir).unwrap();
        openssl_ca(&dir, ca);
        let theirs = cfssl_issuance(&dir, &http, &leaf_csrs[..n_issue]).await;
        for (name, m) in [
            ("orgcert order + issue", &ours),
            ("cfssl serve sign", &theirs),
        ] {
            println!(
                "  {name:<22} {:>8.0} µs CPU/certificate  p50 {:>6.2} ms  p99 {:>6.2} ms  (n={})",
                m.cpu_us, m.p50_ms, m.p99_ms, m.n
            );
            issuance.push(json!({ "ca": ca, "server": name, "cpu_us": m.cpu_us,
                                  "p50_ms": m.p50_ms, "p99_ms": m.p99_ms, "n": m.n }));
        }
        if ca == "rsa-3072" {
            // OCSP with the RSA-3072 CA (the table's case): orgcert answers for the
            // certificates it just issued; openssl ocsp for the same count under its CA.
            println!(
                "OCSP, POST over loopback, {} distinct requests, {secs} s per level:",
                serials.len()
            );
            let ca_pem = json_ok_text(&http, &format!("{}/public/ca.pem", o.base)).await;
            let first = first_pem(&ca_pem);
            std::fs::write(work.path().join("orgcert-ca.pem"), first).unwrap();
            let ours_req = Arc::new(ocsp_requests(work.path(), "orgcert-ca.pem", &serials));
            ocsp.extend(
                ocsp_series(
                    "orgcert",
                    o.proc.pid(),
                    &format!("{}/ocsp", o.base),
                    &ours_req,
                    levels,
                    secs,
                )
                .await,
            );
            // One of orgcert's answers, for the HTTP floor below to answer with.
            let answer = http
                .post(format!("{}/ocsp", o.base))
                .header("content-type", "application/ocsp-request")
                .body(ours_req[0].clone())
                .send()
                .await
                .and_then(reqwest::Response::error_for_status)
                .expect("an OCSP answer")
                .bytes()
                .await
                .unwrap();
            drop(o);
            let (theirs_req, responder) = openssl_responder(&dir, serials.len());
            let url = format!("http://127.0.0.1:{}/", responder.1);
            ocsp.extend(
                ocsp_series(
                    "openssl ocsp",
                    responder.0.pid(),
                    &url,
                    &Arc::new(theirs_req),
                    levels,
                    secs,
                )
                .await,
            );
            // The floor: orgcert's HTTP stack answering the same requests with a fixed body.
            let body_file = work.path().join("ocsp-answer.der");
            std::fs::write(&body_file, &answer).unwrap();
            let port = free_port();
            let bare = Killed(
                Command::new(env!("CARGO_BIN_EXE_bare-http"))
                    .arg(format!("127.0.0.1:{port}"))
                    .arg(&body_file)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .expect("spawn bare-http"),
            );
            let url = format!("http://127.0.0.1:{port}/ocsp");
            wait_ready(&http, &url).await;
            ocsp.extend(
                ocsp_series(
                    "bare HTTP, fixed answer",
                    bare.pid(),
                    &url,
                    &ours_req,
                    levels,
                    secs,
                )
                .await,
            );
        }
    }
    json!({ "quick": quick, "machine": machine(), "issuance": issuance, "ocsp": ocsp })
}

async fn json_ok_text(http: &reqwest::Client, url: &str) -> String {
    let r = http.get(url).send().await.expect("GET");
    assert!(r.status().is_success(), "{url}: {}", r.status());
    r.text().await.unwrap()
}

/// The first PEM block of a bundle (the current issuing CA in `/public/ca.pem`).
fn first_pem(bundle: &str) -> String {
    let end = "-----END CERTIFICATE-----";
    let i = bundle.find(end).expect("a certificate in ca.pem") + end.len();
    format!("{}\n", &bundle[..i])
}

/// `openssl ocsp` as a responder for `n` valid certificates (every tenth revoked) under the
/// openssl CA in `dir`, signing with the CA key; returns the requests and the process.
fn openssl_responder(dir: &Path, n: usize) -> (Vec<Vec<u8>>, (Killed, u16)) {
    let mut index = String::new();
    let mut serials = Vec::new();
    for i in 0..n {
        let serial = format!("{:040X}", 0x1000 + i);
        let line = if i % 10 == 0 {
            format!(
                "R\t491231235959Z\t260101000000Z,keyCompromise\t{serial}\tunknown\t/CN=Bench {i}\n"
            )
        } else {
            format!("V\t491231235959Z\t\t{serial}\tunknown\t/CN=Bench {i}\n")
        };
        index.push_str(&line);
        serials.push(serial.to_lowercase());
    }
    std::fs::write(dir.join("index.txt"), index).unwrap();
    let requests = ocsp_requests(dir, "ca.pem", &serials);
    let port = free_port();
    let mut proc = Killed(
        Command::new("openssl")
            .current_dir(dir)
            .args(["ocsp", "-index", "index.txt", "-port", &port.to_string()])
            .args(["-rsigner", "ca.pem", "-rkey", "ca-key.pem", "-CA", "ca.pem"])
            .args(["-nmin", "60"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn openssl ocsp"),
    );
    // Ready when it says so on stderr. (Not by probing the port: a connection closed without
    // a request wedges `openssl ocsp`, which serves one connection at a time.)
    let stderr = proc.0.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if line.contains("waiting for OCSP client connections") {
                let _ = tx.send(());
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(30))
        .expect("openssl ocsp never said it was ready");
    (requests, (proc, port))
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` asks benches to list themselves
    }
    let quick = std::env::var("ORGCERT_BENCH_QUICK").is_ok_and(|v| v == "1");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let results = rt.block_on(bench(quick));
    let out = std::env::var("ORGCERT_BENCH_OUT").map_or_else(
        |_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/bench/results.json"),
        PathBuf::from,
    );
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    std::fs::write(&out, serde_json::to_vec_pretty(&results).unwrap()).unwrap();
    println!("results: {}", out.display());
}
