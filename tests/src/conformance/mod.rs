//! Conformance suites: one per port, run against every adapter (SQLite now, DynamoDB on
//! an emulator later), so that both adapters keep one contract (DESIGN §8).
//!
//! The fixtures below build realistic records from the core newtypes. Every suite run
//! uses fresh random CVRs, serials and hashes, so a suite can run again on a store that
//! already holds data (a shared emulator table) without interference.

pub mod mailer;
pub mod objects;
pub mod signer;
pub mod store;

pub use mailer::mailer_conformance;
pub use objects::objects_conformance;
pub use signer::signer_conformance;
pub use store::store_conformance;

use orgcert_core::app::NewOrganisation;
use orgcert_core::auth::{Actor, Role};
use orgcert_core::ids::{Cvr, DisplayName, Email, ProfileName, Serial};
use orgcert_core::model::{
    AuditEvent, CertKind, CertStatus, Certificate, IdempotencyRecord, IssuanceSecret,
    LatestCertificate, Notification, OrgSettings, Organisation, Profile, ProfileSnapshot,
    SecretKind, SystemRights,
};
use orgcert_core::ports::{Store, Write};
use orgcert_core::secrets;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

/// The base instant of the suites (whole seconds, as the domain clock gives).
pub const T0: OffsetDateTime = datetime!(2025-03-01 09:00:00 UTC);

/// A random valid CVR (mod 11), so runs never share an organisation.
pub fn random_cvr() -> Cvr {
    const W: [u32; 7] = [2, 7, 6, 5, 4, 3, 2];
    loop {
        let b = Uuid::new_v4().into_bytes();
        let mut d: Vec<u32> = b[..7].iter().map(|x| u32::from(*x) % 10).collect();
        d[0] = 1 + u32::from(b[8]) % 9;
        let sum: u32 = d.iter().zip(W).map(|(a, w)| a * w).sum();
        // The last digit has weight 1: it makes the sum divisible by 11, if a digit can.
        let check = (11 - sum % 11) % 11;
        if check == 10 {
            continue;
        }
        d.push(check);
        let s: String = d.iter().filter_map(|x| char::from_digit(*x, 10)).collect();
        if let Ok(cvr) = Cvr::parse(&s) {
            return cvr;
        }
    }
}

/// Parses an email or panics (fixtures only).
pub fn email(s: &str) -> Email {
    Email::parse(s).expect("fixture email")
}

/// `cvr` as a new organisation named `name`, the way the app's tests register one:
/// organisation certificates on; seals, Local IdP and NemHandel off; no P or SE numbers.
pub fn new_organisation(cvr: impl ToString, name: &str) -> NewOrganisation {
    NewOrganisation {
        cvr: cvr.to_string(),
        name: name.into(),
        p_numbers: vec![],
        se_numbers: vec![],
        settings: OrgSettings {
            organisation_certificates_enabled: true,
            seal_generation_allowed: false,
            local_idp_enabled: false,
            nemhandel_enabled: false,
        },
    }
}

/// A caller in `org` with `roles`, as authentication would make one (subject = email, no
/// login time).
pub fn actor(org: &Cvr, email: &str, roles: Vec<Role>) -> Actor {
    Actor {
        subject: email.into(),
        email: email.into(),
        name: "Test".into(),
        org: org.clone(),
        roles,
        authenticated_at: None,
    }
}

/// The write that stores [`organisation`] `org` as new.
pub fn put_organisation(org: &Cvr) -> Write {
    Write::PutOrganisation {
        org: organisation(org),
        expected: None,
    }
}

/// A fresh random organisation ([`organisation`]) written to `store`: its CVR.
///
/// # Panics
/// If the store refuses the write.
pub async fn stored_organisation(store: &dyn Store) -> Cvr {
    let org = random_cvr();
    store
        .commit(vec![put_organisation(&org)])
        .await
        .expect("a new organisation");
    org
}

/// An organisation at version 1.
pub fn organisation(cvr: &Cvr) -> Organisation {
    Organisation {
        cvr: cvr.clone(),
        name: DisplayName::parse("Eksempel Rådgivning A/S").expect("fixture name"),
        settings: OrgSettings {
            organisation_certificates_enabled: true,
            seal_generation_allowed: true,
            local_idp_enabled: false,
            nemhandel_enabled: false,
        },
        p_numbers: vec![],
        se_numbers: vec![],
        version: 1,
        created_at: T0,
    }
}

/// A system-certificate profile at version 1 with no certificate yet.
pub fn profile(org: &Cvr, name: &str) -> Profile {
    Profile {
        system_rights: SystemRights {
            administration_api: true,
            issuance_api: false,
            local_idp: false,
        },
        ..Profile::new(
            org.clone(),
            CertKind::System,
            ProfileName::parse(name).expect("fixture profile name"),
            email("it-drift@eksempel.dk"),
            T0,
        )
    }
}

/// A pending certificate under `profile`, version 1, with a fresh random serial.
pub fn pending(profile: &Profile, ordered_at: OffsetDateTime) -> Certificate {
    Certificate::pending_order(
        secrets::new_serial(),
        profile,
        ProfileSnapshot::of(
            profile,
            DisplayName::parse("Eksempel Rådgivning A/S").expect("fixture name"),
        ),
        ordered_at,
        "admin@eksempel.dk".into(),
        None,
    )
}

/// `cert` issued at `at` with the DESIGN §3 validity, version bumped.
pub fn issued(cert: &Certificate, at: OffsetDateTime) -> Certificate {
    let mut c = cert.clone();
    c.status = CertStatus::Issued;
    c.issued_at = Some(at);
    c.issued_by = Some("it-drift@eksempel.dk".into());
    c.not_before = Some(at);
    c.not_after = Some(at + Duration::days(1095) - Duration::seconds(1));
    c.fingerprint = Some(secrets::hash_secret(cert.serial.as_str()));
    c.secret_hash = None;
    c.version += 1;
    c
}

/// The writes that store `cert` as new under `profile` as new: the profile summarising
/// it ([`summarised`]), then the certificate.
pub fn put_issued(profile: &Profile, cert: Certificate) -> [Write; 2] {
    [
        Write::PutProfile {
            profile: summarised(profile, &cert),
            expected: None,
        },
        Write::PutCertificate {
            cert,
            expected: None,
        },
    ]
}

/// The profile summary of `cert`.
pub fn latest(cert: &Certificate) -> LatestCertificate {
    LatestCertificate {
        serial: cert.serial.clone(),
        status: cert.status,
        not_after: cert.not_after,
    }
}

/// `profile` summarising `cert`, version bumped.
pub fn summarised(profile: &Profile, cert: &Certificate) -> Profile {
    let mut p = profile.clone();
    p.latest = Some(latest(cert));
    p.version += 1;
    p
}

/// A fresh link secret for `cert` (random hash), version 1.
pub fn link_secret(cert: &Certificate) -> IssuanceSecret {
    IssuanceSecret {
        hash: secrets::hash_secret(&secrets::new_token()),
        kind: SecretKind::Link,
        org: cert.org.clone(),
        serial: cert.serial.clone(),
        created_at: T0,
        expires_at: T0 + Duration::days(14),
        used_at: None,
        claim: None,
        version: 1,
    }
}

/// A fresh one-time-code secret for `cert` with a random reference, version 1.
pub fn code_secret(cert: &Certificate) -> IssuanceSecret {
    IssuanceSecret {
        kind: SecretKind::OneTimeCode {
            reference: secrets::new_reference(),
            failed_attempts: 0,
        },
        ..link_secret(cert)
    }
}

/// The reference of a one-time-code secret.
pub fn reference_of(s: &IssuanceSecret) -> &str {
    match &s.kind {
        SecretKind::OneTimeCode { reference, .. } => reference,
        SecretKind::Link => panic!("a link secret has no reference"),
    }
}

/// An audit event.
pub fn audit_event(org: &Cvr, action: &str, target: &str, at: OffsetDateTime) -> AuditEvent {
    AuditEvent {
        id: Uuid::new_v4(),
        org: org.clone(),
        at,
        actor: "admin@eksempel.dk".into(),
        action: action.into(),
        target: target.into(),
        detail: serde_json::json!({ "via": "conformance" }),
        seq: None,
        prev_hash: None,
        hash: None,
    }
}

/// An unread in-app notification.
pub fn notification(org: &Cvr, to: &str, subject: &str, at: OffsetDateTime) -> Notification {
    Notification {
        id: Uuid::new_v4(),
        org: org.clone(),
        recipient: email(to),
        at,
        subject: subject.into(),
        text: "Open the link to issue your certificate.".into(),
        link: Some("http://127.0.0.1:8080/issue/abc".into()),
        read: false,
    }
}

/// An idempotency record for an order.
pub fn idempotency_record(
    org: &Cvr,
    key: &str,
    profile: &Profile,
    serial: &Serial,
) -> IdempotencyRecord {
    IdempotencyRecord {
        org: org.clone(),
        key: key.into(),
        request_hash: secrets::hash_secret(key),
        profile_id: profile.id,
        serial: serial.clone(),
        created_at: T0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_cvrs_are_valid_and_differ() {
        let a: Vec<Cvr> = (0..50).map(|_| random_cvr()).collect();
        assert!(a.iter().all(|c| Cvr::parse(c.as_str()).is_ok()));
        let mut uniq = a.clone();
        uniq.sort();
        uniq.dedup();
        assert!(uniq.len() > 45);
    }
}
