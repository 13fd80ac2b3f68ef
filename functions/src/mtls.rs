//! The mutual-TLS listener of the embedded default (API.md "System certificates: mutual
//! TLS", DESIGN §5b): the same router over TLS 1.3/1.2 with a required client certificate
//! that chains to our CA. rustls verifies the chain (RFC 5280 path validation by webpki);
//! who the certificate is (system, issued, not revoked) the use cases decide per request
//! from the store, through the [`ClientCertificate`] request extension set here.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use orgcert_http::auth::ClientCertificate;
use orgcert_pki::{generate_key, random_serial, Authority, KeyAlgorithm};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use time::{Duration, OffsetDateTime};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt as _;

/// Default address of the listener (`ORGCERT_MTLS_ADDR`).
pub const DEFAULT_ADDR: &str = "127.0.0.1:8443";
/// Default names of the server certificate (`ORGCERT_MTLS_NAMES`).
pub const DEFAULT_NAMES: &str = "localhost,127.0.0.1";

/// How long the server certificate is valid; a new one is issued at every start.
const SERVER_CERT_DAYS: i64 = 30;

/// A handshake that has not finished by then holds a task for nothing.
const HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Where the listener goes (`ORGCERT_MTLS_ADDR`, `ORGCERT_MTLS_NAMES`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MtlsConfig {
    /// Listen address.
    pub addr: String,
    /// Whether the address is the default rather than asked for: a second local server
    /// then starts without mutual TLS instead of failing on the taken port.
    pub default_addr: bool,
    /// Names of the server certificate.
    pub names: Vec<String>,
}

/// `ORGCERT_MTLS_ADDR` and `ORGCERT_MTLS_NAMES`; `None` when the listener is `off`.
///
/// # Errors
/// A message naming the variable when the names list is empty.
pub fn config_from_env() -> Result<Option<MtlsConfig>, String> {
    let given = std::env::var("ORGCERT_MTLS_ADDR")
        .ok()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty());
    let default_addr = given.is_none();
    let addr = given.unwrap_or_else(|| DEFAULT_ADDR.to_owned());
    if addr.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let names: Vec<String> = std::env::var("ORGCERT_MTLS_NAMES")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_NAMES.to_owned())
        .split(',')
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
        .collect();
    if names.is_empty() {
        return Err("ORGCERT_MTLS_NAMES: give at least one DNS name or IP address".into());
    }
    Ok(Some(MtlsConfig {
        addr,
        default_addr,
        names,
    }))
}

/// The TLS configuration: a fresh server key and certificate from `authority` for
/// `names`, and client certificates required to chain to `authority`'s certificate or to
/// one of `older` (issuing CA generations before a rollover, whose system certificates stay
/// valid until they expire).
///
/// # Errors
/// A message when the names are refused or rustls does not take the material.
pub fn server_config(
    authority: &Authority,
    older: &[Vec<u8>],
    names: &[String],
    now: OffsetDateTime,
) -> Result<ServerConfig, String> {
    let key = generate_key(KeyAlgorithm::EcdsaP256).map_err(|e| format!("TLS key: {e}"))?;
    let cert = authority
        .issue_tls_server(
            key.public(),
            names,
            random_serial(),
            now - Duration::minutes(1),
            now + Duration::days(SERVER_CERT_DAYS),
        )
        .map_err(|e| format!("ORGCERT_MTLS_NAMES: {e}"))?;
    // One explicit provider: the process may link more than one rustls backend.
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from(authority.ca_der().to_vec()))
        .map_err(|e| format!("CA certificate as TLS trust root: {e}"))?;
    for der in older {
        roots
            .add(CertificateDer::from(der.clone()))
            .map_err(|e| format!("older CA certificate as TLS trust root: {e}"))?;
    }
    // Required by default: no anonymous clients (`allow_unauthenticated` is not called).
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| format!("client certificate verifier: {e}"))?;
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| format!("TLS versions: {e}"))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            vec![
                CertificateDer::from(cert.der),
                CertificateDer::from(authority.ca_der().to_vec()),
            ],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.pkcs8_der().to_vec())),
        )
        .map_err(|e| format!("TLS server certificate: {e}"))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// Serves `router` to every client that completes the handshake, until `shutdown`.
pub async fn serve(
    listener: TcpListener,
    config: ServerConfig,
    router: Router,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let acceptor = TlsAcceptor::from(Arc::new(config));
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    // Out of file descriptors and the like: the next accept may work.
                    tracing::warn!(error = %e, "mTLS accept failed");
                    continue;
                }
            },
            () = &mut shutdown => return,
        };
        let acceptor = acceptor.clone();
        let router = router.clone();
        tokio::spawn(async move { connection(acceptor, tcp, peer, router).await });
    }
}

async fn connection(
    acceptor: TlsAcceptor,
    tcp: tokio::net::TcpStream,
    peer: SocketAddr,
    router: Router,
) {
    let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            tracing::debug!(%peer, error = %e, "mTLS handshake refused");
            return;
        }
        Err(_) => return,
    };
    // The verifier required a certificate, so there is one; the leaf comes first.
    let Some(client) = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
        .map(|c| ClientCertificate(Arc::from(c.as_ref())))
    else {
        return;
    };
    let service =
        hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(client.clone());
            req.extensions_mut().insert(ConnectInfo(peer));
            router.clone().oneshot(req.map(axum::body::Body::new))
        });
    if let Err(e) = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
        .serve_connection(TokioIo::new(tls), service)
        .await
    {
        tracing::debug!(%peer, error = %e, "mTLS connection ended");
    }
}
