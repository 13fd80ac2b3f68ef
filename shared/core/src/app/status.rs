//! Revocation status: CRLs (full and partitioned), pre-signed OCSP responses, and the
//! public certificate directory.

use time::OffsetDateTime;

use super::App;
use crate::error::{DomainError, Result};
use crate::ids::Serial;
use crate::model::{CertStatus, Certificate, CrlState, OcspRecord, RevocationReason};
use crate::ports::{DirectoryQuery, OcspFailure, OcspHash, OcspStatus, RevokedRef, Write};

/// A published certificate as the directory shows it.
pub type DirectoryEntry = Certificate;

fn crl_name(partition: Option<u32>) -> String {
    partition.map_or_else(|| "full".to_owned(), |p| format!("p{p}"))
}

fn crl_key(name: &str) -> String {
    format!("crl/{name}.crl")
}

impl App {
    /// Rebuilds the full CRL and, when configured, every partition.
    ///
    /// # Errors
    /// `Unavailable` when the store, signer or object store fails.
    pub async fn rebuild_crls(&self, now: OffsetDateTime) -> Result<Vec<CrlState>> {
        let revoked = self.store.revoked_certificates().await?;
        let entries: Vec<RevokedRef> = revoked
            .iter()
            .filter_map(|c| {
                Some(RevokedRef {
                    serial: c.serial.clone(),
                    // A revocation timestamped after `now` (a moved clock) is listed at `now`.
                    revoked_at: c.revoked_at?.min(now),
                    reason: c.revocation_reason.unwrap_or(RevocationReason::Unspecified),
                })
            })
            .collect();
        let mut out = vec![self.rebuild_scope(None, entries.clone(), now).await?];
        for p in 0..self.config.crl_partitions {
            let part: Vec<RevokedRef> = entries
                .iter()
                .filter(|e| self.crl_partition_of(&e.serial) == Some(p))
                .cloned()
                .collect();
            out.push(self.rebuild_scope(Some(p), part, now).await?);
        }
        Ok(out)
    }

    /// Signs one CRL scope with the next cRLNumber; a concurrent rebuild makes it retry
    /// with a higher number, so numbers only grow (RFC 5280 §5.2.3).
    async fn rebuild_scope(
        &self,
        partition: Option<u32>,
        entries: Vec<RevokedRef>,
        now: OffsetDateTime,
    ) -> Result<CrlState> {
        let name = crl_name(partition);
        for _ in 0..5 {
            let old = self.store.crl_state(&name).await?;
            let number = old.as_ref().map_or(1, |s| s.number + 1);
            let next_update = now + self.config.crl_validity;
            let der = self
                .ca
                .sign_crl(number, now, next_update, entries.clone(), partition)
                .await?;
            self.objects
                .put(&crl_key(&name), der, "application/pkix-crl")
                .await?;
            let state = CrlState {
                name: name.clone(),
                number,
                this_update: now,
                next_update,
                entries: entries.len() as u64,
                version: old.as_ref().map_or(1, |s| s.version + 1),
            };
            match self
                .store
                .commit(vec![Write::PutCrlState {
                    state: state.clone(),
                    expected: old.map(|s| s.version),
                }])
                .await
            {
                Ok(()) => return Ok(state),
                Err(DomainError::StaleVersion(_)) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(DomainError::Unavailable(format!(
            "CRL {name}: too many concurrent rebuilds"
        )))
    }

    /// The current CRL (DER) of a scope, rebuilt first when missing or past nextUpdate.
    ///
    /// # Errors
    /// `NotFound` for a partition that does not exist; `Unavailable`.
    pub async fn crl(&self, partition: Option<u32>) -> Result<Vec<u8>> {
        if let Some(p) = partition {
            if p >= self.config.crl_partitions {
                return Err(DomainError::NotFound("CRL partition"));
            }
        }
        let name = crl_name(partition);
        let now = self.now();
        let fresh = matches!(self.store.crl_state(&name).await?, Some(s) if now < s.next_update);
        if fresh {
            if let Some(der) = self.objects.get(&crl_key(&name)).await? {
                return Ok(der);
            }
        }
        self.rebuild_crls(now).await?;
        self.objects
            .get(&crl_key(&name))
            .await?
            .ok_or_else(|| DomainError::Internal(format!("CRL {name} missing after rebuild")))
    }

    fn ocsp_status(cert: &Certificate) -> Option<OcspStatus> {
        match cert.status {
            CertStatus::Issued | CertStatus::Expired => Some(OcspStatus::Good),
            CertStatus::Revoked => Some(OcspStatus::Revoked {
                at: cert.revoked_at?,
                reason: cert
                    .revocation_reason
                    .unwrap_or(RevocationReason::Unspecified),
            }),
            CertStatus::Pending => None,
        }
    }

    /// Pre-signs a certificate's OCSP responses (SHA-1 and SHA-256 CertIDs) and stores them,
    /// so that queries cost no signature.
    ///
    /// # Errors
    /// `Unavailable` when the signer or store fails.
    pub async fn refresh_ocsp(
        &self,
        cert: &Certificate,
        now: OffsetDateTime,
    ) -> Result<Option<OcspRecord>> {
        let Some(status) = Self::ocsp_status(cert) else {
            return Ok(None);
        };
        let next = now + self.config.ocsp_validity;
        let sha1 = self
            .ca
            .sign_ocsp(&cert.serial, OcspHash::Sha1, status, now, now, next, None)
            .await?;
        let sha256 = self
            .ca
            .sign_ocsp(&cert.serial, OcspHash::Sha256, status, now, now, next, None)
            .await?;
        let rec = OcspRecord {
            serial: cert.serial.clone(),
            status: cert.status,
            sha1,
            sha256,
            this_update: now,
            next_update: next,
        };
        self.store.commit(vec![Write::PutOcsp(rec.clone())]).await?;
        Ok(Some(rec))
    }

    /// Follow-ups of a status change that must not fail the change itself.
    pub(crate) async fn status_changed(&self, cert: &Certificate, revoked: bool) {
        if let Err(e) = self.refresh_ocsp(cert, self.now()).await {
            tracing::warn!(serial = %cert.serial, error = %e, "OCSP response not refreshed; the next query or the refresh job will sign it");
        }
        if revoked {
            self.events.crl_stale();
        }
    }

    /// Answers a DER OCSP request (RFC 6960). Known certificates are answered from the
    /// pre-signed responses (nonces are not echoed then, as RFC 5019 allows); unknown
    /// serials and other CertID hashes are signed on demand, echoing the nonce.
    pub async fn ocsp(&self, request: &[u8]) -> Vec<u8> {
        match self.ocsp_inner(request).await {
            Ok(der) => der,
            Err(f) => self.ca.ocsp_failure(f),
        }
    }

    async fn ocsp_inner(&self, request: &[u8]) -> std::result::Result<Vec<u8>, OcspFailure> {
        let q = self.ca.parse_ocsp(request)?;
        if !q.ours {
            return Err(OcspFailure::Unauthorized);
        }
        if q.count != 1 {
            // Pre-signed responses carry one SingleResponse; ask one certificate at a time.
            return Err(OcspFailure::Malformed);
        }
        let fail = |e: DomainError| match e {
            DomainError::Unavailable(m) => {
                tracing::warn!(error = %m, "OCSP: dependency unavailable");
                OcspFailure::TryLater
            }
            other => {
                tracing::error!(error = %other, "OCSP failed");
                OcspFailure::Internal
            }
        };
        let now = self.now();
        let pick = |r: &OcspRecord| match q.hash {
            OcspHash::Sha1 => Some(r.sha1.clone()),
            OcspHash::Sha256 => Some(r.sha256.clone()),
            _ => None,
        };
        if let Some(rec) = self.store.ocsp_record(&q.serial).await.map_err(fail)? {
            if now >= rec.this_update && now < rec.next_update {
                if let Some(der) = pick(&rec) {
                    return Ok(der);
                }
            }
        }
        let cert = self.store.certificate(&q.serial).await.map_err(fail)?;
        let status = cert.as_ref().and_then(Self::ocsp_status);
        if let (Some(cert), Some(_), Some(_)) = (&cert, status, pick_kind(q.hash)) {
            if let Some(rec) = self.refresh_ocsp(cert, now).await.map_err(fail)? {
                return pick(&rec).ok_or(OcspFailure::Internal);
            }
        }
        let status = status.unwrap_or(OcspStatus::Unknown);
        self.ca
            .sign_ocsp(
                &q.serial,
                q.hash,
                status,
                now,
                now,
                now + self.config.ocsp_validity,
                q.nonce,
            )
            .await
            .map_err(fail)
    }

    /// Re-signs OCSP responses that are older than the refresh age or state an old status.
    ///
    /// # Errors
    /// `Unavailable`.
    pub async fn refresh_stale_ocsp(&self, now: OffsetDateTime) -> Result<u64> {
        let mut refreshed = 0;
        for status in [CertStatus::Issued, CertStatus::Revoked] {
            let mut cursor: Option<String> = None;
            loop {
                let page = self
                    .store
                    .certificates_by_status(status, 500, cursor.as_deref())
                    .await?;
                for cert in &page.items {
                    if cert.not_after.is_some_and(|na| na < now) && status == CertStatus::Issued {
                        continue; // expired: the last response stands until its nextUpdate
                    }
                    let stale = match self.store.ocsp_record(&cert.serial).await? {
                        Some(r) => {
                            r.status != cert.status
                                || now - r.this_update >= self.config.ocsp_refresh_after
                                || now >= r.next_update
                        }
                        None => true,
                    };
                    if stale {
                        self.refresh_ocsp(cert, now).await?;
                        refreshed += 1;
                    }
                }
                match page.next_cursor {
                    Some(c) => cursor = Some(c),
                    None => break,
                }
            }
        }
        Ok(refreshed)
    }

    /// Published certificates matching every given criterion (no login).
    ///
    /// # Errors
    /// `Invalid` when no criterion is given.
    pub async fn directory(&self, mut query: DirectoryQuery) -> Result<Vec<DirectoryEntry>> {
        if query.serial.is_none()
            && query.profile_id.is_none()
            && query.cvr.is_none()
            && query.email.is_none()
        {
            // Each parameter is optional on its own (no schema can say "one of"): a search
            // without any is well-formed but unanswerable, 422 like other rule breaks.
            return Err(DomainError::invalid(
                "query",
                "give at least one of email, uuid, cvr or serial",
            ));
        }
        query.limit = query.limit.clamp(1, 100);
        self.store.directory(&query).await
    }

    /// One published certificate (for its PEM/DER download).
    ///
    /// # Errors
    /// `NotFound` unless the certificate is published and issued.
    pub async fn directory_certificate(&self, serial: &Serial) -> Result<Certificate> {
        let found = self
            .store
            .directory(&DirectoryQuery {
                serial: Some(serial.clone()),
                limit: 1,
                ..Default::default()
            })
            .await?;
        found
            .into_iter()
            .find(|c| c.certificate_pem.is_some())
            .ok_or(DomainError::NotFound("published certificate"))
    }
}

fn pick_kind(h: OcspHash) -> Option<()> {
    matches!(h, OcspHash::Sha1 | OcspHash::Sha256).then_some(())
}
