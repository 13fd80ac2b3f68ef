//! Scheduled work: renewal reminders, CRL/OCSP refresh, housekeeping. Every job takes
//! `now`, so tests move time instead of sleeping.

use std::collections::BTreeMap;

use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;

use super::App;
use crate::error::{DomainError, Result};
use crate::ids::{Cvr, Email};
use crate::model::{CertStatus, Certificate, Notification};
use crate::ports::{Mail, Write};

/// A scheduled job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Job {
    /// Daily digest mails for certificates nearing expiry.
    RenewalReminders,
    /// Rebuild CRLs and re-sign stale OCSP responses.
    CrlRefresh,
    /// Remove expired issuance secrets and PKCS#12 files.
    Housekeeping,
}

impl Job {
    /// Every job.
    pub const ALL: [Job; 3] = [Job::RenewalReminders, Job::CrlRefresh, Job::Housekeeping];
    /// kebab-case name (CLI, routes, Lambda functions).
    pub fn name(self) -> &'static str {
        match self {
            Job::RenewalReminders => "renewal-reminders",
            Job::CrlRefresh => "crl-refresh",
            Job::Housekeeping => "housekeeping",
        }
    }
    /// The job with this name.
    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|j| j.name() == s)
    }
}

/// What a job run did.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct JobReport {
    /// Job name.
    pub job: &'static str,
    /// The instant it ran for.
    #[serde(with = "time::serde::rfc3339")]
    pub now: OffsetDateTime,
    /// Counts.
    pub detail: serde_json::Value,
}

type DigestKey = (Cvr, String, u32);

impl App {
    /// Runs a job as of `now`. Jobs work in independent, idempotent batches that fit one
    /// DynamoDB transaction (DESIGN §5a): a failing batch is logged and counted
    /// (`failed` in the detail) and the others still run.
    ///
    /// # Errors
    /// `Unavailable` when a dependency fails part-way or any batch failed (after the
    /// others ran, so the schedule retries); a rerun continues where it stopped.
    pub async fn run_job(&self, job: Job, now: OffsetDateTime) -> Result<JobReport> {
        let report = self.run_job_batches(job, now).await?;
        let failed = report
            .detail
            .get("failed")
            .and_then(serde_json::Value::as_u64);
        if let Some(n) = failed.filter(|n| *n > 0) {
            tracing::error!(job = job.name(), report = %report.detail, "job finished with failed batches");
            return Err(DomainError::Unavailable(format!(
                "{}: {n} batch(es) failed; a rerun retries them ({})",
                job.name(),
                report.detail
            )));
        }
        Ok(report)
    }

    /// Runs a job's batches; the report counts failed ones instead of stopping at them.
    ///
    /// # Errors
    /// `Unavailable` when the job cannot even list its work.
    pub async fn run_job_batches(&self, job: Job, now: OffsetDateTime) -> Result<JobReport> {
        let detail = match job {
            Job::RenewalReminders => self.renewal_reminders(now).await?,
            Job::CrlRefresh => {
                // This job is the signing principal of the OCSP responder: it replaces the
                // responder certificate well before it expires, so OCSP never signs with
                // the CA key (DESIGN §5a).
                let mut failed = 0u64;
                let mut responder_error = None;
                if let Err(e) = self.ca.prepare_responder(now).await {
                    failed += 1;
                    tracing::warn!(error = %e, "OCSP responder not renewed; the next run retries");
                    responder_error = Some(e.to_string());
                }
                // Cheap when nothing changed, so it can run every minute (the AWS schedule).
                // A failed rebuild does not keep the OCSP sweep from running.
                let crls = match self.crl_refresh_due(now).await? {
                    true => match self.rebuild_crls(now).await {
                        Ok(crls) => crls,
                        Err(e) => {
                            failed += 1;
                            tracing::warn!(error = %e, "CRL rebuild failed; the next run retries");
                            Vec::new()
                        }
                    },
                    false => Vec::new(),
                };
                let ocsp = match self.ocsp_sweep_due(now).await? {
                    Some(mark) => {
                        let (n, sweep_failed) = self.sweep_ocsp(now).await?;
                        failed += sweep_failed;
                        // A sweep with failures is not marked done: the next run sweeps again.
                        if sweep_failed == 0 {
                            self.store
                                .commit(vec![Write::PutCrlState {
                                    state: mark.0,
                                    expected: mark.1,
                                }])
                                .await?;
                        }
                        Some(n)
                    }
                    None => None,
                };
                json!({
                    "crls_rebuilt": crls.iter().map(|c| json!({ "name": c.name, "number": c.number, "entries": c.entries })).collect::<Vec<_>>(),
                    "ocsp_refreshed": ocsp,
                    "responder_error": responder_error,
                    "failed": failed,
                })
            }
            Job::Housekeeping => self.housekeeping(now).await?,
        };
        Ok(JobReport {
            job: job.name(),
            now,
            detail,
        })
    }

    /// A CRL rebuild is due when there is none, revocations changed, or half its validity passed.
    async fn crl_refresh_due(&self, now: OffsetDateTime) -> Result<bool> {
        let Some(state) = self
            .store
            .crl_state(&super::status::published_scope("full"))
            .await?
        else {
            return Ok(true);
        };
        let revoked = self.store.revoked_certificates().await?.len() as u64;
        let half = (state.next_update - state.this_update) / 2;
        Ok(revoked != state.entries || now >= state.this_update + half)
    }

    /// The OCSP sweep runs at most every `ocsp_refresh_after / 24` (hourly by default); its
    /// last run is kept as a pseudo CRL scope `ocsp-sweep`. Returns the marker to write.
    async fn ocsp_sweep_due(
        &self,
        now: OffsetDateTime,
    ) -> Result<Option<(crate::model::CrlState, Option<u64>)>> {
        let every = self.config.ocsp_refresh_after / 24;
        let old = self.store.crl_state("ocsp-sweep").await?;
        if old
            .as_ref()
            .is_some_and(|s| now >= s.this_update && now - s.this_update < every)
        {
            return Ok(None);
        }
        let mark = crate::model::CrlState {
            name: "ocsp-sweep".into(),
            number: old.as_ref().map_or(1, |s| s.number + 1),
            this_update: now,
            next_update: now + every,
            entries: 0,
            version: old.as_ref().map_or(1, |s| s.version + 1),
        };
        Ok(Some((mark, old.map(|s| s.version))))
    }

    /// The threshold a certificate is due for: the smallest one it is within.
    fn due_threshold(&self, cert: &Certificate, now: OffsetDateTime) -> Option<u32> {
        let left = cert.not_after? - now;
        let mut days = self.config.reminder_days.clone();
        days.sort_unstable();
        days.into_iter()
            .find(|d| left <= time::Duration::days(i64::from(*d)))
    }

    /// One digest mail per contact per threshold, idempotent per (certificate, threshold):
    /// the threshold is recorded on the certificate under its version, so a second or
    /// concurrent run finds it recorded (or loses the write) and sends nothing.
    async fn renewal_reminders(&self, now: OffsetDateTime) -> Result<serde_json::Value> {
        let Some(max) = self.config.reminder_days.iter().max().copied() else {
            return Ok(json!({ "mails": 0 }));
        };
        let until = now + time::Duration::days(i64::from(max));
        let mut groups: BTreeMap<DigestKey, Vec<Certificate>> = BTreeMap::new();
        let (mut scanned, mut renewed, mut already) = (0u64, 0u64, 0u64);
        let mut cursor: Option<String> = None;
        loop {
            let page = self
                .store
                .expiring(now, until, 500, cursor.as_deref())
                .await?;
            for cert in page.items {
                scanned += 1;
                let Some(t) = self.due_threshold(&cert, now) else {
                    continue;
                };
                if cert.reminders_sent.iter().any(|s| *s <= t) {
                    already += 1;
                    continue;
                }
                let Some(profile) = self.store.profile(&cert.org, cert.profile_id).await? else {
                    continue;
                };
                // Renewed: the profile's newest certificate is another, issued one.
                if profile
                    .latest
                    .as_ref()
                    .is_some_and(|l| l.serial != cert.serial && l.status == CertStatus::Issued)
                {
                    renewed += 1;
                    continue;
                }
                let key = (cert.org.clone(), profile.contact_email.to_string(), t);
                groups.entry(key).or_default().push(cert);
            }
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        let (mut mails, mut certificates, mut failed) = (0u64, 0u64, 0u64);
        for ((org, contact, t), certs) in groups {
            // A contact with many due certificates gets one digest per batch: each batch
            // marks its certificates and records the notification in one transaction.
            let mut rest = certs;
            while !rest.is_empty() {
                let tail = rest.split_off(rest.len().min(DIGEST_BATCH));
                let batch = std::mem::replace(&mut rest, tail);
                match self.send_digest(&org, &contact, t, batch, now).await {
                    Ok(Some(n)) => {
                        mails += 1;
                        certificates += n;
                    }
                    Ok(None) => {}
                    Err(e) => {
                        failed += 1;
                        tracing::warn!(org = %org, days = t, error = %e, "reminder batch failed; the next run retries it");
                    }
                }
            }
        }
        Ok(
            json!({ "scanned": scanned, "mails": mails, "certificates": certificates, "skipped_renewed": renewed, "already_sent": already, "failed": failed }),
        )
    }

    /// Marks the certificates and, if this run won, notifies and mails; returns how many
    /// certificates the digest listed.
    async fn send_digest(
        &self,
        org: &Cvr,
        contact: &str,
        t: u32,
        mut certs: Vec<Certificate>,
        now: OffsetDateTime,
    ) -> Result<Option<u64>> {
        for _ in 0..3 {
            if certs.is_empty() {
                return Ok(None);
            }
            let subject = format!("Your certificates expire within {t} days");
            let mut text = format!("These certificates expire within {t} days. Ask your administrator to renew them:\n\n");
            for c in &certs {
                let na = c.not_after.map(super::fmt_date).unwrap_or_default();
                text.push_str(&format!(
                    "- {} (serial {}), {}, expires {na}\n",
                    c.snapshot.name, c.serial, c.snapshot.organisation_name
                ));
            }
            let mut writes: Vec<Write> = certs
                .iter()
                .map(|c| {
                    let mut n = c.clone();
                    n.reminders_sent.push(t);
                    n.version += 1;
                    Write::PutCertificate {
                        cert: n,
                        expected: Some(c.version),
                    }
                })
                .collect();
            if let Ok(recipient) = Email::parse(contact) {
                writes.push(Write::Notify(Notification {
                    id: Uuid::new_v4(),
                    org: org.clone(),
                    recipient,
                    at: now,
                    subject: subject.clone(),
                    text: text.clone(),
                    link: None,
                    read: false,
                }));
            }
            writes.push(Write::Audit(self.audit(org, "system", "certificate.renewal_reminder", contact.to_owned(), json!({ "days": t, "serials": certs.iter().map(|c| c.serial.to_string()).collect::<Vec<_>>() }))));
            match self.store.commit(writes).await {
                Ok(()) => {
                    let n = certs.len() as u64;
                    self.send_after_commit(Some(Mail {
                        to: contact.to_owned(),
                        subject,
                        text,
                        links: vec![],
                    }))
                    .await;
                    return Ok(Some(n));
                }
                Err(DomainError::StaleVersion(_)) => {
                    // Another run (or a revocation) changed some of them: keep those still due.
                    let mut fresh = Vec::new();
                    for c in &certs {
                        if let Some(cur) = self.store.certificate_in(&c.org, &c.serial).await? {
                            if cur.status_at(now) == CertStatus::Issued
                                && !cur.reminders_sent.iter().any(|s| *s <= t)
                            {
                                fresh.push(cur);
                            }
                        }
                    }
                    certs = fresh;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(None)
    }

    async fn housekeeping(&self, now: OffsetDateTime) -> Result<serde_json::Value> {
        // Secrets are kept a day past expiry so that a late click still says "expired".
        let before = now - time::Duration::days(1);
        let (mut secrets, mut failed) = (0u64, 0u64);
        let mut given_up: std::collections::HashSet<String> = std::collections::HashSet::new();
        loop {
            let limit = SECRET_BATCH + given_up.len();
            let batch: Vec<_> = self
                .store
                .expired_secrets(before, u32::try_from(limit).unwrap_or(u32::MAX))
                .await?
                .into_iter()
                .filter(|s| !given_up.contains(&s.hash))
                .take(SECRET_BATCH)
                .collect();
            if batch.is_empty() {
                break;
            }
            let writes = |hashes: &[String]| {
                hashes
                    .iter()
                    .map(|h| Write::DeleteSecret { hash: h.clone() })
                    .collect::<Vec<_>>()
            };
            let hashes: Vec<String> = batch.into_iter().map(|s| s.hash).collect();
            match self.store.commit(writes(&hashes)).await {
                Ok(()) => secrets += hashes.len() as u64,
                Err(e) => {
                    // One secret changed or failed: delete the others one by one, each on
                    // its own (deleting is idempotent per secret).
                    tracing::debug!(error = %e, "secret batch refused; deleting one by one");
                    for h in hashes {
                        match self.store.commit(writes(std::slice::from_ref(&h))).await {
                            Ok(()) => secrets += 1,
                            Err(e) => {
                                failed += 1;
                                tracing::warn!(error = %e, "expired secret not deleted; the next run retries it");
                                given_up.insert(h);
                            }
                        }
                    }
                }
            }
        }
        let files = self
            .objects
            .purge("p12/", now - self.config.download_ttl)
            .await?;
        Ok(json!({ "secrets_deleted": secrets, "pkcs12_deleted": files, "failed": failed }))
    }
}

/// Certificates one digest marks: with its notification, audit event, audit chain head,
/// lifecycle event and its outbox entry (95 items) the batch stays within one DynamoDB
/// transaction (100 items).
const DIGEST_BATCH: usize = 90;
/// Secrets one housekeeping transaction deletes: each is up to two items (the secret and
/// its reference), so a batch stays within 100 items.
const SECRET_BATCH: usize = 50;
