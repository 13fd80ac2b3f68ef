//! Records shared by the orgcert-local benches: an organisation, a profile and issued
//! certificates as the service writes them.
#![allow(dead_code)]

use orgcert_core::ids::{Cvr, DisplayName, Email, ProfileName, Serial};
use orgcert_core::model::{
    CertKind, CertStatus, Certificate, KeyAlgorithm, OrgSettings, Organisation, Profile,
    ProfileSnapshot,
};
use orgcert_core::ports::{Store, Write};
use orgcert_local::SqliteStore;
use time::OffsetDateTime;

pub fn org(now: OffsetDateTime) -> Organisation {
    Organisation {
        cvr: Cvr::parse("10150817").unwrap(),
        name: DisplayName::parse("Bench A/S").unwrap(),
        settings: OrgSettings {
            organisation_certificates_enabled: true,
            seal_generation_allowed: false,
            local_idp_enabled: false,
            nemhandel_enabled: false,
        },
        p_numbers: vec![],
        se_numbers: vec![],
        version: 1,
        created_at: now,
    }
}

pub fn profile(now: OffsetDateTime) -> Profile {
    Profile {
        key_algorithm: KeyAlgorithm::EcdsaP256,
        ..Profile::new(
            Cvr::parse("10150817").unwrap(),
            CertKind::System,
            ProfileName::parse("bench").unwrap(),
            Email::parse("anna@example.dk").unwrap(),
            now,
        )
    }
}

pub fn issued(
    p: &Profile,
    serial: u128,
    now: OffsetDateTime,
    not_after: OffsetDateTime,
) -> Certificate {
    let mut snapshot = ProfileSnapshot::of(p, DisplayName::parse("Bench A/S").unwrap());
    (
        snapshot.certificate_email,
        snapshot.seal_generation,
        snapshot.publish,
    ) = (None, false, false);
    let mut c = Certificate::pending_order(
        Serial::parse(&format!("{serial:032x}")).unwrap(),
        p,
        snapshot,
        now,
        "admin@example.dk".into(),
        None,
    );
    c.status = CertStatus::Issued;
    c.issued_at = Some(now);
    c.issued_by = Some("admin@example.dk".into());
    c.not_before = Some(now);
    c.not_after = Some(not_after);
    c.subject = Some("CN=bench,O=Bench A/S,C=DK".into());
    c.fingerprint = Some("ab".repeat(32));
    c.certificate_pem = Some(format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        "A".repeat(700)
    ));
    c
}

pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// Commits the organisation and its profile to `store`; returns the profile.
pub async fn seed(store: &SqliteStore, now: OffsetDateTime) -> Profile {
    let p = profile(now);
    store
        .commit(vec![
            Write::PutOrganisation {
                org: org(now),
                expected: None,
            },
            Write::PutProfile {
                profile: p.clone(),
                expected: None,
            },
        ])
        .await
        .unwrap();
    p
}
