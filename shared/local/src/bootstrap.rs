//! The CA of the data dir: a root and issuing CA generations created on first start,
//! loaded on every start, and `orgcert ca rollover`.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use orgcert_core::secret::ExposeSecret as _;
use orgcert_core::DomainError;
use orgcert_pki::{
    create_ca_certificate, Authority, CaSigner, CaSubject, KeyAlgorithm, KeyFileSigner,
    RsaSignature,
};
use time::{Duration, OffsetDateTime};

use crate::config::LocalConfig;
use crate::keyfile::{internal, read_secret, write_private};

/// Years of the root created on first start (OCES3's root: 25).
const ROOT_YEARS: i64 = 25;
/// Years of an issuing CA (leaves live 3 years; roll over well before the end).
const ISSUING_YEARS: i64 = 10;
/// The root CRL is re-signed at start when less than this is left of it.
const ROOT_CRL_RESIGN_LEFT: Duration = Duration::days(90);
/// How long a root CRL runs.
const ROOT_CRL_VALIDITY: Duration = Duration::days(365);

/// The CA as loaded: the issuing authority and, with two tiers, the root CRL.
pub struct LoadedCa {
    /// The current issuing CA generation.
    pub authority: Authority,
    /// Older issuing CA generations still serving status, oldest first.
    pub older: Vec<Authority>,
    /// The root CRL, with two tiers.
    pub root_crl: Option<Vec<u8>>,
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

/// A CA key of the data dir and its certificate; on first start (no certificate yet)
/// `create` makes the certificate, which is written as PEM to `cert_path`.
fn load_or_create_pair(
    key_path: &Path,
    cert_path: &Path,
    alg: KeyAlgorithm,
    scheme: RsaSignature,
    create: impl FnOnce(&dyn CaSigner) -> Result<Vec<u8>, DomainError>,
) -> Result<(Arc<dyn CaSigner>, Vec<u8>), DomainError> {
    let signer: Arc<dyn CaSigner> = Arc::new(load_or_create_key(key_path, cert_path, alg, scheme)?);
    let der = if cert_path.exists() {
        read_cert(cert_path)?
    } else {
        let der = create(signer.as_ref())?;
        fs::write(cert_path, orgcert_pki::to_pem("CERTIFICATE", &der))
            .map_err(internal("writing a CA certificate"))?;
        der
    };
    Ok((signer, der))
}

/// The subject of a CA the data dir creates.
fn demo_subject(common_name: String) -> CaSubject {
    CaSubject {
        common_name,
        organisation: "orgcert".into(),
        country: "DK".into(),
    }
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
    let (signer, der) = load_or_create_pair(
        &key_path,
        &cert_path,
        cfg.root_key_algorithm,
        cfg.ca_signature,
        |signer| {
            // A new root: a CRL of the old one would not verify.
            let _ = fs::remove_file(&crl_path);
            orgcert_pki::create_root_certificate(
                signer,
                &demo_subject("orgcert Demo Root CA".into()),
                now - Duration::minutes(5),
                now + Duration::days(ROOT_YEARS * 365),
            )
            .map_err(pki)
        },
    )?;
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
pub fn load_or_create_ca(cfg: &LocalConfig, now: OffsetDateTime) -> Result<LoadedCa, DomainError> {
    let key_path = cfg.data_dir.join("ca.key");
    let cert_path = cfg.data_dir.join("ca.pem");
    let two_tier = cfg.data_dir.join("root.key").exists() || !key_path.exists();
    let root = if two_tier {
        Some(load_or_create_root(cfg, now)?)
    } else {
        None
    };
    let (signer, der) = load_or_create_pair(
        &key_path,
        &cert_path,
        cfg.ca_key_algorithm,
        cfg.ca_signature,
        |signer| {
            let subject = demo_subject("orgcert Demo Issuing CA 1".into());
            match &root {
                Some((root, _)) => {
                    let public =
                        orgcert_pki::SubjectPublicKey::from_spki_der(&signer.public_key_spki_der())
                            .map_err(pki)?;
                    let not_after =
                        (now + Duration::days(ISSUING_YEARS * 365)).min(root.not_after());
                    root.issue_issuing_ca(&public, &subject, now - Duration::minutes(5), not_after)
                }
                None => create_ca_certificate(
                    signer,
                    &subject,
                    now - Duration::minutes(5),
                    now + Duration::days(20 * 365),
                ),
            }
            .map_err(pki)
        },
    )?;
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
    let subject = demo_subject(format!("orgcert Demo Issuing CA {n}"));
    let not_after = (now + Duration::days(ISSUING_YEARS * 365)).min(root.not_after());
    let der = root
        .issue_issuing_ca(&public, &subject, now - Duration::minutes(5), not_after)
        .map_err(pki)?;
    fs::write(&cert_path, orgcert_pki::to_pem("CERTIFICATE", &der))
        .map_err(internal("writing the new issuing CA certificate"))?;
    Ok((n, der))
}

/// The first certificate of a PEM file.
fn pem_der(text: &str) -> Option<Vec<u8>> {
    pem::parse_many(text)
        .ok()?
        .into_iter()
        .find(|p| p.tag() == "CERTIFICATE")
        .map(pem::Pem::into_contents)
}
