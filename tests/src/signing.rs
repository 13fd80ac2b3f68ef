//! A [`CertificateAuthority`] decorator that records every serial it is asked to sign and
//! every CRL it signs, so tests can prove that no serial is signed twice (RFC 5280
//! §4.1.2.2) and that one cRLNumber never carries two contents (§5.2.3).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use orgcert_core::error::Result;
use orgcert_core::ids::Serial;
use orgcert_core::ports::{
    CertSpec, CertificateAuthority, IssuedMaterial, KeySource, OcspFailure, OcspQuery,
    OcspResponseSpec, RevokedRef,
};
use time::OffsetDateTime;

/// One CRL the CA signed: its scope, number and what it says (not the signature bytes,
/// which differ between two signings of one content under ECDSA).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCrl {
    /// Partition (`None`: the full CRL).
    pub partition: Option<u32>,
    /// cRLNumber.
    pub number: u64,
    /// thisUpdate.
    pub this_update: OffsetDateTime,
    /// Entries, as (serial, revocation time), sorted.
    pub entries: Vec<(String, OffsetDateTime)>,
}

/// Records what passes to the wrapped CA.
pub struct RecordingCa {
    inner: Arc<dyn CertificateAuthority>,
    issued: Mutex<Vec<Serial>>,
    crls: Mutex<Vec<SignedCrl>>,
}

impl RecordingCa {
    /// Wraps a CA.
    pub fn new(inner: Arc<dyn CertificateAuthority>) -> Self {
        Self {
            inner,
            issued: Mutex::new(Vec::new()),
            crls: Mutex::new(Vec::new()),
        }
    }

    /// Every serial passed to `issue`, in call order (failed calls included).
    pub fn issued(&self) -> Vec<Serial> {
        self.issued.lock().expect("lock").clone()
    }

    /// Serials passed to `issue` more than once.
    pub fn signed_twice(&self) -> Vec<Serial> {
        let mut seen: HashMap<Serial, u32> = HashMap::new();
        for s in self.issued() {
            *seen.entry(s).or_default() += 1;
        }
        seen.into_iter()
            .filter(|(_, n)| *n > 1)
            .map(|(s, _)| s)
            .collect()
    }

    /// Every CRL signed, in call order.
    pub fn crls(&self) -> Vec<SignedCrl> {
        self.crls.lock().expect("lock").clone()
    }

    /// (scope, number) pairs signed with two different contents.
    pub fn crl_numbers_reused(&self) -> Vec<(Option<u32>, u64)> {
        let mut by: HashMap<(Option<u32>, u64), SignedCrl> = HashMap::new();
        let mut bad = Vec::new();
        for c in self.crls() {
            match by.get(&(c.partition, c.number)) {
                Some(prev) if prev != &c => bad.push((c.partition, c.number)),
                Some(_) => {}
                None => {
                    by.insert((c.partition, c.number), c);
                }
            }
        }
        bad
    }
}

#[async_trait]
impl CertificateAuthority for RecordingCa {
    fn ca_pem(&self) -> String {
        self.inner.ca_pem()
    }
    fn ca_der(&self) -> Vec<u8> {
        self.inner.ca_der()
    }
    fn check_csr(&self, csr: &str) -> Result<()> {
        self.inner.check_csr(csr)
    }
    async fn issue(&self, spec: CertSpec, key: KeySource) -> Result<IssuedMaterial> {
        self.issued.lock().expect("lock").push(spec.serial.clone());
        self.inner.issue(spec, key).await
    }
    async fn sign_crl(
        &self,
        number: u64,
        this_update: OffsetDateTime,
        next_update: OffsetDateTime,
        entries: Vec<RevokedRef>,
        partition: Option<u32>,
    ) -> Result<Vec<u8>> {
        let mut listed: Vec<(String, OffsetDateTime)> = entries
            .iter()
            .map(|e| (e.serial.to_string(), e.revoked_at))
            .collect();
        listed.sort();
        let der = self
            .inner
            .sign_crl(number, this_update, next_update, entries, partition)
            .await?;
        self.crls.lock().expect("lock").push(SignedCrl {
            partition,
            number,
            this_update,
            entries: listed,
        });
        Ok(der)
    }
    fn parse_ocsp(&self, der: &[u8]) -> std::result::Result<OcspQuery, OcspFailure> {
        self.inner.parse_ocsp(der)
    }
    async fn sign_ocsp(&self, spec: OcspResponseSpec) -> Result<Vec<u8>> {
        self.inner.sign_ocsp(spec).await
    }
    fn ocsp_failure(&self, failure: OcspFailure) -> Vec<u8> {
        self.inner.ocsp_failure(failure)
    }
}
