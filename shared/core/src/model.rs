//! Domain records: organisations, profiles, certificates, issuance secrets, audit, notifications.

use crate::ids::{CertEmail, Cvr, DisplayName, Ean, Email, PNumber, ProfileName, SeNumber, Serial};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

/// Settings an organisation administrator controls.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgSettings {
    /// Organisation (not only system) certificates may be ordered.
    pub organisation_certificates_enabled: bool,
    /// Organisation certificates may carry seal generation.
    pub seal_generation_allowed: bool,
    /// Local IdP rights may be granted.
    pub local_idp_enabled: bool,
    /// EAN numbers (NemHandel) may be set on profiles.
    pub nemhandel_enabled: bool,
}

/// A tenant, keyed by CVR.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Organisation {
    /// CVR number (key).
    pub cvr: Cvr,
    /// Legal name, written as O= in certificates.
    pub name: DisplayName,
    /// Administrator-controlled settings.
    pub settings: OrgSettings,
    /// Production units.
    pub p_numbers: Vec<PNumber>,
    /// Tax registration units.
    pub se_numbers: Vec<SeNumber>,
    /// Optimistic version.
    pub version: u64,
    /// Creation time.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// Certificate type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CertKind {
    /// Organisation certificate (may generate seals).
    Organisation,
    /// System certificate (may carry API rights).
    System,
}

impl CertKind {
    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Organisation => "organisation",
            Self::System => "system",
        }
    }
}

/// How the holder proves who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Identification {
    /// The holder logs in as the profile's contact.
    UserLogin,
    /// A one-time code shown to the admin, a reference mailed to the contact.
    OneTimeCode,
    /// The organisation's IdM system identifies over the API.
    Api,
}

/// How the issuance link reaches the holder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IssuingMethod {
    /// Proceed to issuance now: the link is returned to the ordering user.
    Direct,
    /// Mail + in-app notification to the contact.
    Email,
    /// Issued by the IdM system over the API.
    Api,
}

impl IssuingMethod {
    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Direct => "direct",
            Self::Email => "email",
            Self::Api => "api",
        }
    }
}

impl Identification {
    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UserLogin => "user_login",
            Self::OneTimeCode => "one_time_code",
            Self::Api => "api",
        }
    }
    /// The issuing methods allowed with this identification; the first is the default.
    pub fn allowed_issuing(self) -> &'static [IssuingMethod] {
        match self {
            Self::UserLogin => &[IssuingMethod::Email, IssuingMethod::Direct],
            Self::OneTimeCode => &[IssuingMethod::Email],
            Self::Api => &[IssuingMethod::Api],
        }
    }
}

/// Key pair algorithm for server-side generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum KeyAlgorithm {
    /// RSA 3072 (OCES3 default).
    #[default]
    #[serde(rename = "rsa-3072")]
    Rsa3072,
    /// ECDSA on P-256.
    #[serde(rename = "ecdsa-p256")]
    EcdsaP256,
    /// ECDSA on P-384.
    #[serde(rename = "ecdsa-p384")]
    EcdsaP384,
}

impl KeyAlgorithm {
    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rsa3072 => "rsa-3072",
            Self::EcdsaP256 => "ecdsa-p256",
            Self::EcdsaP384 => "ecdsa-p384",
        }
    }
}

/// PKCS#12 encryption profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum P12Format {
    /// PBES2 / AES-256-CBC / HMAC-SHA256 (OpenSSL 3 default).
    #[default]
    Modern,
    /// PBE-SHA1-3DES / SHA-1 MAC for older Windows and macOS keychains.
    Legacy,
}

impl P12Format {
    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Modern => "modern",
            Self::Legacy => "legacy",
        }
    }
}

/// API services and Local IdP rights carried by a profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct SystemRights {
    /// Manage profiles and certificates over the API.
    #[serde(default)]
    pub administration_api: bool,
    /// Identify and issue over the API (IdM integration).
    #[serde(default)]
    pub issuance_api: bool,
    /// Local IdP rights (only when the organisation activated Local IdP).
    #[serde(default)]
    pub local_idp: bool,
}

/// Stored certificate status; `Expired` is derived from `not_after`, never stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CertStatus {
    /// Ordered, waiting for the holder.
    Pending,
    /// Issued and within validity.
    Issued,
    /// Revoked (terminal).
    Revoked,
    /// Issued and past not_after.
    Expired,
}

impl CertStatus {
    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Issued => "issued",
            Self::Revoked => "revoked",
            Self::Expired => "expired",
        }
    }
}

/// RFC 5280 §5.3.1 reason codes offered to administrators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RevocationReason {
    /// unspecified (0)
    Unspecified,
    /// keyCompromise (1)
    KeyCompromise,
    /// affiliationChanged (3)
    AffiliationChanged,
    /// superseded (4)
    Superseded,
    /// cessationOfOperation (5)
    CessationOfOperation,
    /// privilegeWithdrawn (9)
    PrivilegeWithdrawn,
}

impl RevocationReason {
    /// The CRLReason code.
    pub fn code(self) -> u8 {
        match self {
            Self::Unspecified => 0,
            Self::KeyCompromise => 1,
            Self::AffiliationChanged => 3,
            Self::Superseded => 4,
            Self::CessationOfOperation => 5,
            Self::PrivilegeWithdrawn => 9,
        }
    }
    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unspecified => "unspecified",
            Self::KeyCompromise => "keyCompromise",
            Self::AffiliationChanged => "affiliationChanged",
            Self::Superseded => "superseded",
            Self::CessationOfOperation => "cessationOfOperation",
            Self::PrivilegeWithdrawn => "privilegeWithdrawn",
        }
    }
}

/// A certificate profile: the shared details of the certificates ordered under it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    /// UUID, also the `UI:DK-O:G:<uuid>` subject serialNumber.
    pub id: Uuid,
    /// Owning organisation.
    pub org: Cvr,
    /// Certificate type.
    pub kind: CertKind,
    /// Name (CN).
    pub name: ProfileName,
    /// Who issues and downloads the certificates.
    pub contact_email: Email,
    /// Email in the certificate (rfc822Name).
    pub certificate_email: Option<CertEmail>,
    /// Contact person's name.
    pub contact_name: Option<DisplayName>,
    /// P number (only when the organisation has several).
    pub p_number: Option<PNumber>,
    /// SE number (only when the organisation has several).
    pub se_number: Option<SeNumber>,
    /// EAN number (only with NemHandel).
    pub ean: Option<Ean>,
    /// API and Local IdP rights.
    pub system_rights: SystemRights,
    /// Seal generation (qcStatement legal person).
    pub seal_generation: bool,
    /// Method of identification.
    pub identification: Identification,
    /// Issuing method.
    pub issuing: IssuingMethod,
    /// Publish issued certificates to the public directory.
    pub publish: bool,
    /// Server-side key algorithm.
    pub key_algorithm: KeyAlgorithm,
    /// Default PKCS#12 format.
    pub p12_format: P12Format,
    /// Created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Last changed.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// Optimistic version.
    pub version: u64,
    /// Status of the latest certificate (denormalised for list filters).
    pub latest: Option<LatestCertificate>,
}

/// Summary of a profile's newest certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LatestCertificate {
    /// Serial.
    pub serial: Serial,
    /// Stored status (never `Expired`).
    pub status: CertStatus,
    /// Expiry once issued.
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub not_after: Option<OffsetDateTime>,
}

impl Profile {
    /// A new profile of `org` (a fresh id, version 1, no certificate yet), created at
    /// `now`, with what every profile has and the defaults of the rest: no certificate
    /// email, contact name, P, SE or EAN number, no system rights, no seal generation, not
    /// published; identification by user login, issued by email (the first method it
    /// allows), the default key algorithm and PKCS#12 format. Creating a profile sets the
    /// rest from its validated input.
    pub fn new(
        org: Cvr,
        kind: CertKind,
        name: ProfileName,
        contact_email: Email,
        now: OffsetDateTime,
    ) -> Self {
        Self {
            id: Uuid::new_v4(),
            org,
            kind,
            name,
            contact_email,
            certificate_email: None,
            contact_name: None,
            p_number: None,
            se_number: None,
            ean: None,
            system_rights: SystemRights::default(),
            seal_generation: false,
            identification: Identification::UserLogin,
            issuing: IssuingMethod::Email,
            publish: false,
            key_algorithm: KeyAlgorithm::default(),
            p12_format: P12Format::default(),
            created_at: now,
            updated_at: now,
            version: 1,
            latest: None,
        }
    }

    /// Status shown for the profile: its newest certificate's, expiry derived from `now`.
    pub fn status(&self, now: OffsetDateTime) -> Option<CertStatus> {
        self.latest
            .as_ref()
            .map(|l| effective_status(l.status, l.not_after, now))
    }
}

/// The stored status with expiry applied.
pub fn effective_status(
    stored: CertStatus,
    not_after: Option<OffsetDateTime>,
    now: OffsetDateTime,
) -> CertStatus {
    match (stored, not_after) {
        (CertStatus::Issued, Some(na)) if now > na => CertStatus::Expired,
        (s, _) => s,
    }
}

/// What a certificate was ordered with: later profile edits do not change it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileSnapshot {
    /// Certificate type.
    pub kind: CertKind,
    /// CN.
    pub name: ProfileName,
    /// Organisation name at order time.
    pub organisation_name: DisplayName,
    /// rfc822Name.
    pub certificate_email: Option<CertEmail>,
    /// Seal generation.
    pub seal_generation: bool,
    /// Rights.
    pub system_rights: SystemRights,
    /// Identification.
    pub identification: Identification,
    /// Issuing method.
    pub issuing: IssuingMethod,
    /// Key algorithm for server-side keys.
    pub key_algorithm: KeyAlgorithm,
    /// Default PKCS#12 format.
    pub p12_format: P12Format,
    /// Published to the directory.
    pub publish: bool,
}

impl ProfileSnapshot {
    /// What an order copies from its profile, and the organisation's name, when placed.
    pub fn of(profile: &Profile, organisation_name: DisplayName) -> Self {
        Self {
            kind: profile.kind,
            name: profile.name.clone(),
            organisation_name,
            certificate_email: profile.certificate_email.clone(),
            seal_generation: profile.seal_generation,
            system_rights: profile.system_rights,
            identification: profile.identification,
            issuing: profile.issuing,
            key_algorithm: profile.key_algorithm,
            p12_format: profile.p12_format,
            publish: profile.publish,
        }
    }
}

/// A certificate (order) under a profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Certificate {
    /// X.509 serial, assigned at order time.
    pub serial: Serial,
    /// Organisation.
    pub org: Cvr,
    /// Profile.
    pub profile_id: Uuid,
    /// Stored status (never `Expired`).
    pub status: CertStatus,
    /// Details frozen at order time.
    pub snapshot: ProfileSnapshot,
    /// Ordered.
    #[serde(with = "time::serde::rfc3339")]
    pub ordered_at: OffsetDateTime,
    /// Who ordered.
    pub ordered_by: String,
    /// Serial of the certificate this renews.
    pub renewal_of: Option<Serial>,
    /// Hash of the one valid issuance secret, if any.
    pub secret_hash: Option<String>,
    /// Issued.
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub issued_at: Option<OffsetDateTime>,
    /// Who issued.
    pub issued_by: Option<String>,
    /// Validity start.
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub not_before: Option<OffsetDateTime>,
    /// Validity end.
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub not_after: Option<OffsetDateTime>,
    /// Subject DN (RFC 4514 text).
    pub subject: Option<String>,
    /// SHA-256 of the DER, lowercase hex.
    pub fingerprint: Option<String>,
    /// The certificate, PEM.
    pub certificate_pem: Option<String>,
    /// Revoked.
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub revoked_at: Option<OffsetDateTime>,
    /// Who revoked.
    pub revoked_by: Option<String>,
    /// Why.
    pub revocation_reason: Option<RevocationReason>,
    /// Renewal-reminder thresholds (days) already sent for this certificate.
    #[serde(default)]
    pub reminders_sent: Vec<u32>,
    /// The renewal ordered for this certificate (DESIGN §5a: one pending renewal at a
    /// time). Written with this certificate's expected version in the commit that creates
    /// the renewal; it stays after the renewal is issued or deleted and then no longer blocks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_renewal: Option<Serial>,
    /// An issuance in progress (DESIGN §5a: claimed before anything is signed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim: Option<IssuanceClaim>,
    /// Optimistic version.
    pub version: u64,
}

/// An issuance attempt's hold on a pending certificate and its secret. Only the holder
/// signs; a holder that crashed loses it when `until` passes, so the link works again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuanceClaim {
    /// The attempt (also names its PKCS#12 object).
    pub attempt: Uuid,
    /// The claim lapses after this instant.
    #[serde(with = "time::serde::rfc3339")]
    pub until: OffsetDateTime,
}

impl IssuanceClaim {
    /// Whether the claim still holds at `now`.
    pub fn live(&self, now: OffsetDateTime) -> bool {
        now < self.until
    }
}

impl Certificate {
    /// A new order under `profile`: pending, version 1, nothing issued yet.
    pub fn pending_order(
        serial: Serial,
        profile: &Profile,
        snapshot: ProfileSnapshot,
        ordered_at: OffsetDateTime,
        ordered_by: String,
        renewal_of: Option<Serial>,
    ) -> Self {
        Self {
            serial,
            org: profile.org.clone(),
            profile_id: profile.id,
            status: CertStatus::Pending,
            snapshot,
            ordered_at,
            ordered_by,
            renewal_of,
            secret_hash: None,
            issued_at: None,
            issued_by: None,
            not_before: None,
            not_after: None,
            subject: None,
            fingerprint: None,
            certificate_pem: None,
            revoked_at: None,
            revoked_by: None,
            revocation_reason: None,
            reminders_sent: Vec::new(),
            pending_renewal: None,
            claim: None,
            version: 1,
        }
    }

    /// Status with expiry derived from `now`.
    pub fn status_at(&self, now: OffsetDateTime) -> CertStatus {
        effective_status(self.status, self.not_after, now)
    }
}

/// What an issuance secret is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum SecretKind {
    /// A link token (`/issue/{token}`).
    Link,
    /// A one-time code found by its reference.
    OneTimeCode {
        /// The reference mailed to the contact.
        reference: String,
        /// Wrong codes so far.
        failed_attempts: u32,
    },
}

/// A single-use, expiring issuance secret, stored only as a hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuanceSecret {
    /// Stored form of the token or code: SHA-256 hex for link tokens, a keyed hash
    /// (`hmac-sha256:` + hex) for one-time codes (plain SHA-256 in older records).
    pub hash: String,
    /// Link or code.
    pub kind: SecretKind,
    /// Organisation.
    pub org: Cvr,
    /// The certificate to issue.
    pub serial: Serial,
    /// Created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Expires.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    /// Used (single use).
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub used_at: Option<OffsetDateTime>,
    /// An issuance in progress with this secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim: Option<IssuanceClaim>,
    /// Optimistic version.
    pub version: u64,
}

/// An audit event: every mutation writes one in the same transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// Event id.
    pub id: Uuid,
    /// Organisation.
    pub org: Cvr,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// Who: the JWT subject/email, or `system`.
    pub actor: String,
    /// What, e.g. `certificate.revoke`.
    pub action: String,
    /// Target id (profile UUID, serial, CVR).
    pub target: String,
    /// Extra detail (never secrets).
    pub detail: serde_json::Value,
    /// Place in the organisation's audit chain (1, 2, ...), set by the store when it
    /// appends the event; `None` for events written before the chain existed
    /// (see [`crate::audit_chain`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    /// Hash of the previous chained event (64 zeros for the first), set with `seq`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prev_hash: Option<String>,
    /// SHA-256 (hex) over this event's canonical JSON without `hash`, set with `seq`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash: Option<String>,
}

/// An in-app notification for one user of an organisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    /// Id.
    pub id: Uuid,
    /// Organisation.
    pub org: Cvr,
    /// Recipient (matched against the caller's email).
    pub recipient: Email,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// Subject line, e.g. "Download an organisation certificate".
    pub subject: String,
    /// Body text.
    pub text: String,
    /// Link to act on, if any.
    pub link: Option<String>,
    /// Read by the recipient.
    pub read: bool,
}

/// An `Idempotency-Key` already used for an ordering POST, and what it created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdempotencyRecord {
    /// Organisation.
    pub org: Cvr,
    /// The client's key.
    pub key: String,
    /// Hash of operation + request body, to refuse reuse with another request.
    pub request_hash: String,
    /// The profile the first request created or ordered under.
    pub profile_id: Uuid,
    /// The certificate the first request ordered.
    pub serial: Serial,
    /// Created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// A page of results with an opaque cursor to the next.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// Opaque cursor for the next page.
    pub next_cursor: Option<String>,
}

/// The state of one CRL scope (the full CRL, or one partition).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrlState {
    /// `full` or `p<n>`.
    pub name: String,
    /// The last cRLNumber issued for this scope (monotonic, RFC 5280 §5.2.3).
    pub number: u64,
    /// thisUpdate of the current CRL.
    #[serde(with = "time::serde::rfc3339")]
    pub this_update: OffsetDateTime,
    /// nextUpdate of the current CRL.
    #[serde(with = "time::serde::rfc3339")]
    pub next_update: OffsetDateTime,
    /// Revoked entries in it.
    pub entries: u64,
    /// Optimistic version.
    pub version: u64,
}

/// Pre-signed OCSP responses of one certificate (one per CertID hash algorithm).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OcspRecord {
    /// The certificate.
    pub serial: Serial,
    /// Status the responses state (`issued` = good, or `revoked`).
    pub status: CertStatus,
    /// DER OCSPResponse for a SHA-1 CertID (OpenSSL's default). `Bytes`: the answer is
    /// shared by reference count, not copied, by each query answered from memory.
    #[serde(with = "b64")]
    pub sha1: Bytes,
    /// DER OCSPResponse for a SHA-256 CertID.
    #[serde(with = "b64")]
    pub sha256: Bytes,
    /// thisUpdate of the responses.
    #[serde(with = "time::serde::rfc3339")]
    pub this_update: OffsetDateTime,
    /// nextUpdate of the responses.
    #[serde(with = "time::serde::rfc3339")]
    pub next_update: OffsetDateTime,
}

mod b64 {
    use base64::Engine;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(v))
    }
    pub fn deserialize<'de, D: Deserializer<'de>, T: From<Vec<u8>>>(d: D) -> Result<T, D::Error> {
        let t = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD
            .decode(t)
            .map(T::from)
            .map_err(serde::de::Error::custom)
    }
}
