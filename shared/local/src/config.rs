//! Settings of the embedded default, read from the environment (API.md "Configuration").

use std::path::PathBuf;

use orgcert_pki::{Authority, KeyAlgorithm, RsaSignature};

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
    /// RSA-3072 keys kept ready for server-side key generation (`ORGCERT_KEY_POOL`, 0 = none).
    pub key_pool: usize,
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
            key_pool: env_num("ORGCERT_KEY_POOL", orgcert_pki::DEFAULT_KEY_POOL)?,
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
            // No background key generation in tests and tools (the pool has its own tests).
            key_pool: 0,
        }
    }
}
