//! Revocation status: CRLs (full and partitioned) and pre-signed OCSP responses.

use bytes::Bytes;
use time::OffsetDateTime;

use super::App;
use crate::error::{DomainError, Result};
use crate::model::{CertStatus, Certificate, CrlState, OcspRecord, RevocationReason};
use crate::ports::{OcspFailure, OcspHash, OcspResponseSpec, OcspStatus, RevokedRef, Write};

/// An OCSP answer (DER) and, for a pre-signed response that HTTP caches may keep, what
/// the RFC 5019 §6.2 headers need.
#[derive(Debug, Clone)]
pub struct OcspAnswer {
    /// The OCSPResponse (shared with the cached record it came from, not copied).
    pub der: Bytes,
    /// Set for a pre-signed response; `None` for one signed for this request (it may
    /// echo a nonce) or an error status.
    pub presigned: Option<Presigned>,
}

/// The stored record a pre-signed answer came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Presigned {
    /// Its thisUpdate (`Last-Modified`).
    pub this_update: OffsetDateTime,
    /// Its nextUpdate (`Expires`; `max-age` never reaches past it).
    pub next_update: OffsetDateTime,
    /// Whether it states "revoked": a record is identified by its certificate, its
    /// thisUpdate and this (a revocation may replace "good" of the same thisUpdate).
    pub revoked: bool,
}

/// The scope of a CRL: generation 1 keeps the names from before rollovers existed
/// (`full`, `p{n}`); a later issuing CA generation `g` has `g{g}` and `g{g}.p{n}`.
fn crl_name(generation: u32, partition: Option<u32>) -> String {
    match (generation, partition) {
        (1, None) => "full".to_owned(),
        (1, Some(p)) => format!("p{p}"),
        (g, None) => format!("g{g}"),
        (g, Some(p)) => format!("g{g}.p{p}"),
    }
}

/// The object of one CRL: its number is in the key, so a number never names two contents.
fn crl_key(name: &str, number: u64) -> String {
    format!("crl/{name}/{number}.crl")
}

/// The pseudo scope that points at the current (published) CRL of `name`; the scope
/// `name` itself holds the last number claimed.
pub(crate) fn published_scope(name: &str) -> String {
    format!("{name}@published")
}

/// Numbered CRL objects kept behind the current one, so that a reader that read the
/// pointer just before a rebuild still finds its object.
const CRL_OBJECTS_KEPT: u64 = 3;

/// How often a CRL rebuild retries its claim or publication against concurrent ones
/// before it answers `Unavailable` (a bound, not an expectation: see `claim_crl_number`).
const CRL_CLAIM_TRIES: usize = 32;

impl App {
    /// Rebuilds the full CRL and, when configured, every partition.
    ///
    /// Every scope's cRLNumber is claimed (committed) before the revocations are read and
    /// the CRL is signed, so a higher number always lists revocations read later, and
    /// two concurrent rebuilds publish two numbers, each with one content (RFC 5280
    /// §5.2.3; DESIGN §5a).
    ///
    /// # Errors
    /// `Unavailable` when the store, signer or object store fails.
    pub async fn rebuild_crls(&self, now: OffsetDateTime) -> Result<Vec<CrlState>> {
        // One CRL set per issuing CA generation still serving status: a certificate is
        // listed only by the CA that issued it (RFC 5280 §5.1.2.3).
        let generations = self.ca.generations();
        let current = generations.last().copied().unwrap_or(1);
        let scopes: Vec<(u32, Option<u32>)> = generations
            .iter()
            .flat_map(|g| {
                std::iter::once((*g, None))
                    .chain((0..self.config.crl_partitions).map(move |p| (*g, Some(p))))
            })
            .collect();
        let mut claims = Vec::with_capacity(scopes.len());
        for (g, p) in &scopes {
            claims.push(self.claim_crl_number(&crl_name(*g, *p), now).await?);
        }
        let revoked = self.store.revoked_certificates().await?;
        let entries: Vec<(u32, RevokedRef)> = revoked
            .iter()
            .filter_map(|c| {
                // Never issued (revoked while pending): listed by the current CA.
                let generation = match c.certificate_pem.as_deref() {
                    Some(pem) => self.ca.generation_of(pem)?,
                    None => current,
                };
                Some((
                    generation,
                    RevokedRef {
                        serial: c.serial.clone(),
                        // A revocation timestamped after `now` (a moved clock) is listed at `now`.
                        revoked_at: c.revoked_at?.min(now),
                        reason: c.revocation_reason.unwrap_or(RevocationReason::Unspecified),
                    },
                ))
            })
            .collect();
        let mut out = Vec::with_capacity(scopes.len());
        for ((generation, partition), claim) in scopes.into_iter().zip(claims) {
            let part: Vec<RevokedRef> = entries
                .iter()
                .filter(|(g, e)| {
                    *g == generation
                        && partition.is_none_or(|p| self.crl_partition_of(&e.serial) == Some(p))
                })
                .map(|(_, e)| e.clone())
                .collect();
            out.push(self.publish_crl(generation, partition, claim, part).await?);
        }
        Ok(out)
    }

    /// Commits the next cRLNumber of a scope (a concurrent claim makes it retry with a
    /// higher number). Nothing is signed or published yet: a number claimed by a rebuild
    /// that then fails is simply never published (numbers need not be contiguous).
    async fn claim_crl_number(&self, name: &str, now: OffsetDateTime) -> Result<CrlState> {
        // Optimistic: each refusal means another rebuild claimed a number, so every round
        // makes progress and a rebuild needs at most as many tries as there are rebuilds
        // running at once (8 plus readers in the status races test; five tries were too few).
        for _ in 0..CRL_CLAIM_TRIES {
            let old = self.store.crl_state(name).await?;
            let state = CrlState {
                name: name.to_owned(),
                number: old.as_ref().map_or(1, |s| s.number + 1),
                this_update: now,
                next_update: now + self.config.crl_validity,
                entries: 0,
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

    /// Signs the claimed number, uploads it under its own key, then moves the scope's
    /// pointer to it unless a higher number was published meanwhile.
    async fn publish_crl(
        &self,
        generation: u32,
        partition: Option<u32>,
        claim: CrlState,
        entries: Vec<RevokedRef>,
    ) -> Result<CrlState> {
        let name = claim.name.clone();
        let count = entries.len() as u64;
        let der = self
            .ca
            .sign_generation_crl(
                generation,
                claim.number,
                claim.this_update,
                claim.next_update,
                entries,
                partition,
            )
            .await?;
        self.objects
            .put(&crl_key(&name, claim.number), der, "application/pkix-crl")
            .await?;
        let pointer = published_scope(&name);
        let published = CrlState {
            entries: count,
            ..claim.clone()
        };
        for _ in 0..CRL_CLAIM_TRIES {
            let old = self.store.crl_state(&pointer).await?;
            if old.as_ref().is_some_and(|o| o.number >= claim.number) {
                // A newer CRL is already current; ours stays readable under its number.
                return Ok(published);
            }
            let state = CrlState {
                name: pointer.clone(),
                version: old.as_ref().map_or(1, |s| s.version + 1),
                ..published.clone()
            };
            match self
                .store
                .commit(vec![Write::PutCrlState {
                    state,
                    expected: old.map(|s| s.version),
                }])
                .await
            {
                Ok(()) => {
                    if claim.number > CRL_OBJECTS_KEPT {
                        let gone = crl_key(&name, claim.number - CRL_OBJECTS_KEPT);
                        if let Err(e) = self.objects.delete(&gone).await {
                            tracing::warn!(key = %gone, error = %e, "old CRL not removed");
                        }
                    }
                    return Ok(published);
                }
                Err(DomainError::StaleVersion(_)) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(DomainError::Unavailable(format!(
            "CRL {name}: too many concurrent publications"
        )))
    }

    /// The published CRL of a scope: its state and DER, if any.
    async fn published_crl(&self, name: &str) -> Result<Option<(CrlState, Vec<u8>)>> {
        // Twice: a pointer read just before several rebuilds may name a removed object.
        for _ in 0..2 {
            let Some(state) = self.store.crl_state(&published_scope(name)).await? else {
                return Ok(None);
            };
            if let Some(der) = self.objects.get(&crl_key(name, state.number)).await? {
                return Ok(Some((state, der)));
            }
        }
        Ok(None)
    }

    /// The current CRL (DER) of a scope, as published by the last rebuild. Where signing
    /// is free (`crl_build_on_read`) a missing or expired CRL is rebuilt first; otherwise
    /// it is served as stored and a missing one is `Unavailable` (503): a public request
    /// never costs a signature (DESIGN §5a).
    ///
    /// # Errors
    /// `NotFound` for a partition that does not exist; `Unavailable`.
    pub async fn crl(&self, partition: Option<u32>) -> Result<Vec<u8>> {
        self.generation_crl(1, partition).await
    }

    /// The current CRL of issuing CA generation `generation` (as [`App::crl`]).
    ///
    /// # Errors
    /// `NotFound` for a generation not served or a partition that does not exist;
    /// `Unavailable`.
    pub async fn generation_crl(&self, generation: u32, partition: Option<u32>) -> Result<Vec<u8>> {
        if !self.ca.generations().contains(&generation) {
            return Err(DomainError::NotFound("CRL"));
        }
        if let Some(p) = partition {
            if p >= self.config.crl_partitions {
                return Err(DomainError::NotFound("CRL partition"));
            }
        }
        let name = crl_name(generation, partition);
        let now = self.now();
        let current = self.published_crl(&name).await?;
        match current {
            Some((state, der)) if now < state.next_update || !self.config.crl_build_on_read => {
                if now >= state.next_update {
                    tracing::warn!(crl = %name, "serving a CRL past its nextUpdate: is the crl-refresh job running?");
                }
                return Ok(der);
            }
            None if !self.config.crl_build_on_read => {
                return Err(DomainError::Unavailable(format!(
                    "CRL {name} is not published yet; the crl-refresh job builds it"
                )));
            }
            _ => {}
        }
        self.rebuild_crls(now).await?;
        self.published_crl(&name)
            .await?
            .map(|(_, der)| der)
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
    /// so that queries cost no signature. Returns `None` when there is nothing to state
    /// (pending) or the store kept a newer or revoked record instead (records only move
    /// forward, decided by the store).
    ///
    /// # Errors
    /// `Unavailable` when the signer or store fails.
    pub async fn refresh_ocsp(
        &self,
        cert: &Certificate,
        now: OffsetDateTime,
    ) -> Result<Option<OcspRecord>> {
        let Some(rec) = self.presign_ocsp(cert, now).await? else {
            return Ok(None);
        };
        match self.store.commit(vec![Write::PutOcsp(rec.clone())]).await {
            Ok(()) => Ok(Some(rec)),
            // A newer record, or "revoked", is stored already: it stands (DESIGN §5a).
            Err(DomainError::StaleVersion(why)) => {
                tracing::debug!(serial = %cert.serial, %why, "OCSP record not replaced");
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// Signs a certificate's OCSP responses (SHA-1 and SHA-256 CertIDs) without storing
    /// them; `None` when there is nothing to state (pending).
    ///
    /// # Errors
    /// `Unavailable` when the signer fails.
    pub(crate) async fn presign_ocsp(
        &self,
        cert: &Certificate,
        now: OffsetDateTime,
    ) -> Result<Option<OcspRecord>> {
        let Some(status) = Self::ocsp_status(cert) else {
            return Ok(None);
        };
        let next = now + self.config.ocsp_validity;
        let generation = self.generation_of(cert);
        // The same answer for either CertID hash a client may use (RFC 6960 §4.1.1).
        let sign = |hash| {
            self.ca.sign_generation_ocsp(
                generation,
                OcspResponseSpec {
                    serial: cert.serial.clone(),
                    hash,
                    status,
                    produced_at: now,
                    this_update: now,
                    next_update: next,
                    nonce: None,
                },
            )
        };
        let sha1 = sign(OcspHash::Sha1).await?;
        let sha256 = sign(OcspHash::Sha256).await?;
        Ok(Some(OcspRecord {
            serial: cert.serial.clone(),
            status: cert.status,
            sha1: sha1.into(),
            sha256: sha256.into(),
            this_update: now,
            next_update: next,
        }))
    }

    /// The write a revocation commits with itself: an unsigned "revoked" OCSP record that
    /// supersedes the certificate's pre-signed "good" answers in the same transaction.
    /// Signing the revoked answers happens after the commit and may fail (signer
    /// unavailable); without this, the stored "good" record would still be served until the
    /// refresh job replaced it. The placeholder has no answers and an empty validity window,
    /// so a query falls through to signing from the (revoked) certificate. Records only move
    /// forward (DESIGN §5a): as "revoked" it can no longer be replaced by a late "good"
    /// write, and it dates itself one millisecond before the revocation (the precision both
    /// stores compare at) so that the signed revoked record (thisUpdate at or after the
    /// revocation) replaces it.
    pub(crate) fn revocation_supersedes_ocsp(revoked: &Certificate) -> Write {
        let at = revoked.revoked_at.unwrap_or(OffsetDateTime::UNIX_EPOCH)
            - time::Duration::milliseconds(1);
        Write::PutOcsp(OcspRecord {
            serial: revoked.serial.clone(),
            status: CertStatus::Revoked,
            sha1: Bytes::new(),
            sha256: Bytes::new(),
            this_update: at,
            next_update: at,
        })
    }

    /// The issuing CA generation of `cert`: by its certificate, else (not issued yet, or
    /// of a generation no longer served) the current one.
    fn generation_of(&self, cert: &Certificate) -> u32 {
        cert.certificate_pem
            .as_deref()
            .and_then(|pem| self.ca.generation_of(pem))
            .or_else(|| self.ca.generations().last().copied())
            .unwrap_or(1)
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
    /// serials, other CertID hashes and expired records are signed on demand by the
    /// responder, echoing the nonce.
    pub async fn ocsp(&self, request: &[u8]) -> Vec<u8> {
        self.ocsp_answer(request).await.der.into()
    }

    /// [`App::ocsp`] with what an HTTP answer needs for RFC 5019 §6 caching headers.
    pub async fn ocsp_answer(&self, request: &[u8]) -> OcspAnswer {
        match self.ocsp_inner(request).await {
            Ok(answer) => answer,
            Err(f) => OcspAnswer {
                der: self.ca.ocsp_failure(f).into(),
                presigned: None,
            },
        }
    }

    async fn ocsp_inner(&self, request: &[u8]) -> std::result::Result<OcspAnswer, OcspFailure> {
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
        // The store answers this read from memory when it can (`OcspCache`).
        if let Some(rec) = self.store.ocsp_record(&q.serial).await.map_err(fail)? {
            if now >= rec.this_update && now < rec.next_update {
                let der = match q.hash {
                    OcspHash::Sha1 => Some(rec.sha1),
                    OcspHash::Sha256 => Some(rec.sha256),
                    _ => None,
                };
                if let Some(der) = der {
                    return Ok(OcspAnswer {
                        der,
                        presigned: Some(Presigned {
                            this_update: rec.this_update,
                            next_update: rec.next_update,
                            revoked: rec.status == CertStatus::Revoked,
                        }),
                    });
                }
            }
        }
        // No usable pre-signed answer (unknown serial, SHA-384/512 CertID, an expired
        // record): sign on demand with the OCSP signer, echoing the nonce. That signer is
        // the delegated responder whose key is in this process's memory, so a public
        // request never costs a CA (KMS) signature; nothing is stored by a public request.
        let cert = self
            .store
            .certificate_any_org(&q.serial)
            .await
            .map_err(fail)?;
        // A serial of another generation is not one this CertID's issuer issued.
        let status = cert
            .as_ref()
            .filter(|c| self.generation_of(c) == q.generation)
            .and_then(Self::ocsp_status)
            .unwrap_or(OcspStatus::Unknown);
        let der = self
            .ca
            .sign_generation_ocsp(
                q.generation,
                OcspResponseSpec {
                    serial: q.serial,
                    hash: q.hash,
                    status,
                    produced_at: now,
                    this_update: now,
                    next_update: now + self.config.ocsp_validity,
                    nonce: q.nonce,
                },
            )
            .await
            .map_err(fail)?;
        // Signed for this request (it may echo its nonce): not for shared caches.
        Ok(OcspAnswer {
            der: der.into(),
            presigned: None,
        })
    }

    /// Re-signs OCSP responses that are older than the refresh age or state an old status.
    ///
    /// # Errors
    /// `Unavailable`.
    pub async fn refresh_stale_ocsp(&self, now: OffsetDateTime) -> Result<u64> {
        let (refreshed, failed) = self.sweep_ocsp(now).await?;
        if failed > 0 {
            return Err(DomainError::Unavailable(format!(
                "{failed} OCSP record(s) not refreshed"
            )));
        }
        Ok(refreshed)
    }

    /// The OCSP sweep: (refreshed, failed). One certificate failing (a signer or store
    /// error) is logged and counted and does not stop the rest.
    ///
    /// # Errors
    /// `Unavailable` when the certificates cannot be listed.
    pub(crate) async fn sweep_ocsp(&self, now: OffsetDateTime) -> Result<(u64, u64)> {
        let (mut refreshed, mut failed) = (0, 0);
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
                    let stale = match self.store.ocsp_record(&cert.serial).await {
                        Ok(Some(r)) => {
                            r.status != cert.status
                                || now - r.this_update >= self.config.ocsp_refresh_after
                                || now >= r.next_update
                        }
                        Ok(None) => true,
                        Err(e) => {
                            failed += 1;
                            tracing::warn!(serial = %cert.serial, error = %e, "OCSP record not read");
                            continue;
                        }
                    };
                    if stale {
                        match self.refresh_ocsp(cert, now).await {
                            Ok(Some(_)) => refreshed += 1,
                            Ok(None) => {}
                            Err(e) => {
                                failed += 1;
                                tracing::warn!(serial = %cert.serial, error = %e, "OCSP record not refreshed; the next sweep retries it");
                            }
                        }
                    }
                }
                match page.next_cursor {
                    Some(c) => cursor = Some(c),
                    None => break,
                }
            }
        }
        Ok((refreshed, failed))
    }
}
