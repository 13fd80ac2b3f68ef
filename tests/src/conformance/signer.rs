//! The [`CaSigner`] contract as one suite: what the signer signs must verify under
//! OpenSSL, an independent verifier (DESIGN §8).

use std::path::Path;
use std::sync::Arc;

use orgcert_core::model::CertKind;
use orgcert_pki::{
    create_ca_certificate, generate_key, random_serial, to_pem, Authority, CaSigner, CaSubject,
    CrlSpec, KeyAlgorithm, LeafSpec, RevokedEntry,
};
use time::{Duration, OffsetDateTime};

/// Runs `openssl args` in `dir` and returns its stdout+stderr; panics when it fails.
fn openssl(dir: &Path, args: &[&str]) -> String {
    crate::tools::must(dir, "openssl", args)
}

/// A self-signed CA `CN=<common_name>, O=orgcert, C=DK` over `signer`, valid from
/// `not_before` to `not_after`, with the default policies and `http://pki.example.dk` as
/// its PKI URL: the authority and its certificate (DER).
///
/// # Panics
/// If the certificate or the authority cannot be made.
pub fn test_authority(
    signer: Arc<dyn CaSigner>,
    common_name: &str,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
) -> (Authority, Vec<u8>) {
    let subject = CaSubject {
        common_name: common_name.into(),
        organisation: "orgcert".into(),
        country: "DK".into(),
    };
    let der = create_ca_certificate(signer.as_ref(), &subject, not_before, not_after)
        .expect("CA certificate");
    let authority = Authority::new(
        signer,
        der.clone(),
        "http://pki.example.dk",
        Authority::default_policies(),
    )
    .expect("authority over the signer");
    (authority, der)
}

/// Builds a CA certificate, an organisation certificate and a CRL large enough for the
/// signer's long-message path (over 4096 bytes: KMS DIGEST) with `signer`, and checks
/// each with `openssl verify` / `openssl crl -verify`; plus raw signatures over a short
/// and a long message with `openssl dgst -verify`.
///
/// Blocking (signers block): call it from `spawn_blocking` under tokio.
///
/// # Panics
/// On the first failure.
pub fn signer_conformance(signer: Arc<dyn CaSigner>, dir: &Path) {
    let alg = signer.algorithm();
    let now = OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .expect("whole seconds");
    let (authority, ca_der) = test_authority(
        signer.clone(),
        "orgcert Signer Conformance CA",
        now - Duration::hours(1),
        now + Duration::days(3650),
    );
    std::fs::write(dir.join("ca.pem"), to_pem("CERTIFICATE", &ca_der)).expect("write ca.pem");

    // An organisation certificate for a fresh ECDSA key.
    let leaf_key = generate_key(KeyAlgorithm::EcdsaP256).expect("leaf key");
    let leaf = authority
        .issue(
            &LeafSpec {
                serial: random_serial(),
                kind: CertKind::Organisation,
                cvr: "10150817".into(),
                organisation_name: "Eksempel Rådgivning A/S".into(),
                profile_id: uuid::Uuid::new_v4().to_string(),
                common_name: "Signer conformance".into(),
                email: Some("drift@eksempel.dk".into()),
                not_before: now,
                not_after: now + Duration::days(1095) - Duration::seconds(1),
                crl_url: None,
            },
            leaf_key.public(),
        )
        .expect("leaf certificate");
    std::fs::write(dir.join("leaf.pem"), &leaf.pem).expect("write leaf.pem");
    let verified = openssl(dir, &["verify", "-CAfile", "ca.pem", "leaf.pem"]);
    assert!(verified.contains("leaf.pem: OK"), "{verified}");

    // A CRL of 300 entries is ~10 kB: past KMS's 4096-byte RAW limit.
    let entries: Vec<RevokedEntry> = (0..300)
        .map(|i| RevokedEntry {
            serial: random_serial(),
            revoked_at: now - Duration::minutes(i),
            reason_code: [0, 1, 3, 4, 5, 9][(i % 6) as usize],
        })
        .collect();
    let crl = authority
        .sign_crl(&CrlSpec {
            number: 7,
            this_update: now,
            next_update: now + Duration::days(1),
            entries,
            partition: None,
        })
        .expect("CRL");
    assert!(
        crl.len() > 4096,
        "the CRL must exercise the long-message path"
    );
    std::fs::write(dir.join("crl.der"), &crl).expect("write crl.der");
    let checked = openssl(
        dir,
        &[
            "crl", "-inform", "DER", "-in", "crl.der", "-CAfile", "ca.pem", "-noout",
        ],
    );
    assert!(checked.contains("verify OK"), "{checked}");

    // Raw signatures, short (RAW) and long (DIGEST), against the public key.
    std::fs::write(
        dir.join("pub.pem"),
        to_pem("PUBLIC KEY", &signer.public_key_spki_der()),
    )
    .expect("write pub.pem");
    let digest = match alg {
        KeyAlgorithm::EcdsaP384 => "-sha384",
        KeyAlgorithm::EcdsaP256 | KeyAlgorithm::Rsa3072 | KeyAlgorithm::Rsa4096 => "-sha256",
    };
    for (name, len) in [("short", 100usize), ("long", 10_000)] {
        let msg: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        let sig = signer.sign(&msg).expect("sign");
        std::fs::write(dir.join(format!("{name}.bin")), &msg).expect("write message");
        std::fs::write(dir.join(format!("{name}.sig")), &sig).expect("write signature");
        let out = openssl(
            dir,
            &[
                "dgst",
                digest,
                "-verify",
                "pub.pem",
                "-signature",
                &format!("{name}.sig"),
                &format!("{name}.bin"),
            ],
        );
        assert!(out.contains("Verified OK"), "{name}: {out}");
    }
}
