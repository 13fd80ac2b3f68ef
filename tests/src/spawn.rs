//! The real `orgcert` binary as a child process, for the tests in `functions/tests` and the
//! benches in `tests/benches` (the "spawn-app" harness): a free 127.0.0.1 port, `orgcert
//! serve` with no inherited `ORGCERT_*` setting, its banner read up to a marker line on a
//! reader thread (bounded by a timeout, never by a sleep), the tokens it prints, and the
//! process killed when dropped so a failed assertion leaves nothing running.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// How long a server may take to print its banner (a cold start generates the CA keys;
/// debug builds on a busy machine are slow).
const BANNER_TIMEOUT: Duration = Duration::from_secs(120);

/// A free TCP port on 127.0.0.1 (bound, then released for the child to take).
#[must_use]
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind 127.0.0.1:0")
        .local_addr()
        .expect("local address")
        .port()
}

/// A child process killed (and reaped) when dropped.
pub struct Killed(pub Child);

impl Killed {
    /// The child's process id.
    #[must_use]
    pub fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `orgcert serve --data-dir <dir> --addr 127.0.0.1:<free port>`, to be configured and
/// started. The inherited environment loses every `ORGCERT_*` variable, so a developer's
/// shell settings cannot change what a test sees; tests set what they need with [`Serve::env`].
pub struct Serve {
    cmd: Command,
    addr: String,
    stderr: bool,
    until: fn(&str) -> bool,
}

/// `orgcert serve` of the binary `bin` on the data directory `dir`.
pub fn serve(bin: impl AsRef<OsStr>, dir: &Path) -> Serve {
    let addr = format!("127.0.0.1:{}", free_port());
    let mut cmd = Command::new(bin);
    cmd.args(["serve", "--data-dir"])
        .arg(dir)
        .args(["--addr", &addr]);
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("ORGCERT_") {
            cmd.env_remove(k);
        }
    }
    Serve {
        cmd,
        addr,
        stderr: false,
        until: |line| line.starts_with("Try:"),
    }
}

impl Serve {
    /// More command-line arguments (after `serve --data-dir … --addr …`).
    #[must_use]
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.cmd.args(args);
        self
    }

    /// Sets an environment variable for the server.
    #[must_use]
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.cmd.env(key, value);
        self
    }

    /// Removes an inherited environment variable (the `ORGCERT_*` ones already are).
    #[must_use]
    pub fn env_remove(mut self, key: impl AsRef<OsStr>) -> Self {
        self.cmd.env_remove(key);
        self
    }

    /// Keeps standard error in the output too (by default it goes to `/dev/null`).
    #[must_use]
    pub fn with_stderr(mut self) -> Self {
        self.stderr = true;
        self
    }

    /// The banner ends at the first standard-output line for which `until` holds (default:
    /// the line starting `Try:` that follows the tokens).
    #[must_use]
    pub fn until(mut self, until: fn(&str) -> bool) -> Self {
        self.until = until;
        self
    }

    /// Spawns the server and waits (at most two minutes) for the end of its banner.
    ///
    /// # Panics
    /// If the binary cannot be spawned or the banner does not end in time (the output so far
    /// is in the message).
    #[must_use]
    pub fn start(mut self) -> Server {
        let stderr = if self.stderr {
            Stdio::piped()
        } else {
            Stdio::null()
        };
        let mut child = self
            .cmd
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("spawn orgcert");
        let output = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel();
        let mut readers = vec![drain(
            child.stdout.take().expect("stdout"),
            output.clone(),
            Some((self.until, tx)),
        )];
        if let Some(err) = child.stderr.take() {
            readers.push(drain(err, output.clone(), None));
        }
        let mut server = Server {
            child,
            base: format!("http://{}", self.addr),
            addr: self.addr,
            banner: String::new(),
            output,
            readers,
            http: reqwest::Client::new(),
        };
        match rx.recv_timeout(BANNER_TIMEOUT) {
            Ok(banner) => server.banner = banner,
            Err(_) => {
                let so_far = server.stop();
                panic!("serve did not print its banner:\n{so_far}");
            }
        }
        server
    }
}

/// The line that ends the banner, and where the banner goes.
type BannerMarker = (fn(&str) -> bool, mpsc::Sender<String>);

/// Copies `pipe` line by line into `output`; with a marker, sends standard output up to and
/// including the first line the marker accepts.
fn drain(
    pipe: impl Read + Send + 'static,
    output: Arc<Mutex<String>>,
    mut marker: Option<BannerMarker>,
) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut own = String::new();
        let mut reader = BufReader::new(pipe);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            let line = String::from_utf8_lossy(&buf);
            output.lock().expect("output lock").push_str(&line);
            if let Some((until, tx)) = &marker {
                own.push_str(&line);
                if until(line.trim_end_matches(['\n', '\r'])) {
                    let _ = tx.send(std::mem::take(&mut own));
                    marker = None;
                }
            }
        }
    })
}

/// A running `orgcert serve`; killed when dropped.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// `127.0.0.1:<port>`.
    pub addr: String,
    /// Standard output up to and including the banner's last line.
    pub banner: String,
    output: Arc<Mutex<String>>,
    readers: Vec<JoinHandle<()>>,
    http: reqwest::Client,
}

impl Server {
    /// `GET {base}{path}` without a token: the body as text (whatever the status).
    ///
    /// # Panics
    /// If the request fails.
    pub async fn text(&self, path: &str) -> String {
        let r = self.http.get(format!("{}{path}", self.base)).send().await;
        r.expect("GET").text().await.expect("a text body")
    }

    /// `GET {base}{path}` with the bearer `token`: the body as JSON (whatever the status).
    ///
    /// # Panics
    /// If the request fails or the body is not JSON.
    pub async fn get_json(&self, path: &str, token: &str) -> serde_json::Value {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(token);
        let r = r.send().await.expect("GET");
        r.json().await.expect("a JSON body")
    }

    /// `POST {base}{path}` of the JSON `body` with the bearer `token`: the answer's body as
    /// JSON (whatever the status).
    ///
    /// # Panics
    /// If the request fails or the answer is not JSON.
    pub async fn post_json(
        &self,
        path: &str,
        token: &str,
        body: &serde_json::Value,
    ) -> serde_json::Value {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(token);
        let r = r.json(body).send().await.expect("POST");
        r.json().await.expect("a JSON body")
    }

    /// Issues through the issuance link `url` as `token` (`POST /v1/issuance/{token of the
    /// link}`, terms accepted): the answer's body as JSON (whatever the status).
    ///
    /// # Panics
    /// If the request fails or the answer is not JSON.
    pub async fn issue_via(&self, url: &str, token: &str) -> serde_json::Value {
        let link = url.rsplit('/').next().expect("a link token");
        let body = serde_json::json!({ "accept_terms": true });
        self.post_json(&format!("/v1/issuance/{link}"), token, &body)
            .await
    }

    /// The value of `export <name>=…` in the banner.
    ///
    /// # Panics
    /// If the banner has no such line.
    #[must_use]
    pub fn token(&self, name: &str) -> String {
        banner_token(&self.banner, name)
    }

    /// The child's process id.
    #[must_use]
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills the server and returns all it wrote (standard output, and standard error with
    /// [`Serve::with_stderr`]).
    pub fn stop(&mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
        self.output.lock().expect("output lock").clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The value of `export <name>=…` in a `serve` banner.
///
/// # Panics
/// If the banner has no such line.
#[must_use]
pub fn banner_token(banner: &str, name: &str) -> String {
    banner
        .lines()
        .filter_map(|l| l.trim().strip_prefix("export "))
        .filter_map(|l| l.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
        .unwrap_or_else(|| panic!("no {name} in the banner:\n{banner}"))
}

/// Waits until `GET {base}/healthz` answers 200 (at most 200 tries, 50 ms apart).
///
/// # Panics
/// If it never does.
pub async fn wait_ready(base: &str) {
    let c = reqwest::Client::new();
    for _ in 0..200 {
        if let Ok(r) = c.get(format!("{base}/healthz")).send().await {
            if r.status() == 200 {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("server not ready");
}

/// Runs `bin args…` with `ORGCERT_DATA_DIR=dir` and the extra `env`; returns (success,
/// stdout, stderr).
///
/// # Panics
/// If the binary cannot be run.
#[must_use]
pub fn run(
    bin: impl AsRef<OsStr>,
    args: &[&str],
    dir: &Path,
    env: &[(&str, &str)],
) -> (bool, String, String) {
    let mut cmd = Command::new(bin);
    cmd.args(args).env("ORGCERT_DATA_DIR", dir);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run orgcert");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The release `orgcert` binary for benches: `ORGCERT_BIN` if set, else built with `cargo
/// build --release -p orgcert-functions --bin orgcert` in this workspace.
///
/// # Panics
/// If the build fails.
#[must_use]
pub fn release_binary() -> PathBuf {
    if let Ok(b) = std::env::var("ORGCERT_BIN") {
        return PathBuf::from(b);
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let status = Command::new(env!("CARGO"))
        .current_dir(&root)
        .args([
            "build",
            "--release",
            "-p",
            "orgcert-functions",
            "--bin",
            "orgcert",
        ])
        .status()
        .expect("cargo build");
    assert!(status.success());
    root.join("target/release/orgcert")
}
