//! The embedded default: everything in one data dir, one process.

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use orgcert_core::app::{App, Config, NewOrganisation};
use orgcert_core::clock::Clock;
use orgcert_core::model::OrgSettings;
use orgcert_core::ports::Store;
use orgcert_core::secret::{ExposeSecret as _, SecretString};
use orgcert_core::DomainError;
use orgcert_http::auth::{mint_token, Claims, JwtAuthenticator, AUDIENCE, LOCAL_ISSUER};
use orgcert_http::{ApiError, HttpState};
use orgcert_local::{FsObjects, OutboxMailer, SqliteStore};
use orgcert_pki::port::PkiAuthority;
use orgcert_pki::{
    create_ca_certificate, Authority, CaSigner, CaSubject, KeyAlgorithm, KeyFileSigner,
    RsaSignature,
};
use serde::Deserialize;
use serde_json::{json, Value};
use time::{Duration, OffsetDateTime};

/// Settings of the embedded default (API.md "Configuration").
#[derive(Debug, Clone)]
pub struct LocalConfig {
    /// Data dir (`ORGCERT_DATA_DIR`).
    pub data_dir: PathBuf,
    /// Base of links (`ORGCERT_PUBLIC_URL`).
    pub public_url: String,
    /// Base written into certificates (`ORGCERT_PKI_URL`).
    pub pki_url: String,
    /// Key algorithm of a CA created on first start (`ORGCERT_CA_KEY_ALGORITHM`).
    pub ca_key_algorithm: KeyAlgorithm,
    /// Key algorithm of the root created on first start (`ORGCERT_ROOT_KEY_ALGORITHM`,
    /// default RSA-4096 as OCES3's root).
    pub root_key_algorithm: KeyAlgorithm,
    /// RSA CA signatures: RSASSA-PSS (default, as OCES3) or PKCS#1 v1.5
    /// (`ORGCERT_CA_SIGNATURE=pss|pkcs1`).
    pub ca_signature: RsaSignature,
    /// Sign OCSP responses with a delegated responder certificate (`ORGCERT_OCSP_SIGNER`).
    pub ocsp_delegated: bool,
    /// Number of CRL partitions (`ORGCERT_CRL_PARTITIONS`, 0 = none).
    pub crl_partitions: u32,
    /// CRL validity in hours (`ORGCERT_CRL_VALIDITY_HOURS`).
    pub crl_validity_hours: u32,
    /// Renewal reminder thresholds in days (`ORGCERT_REMINDER_DAYS`, e.g. `90,30,7`).
    pub reminder_days: Vec<u32>,
    /// Certificate policy OIDs of every leaf (`ORGCERT_POLICY_OIDS`, comma-separated).
    pub policy_oids: Vec<String>,
    /// nameRegistrationAuthorities URI in the qcStatement (`ORGCERT_NAME_REGISTRATION_AUTHORITY`).
    pub name_registration_authority: Option<String>,
}

fn env_num<T: std::str::FromStr>(name: &str, default: T) -> Result<T, String> {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => v
            .trim()
            .parse()
            .map_err(|_| format!("{name}: not a number: {v:?}")),
        _ => Ok(default),
    }
}

impl LocalConfig {
    /// Reads the environment; `listen` gives the default public URL.
    ///
    /// # Errors
    /// A message naming the variable that does not parse.
    pub fn from_env(data_dir: PathBuf, listen: &str) -> Result<Self, String> {
        let public_url = std::env::var("ORGCERT_PUBLIC_URL")
            .ok()
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| format!("http://{listen}"));
        let pki_url = std::env::var("ORGCERT_PKI_URL")
            .ok()
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| public_url.clone());
        let ca_key_algorithm = match std::env::var("ORGCERT_CA_KEY_ALGORITHM").as_deref() {
            Err(_) | Ok("") | Ok("rsa-3072") => KeyAlgorithm::Rsa3072,
            Ok("ecdsa-p256") => KeyAlgorithm::EcdsaP256,
            Ok("ecdsa-p384") => KeyAlgorithm::EcdsaP384,
            Ok(other) => return Err(format!("ORGCERT_CA_KEY_ALGORITHM: unknown algorithm {other:?} (rsa-3072, ecdsa-p256, ecdsa-p384)")),
        };
        let root_key_algorithm = match std::env::var("ORGCERT_ROOT_KEY_ALGORITHM").as_deref() {
            Err(_) | Ok("") | Ok("rsa-4096") => KeyAlgorithm::Rsa4096,
            Ok("rsa-3072") => KeyAlgorithm::Rsa3072,
            Ok("ecdsa-p256") => KeyAlgorithm::EcdsaP256,
            Ok("ecdsa-p384") => KeyAlgorithm::EcdsaP384,
            Ok(other) => return Err(format!("ORGCERT_ROOT_KEY_ALGORITHM: unknown algorithm {other:?} (rsa-4096, rsa-3072, ecdsa-p256, ecdsa-p384)")),
        };
        let ca_signature = match std::env::var("ORGCERT_CA_SIGNATURE") {
            Ok(v) if !v.trim().is_empty() => v
                .parse::<RsaSignature>()
                .map_err(|_| format!("ORGCERT_CA_SIGNATURE: {v:?} is not pss or pkcs1"))?,
            _ => RsaSignature::Pss,
        };
        let ocsp_delegated = match std::env::var("ORGCERT_OCSP_SIGNER").as_deref() {
            Err(_) | Ok("") | Ok("delegated") => true,
            Ok("ca") => false,
            Ok(other) => {
                return Err(format!(
                    "ORGCERT_OCSP_SIGNER: {other:?} is not ca or delegated"
                ))
            }
        };
        let crl_validity_hours = env_num("ORGCERT_CRL_VALIDITY_HOURS", 24u32)?;
        if crl_validity_hours == 0 || crl_validity_hours > 240 {
            return Err(
                "ORGCERT_CRL_VALIDITY_HOURS must be 1..=240 (DESIGN §5: at most 10 days)".into(),
            );
        }
        let reminder_days = match std::env::var("ORGCERT_REMINDER_DAYS") {
            Ok(v) if !v.trim().is_empty() => v
                .split(',')
                .map(|d| {
                    d.trim().parse::<u32>().map_err(|_| {
                        format!("ORGCERT_REMINDER_DAYS: {d:?} is not a number of days")
                    })
                })
                .collect::<Result<Vec<_>, _>>()?,
            _ => vec![90, 30, 7],
        };
        let policy_oids = orgcert_pki::parse_policy_oids(
            &std::env::var("ORGCERT_POLICY_OIDS").unwrap_or_default(),
        )
        .map_err(|e| format!("ORGCERT_POLICY_OIDS: {e}"))?;
        let name_registration_authority = match std::env::var("ORGCERT_NAME_REGISTRATION_AUTHORITY")
        {
            Ok(v) if !v.trim().is_empty() => Some(
                orgcert_pki::check_name_registration_authority(&v)
                    .map_err(|e| format!("ORGCERT_NAME_REGISTRATION_AUTHORITY: {e}"))?,
            ),
            _ => None,
        };
        Ok(Self {
            data_dir,
            public_url: public_url.trim_end_matches('/').to_owned(),
            pki_url: pki_url.trim_end_matches('/').to_owned(),
            ca_key_algorithm,
            root_key_algorithm,
            ca_signature,
            ocsp_delegated,
            crl_partitions: env_num("ORGCERT_CRL_PARTITIONS", 0u32)?,
            crl_validity_hours,
            reminder_days,
            policy_oids,
            name_registration_authority,
        })
    }

    /// Defaults for a data dir and URLs (tests and tools); the root key has the CA key's
    /// algorithm (RSA-4096 key generation is slow).
    pub fn new(
        data_dir: PathBuf,
        public_url: &str,
        pki_url: &str,
        ca_key_algorithm: KeyAlgorithm,
    ) -> Self {
        Self {
            data_dir,
            public_url: public_url.trim_end_matches('/').to_owned(),
            pki_url: pki_url.trim_end_matches('/').to_owned(),
            ca_key_algorithm,
            root_key_algorithm: ca_key_algorithm,
            ca_signature: RsaSignature::Pss,
            ocsp_delegated: true,
            crl_partitions: 0,
            crl_validity_hours: 24,
            reminder_days: vec![90, 30, 7],
            policy_oids: Authority::default_policies(),
            name_registration_authority: None,
        }
    }
}

/// The ES256 key that signs local bearer tokens.
pub struct TokenKeys {
    pkcs8_pem: SecretString,
    public_pem: String,
    jwks: Value,
}

impl TokenKeys {
    /// A bearer token for a user of an organisation.
    ///
    /// # Errors
    /// `Internal` when signing fails.
    pub fn token(
        &self,
        org: &str,
        email: &str,
        name: &str,
        roles: &[&str],
        ttl: Duration,
    ) -> Result<String, DomainError> {
        self.token_issued_at(org, email, name, roles, ttl, OffsetDateTime::now_utc())
    }

    /// As [`TokenKeys::token`], logged in at `issued_at` (JWT `iat`; tests with a clock of
    /// their own).
    ///
    /// # Errors
    /// `Internal` when signing fails.
    pub fn token_issued_at(
        &self,
        org: &str,
        email: &str,
        name: &str,
        roles: &[&str],
        ttl: Duration,
        issued_at: OffsetDateTime,
    ) -> Result<String, DomainError> {
        let now = issued_at.unix_timestamp();
        mint_token(
            self.pkcs8_pem.expose_secret(),
            &Claims {
                sub: email.to_owned(),
                email: email.to_owned(),
                name: name.to_owned(),
                org: org.to_owned(),
                roles: roles.iter().map(|r| (*r).to_owned()).collect(),
                iss: LOCAL_ISSUER.into(),
                aud: AUDIENCE.into(),
                iat: now,
                exp: now + ttl.whole_seconds(),
            },
        )
    }
    /// The JWKS document.
    pub fn jwks(&self) -> &Value {
        &self.jwks
    }

    /// The public key (PEM) that verifies these tokens (`serve --backend aws`).
    pub fn public_pem(&self) -> &str {
        &self.public_pem
    }
}

/// The composed embedded service.
pub struct Local {
    /// Router state (use cases + authenticator).
    pub state: HttpState,
    /// Mail outbox.
    pub outbox: Arc<OutboxMailer>,
    /// Objects with signed links.
    pub objects: Arc<FsObjects>,
    /// Token keys.
    pub tokens: Arc<TokenKeys>,
    /// Store (for tooling).
    pub store: Arc<SqliteStore>,
    /// Whether the demo organisation was created by this start.
    pub created_demo: bool,
    /// Base of links (`ORGCERT_PUBLIC_URL`): its host also names this machine.
    pub public_url: String,
    /// The issuing CA (the mutual-TLS listener's server certificate and trust root).
    pub authority: Arc<Authority>,
}

fn internal(what: &str) -> impl Fn(std::io::Error) -> DomainError + '_ {
    move |e| DomainError::Internal(format!("{what}: {e}"))
}

/// Reads a key file straight into the secret wrapper (zeroized on drop, never printed).
fn read_secret(path: &Path, what: &str) -> Result<SecretString, DomainError> {
    fs::read_to_string(path)
        .map(SecretString::from)
        .map_err(internal(what))
}

fn write_private(path: &Path, text: &SecretString) -> Result<(), DomainError> {
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(internal("writing a key file"))?;
    f.write_all(text.expose_secret().as_bytes())
        .map_err(internal("writing a key file"))
}

/// Years of the root created on first start (OCES3's root: 25).
const ROOT_YEARS: i64 = 25;
/// Years of an issuing CA (leaves live 3 years; roll over well before the end).
const ISSUING_YEARS: i64 = 10;
/// The root CRL is re-signed at start when less than this is left of it.
const ROOT_CRL_RESIGN_LEFT: Duration = Duration::days(90);
/// How long a root CRL runs.
const ROOT_CRL_VALIDITY: Duration = Duration::days(365);

/// The CA as loaded: the issuing authority and, with two tiers, the root CRL.
struct LoadedCa {
    authority: Authority,
    /// Older issuing CA generations still serving status, oldest first.
    older: Vec<Authority>,
    root_crl: Option<Vec<u8>>,
}

fn pki(e: orgcert_pki::PkiError) -> DomainError {
    DomainError::Internal(format!("CA: {e}"))
}

/// Loads a key file, or generates and writes one (removing `cert_path`, which belonged to
/// the key that is gone).
fn load_or_create_key(
    key_path: &Path,
    cert_path: &Path,
    alg: KeyAlgorithm,
    scheme: RsaSignature,
) -> Result<KeyFileSigner, DomainError> {
    let signer = if key_path.exists() {
        KeyFileSigner::from_pkcs8_pem(
            read_secret(key_path, "reading a CA key file")?.expose_secret(),
        )
        .map_err(pki)?
    } else {
        let s = KeyFileSigner::generate(alg).map_err(pki)?;
        write_private(key_path, &s.to_pkcs8_pem())?;
        let _ = fs::remove_file(cert_path);
        s
    };
    signer.with_rsa_signature(scheme).map_err(pki)
}

fn read_cert(path: &Path) -> Result<Vec<u8>, DomainError> {
    let text = fs::read_to_string(path).map_err(internal("reading a CA certificate"))?;
    pem_der(&text).ok_or_else(|| {
        DomainError::Internal(format!("{} is not a PEM certificate", path.display()))
    })
}

/// The root of a two-tier data dir (`root.key`, `root.pem`, `root.crl`), created on first
/// start; its key signs only issuing CA certificates and the root CRL.
fn load_or_create_root(
    cfg: &LocalConfig,
    now: OffsetDateTime,
) -> Result<(orgcert_pki::Root, Vec<u8>), DomainError> {
    let key_path = cfg.data_dir.join("root.key");
    let cert_path = cfg.data_dir.join("root.pem");
    let crl_path = cfg.data_dir.join("root.crl");
    let signer: Arc<dyn CaSigner> = Arc::new(load_or_create_key(
        &key_path,
        &cert_path,
        cfg.root_key_algorithm,
        cfg.ca_signature,
    )?);
    let der = if cert_path.exists() {
        read_cert(&cert_path)?
    } else {
        let subject = CaSubject {
            common_name: "orgcert Demo Root CA".into(),
            organisation: "orgcert".into(),
            country: "DK".into(),
        };
        let der = orgcert_pki::create_root_certificate(
            signer.as_ref(),
            &subject,
            now - Duration::minutes(5),
            now + Duration::days(ROOT_YEARS * 365),
        )
        .map_err(pki)?;
        fs::write(&cert_path, orgcert_pki::to_pem("CERTIFICATE", &der))
            .map_err(internal("writing root.pem"))?;
        let _ = fs::remove_file(&crl_path);
        der
    };
    let root = orgcert_pki::Root::new(signer, der, &cfg.pki_url).map_err(pki)?;
    let stored = fs::read(&crl_path).ok().filter(|crl| {
        orgcert_pki::crl_next_update(crl).is_some_and(|next| next - now > ROOT_CRL_RESIGN_LEFT)
    });
    let crl = match stored {
        Some(crl) => crl,
        None => {
            // The clock gives a monotonic cRLNumber without keeping a counter.
            let number = u64::try_from(now.unix_timestamp()).unwrap_or(1);
            let crl = root
                .sign_crl(number, now, now + ROOT_CRL_VALIDITY, &[])
                .map_err(pki)?;
            fs::write(&crl_path, &crl).map_err(internal("writing root.crl"))?;
            crl
        }
    };
    Ok((root, crl))
}

/// Loads the CA from the data dir, creating it on first start: a root (`root.key`,
/// `root.pem`) and an issuing CA under it (`ca.key`, `ca.pem`). A data dir from before the
/// two tiers (`ca.key` without `root.key`) keeps its self-signed CA as its own root.
fn load_or_create_ca(cfg: &LocalConfig, now: OffsetDateTime) -> Result<LoadedCa, DomainError> {
    let key_path = cfg.data_dir.join("ca.key");
    let cert_path = cfg.data_dir.join("ca.pem");
    let two_tier = cfg.data_dir.join("root.key").exists() || !key_path.exists();
    let root = if two_tier {
        Some(load_or_create_root(cfg, now)?)
    } else {
        None
    };
    let signer: Arc<dyn CaSigner> = Arc::new(load_or_create_key(
        &key_path,
        &cert_path,
        cfg.ca_key_algorithm,
        cfg.ca_signature,
    )?);
    let der = if cert_path.exists() {
        read_cert(&cert_path)?
    } else {
        let subject = CaSubject {
            common_name: "orgcert Demo Issuing CA 1".into(),
            organisation: "orgcert".into(),
            country: "DK".into(),
        };
        let public = orgcert_pki::SubjectPublicKey::from_spki_der(&signer.public_key_spki_der())
            .map_err(pki)?;
        let der = match &root {
            Some((root, _)) => {
                let not_after = (now + Duration::days(ISSUING_YEARS * 365)).min(root.not_after());
                root.issue_issuing_ca(&public, &subject, now - Duration::minutes(5), not_after)
                    .map_err(pki)?
            }
            None => create_ca_certificate(
                signer.as_ref(),
                &subject,
                now - Duration::minutes(5),
                now + Duration::days(20 * 365),
            )
            .map_err(pki)?,
        };
        fs::write(&cert_path, orgcert_pki::to_pem("CERTIFICATE", &der))
            .map_err(internal("writing ca.pem"))?;
        der
    };
    let chain = root
        .as_ref()
        .map(|(r, _)| vec![r.der().to_vec()])
        .unwrap_or_default();
    let mut generations = vec![bind(cfg, signer, der, 1, chain.clone())?];
    // Later generations from `orgcert ca rollover`: ca-2.key/ca-2.pem, ca-3.key/...
    for n in 2.. {
        let (key_path, cert_path) = generation_files(cfg, n);
        if !(key_path.exists() && cert_path.exists()) {
            break;
        }
        let signer: Arc<dyn CaSigner> = Arc::new(load_or_create_key(
            &key_path,
            &cert_path,
            cfg.ca_key_algorithm,
            cfg.ca_signature,
        )?);
        generations.push(bind(cfg, signer, read_cert(&cert_path)?, n, chain.clone())?);
    }
    let authority = generations
        .pop()
        .ok_or_else(|| DomainError::Internal("no CA".into()))?;
    // Older generations serve status until their own certificate expires (and with it
    // every certificate they issued).
    let older = generations
        .into_iter()
        .filter(|a| a.not_after() > now)
        .collect();
    Ok(LoadedCa {
        authority,
        older,
        root_crl: root.map(|(_, crl)| crl),
    })
}

/// Binds an issuing CA key to its certificate as generation `generation`.
fn bind(
    cfg: &LocalConfig,
    signer: Arc<dyn CaSigner>,
    der: Vec<u8>,
    generation: u32,
    chain: Vec<Vec<u8>>,
) -> Result<Authority, DomainError> {
    Ok(
        Authority::new(signer, der, &cfg.pki_url, cfg.policy_oids.clone())
            .and_then(|a| {
                a.with_name_registration_authority(cfg.name_registration_authority.as_deref())
            })
            .map_err(pki)?
            .with_generation(generation)
            .with_chain(chain),
    )
}

/// The key and certificate files of issuing CA generation `n` (1: `ca.key`, `ca.pem`).
fn generation_files(cfg: &LocalConfig, n: u32) -> (PathBuf, PathBuf) {
    if n == 1 {
        return (cfg.data_dir.join("ca.key"), cfg.data_dir.join("ca.pem"));
    }
    (
        cfg.data_dir.join(format!("ca-{n}.key")),
        cfg.data_dir.join(format!("ca-{n}.pem")),
    )
}

/// `orgcert ca rollover`: a new issuing CA generation under the root (`ca-{n}.key`,
/// `ca-{n}.pem`). A server picks it up at its next start: new certificates come from it,
/// while the older generations keep their CRLs and OCSP answers until they expire.
/// Returns the new generation's number and certificate (DER).
///
/// # Errors
/// `Conflict` for a single-tier data dir (no root to sign with); `Internal` when files
/// cannot be read or written.
pub fn rollover(cfg: &LocalConfig, now: OffsetDateTime) -> Result<(u32, Vec<u8>), DomainError> {
    if !cfg.data_dir.join("root.key").exists() || !cfg.data_dir.join("ca.pem").exists() {
        return Err(DomainError::Conflict(
            "no root CA in this data dir: a single-tier CA (or none yet) cannot roll over".into(),
        ));
    }
    let (root, _) = load_or_create_root(cfg, now)?;
    let n = (2..)
        .find(|n| !generation_files(cfg, *n).1.exists())
        .unwrap_or(2);
    let (key_path, cert_path) = generation_files(cfg, n);
    let signer = load_or_create_key(
        &key_path,
        &cert_path,
        cfg.ca_key_algorithm,
        cfg.ca_signature,
    )?;
    let public =
        orgcert_pki::SubjectPublicKey::from_spki_der(&signer.public_key_spki_der()).map_err(pki)?;
    let subject = CaSubject {
        common_name: format!("orgcert Demo Issuing CA {n}"),
        organisation: "orgcert".into(),
        country: "DK".into(),
    };
    let not_after = (now + Duration::days(ISSUING_YEARS * 365)).min(root.not_after());
    let der = root
        .issue_issuing_ca(&public, &subject, now - Duration::minutes(5), not_after)
        .map_err(pki)?;
    fs::write(&cert_path, orgcert_pki::to_pem("CERTIFICATE", &der))
        .map_err(internal("writing the new issuing CA certificate"))?;
    Ok((n, der))
}

fn pem_der(text: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    let body: String = text
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN CERTIFICATE"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    base64::engine::general_purpose::STANDARD.decode(body).ok()
}

/// Rebuilds the CRL in the background shortly after a revocation (coalescing bursts).
#[derive(Default)]
pub struct CrlRebuilder {
    notify: Arc<tokio::sync::Notify>,
}

impl CrlRebuilder {
    fn start(&self, app: App) {
        let notify = self.notify.clone();
        tokio::spawn(async move {
            loop {
                notify.notified().await;
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                if let Err(e) = app.rebuild_crls(app.clock.now()).await {
                    tracing::warn!(error = %e, "CRL rebuild after revocation failed; the crl-refresh job will retry");
                }
            }
        });
    }
}

impl orgcert_core::ports::StatusEvents for CrlRebuilder {
    fn crl_stale(&self) {
        self.notify.notify_one();
    }
}

/// Loads the token key, creating it on first start.
pub fn load_token_keys(data_dir: &Path) -> Result<TokenKeys, DomainError> {
    let path = data_dir.join("jwt.key");
    let signer = if path.exists() {
        KeyFileSigner::from_pkcs8_pem(read_secret(&path, "reading jwt.key")?.expose_secret())
    } else {
        let s = KeyFileSigner::generate(KeyAlgorithm::EcdsaP256)
            .map_err(|e| DomainError::Internal(e.to_string()))?;
        write_private(&path, &s.to_pkcs8_pem())?;
        Ok(s)
    }
    .map_err(|e| DomainError::Internal(format!("jwt.key: {e}")))?;
    let spki = signer.public_key_spki_der();
    let public_pem = orgcert_pki::to_pem("PUBLIC KEY", &spki);
    // P-256 SPKI ends with the uncompressed point 04 || x || y (RFC 5480).
    let point = &spki[spki.len() - 65..];
    use base64::Engine as _;
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let jwks = json!({ "keys": [{ "kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig",
        "x": b64(&point[1..33]), "y": b64(&point[33..65]) }] });
    Ok(TokenKeys {
        pkcs8_pem: signer.to_pkcs8_pem(),
        public_pem,
        jwks,
    })
}

/// The demo organisation created on first start.
pub fn demo_organisation() -> NewOrganisation {
    NewOrganisation {
        cvr: DEMO_CVR.into(),
        name: "Demo Organisation ApS".into(),
        p_numbers: vec!["1000000001".into(), "1000000002".into()],
        se_numbers: vec!["12345674".into(), "23456780".into()],
        settings: OrgSettings {
            organisation_certificates_enabled: true,
            seal_generation_allowed: true,
            local_idp_enabled: false,
            nemhandel_enabled: true,
        },
    }
}

/// An organisation like the demo one, with another CVR and name (tests, tooling).
pub fn demo_organisation_with(cvr: &str, name: &str) -> NewOrganisation {
    NewOrganisation {
        cvr: cvr.into(),
        name: name.into(),
        ..demo_organisation()
    }
}

/// CVR of the demo organisation (passes the modulus 11 check).
pub const DEMO_CVR: &str = "12345674";

/// The demo users: (label, email, name, roles).
pub const DEMO_USERS: &[(&str, &str, &str, &[&str])] = &[
    (
        "user admin",
        "ulla.admin@demo-org.dk",
        "Ulla Admin",
        &["user_admin"],
    ),
    (
        "rights admin",
        "rikke.rights@demo-org.dk",
        "Rikke Rights",
        &["rights_admin"],
    ),
    (
        "org admin",
        "ole.org@demo-org.dk",
        "Ole Org",
        &["org_admin"],
    ),
    (
        "demo contact",
        "carl.contact@demo-org.dk",
        "Carl Contact",
        &[],
    ),
];

/// Opens (or creates) the data dir and composes the service.
///
/// # Errors
/// `Internal`/`Unavailable` when the data dir, keys or database cannot be used.
pub async fn open(cfg: &LocalConfig, clock: Arc<dyn Clock>) -> Result<Local, DomainError> {
    fs::create_dir_all(&cfg.data_dir).map_err(internal("creating the data dir"))?;
    let _ = fs::set_permissions(&cfg.data_dir, fs::Permissions::from_mode(0o700));
    let now = clock.now();
    let dir = cfg.data_dir.clone();
    let ca_cfg = cfg.clone();
    // Key generation (RSA-3072) is CPU work: keep it off the async workers.
    let (authority, tokens) = tokio::task::spawn_blocking(move || {
        Ok::<_, DomainError>((load_or_create_ca(&ca_cfg, now)?, load_token_keys(&dir)?))
    })
    .await
    .map_err(|e| DomainError::Internal(e.to_string()))??;
    let store = Arc::new(
        SqliteStore::open(&cfg.data_dir.join("orgcert.db"))?.with_ocsp_cache(
            orgcert_core::ocsp_cache::ttl_from_env(orgcert_local::store::OCSP_CACHE_TTL)
                .map_err(DomainError::Internal)?,
        ),
    );
    let objects = Arc::new(FsObjects::new(&cfg.data_dir, &cfg.public_url)?);
    let outbox = Arc::new(OutboxMailer::new(&cfg.data_dir)?);
    let LoadedCa {
        authority,
        older,
        root_crl,
    } = authority;
    let authority = Arc::new(authority);
    let mut ca = PkiAuthority::new(authority.clone())
        .with_older_generations(older.into_iter().map(Arc::new).collect());
    if let Some(crl) = root_crl {
        ca = ca.with_root_crl(crl);
    }
    if cfg.ocsp_delegated {
        // The same scheme as AWS (DESIGN §5a): a short-lived delegated responder whose key
        // lives in memory; the key file makes minting free, so it is minted on demand.
        ca = ca.with_rotating_responder(
            Arc::new(orgcert_pki::port::MemoryResponderStore::default()),
            true,
        );
    }
    let mut config = Config::new(cfg.public_url.clone());
    config.crl_partitions = cfg.crl_partitions;
    config.crl_validity = Duration::hours(i64::from(cfg.crl_validity_hours));
    config.reminder_days = cfg.reminder_days.clone();
    config.code_key = Some(orgcert_local::load_or_create_code_key(&cfg.data_dir)?);
    let events = Arc::new(CrlRebuilder::default());
    let app = App {
        store: store.clone(),
        ca: Arc::new(ca),
        objects: objects.clone(),
        mailer: outbox.clone(),
        clock,
        events: events.clone(),
        config,
    };
    events.start(app.clone());
    let created_demo = if store.organisations().await?.is_empty() {
        app.add_organisation(demo_organisation()).await?;
        true
    } else {
        false
    };
    let auth = Arc::new(JwtAuthenticator::from_public_pem(
        &tokens.public_pem,
        LOCAL_ISSUER,
        AUDIENCE,
    )?);
    Ok(Local {
        state: HttpState::new(app, auth),
        outbox,
        objects,
        tokens: Arc::new(tokens),
        store,
        created_demo,
        public_url: cfg.public_url.clone(),
        authority,
    })
}

#[derive(Clone)]
struct LocalState {
    objects: Arc<FsObjects>,
    outbox: Arc<OutboxMailer>,
    tokens: Arc<TokenKeys>,
    clock: Arc<dyn Clock>,
    store: Arc<SqliteStore>,
    app: App,
}

#[derive(Deserialize)]
struct LinkQuery {
    expires: Option<i64>,
    sig: Option<String>,
}

async fn object(
    State(s): State<LocalState>,
    UrlPath(key): UrlPath<String>,
    Query(q): Query<LinkQuery>,
) -> Response {
    let (Some(expires), Some(sig)) = (q.expires, q.sig) else {
        return ApiError(DomainError::Forbidden("the link is not signed".into())).into_response();
    };
    match s.objects.verify(&key, expires, &sig, s.clock.now()).await {
        Ok(bytes) => {
            let name = key
                .rsplit('/')
                .next()
                .unwrap_or("certificate.p12")
                .to_owned();
            (
                [
                    (header::CONTENT_TYPE, "application/x-pkcs12".to_owned()),
                    (
                        header::CONTENT_DISPOSITION,
                        format!("attachment; filename=\"{name}\""),
                    ),
                    (header::CACHE_CONTROL, "no-store".to_owned()),
                ],
                bytes,
            )
                .into_response()
        }
        Err(e) => {
            use orgcert_local::LinkError as L;
            let (status, err) = match &e {
                L::Expired => (StatusCode::GONE, DomainError::Gone(e.to_string())),
                L::NotFound => (StatusCode::NOT_FOUND, DomainError::NotFound("download")),
                L::Unavailable(m) => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    DomainError::Unavailable(m.clone()),
                ),
                _ => (StatusCode::FORBIDDEN, DomainError::Forbidden(e.to_string())),
            };
            let mut r = ApiError(err).into_response();
            *r.status_mut() = status;
            r
        }
    }
}

async fn outbox(State(s): State<LocalState>) -> Response {
    Json(json!(s.outbox.list())).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    org: String,
    email: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    roles: Vec<String>,
}

/// Local-only sign-in for the browser pages: a token for a user of the data dir.
async fn login(State(s): State<LocalState>, body: axum::body::Bytes) -> Response {
    let parsed: Result<LoginBody, _> = serde_json::from_slice(&body);
    let b = match parsed {
        Ok(b) => b,
        Err(e) => {
            return ApiError(DomainError::Malformed {
                field: None,
                message: e.to_string(),
            })
            .into_response()
        }
    };
    if let Some(bad) = b
        .roles
        .iter()
        .find(|r| orgcert_core::auth::Role::parse(r).is_none())
    {
        return ApiError(DomainError::invalid("roles", format!("unknown role {bad}")))
            .into_response();
    }
    if orgcert_core::ids::Email::parse(&b.email).is_err() {
        return ApiError(DomainError::invalid("email", "not an email address")).into_response();
    }
    let roles: Vec<&str> = b.roles.iter().map(String::as_str).collect();
    match s
        .tokens
        .token(&b.org, &b.email, &b.name, &roles, Duration::hours(8))
    {
        Ok(t) => (
            [(header::CACHE_CONTROL, "no-store")],
            Json(json!({ "token": t, "expires_in": 8 * 3600 })),
        )
            .into_response(),
        Err(e) => ApiError(e).into_response(),
    }
}

/// The users the local sign-in page offers: the demo administrators of each organisation
/// and the contacts of its profiles.
async fn users(State(s): State<LocalState>) -> Response {
    let orgs = match s.store.organisations().await {
        Ok(o) => o,
        Err(e) => return ApiError(e).into_response(),
    };
    let mut out = Vec::new();
    for org in orgs {
        for (label, email, name, roles) in DEMO_USERS.iter().filter(|u| !u.3.is_empty()) {
            out.push(json!({ "org": org.cvr, "organisation": org.name, "email": email, "name": name, "roles": roles, "label": label }));
        }
        let query = orgcert_core::ports::ProfileQuery {
            limit: 200,
            ..Default::default()
        };
        let mut contacts: Vec<String> = match s.store.profiles(&org.cvr, &query).await {
            Ok(p) => p
                .items
                .iter()
                .map(|p| p.contact_email.to_string().to_ascii_lowercase())
                .collect(),
            Err(e) => return ApiError(e).into_response(),
        };
        if org.cvr.as_str() == DEMO_CVR {
            contacts.push(DEMO_USERS[3].1.to_owned());
        }
        contacts.sort();
        contacts.dedup();
        for c in contacts {
            out.push(json!({ "org": org.cvr, "organisation": org.name, "email": c, "name": "", "roles": [], "label": "contact" }));
        }
    }
    Json(json!({ "users": out })).into_response()
}

#[derive(Deserialize)]
struct JobQuery {
    now: Option<String>,
}

/// Runs a scheduled job now (or as of `?now=RFC3339`).
async fn job(
    State(s): State<LocalState>,
    UrlPath(name): UrlPath<String>,
    Query(q): Query<JobQuery>,
) -> Response {
    let Some(job) = orgcert_core::app::Job::from_name(&name) else {
        return ApiError(DomainError::NotFound("job")).into_response();
    };
    let now = match q
        .now
        .as_deref()
        .map(|t| OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339))
    {
        None => s.clock.now(),
        Some(Ok(t)) => t,
        Some(Err(_)) => {
            return ApiError(DomainError::Malformed {
                field: Some("now".into()),
                message: "now must be an RFC 3339 time".into(),
            })
            .into_response()
        }
    };
    match s.app.run_job(job, now).await {
        Ok(r) => Json(json!(r)).into_response(),
        Err(e) => ApiError(e).into_response(),
    }
}

async fn jwks(State(s): State<LocalState>) -> Json<Value> {
    Json(s.tokens.jwks().clone())
}

/// Who may reach the machine-only routes: the names this machine answers to.
#[derive(Clone)]
struct MachineNames {
    /// Host of `ORGCERT_PUBLIC_URL` (lower case), besides the loopback names.
    public_host: Option<String>,
}

impl MachineNames {
    fn new(public_url: &str) -> Self {
        let public_host = public_url.parse::<axum::http::Uri>().ok().and_then(|u| {
            u.host()
                .map(|h| h.trim_matches(['[', ']']).to_ascii_lowercase())
        });
        Self { public_host }
    }

    /// Whether a `Host` header value (`name`, `name:port`, `[v6]:port`) names this machine.
    fn names_this_machine(&self, host: &str) -> bool {
        // A Host header is `host[:port]`; user info (`x@127.0.0.1`) has no place in it.
        let Ok(authority) = host.parse::<axum::http::uri::Authority>() else {
            return false;
        };
        if authority.as_str().contains('@') {
            return false;
        }
        let name = authority
            .host()
            .trim_matches(['[', ']'])
            .trim_end_matches('.')
            .to_ascii_lowercase();
        name == "localhost"
            || name
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.to_canonical().is_loopback())
            || self.public_host.as_deref() == Some(name.as_str())
    }
}

/// 415 as problem+json (RFC 9457), naming the header at fault.
fn unsupported_media_type() -> Response {
    let detail = "local-only routes that change state accept only Content-Type: application/json";
    (
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        [(header::CONTENT_TYPE, "application/problem+json")],
        Json(json!({
            "type": "urn:orgcert:problem:unsupported-media-type",
            "title": "Unsupported media type",
            "status": 415,
            "detail": detail,
            "errors": [{ "field": "Content-Type", "message": detail }],
        })),
    )
        .into_response()
}

fn refuse(message: &str) -> Response {
    ApiError(DomainError::Forbidden(message.into())).into_response()
}

/// Guards the routes that hand out tokens and mail or run jobs (API.md "Local-only routes"):
/// the TCP peer must be on this machine, and the `Host` header must name this machine, so
/// that a page from elsewhere whose name was rebound to 127.0.0.1 (DNS rebinding) is
/// refused; a state-changing request must be `application/json`, which no cross-site form
/// can send without a CORS preflight that we never grant (Fetch standard, "CORS-safelisted
/// request-header").
async fn machine_only(
    State(names): State<MachineNames>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let Some(peer) = req
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip().to_canonical())
    else {
        // A server that does not know its peers cannot tell this machine from another.
        return refuse("local-only route: the server cannot tell where this request comes from");
    };
    if !peer.is_loopback() {
        return refuse("local-only route: use it from the machine the server runs on");
    }
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()));
    if !host.is_some_and(|h| names.names_this_machine(h)) {
        return refuse(
            "local-only route: the Host header must name this machine (localhost, a loopback \
             address or the host of ORGCERT_PUBLIC_URL)",
        );
    }
    if req.method() != axum::http::Method::GET && req.method() != axum::http::Method::HEAD {
        let json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"));
        if !json {
            return unsupported_media_type();
        }
    }
    next.run(req).await
}

/// Who may reach a local-only route (API.md "Local-only routes").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalAccess {
    /// Anyone who has the link: the HMAC-signed download, the token verification key.
    Public,
    /// This machine only (see [`machine_only`]); its POSTs take only JSON.
    Machine,
}

/// The routes of the embedded default besides the shared API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalRoute {
    /// `GET /_local/objects/{key}?expires=&sig=`: the presigned download.
    Object,
    /// `GET /_local/jwks.json`.
    Jwks,
    /// `GET /_local/outbox`: mails, with their issuance links.
    Outbox,
    /// `GET /_local/users`: the users the sign-in page offers.
    Users,
    /// `POST /_local/login`: a token for a user of the data dir.
    Login,
    /// `POST /_local/jobs/{name}`: run a scheduled job now.
    Job,
}

impl LocalRoute {
    /// Every local route.
    pub const ALL: [LocalRoute; 6] = [
        Self::Object,
        Self::Jwks,
        Self::Outbox,
        Self::Users,
        Self::Login,
        Self::Job,
    ];

    /// Path template (axum syntax).
    pub fn path(self) -> &'static str {
        match self {
            Self::Object => "/_local/objects/{*key}",
            Self::Jwks => "/_local/jwks.json",
            Self::Outbox => "/_local/outbox",
            Self::Users => "/_local/users",
            Self::Login => "/_local/login",
            Self::Job => "/_local/jobs/{name}",
        }
    }

    /// Whether it changes state (POST) rather than reads (GET).
    pub fn is_post(self) -> bool {
        matches!(self, Self::Login | Self::Job)
    }

    /// Who may reach it. Sign-in, the outbox (which holds issuance links), the user list
    /// and jobs are for this machine only.
    pub fn access(self) -> LocalAccess {
        match self {
            Self::Object | Self::Jwks => LocalAccess::Public,
            Self::Outbox | Self::Users | Self::Login | Self::Job => LocalAccess::Machine,
        }
    }

    fn handler(self) -> axum::routing::MethodRouter<LocalState> {
        match self {
            Self::Object => get(object),
            Self::Jwks => get(jwks),
            Self::Outbox => get(outbox),
            Self::Users => get(users),
            Self::Login => axum::routing::post(login),
            Self::Job => axum::routing::post(job),
        }
    }
}

/// The full local router: the shared API plus the local-only routes.
pub fn router(local: &Local) -> Router {
    let ls = LocalState {
        objects: local.objects.clone(),
        outbox: local.outbox.clone(),
        tokens: local.tokens.clone(),
        clock: local.state.app.clock.clone(),
        store: local.store.clone(),
        app: local.state.app.clone(),
    };
    let routes = |access: LocalAccess| {
        LocalRoute::ALL
            .iter()
            .filter(|r| r.access() == access)
            .fold(Router::new(), |router, r| {
                router.route(r.path(), r.handler())
            })
    };
    let machine = routes(LocalAccess::Machine)
        .layer(axum::middleware::from_fn_with_state(
            MachineNames::new(&local.public_url),
            machine_only,
        ))
        .with_state(ls.clone());
    let public = routes(LocalAccess::Public).with_state(ls);
    orgcert_http::router(local.state.clone())
        .merge(public)
        .merge(machine)
        .merge(orgcert_web::routes())
}
