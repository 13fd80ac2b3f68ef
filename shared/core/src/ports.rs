//! Ports: one small trait per capability, each with a written contract.
//!
//! Adapters live elsewhere (`orgcert-local`: SQLite, key file, files, outbox;
//! `orgcert-aws`: DynamoDB, KMS, S3, SES). What the store adapters share is in
//! [`crate::store_support`].

use async_trait::async_trait;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::error::Result;
use crate::ids::{Cvr, Email, Serial};
use crate::model::{
    AuditEvent, CertKind, CertStatus, Certificate, CrlState, IdempotencyRecord, IssuanceSecret,
    KeyAlgorithm, Notification, OcspRecord, Organisation, P12Format, Page, Profile,
};

/// Filters of the profile list. Results are ordered by lower-cased name, then id.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProfileQuery {
    /// Case-insensitive substring of name, contact/certificate email, contact name, id or latest serial.
    pub q: Option<String>,
    /// Effective status of the latest certificate.
    pub status: Option<CertStatus>,
    /// Certificate type.
    pub kind: Option<CertKind>,
    /// Page size (1..=200).
    pub limit: u32,
    /// Opaque cursor from a previous page.
    pub cursor: Option<String>,
    /// Instant used to derive `expired`: the use case sets it from its clock. A store
    /// never reads the wall clock; it refuses a `status` filter without it (`Internal`).
    pub now: Option<OffsetDateTime>,
}

/// Criteria of a public directory lookup (at least one is set; all given must match).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DirectoryQuery {
    /// Exact serial.
    pub serial: Option<Serial>,
    /// Profile UUID.
    pub profile_id: Option<Uuid>,
    /// Organisation CVR.
    pub cvr: Option<Cvr>,
    /// Certificate email (case-insensitive, exact).
    pub email: Option<String>,
    /// At most this many (1..=100).
    pub limit: u32,
}

/// One write of an atomic batch. `expected` is the version the stored item must have
/// (`None`: the item must not exist); the item is written with the version it carries.
// A batch holds a handful of writes for one commit; boxing the certificate would only
// add noise at every call site.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    /// Create or update an organisation.
    PutOrganisation {
        /// The new state.
        org: Organisation,
        /// Required stored version.
        expected: Option<u64>,
    },
    /// Create or update a profile.
    PutProfile {
        /// The new state.
        profile: Profile,
        /// Required stored version.
        expected: Option<u64>,
    },
    /// Create or update a certificate.
    PutCertificate {
        /// The new state.
        cert: Certificate,
        /// Required stored version.
        expected: Option<u64>,
    },
    /// Remove a certificate (pending orders only; the use case checks the lifecycle).
    DeleteCertificate {
        /// Which.
        serial: Serial,
        /// Required stored version.
        expected: u64,
    },
    /// Create or update an issuance secret.
    PutSecret {
        /// The new state.
        secret: IssuanceSecret,
        /// Required stored version.
        expected: Option<u64>,
    },
    /// Append an audit event; the store links it into the organisation's audit chain
    /// (its `seq`, `prev_hash` and `hash` are set by the store, whatever they were).
    Audit(AuditEvent),
    /// Append an in-app notification.
    Notify(Notification),
    /// Mark a user's notifications read (`ids` empty: all of them).
    MarkRead {
        /// Organisation.
        org: Cvr,
        /// Whose notifications.
        recipient: Email,
        /// Which ones.
        ids: Vec<Uuid>,
    },
    /// Create or advance a CRL scope's state.
    PutCrlState {
        /// The new state.
        state: CrlState,
        /// Required stored version.
        expected: Option<u64>,
    },
    /// Store a certificate's pre-signed OCSP responses. Records only move forward
    /// (DESIGN §5a), as a condition of the store: "revoked" replaces a record that is not
    /// revoked; otherwise only a newer `this_update` replaces, and a revoked record only
    /// by a revoked one. A refused write fails the commit with `StaleVersion`.
    PutOcsp(OcspRecord),
    /// Remove an issuance secret (housekeeping).
    DeleteSecret {
        /// Its hash.
        hash: String,
    },
    /// Record an idempotency key (must not exist yet).
    Idempotency(IdempotencyRecord),
}

/// Persistence of every domain record.
#[async_trait]
pub trait Store: Send + Sync {
    /// Organisation by CVR.
    ///
    /// # Errors
    /// `Unavailable` when the backend cannot be reached.
    async fn organisation(&self, cvr: &Cvr) -> Result<Option<Organisation>>;
    /// All organisations (local tooling; small).
    async fn organisations(&self) -> Result<Vec<Organisation>>;
    /// Profile by id within an organisation (`None` for another organisation's id).
    async fn profile(&self, org: &Cvr, id: Uuid) -> Result<Option<Profile>>;
    /// Profile list page.
    ///
    /// # Errors
    /// `Malformed{field: "cursor"}` for a cursor this store did not produce.
    async fn profiles(&self, org: &Cvr, query: &ProfileQuery) -> Result<Page<Profile>>;
    /// Certificate by serial within `org`: every use case reads through this one, so
    /// another organisation's serial reads as absent (tenant isolation in the port).
    ///
    /// # Errors
    /// `Unavailable` when the backend cannot be reached; `Internal` for a corrupt record.
    async fn certificate_in(&self, org: &Cvr, serial: &Serial) -> Result<Option<Certificate>>;
    /// Certificate by serial in any organisation. Only for what is organisation-blind by
    /// nature: OCSP, the public directory, and mutual-TLS authentication (where the
    /// certificate names the organisation); anything acting for a caller uses
    /// [`Store::certificate_in`].
    ///
    /// # Errors
    /// `Unavailable` when the backend cannot be reached; `Internal` for a corrupt record.
    async fn certificate_any_org(&self, serial: &Serial) -> Result<Option<Certificate>>;
    /// Certificates of a profile, oldest order first.
    async fn certificates_of(&self, org: &Cvr, profile: Uuid) -> Result<Vec<Certificate>>;
    /// Issuance secret by hash.
    async fn secret(&self, hash: &str) -> Result<Option<IssuanceSecret>>;
    /// One-time-code secret by its reference.
    async fn secret_by_reference(&self, reference: &str) -> Result<Option<IssuanceSecret>>;
    /// Audit events, newest first.
    ///
    /// # Errors
    /// `Malformed{field: "cursor"}` for a foreign cursor.
    async fn audit(&self, org: &Cvr, limit: u32, cursor: Option<&str>) -> Result<Page<AuditEvent>>;
    /// Every audit event of the organisation in chain order (oldest first): events
    /// written before the chain existed first, in the order written, then by `seq`
    /// (see [`crate::audit_chain`]). The store assigns `seq`, `prev_hash` and `hash`
    /// when it commits a [`Write::Audit`], under the organisation's chain head.
    ///
    /// # Errors
    /// `Unavailable` when the backend cannot be reached.
    async fn audit_export(&self, org: &Cvr) -> Result<Vec<AuditEvent>>;
    /// Lifecycle events of the organisation with `seq > after`, oldest first, at most
    /// `limit` (the store writes them with their audit event, see [`crate::events`]).
    ///
    /// # Errors
    /// `Unavailable` when the backend cannot be reached.
    async fn events(
        &self,
        org: &Cvr,
        after: u64,
        limit: u32,
    ) -> Result<Vec<crate::events::LifecycleEvent>>;
    /// Lifecycle events not yet delivered to the event bus, oldest first, any
    /// organisation, at most `limit`.
    ///
    /// # Errors
    /// `Unavailable` when the backend cannot be reached.
    async fn undelivered_events(&self, limit: u32) -> Result<Vec<crate::events::LifecycleEvent>>;
    /// Marks events delivered (idempotent: an already marked or unknown one is skipped).
    ///
    /// # Errors
    /// `Unavailable` when the backend cannot be reached.
    async fn mark_events_delivered(&self, events: &[crate::events::LifecycleEvent]) -> Result<()>;
    /// Notifications for one user, newest first (at most `limit`).
    async fn notifications(
        &self,
        org: &Cvr,
        recipient: &Email,
        limit: u32,
    ) -> Result<Vec<Notification>>;
    /// Idempotency record.
    async fn idempotency(&self, org: &Cvr, key: &str) -> Result<Option<IdempotencyRecord>>;
    /// Revoked certificates of every organisation (the CRL's entries).
    async fn revoked_certificates(&self) -> Result<Vec<Certificate>>;
    /// Certificates with this stored status, any organisation, in serial order (OCSP refresh).
    ///
    /// # Errors
    /// `Malformed{cursor}` for a foreign cursor.
    async fn certificates_by_status(
        &self,
        status: CertStatus,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Page<Certificate>>;
    /// Issued certificates with `after < not_after <= until`, soonest first (expiry index:
    /// the cost follows the certificates returned, not all certificates).
    ///
    /// # Errors
    /// `Malformed{cursor}` for a foreign cursor.
    async fn expiring(
        &self,
        after: OffsetDateTime,
        until: OffsetDateTime,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Page<Certificate>>;
    /// The state of a CRL scope.
    async fn crl_state(&self, name: &str) -> Result<Option<CrlState>>;
    /// A certificate's pre-signed OCSP responses.
    async fn ocsp_record(&self, serial: &Serial) -> Result<Option<OcspRecord>>;
    /// Published, non-pending certificates matching every given criterion (any organisation).
    async fn directory(&self, query: &DirectoryQuery) -> Result<Vec<Certificate>>;
    /// Issuance secrets that expired before `before` (housekeeping), at most `limit`.
    async fn expired_secrets(
        &self,
        before: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<IssuanceSecret>>;
    /// Applies every write or none.
    ///
    /// # Errors
    /// `StaleVersion` when any `expected` version does not match (including "must not
    /// exist" for an existing item); `Unavailable` when the backend fails; nothing is
    /// written in either case.
    async fn commit(&self, writes: Vec<Write>) -> Result<()>;
    /// As [`Store::commit`] (atomic, conditional, ordered before every later commit), for
    /// writes whose loss in a power failure is harmless: an issuance claim, which lapses by
    /// itself. A store may then skip waiting for the disk; the next `commit` makes these
    /// writes durable with its own. The default is `commit`.
    ///
    /// # Errors
    /// As [`Store::commit`].
    async fn commit_lease(&self, writes: Vec<Write>) -> Result<()> {
        self.commit(writes).await
    }
}

/// An event bus for lifecycle events (AWS: EventBridge, source `orgcert`, detail-type =
/// the event type, detail = the event).
#[async_trait]
pub trait EventBus: Send + Sync {
    /// Puts the events on the bus (at most 10 per call); returns the ids of those the
    /// bus accepted, which alone are then marked delivered.
    ///
    /// # Errors
    /// `Unavailable` when the bus cannot be reached (nothing counts as delivered).
    async fn publish(&self, events: &[crate::events::LifecycleEvent]) -> Result<Vec<Uuid>>;
}

/// What goes into an issued certificate (besides the CA's own URLs and policies).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertSpec {
    /// Serial assigned at order time.
    pub serial: Serial,
    /// Certificate type.
    pub kind: CertKind,
    /// Organisation CVR.
    pub cvr: Cvr,
    /// Organisation name (O=).
    pub organisation_name: String,
    /// Profile UUID (serialNumber=UI:DK-O:G:<uuid>).
    pub profile_id: Uuid,
    /// CN.
    pub common_name: String,
    /// rfc822Name SAN.
    pub email: Option<String>,
    /// Validity start.
    pub not_before: OffsetDateTime,
    /// Validity end.
    pub not_after: OffsetDateTime,
    /// CRL partition the certificate's CRL distribution point names (None: the full CRL).
    pub crl_partition: Option<u32>,
}

/// Where the subject key comes from.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// Generate a key pair and wrap it in a PKCS#12 with this password.
    Generate {
        /// Key algorithm.
        algorithm: KeyAlgorithm,
        /// PKCS#12 format.
        format: P12Format,
        /// PKCS#12 password (never stored, never printed).
        password: crate::secret::SecretString,
    },
    /// The holder's PKCS#10 request (PEM or base64 DER).
    Csr(String),
}

/// An issued certificate with, for server-side keys, its PKCS#12.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedMaterial {
    /// PEM of the certificate.
    pub certificate_pem: String,
    /// PEM of the chain above it (the CA).
    pub chain_pem: String,
    /// SHA-256 of the DER, lowercase hex.
    pub fingerprint: String,
    /// Subject DN text.
    pub subject: String,
    /// PKCS#12 (server-side keys only).
    pub pkcs12: Option<Vec<u8>>,
}

/// A CRL entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokedRef {
    /// Serial.
    pub serial: Serial,
    /// Revocation time.
    pub revoked_at: OffsetDateTime,
    /// Reason (unspecified is written without a reasonCode, RFC 5280 §5.3.1).
    pub reason: crate::model::RevocationReason,
}

/// CertID hash algorithms (RFC 6960 §4.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OcspHash {
    /// SHA-1 (OpenSSL's default).
    Sha1,
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

/// A parsed OCSP request, as far as the responder needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OcspQuery {
    /// Serial of the (first) certificate asked about.
    pub serial: Serial,
    /// CertID hash algorithm.
    pub hash: OcspHash,
    /// Whether the CertID names one of our issuing CAs.
    pub ours: bool,
    /// The issuing CA generation the CertID names (1 unless the CA was rolled over).
    pub generation: u32,
    /// How many certificates the request asks about.
    pub count: usize,
    /// The request nonce, if any.
    pub nonce: Option<Vec<u8>>,
}

/// One OCSP response to sign (RFC 6960 §4.2.1): one SingleResponse for one certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OcspResponseSpec {
    /// The certificate.
    pub serial: Serial,
    /// The hash algorithm of the CertID answered (the request's).
    pub hash: OcspHash,
    /// The status stated.
    pub status: OcspStatus,
    /// producedAt.
    pub produced_at: OffsetDateTime,
    /// thisUpdate.
    pub this_update: OffsetDateTime,
    /// nextUpdate (at most 10 days after thisUpdate).
    pub next_update: OffsetDateTime,
    /// The request's nonce, echoed (RFC 8954); `None` for pre-signed responses.
    pub nonce: Option<Vec<u8>>,
}

/// A certificate's status as OCSP states it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OcspStatus {
    /// Issued and not revoked.
    Good,
    /// Revoked.
    Revoked {
        /// When.
        at: OffsetDateTime,
        /// Why.
        reason: crate::model::RevocationReason,
    },
    /// Not a certificate this CA issued.
    Unknown,
}

/// Unsigned OCSP error answers (RFC 6960 §4.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OcspFailure {
    /// The request could not be parsed.
    Malformed,
    /// The responder cannot answer for this CA.
    Unauthorized,
    /// Try again later (signer unavailable).
    TryLater,
    /// Internal error.
    Internal,
}

/// The certificate authority seam (key file or KMS behind it).
#[async_trait]
pub trait CertificateAuthority: Send + Sync {
    /// The issuing CA certificate then the certificates above it (the root last), PEM
    /// (`/public/ca.pem`).
    fn ca_pem(&self) -> String;
    /// The current issuing CA certificate, DER.
    fn ca_der(&self) -> Vec<u8>;
    /// The root CA certificate (trust anchor), PEM; a single-tier CA is its own root.
    fn root_pem(&self) -> String {
        self.ca_pem()
    }
    /// The root CA certificate, DER.
    fn root_der(&self) -> Vec<u8> {
        self.ca_der()
    }
    /// The root's CRL (DER), when the CA has a separate root.
    fn root_crl(&self) -> Option<Vec<u8>> {
        None
    }
    /// Checks a CSR without issuing.
    ///
    /// # Errors
    /// `Invalid{field: "csr"}` for garbage, a bad signature, weak or unsupported keys.
    fn check_csr(&self, csr: &str) -> Result<()>;
    /// Builds and signs a certificate.
    ///
    /// # Errors
    /// `Invalid` for a spec or CSR that breaks the profile (checked before signing);
    /// `Unavailable` when the signer fails.
    async fn issue(&self, spec: CertSpec, key: KeySource) -> Result<IssuedMaterial>;
    /// Signs a CRL: the full one (`partition: None`) or one partition (critical IDP).
    ///
    /// # Errors
    /// `Unavailable` when the signer fails.
    async fn sign_crl(
        &self,
        number: u64,
        this_update: OffsetDateTime,
        next_update: OffsetDateTime,
        entries: Vec<RevokedRef>,
        partition: Option<u32>,
    ) -> Result<Vec<u8>>;
    /// The issuing CA generations still serving status, oldest first; the last one issues
    /// new certificates. Generation 1 is the first issuing CA; `orgcert ca rollover` adds
    /// the next (DESIGN §4 "CA hierarchy").
    fn generations(&self) -> Vec<u32> {
        vec![1]
    }
    /// The certificate (DER) of issuing CA generation `generation`, if it is served.
    fn generation_der(&self, generation: u32) -> Option<Vec<u8>> {
        (generation == 1).then(|| self.ca_der())
    }
    /// The generation that issued `certificate_pem` (matched by its authorityKeyIdentifier),
    /// `None` when it is none of [`CertificateAuthority::generations`].
    fn generation_of(&self, _certificate_pem: &str) -> Option<u32> {
        Some(1)
    }
    /// Signs a CRL of issuing CA generation `generation` (its own CRL URLs and scopes).
    ///
    /// # Errors
    /// As [`CertificateAuthority::sign_crl`]; `NotFound` for a generation not served.
    #[allow(clippy::too_many_arguments)]
    async fn sign_generation_crl(
        &self,
        generation: u32,
        number: u64,
        this_update: OffsetDateTime,
        next_update: OffsetDateTime,
        entries: Vec<RevokedRef>,
        partition: Option<u32>,
    ) -> Result<Vec<u8>> {
        let _ = generation;
        self.sign_crl(number, this_update, next_update, entries, partition)
            .await
    }
    /// Signs one OCSP response under the CertID of issuing CA generation `generation`.
    ///
    /// # Errors
    /// As [`CertificateAuthority::sign_ocsp`].
    async fn sign_generation_ocsp(
        &self,
        generation: u32,
        spec: OcspResponseSpec,
    ) -> Result<Vec<u8>> {
        let _ = generation;
        self.sign_ocsp(spec).await
    }
    /// Parses a DER OCSP request.
    ///
    /// # Errors
    /// The OCSP failure to answer with (malformed).
    fn parse_ocsp(&self, der: &[u8]) -> std::result::Result<OcspQuery, OcspFailure>;
    /// Signs one OCSP response for `spec.serial` under a CertID of `spec.hash`.
    ///
    /// # Errors
    /// `Unavailable` when the signer fails.
    async fn sign_ocsp(&self, spec: OcspResponseSpec) -> Result<Vec<u8>>;
    /// An unsigned OCSP error response.
    fn ocsp_failure(&self, failure: OcspFailure) -> Vec<u8>;
    /// Makes sure a delegated OCSP responder with enough validity left is stored, minting
    /// one (a CA signature) when not. Called by the crl-refresh job, the signing
    /// principal; OCSP signing itself only loads the stored responder (DESIGN §5a).
    ///
    /// # Errors
    /// `Unavailable` when the signer or the responder store fails.
    async fn prepare_responder(&self, _now: OffsetDateTime) -> Result<()> {
        Ok(())
    }
}

/// Side effects that follow a status change but need not finish inside the request:
/// the embedded default rebuilds the CRL in the background; AWS relies on its schedule.
pub trait StatusEvents: Send + Sync {
    /// A certificate was revoked: the CRL is stale.
    fn crl_stale(&self);
}

/// No background work (tests, tools, the AWS shape where a schedule rebuilds the CRL).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoEvents;

impl StatusEvents for NoEvents {
    fn crl_stale(&self) {}
}

/// Object storage for PKCS#12 files, behind expiring links.
#[async_trait]
pub trait Objects: Send + Sync {
    /// Stores bytes under `key` (overwrites).
    ///
    /// # Errors
    /// `Unavailable` when the backend fails.
    async fn put(&self, key: &str, bytes: Vec<u8>, content_type: &str) -> Result<()>;
    /// A link that downloads the object until `now + ttl`.
    async fn presign(&self, key: &str, ttl: Duration, now: OffsetDateTime) -> Result<String>;
    /// Removes an object; a missing object is not an error.
    async fn delete(&self, key: &str) -> Result<()>;
    /// Reads an object (`None` when absent).
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>>;
    /// Removes the objects under `prefix` last written before `older_than`; returns how many.
    async fn purge(&self, prefix: &str, older_than: OffsetDateTime) -> Result<usize>;
}

/// A mail to one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    /// Recipient.
    pub to: String,
    /// Subject.
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// Links in the body, for tooling.
    pub links: Vec<String>,
}

/// Outgoing mail.
#[async_trait]
pub trait Mailer: Send + Sync {
    /// Sends one mail.
    ///
    /// # Errors
    /// `Unavailable` when it could not be handed over.
    async fn send(&self, mail: &Mail) -> Result<()>;
}
