//! `orgcert renew` (API.md "System certificates: mutual TLS"): the client side of
//! self-renewal. A system that holds a certificate and key files checks how long the
//! certificate has left; when fewer than N days remain it makes a new key of the same
//! algorithm, sends a CSR to `POST /v1/certificates/self/renew` with the old certificate as
//! its TLS client identity, and replaces both files.
//!
//! The HTTP client is hyper over tokio-rustls with the aws-lc-rs provider handed to the
//! config explicitly: no process-wide default provider is installed, so nothing else in
//! the process (or in this package's tests) changes.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use orgcert_pki::{generate_key, SubjectPublicKey};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use serde_json::{json, Value};
use time::{Duration, OffsetDateTime};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// Default days before expiry at which `orgcert renew` renews.
pub const DEFAULT_DAYS: u32 = 30;
/// The self-renewal route (API.md "Routes").
pub const SELF_RENEW_PATH: &str = "/v1/certificates/self/renew";

/// Connect, handshake and answer each get this long; a hung server must not hang a
/// daemon forever.
const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// An HTTPS client that trusts the given CA certificates and, optionally, presents a
/// client certificate (mutual TLS). One connection per request.
#[derive(Clone)]
pub struct MtlsClient {
    config: Arc<ClientConfig>,
}

impl std::fmt::Debug for MtlsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MtlsClient").finish_non_exhaustive()
    }
}

fn pem_certs(pem: &[u8], what: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{what}: not PEM certificates: {e}"))?;
    if certs.is_empty() {
        return Err(format!("{what}: no certificate in it"));
    }
    Ok(certs)
}

impl MtlsClient {
    /// A client trusting `ca_pem` (one or more PEM certificates), with `identity` =
    /// (certificate chain PEM, PKCS#8/SEC1/PKCS#1 key PEM) as its client certificate.
    ///
    /// # Errors
    /// A message naming what is unreadable (CA file, certificate, key) or mismatched.
    pub fn new(ca_pem: &[u8], identity: Option<(&[u8], &[u8])>) -> Result<Self, String> {
        let mut roots = RootCertStore::empty();
        for c in pem_certs(ca_pem, "CA file")? {
            roots
                .add(c)
                .map_err(|e| format!("CA file: unusable certificate: {e}"))?;
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS: {e}"))?
            .with_root_certificates(roots);
        let config = match identity {
            Some((cert, key)) => {
                let chain = pem_certs(cert, "certificate file")?;
                let key = PrivateKeyDer::from_pem_slice(key)
                    .map_err(|e| format!("key file: not a PEM private key: {e}"))?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|e| format!("certificate and key: {e}"))?
            }
            None => builder.with_no_client_auth(),
        };
        Ok(Self {
            config: Arc::new(config),
        })
    }

    /// Sends one request to `url` (`https://host[:port]/path`), with a JSON body if
    /// given; returns the status and the JSON answer (`Null` when it is not JSON).
    ///
    /// # Errors
    /// A message when the URL is not https, or connecting, the handshake (e.g. a
    /// certificate the server refuses) or the exchange fails or times out.
    pub async fn request(
        &self,
        method: &str,
        url: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Value), String> {
        tokio::time::timeout(REQUEST_TIMEOUT, self.exchange(method, url, body))
            .await
            .map_err(|_| format!("{url}: no answer within {REQUEST_TIMEOUT:?}"))?
    }

    async fn exchange(
        &self,
        method: &str,
        url: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Value), String> {
        let uri: hyper::Uri = url.parse().map_err(|e| format!("URL {url:?}: {e}"))?;
        if uri.scheme_str() != Some("https") {
            return Err(format!(
                "URL {url:?}: must be https (the certificate is the caller)"
            ));
        }
        let authority = uri
            .authority()
            .ok_or_else(|| format!("URL {url:?}: no host"))?
            .clone();
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = authority.port_u16().unwrap_or(443);
        let name = ServerName::try_from(host.clone())
            .map_err(|e| format!("URL {url:?}: host {host:?}: {e}"))?;
        let tcp = TcpStream::connect((host.as_str(), port))
            .await
            .map_err(|e| format!("{host}:{port}: {e}"))?;
        let tls = TlsConnector::from(self.config.clone())
            .connect(name, tcp)
            .await
            .map_err(|e| format!("{host}:{port}: TLS handshake: {e}"))?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|e| format!("{host}:{port}: {e}"))?;
        let driver = tokio::spawn(conn);
        let path = uri
            .path_and_query()
            .map_or("/", hyper::http::uri::PathAndQuery::as_str)
            .to_owned();
        let mut req = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header(hyper::header::HOST, authority.as_str())
            .header(hyper::header::ACCEPT, "application/json");
        let bytes = match body {
            Some(v) => {
                req = req.header(hyper::header::CONTENT_TYPE, "application/json");
                Bytes::from(v.to_string())
            }
            None => Bytes::new(),
        };
        let req = req
            .body(Full::new(bytes))
            .map_err(|e| format!("request: {e}"))?;
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        let status = resp.status().as_u16();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("{url}: reading the answer: {e}"))?
            .to_bytes();
        drop(sender);
        // The connection ends with the sender; its task only closes it.
        let _ = driver.await;
        Ok((status, serde_json::from_slice(&body).unwrap_or(Value::Null)))
    }
}

/// What `orgcert renew` works on.
#[derive(Debug, Clone)]
pub struct RenewOptions {
    /// The certificate file (PEM); replaced on renewal.
    pub cert: PathBuf,
    /// Its key file (PEM); replaced on renewal (mode 0600).
    pub key: PathBuf,
    /// Base URL of the mutual-TLS listener or machine API, e.g. `https://127.0.0.1:8443`.
    pub url: String,
    /// The CA certificate(s) to trust for the server (PEM).
    pub ca: PathBuf,
    /// Renew when fewer than this many days remain.
    pub days: u32,
    /// Renew whatever remains.
    pub force: bool,
}

/// What one check did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// More than the threshold remains; nothing changed.
    NotDue {
        /// The current certificate's end.
        not_after: OffsetDateTime,
    },
    /// Both files now hold the new certificate and key.
    Renewed {
        /// The new certificate's serial (hex, as the API writes it).
        serial: String,
        /// Its end.
        not_after: OffsetDateTime,
    },
}

fn read(path: &Path, what: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{what} {}: {e}", path.display()))
}

/// (not_after, SubjectPublicKeyInfo DER) of the first certificate in a PEM file.
fn cert_facts(pem: &[u8], what: &str) -> Result<(OffsetDateTime, Vec<u8>), String> {
    let (_, p) = x509_parser::pem::parse_x509_pem(pem)
        .map_err(|e| format!("{what}: not a PEM certificate: {e}"))?;
    let cert = p
        .parse_x509()
        .map_err(|e| format!("{what}: not an X.509 certificate: {e}"))?;
    Ok((
        cert.validity().not_after.to_datetime(),
        cert.tbs_certificate.subject_pki.raw.to_vec(),
    ))
}

/// A problem+json answer as one line for the operator.
fn problem_text(status: u16, v: &Value) -> String {
    let mut s = format!("HTTP {status}");
    if let Some(d) = v["detail"].as_str().or(v["title"].as_str()) {
        s.push_str(": ");
        s.push_str(d);
    }
    if let Some(errs) = v["errors"].as_array() {
        for e in errs {
            s.push_str(&format!(
                " [{}: {}]",
                e["field"].as_str().unwrap_or("?"),
                e["message"].as_str().unwrap_or("?")
            ));
        }
    }
    s
}

/// Checks the certificate and renews it when due (or forced), replacing both files.
///
/// # Errors
/// A message when a file is unreadable, the server refuses (its problem detail), or the
/// files cannot be replaced; the old files then stay as they were.
pub async fn renew_once(o: &RenewOptions, now: OffsetDateTime) -> Result<Outcome, String> {
    let cert_pem = read(&o.cert, "certificate file")?;
    let key_pem = read(&o.key, "key file")?;
    let ca_pem = read(&o.ca, "CA file")?;
    let (not_after, spki) = cert_facts(&cert_pem, "certificate file")?;
    if !o.force && not_after - now > Duration::days(i64::from(o.days)) {
        return Ok(Outcome::NotDue { not_after });
    }
    // Same algorithm as the old key (API.md): the profile was ordered for it.
    let algorithm = SubjectPublicKey::from_spki_der(&spki)
        .map_err(|e| format!("certificate file: its key: {e}"))?
        .algorithm();
    let new_key = generate_key(algorithm).map_err(|e| format!("new key: {e}"))?;
    let pair =
        rcgen::KeyPair::try_from(new_key.pkcs8_der()).map_err(|e| format!("new key: {e}"))?;
    let mut params = rcgen::CertificateParams::default();
    // The CA takes the subject from the profile, not from the request.
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "orgcert renew");
    let csr = params
        .serialize_request(&pair)
        .and_then(|r| r.pem())
        .map_err(|e| format!("CSR: {e}"))?;
    let client = MtlsClient::new(&ca_pem, Some((&cert_pem, &key_pem)))?;
    let url = format!("{}{SELF_RENEW_PATH}", o.url.trim_end_matches('/'));
    let (status, answer) = client
        .request("POST", &url, Some(&json!({ "csr": csr })))
        .await?;
    if status != 201 {
        return Err(format!(
            "self-renewal refused: {}",
            problem_text(status, &answer)
        ));
    }
    let new_pem = answer["certificate_pem"]
        .as_str()
        .ok_or("self-renewal answer without certificate_pem")?;
    let serial = answer["serial"].as_str().unwrap_or_default().to_owned();
    let (new_not_after, new_spki) = cert_facts(new_pem.as_bytes(), "the new certificate")?;
    // Never write a certificate that does not belong to the key written next to it.
    let certified = SubjectPublicKey::from_spki_der(&new_spki)
        .map_err(|e| format!("the new certificate's key: {e}"))?;
    if &certified != new_key.public() {
        return Err("the new certificate is not for the new key; files left unchanged".into());
    }
    let key_text = Wiped(pair.serialize_pem());
    // Key first, then certificate: each rename is atomic; a crash between the two leaves a
    // new key with the old certificate, which the next run's TLS handshake reports
    // (certificate and key mismatch) instead of running on a half-replaced identity.
    write_atomic(&o.key, key_text.0.as_bytes(), 0o600)?;
    write_atomic(&o.cert, new_pem.as_bytes(), 0o644)?;
    Ok(Outcome::Renewed {
        serial,
        not_after: new_not_after,
    })
}

/// A string wiped when dropped (the new private key's PEM).
struct Wiped(String);

impl Drop for Wiped {
    fn drop(&mut self) {
        let mut bytes = std::mem::take(&mut self.0).into_bytes();
        bytes.fill(0);
        // Keeps the overwrite from being optimised away as a dead store.
        std::hint::black_box(&bytes);
    }
}

/// Replaces `path` atomically: a temporary file in the same directory (so the rename
/// stays on one file system) with `mode`, written and fsynced, renamed over the target,
/// then the directory fsynced so the rename survives a crash.
fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<(), String> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| format!("{}: not a file name", path.display()))?
        .to_string_lossy()
        .into_owned();
    let tmp = dir.join(format!(
        ".{name}.{}.{:x}.tmp",
        std::process::id(),
        rand::random::<u64>()
    ));
    let written = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        std::fs::File::open(dir)?.sync_all()
    })();
    written.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!("replacing {}: {e}", path.display())
    })
}

/// Bounds of `--interval` (seconds): at least a minute (no hammering), at most a week
/// (a 30-day threshold is then still met with weeks to spare).
pub const INTERVAL_BOUNDS: (u64, u64) = (60, 7 * 24 * 3600);

/// The pause before the next check: the interval plus up to a tenth of it at random, so
/// that many systems started together do not all call at the same moment.
pub fn next_pause(interval_secs: u64) -> std::time::Duration {
    let interval = interval_secs.clamp(INTERVAL_BOUNDS.0, INTERVAL_BOUNDS.1);
    let jitter = rand::random::<u64>() % (interval / 10 + 1);
    std::time::Duration::from_secs(interval + jitter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_stay_within_the_bounds_plus_a_tenth() {
        for _ in 0..200 {
            let p = next_pause(1).as_secs();
            assert!((60..=66).contains(&p), "{p}");
            let p = next_pause(u64::MAX).as_secs();
            assert!((604_800..=665_280).contains(&p), "{p}");
        }
    }

    #[test]
    fn atomic_write_replaces_with_the_mode_and_leaves_no_temporary() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("k.pem");
        std::fs::write(&f, "old").unwrap();
        write_atomic(&f, b"new", 0o600).unwrap();
        assert_eq!(std::fs::read_to_string(&f).unwrap(), "new");
        let mode = std::fs::metadata(&f).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn plain_http_is_refused_before_connecting() {
        let ca = rcgen::CertificateParams::new(vec!["x".into()])
            .unwrap()
            .self_signed(&rcgen::KeyPair::generate().unwrap())
            .unwrap()
            .pem();
        let c = MtlsClient::new(ca.as_bytes(), None).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let e = rt
            .block_on(c.request("GET", "http://127.0.0.1:1/x", None))
            .unwrap_err();
        assert!(e.contains("must be https"), "{e}");
    }
}
