//! Request inputs as clients send them, and their validation into domain values.
//!
//! Validation collects every field error at once, so a form can show them all.

use serde::{Deserialize, Deserializer};
use time::OffsetDateTime;

use crate::error::{DomainError, FieldError, Result};
use crate::ids::{CertEmail, DisplayName, Ean, Email, PNumber, ProfileName, SeNumber};
use crate::model::{
    CertKind, Identification, IssuingMethod, KeyAlgorithm, Organisation, P12Format, Profile,
    SystemRights,
};

/// Reads a struct only from a JSON object. Serde also reads structs from arrays (the
/// fields in order), which no client means and the OpenAPI document does not allow.
///
/// # Errors
/// The deserializer's "invalid type" error for anything but an object.
pub fn object<'de, D, T>(d: D) -> std::result::Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct Object<T>(std::marker::PhantomData<T>);
    impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for Object<T> {
        type Value = T;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            map: A,
        ) -> std::result::Result<T, A::Error> {
            // The map goes on through the caller's deserializer, so error paths stay precise.
            T::deserialize(serde::de::value::MapAccessDeserializer::new(map))
        }
    }
    d.deserialize_map(Object(std::marker::PhantomData))
}

/// Checks a page cursor before the store decodes it, and words the store's refusal.
///
/// A cursor is opaque base64url (at most 1024 characters): anything else cannot be one
/// and is `Malformed`; a well-formed one that this service did not produce (or whose
/// position no longer decodes) is `Invalid{cursor}`, so that 400 stays for requests that
/// break the published shape (OpenAPI `pattern`).
///
/// # Errors
/// `Malformed{cursor}` for a cursor that is not base64url or is too long.
pub(crate) fn check_cursor(cursor: Option<&str>) -> Result<()> {
    match cursor {
        Some(c)
            if c.len() > 1024
                || !c
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
        {
            Err(DomainError::Malformed {
                field: Some("cursor".into()),
                message: "the cursor must be the next_cursor of an earlier page".into(),
            })
        }
        _ => Ok(()),
    }
}

/// Maps a store's `Malformed{cursor}` (a well-formed cursor it did not produce) to `Invalid`.
pub(crate) fn unknown_cursor(e: DomainError) -> DomainError {
    match e {
        DomainError::Malformed {
            field: Some(f),
            message,
        } if f == "cursor" => DomainError::invalid("cursor", message),
        other => other,
    }
}

/// Body of "create certificate profile and order certificate".
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileInput {
    /// `organisation` or `system`.
    #[serde(rename = "type")]
    pub kind: CertKind,
    /// Profile name (CN).
    pub name: String,
    /// Contact email.
    pub contact_email: String,
    /// Email in the certificate.
    #[serde(default)]
    pub certificate_email: Option<String>,
    /// Contact name.
    #[serde(default)]
    pub contact_name: Option<String>,
    /// P number.
    #[serde(default)]
    pub p_number: Option<String>,
    /// SE number.
    #[serde(default)]
    pub se_number: Option<String>,
    /// EAN number.
    #[serde(default)]
    pub ean: Option<String>,
    /// Rights.
    #[serde(default, deserialize_with = "object")]
    pub system_rights: SystemRights,
    /// Seal generation.
    #[serde(default)]
    pub seal_generation: bool,
    /// Method of identification (default `user_login`).
    #[serde(default)]
    pub identification: Option<Identification>,
    /// Issuing method (default: the first allowed for the identification).
    #[serde(default)]
    pub issuing: Option<IssuingMethod>,
    /// Publish to the directory.
    #[serde(default)]
    pub publish: bool,
    /// Key algorithm for server-side keys.
    #[serde(default)]
    pub key_algorithm: KeyAlgorithm,
    /// Default PKCS#12 format.
    #[serde(default)]
    pub p12_format: P12Format,
}

/// Collects field errors while parsing.
#[derive(Default)]
pub(crate) struct Errors(Vec<FieldError>);

impl Errors {
    pub fn field<T>(&mut self, field: &str, r: std::result::Result<T, String>) -> Option<T> {
        r.map_err(|m| self.0.push(FieldError::new(field, m))).ok()
    }
    pub fn opt<T>(
        &mut self,
        field: &str,
        v: Option<&str>,
        parse: impl Fn(&str) -> std::result::Result<T, String>,
    ) -> Option<T> {
        v.and_then(|s| self.field(field, parse(s)))
    }
    pub fn push(&mut self, field: &str, message: impl Into<String>) {
        self.0.push(FieldError::new(field, message));
    }
    /// Like `finish`, ignoring errors on one field that the caller does not change.
    pub fn finish_except(mut self, field: &str) -> Result<()> {
        self.0.retain(|e| e.field != field);
        self.finish()
    }
    pub fn finish(self) -> Result<()> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(DomainError::Invalid(self.0))
        }
    }
}

/// [`check_org_rules`] for a stored profile as a whole: an order and a machine's
/// self-renewal are held to the organisation's current rules.
///
/// # Errors
/// `Invalid` naming the fields the organisation no longer allows.
pub(crate) fn check_profile_org_rules(org: &Organisation, profile: &Profile) -> Result<()> {
    let mut e = Errors::default();
    check_org_rules(
        &mut e,
        org,
        profile.kind,
        profile.p_number.as_ref(),
        profile.se_number.as_ref(),
        profile.ean.as_ref(),
        &profile.system_rights,
        profile.seal_generation,
    );
    e.finish()
}

/// The organisation-dependent rules of DESIGN §3 for the optional fields and rights.
#[allow(clippy::too_many_arguments)]
pub(crate) fn check_org_rules(
    e: &mut Errors,
    org: &Organisation,
    kind: CertKind,
    p: Option<&PNumber>,
    se: Option<&SeNumber>,
    ean: Option<&Ean>,
    rights: &SystemRights,
    seal: bool,
) {
    if kind == CertKind::Organisation && !org.settings.organisation_certificates_enabled {
        e.push(
            "type",
            "the organisation has not enabled organisation certificates",
        );
    }
    match p {
        Some(_) if org.p_numbers.len() < 2 => e.push(
            "p_number",
            "a P number can only be chosen when the organisation has several",
        ),
        Some(p) if !org.p_numbers.contains(p) => {
            e.push("p_number", "the P number is not one of the organisation's")
        }
        _ => {}
    }
    match se {
        Some(_) if org.se_numbers.len() < 2 => e.push(
            "se_number",
            "an SE number can only be chosen when the organisation has several",
        ),
        Some(s) if !org.se_numbers.contains(s) => e.push(
            "se_number",
            "the SE number is not one of the organisation's",
        ),
        _ => {}
    }
    if ean.is_some() && !org.settings.nemhandel_enabled {
        e.push(
            "ean",
            "an EAN number needs NemHandel to be enabled for the organisation",
        );
    }
    if rights.local_idp && !org.settings.local_idp_enabled {
        e.push(
            "system_rights.local_idp",
            "the organisation has not activated Local IdP",
        );
    }
    if kind == CertKind::Organisation && (rights.administration_api || rights.issuance_api) {
        e.push(
            "system_rights",
            "API services (administration_api, issuance_api) need a system certificate",
        );
    }
    if seal {
        if kind == CertKind::System {
            e.push(
                "seal_generation",
                "only organisation certificates can generate seals",
            );
        } else if !org.settings.seal_generation_allowed {
            e.push(
                "seal_generation",
                "the organisation does not allow seal generation",
            );
        }
    }
}

impl ProfileInput {
    /// Validates every field against the organisation's rules: the new profile (version
    /// 1, no certificate yet), created at `now`.
    pub(crate) fn validate(&self, org: &Organisation, now: OffsetDateTime) -> Result<Profile> {
        let mut e = Errors::default();
        let name = e.field("name", ProfileName::parse(&self.name));
        let contact_email = e.field("contact_email", Email::parse(&self.contact_email));
        let certificate_email = e.opt(
            "certificate_email",
            self.certificate_email.as_deref(),
            CertEmail::parse,
        );
        let contact_name = e.opt(
            "contact_name",
            self.contact_name.as_deref(),
            DisplayName::parse,
        );
        let p_number = e.opt("p_number", self.p_number.as_deref(), PNumber::parse);
        let se_number = e.opt("se_number", self.se_number.as_deref(), SeNumber::parse);
        let ean = e.opt("ean", self.ean.as_deref(), Ean::parse);
        check_org_rules(
            &mut e,
            org,
            self.kind,
            p_number.as_ref(),
            se_number.as_ref(),
            ean.as_ref(),
            &self.system_rights,
            self.seal_generation,
        );
        let identification = self.identification.unwrap_or(Identification::UserLogin);
        let allowed = identification.allowed_issuing();
        let issuing = self.issuing.unwrap_or(allowed[0]);
        if !allowed.contains(&issuing) {
            let names: Vec<&str> = allowed.iter().map(|m| m.as_str()).collect();
            e.push(
                "issuing",
                format!(
                    "with identification {} the issuing method must be {}",
                    identification.as_str(),
                    names.join(" or ")
                ),
            );
        }
        e.finish()?;
        // Every Option below is Some: a None pushed an error and `finish` returned it.
        let (Some(name), Some(contact_email)) = (name, contact_email) else {
            return Err(DomainError::Internal("validation lost a field".into()));
        };
        Ok(Profile {
            certificate_email,
            contact_name,
            p_number,
            se_number,
            ean,
            system_rights: self.system_rights,
            seal_generation: self.seal_generation,
            identification,
            issuing,
            publish: self.publish,
            key_algorithm: self.key_algorithm,
            p12_format: self.p12_format,
            ..Profile::new(org.cvr.clone(), self.kind, name, contact_email, now)
        })
    }
}

/// `Some(None)` for an explicit `null`, `None` for an absent field.
fn nullable<'de, D: Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// A whole number, also when written with a zero fraction (`3.0`): JSON (RFC 8259 §6)
/// and JSON Schema's `integer` do not tell the two apart, so neither do we.
fn integral<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<u64, D::Error> {
    use serde::de::Error;
    match serde_json::Number::deserialize(d)? {
        n if n.is_u64() => n
            .as_u64()
            .ok_or_else(|| D::Error::custom("not a whole number")),
        n => n
            .as_f64()
            .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f < 18_446_744_073_709_551_616.0)
            // The range check above keeps the cast exact.
            .map(|f| f as u64)
            .ok_or_else(|| {
                D::Error::custom(format!("invalid value: {n}, expected a whole number ≥ 0"))
            }),
    }
}

/// Body of PATCH master data: absent fields stay, `null` clears an optional field.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MasterDataPatch {
    /// The version the client edited (409 when stale).
    #[serde(deserialize_with = "integral")]
    pub version: u64,
    /// Profile name (CN of future certificates).
    #[serde(default)]
    pub name: Option<String>,
    /// Contact email.
    #[serde(default)]
    pub contact_email: Option<String>,
    /// Email in the certificate.
    #[serde(default, deserialize_with = "nullable")]
    pub certificate_email: Option<Option<String>>,
    /// Contact name.
    #[serde(default, deserialize_with = "nullable")]
    pub contact_name: Option<Option<String>>,
    /// P number.
    #[serde(default, deserialize_with = "nullable")]
    pub p_number: Option<Option<String>>,
    /// SE number.
    #[serde(default, deserialize_with = "nullable")]
    pub se_number: Option<Option<String>>,
    /// EAN number.
    #[serde(default, deserialize_with = "nullable")]
    pub ean: Option<Option<String>>,
    /// Publish to the directory.
    #[serde(default)]
    pub publish: Option<bool>,
}

/// Body of PATCH organisation settings: absent switches stay.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsPatch {
    /// Organisation certificates enabled.
    #[serde(default)]
    pub organisation_certificates_enabled: Option<bool>,
    /// Seal generation allowed.
    #[serde(default)]
    pub seal_generation_allowed: Option<bool>,
    /// Local IdP activated.
    #[serde(default)]
    pub local_idp_enabled: Option<bool>,
    /// NemHandel enabled.
    #[serde(default)]
    pub nemhandel_enabled: Option<bool>,
}
