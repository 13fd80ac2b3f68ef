//! Parsers on their own: CSR intake, OCSP requests, and the OpenAPI patterns against the
//! parsers they describe (a pattern accepts exactly what its parser accepts).

use std::process::Command;
use std::sync::Arc;

use orgcert_core::ids::{CertEmail, DisplayName, Email, ProfileName, Serial};
use orgcert_core::ports::CertificateAuthority;
use orgcert_http::openapi;
use orgcert_pki::port::PkiAuthority;
use orgcert_pki::{CaSigner, KeyFileSigner};
use orgcert_tests::conformance::signer::test_authority;
use proptest::prelude::*;
use time::OffsetDateTime;

use crate::harness::fuzz;

fn openssl(args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl is required (README: Requirements)");
    assert!(out.status.success(), "openssl {args:?}: {out:?}");
}

/// A CA, a valid CSR (DER) and a valid OCSP request (DER) made by OpenSSL.
struct Seeds {
    ca: PkiAuthority,
    csr_der: Vec<u8>,
    csr_pem: String,
    ocsp_der: Vec<u8>,
}

fn seeds() -> Seeds {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = |f: &str| dir.path().join(f).to_string_lossy().into_owned();
    let signer: Arc<dyn CaSigner> =
        Arc::new(KeyFileSigner::generate(orgcert_pki::KeyAlgorithm::EcdsaP256).expect("CA key"));
    let now = OffsetDateTime::now_utc();
    let (authority, der) = test_authority(
        signer,
        "Fuzz CA",
        now - time::Duration::days(1),
        now + time::Duration::days(30),
    );
    std::fs::write(d("ca.pem"), orgcert_pki::to_pem("CERTIFICATE", &der)).expect("ca.pem");
    openssl(&[
        "req",
        "-new",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-subj",
        "/CN=fuzz",
        "-keyout",
        &d("key.pem"),
        "-out",
        &d("csr.pem"),
    ]);
    openssl(&[
        "req",
        "-in",
        &d("csr.pem"),
        "-outform",
        "DER",
        "-out",
        &d("csr.der"),
    ]);
    openssl(&[
        "ocsp",
        "-issuer",
        &d("ca.pem"),
        "-serial",
        "0x4a1b2c3d4e5f6071",
        "-reqout",
        &d("req.der"),
    ]);
    Seeds {
        ca: PkiAuthority::new(Arc::new(authority)),
        csr_der: std::fs::read(d("csr.der")).expect("csr.der"),
        csr_pem: std::fs::read_to_string(d("csr.pem")).expect("csr.pem"),
        ocsp_der: std::fs::read(d("req.der")).expect("req.der"),
    }
}

/// Arbitrary bytes, or a valid input with a few bytes changed, cut short or extended.
pub fn mutated(valid: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    let n = valid.len();
    let flips = valid.clone();
    let cut = valid.clone();
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..1024),
        proptest::collection::vec((0..n, any::<u8>()), 1..6).prop_map(move |edits| {
            let mut v = flips.clone();
            for (i, b) in edits {
                v[i] = b;
            }
            v
        }),
        (0..n, proptest::collection::vec(any::<u8>(), 0..8)).prop_map(move |(at, tail)| {
            let mut v = cut[..at].to_vec();
            v.extend(tail);
            v
        }),
        Just(valid),
    ]
}

#[test]
fn csr_intake_never_panics() {
    let s = seeds();
    assert!(orgcert_pki::parse_csr(&s.csr_der).is_ok());
    assert!(s.ca.check_csr(&s.csr_pem).is_ok());
    let pem = |der: &[u8]| {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD.encode(der);
        format!("-----BEGIN CERTIFICATE REQUEST-----\n{b64}\n-----END CERTIFICATE REQUEST-----\n")
    };
    let strategy = (mutated(s.csr_der.clone()), 0..3u8, ".{0,64}");
    fuzz("csr intake", 0.15, strategy, |(der, form, text)| {
        let _ = orgcert_pki::parse_csr(&der);
        // check_csr takes the text a client sends: PEM, garbage around PEM, any string.
        let input = match form {
            0 => pem(&der),
            1 => format!("{text}{}{text}", pem(&der)),
            _ => String::from_utf8_lossy(&der).into_owned() + &text,
        };
        if let Err(e) = s.ca.check_csr(&input) {
            // A refused CSR is a 422 on the field, never an internal error.
            prop_assert!(matches!(e, orgcert_core::DomainError::Invalid(_)), "{e:?}");
        }
        Ok(())
    });
}

#[test]
fn ocsp_request_parsing_never_panics() {
    let s = seeds();
    assert!(orgcert_pki::parse_ocsp_request(&s.ocsp_der).is_ok());
    fuzz("ocsp parse", 0.15, mutated(s.ocsp_der.clone()), |der| {
        let _ = orgcert_pki::parse_ocsp_request(&der);
        Ok(())
    });
}

/// Strings near the edges of a pattern: short runs over an alphabet of the characters
/// that matter, and some arbitrary text.
fn near(alphabet: &'static str, max: usize) -> impl Strategy<Value = String> {
    let chars: Vec<char> = alphabet.chars().collect();
    prop_oneof![
        4 => proptest::collection::vec(proptest::sample::select(chars), 0..max)
            .prop_map(|v| v.into_iter().collect::<String>()),
        1 => ".{0,80}",
    ]
}

fn matches(pattern: &regex::Regex, max_chars: usize, s: &str) -> bool {
    pattern.is_match(s) && s.chars().count() <= max_chars
}

#[test]
fn openapi_patterns_accept_exactly_what_the_parsers_accept() {
    let serial = regex::Regex::new(openapi::SERIAL_PATTERN).expect("serial pattern");
    let compile = |p: String| regex::Regex::new(&p).expect("pattern");
    let email = compile(openapi::email_pattern());
    let cert_email = compile(openapi::cert_email_pattern());
    let text = compile(openapi::text_pattern());
    let strategy = (
        near("0123456789abcdefABCDEFg: ", 48),
        near(
            "ab.-@ éÆ\u{3000}\u{85}\u{a0}\u{7f}\t\n\u{1f}\u{200b}1(,'!_\"",
            12,
        ),
        // Long local parts and labels around the 64/63/254 limits.
        (1..80usize, 1..70usize, 1..6usize, proptest::bool::ANY),
        near("ab é\u{a0}\u{3000}\n\u{7f}\u{85}", 8),
    );
    fuzz(
        "openapi patterns",
        0.2,
        strategy,
        |(sn, mail, (local, label, labels, wide), name)| {
            prop_assert_eq!(
                serial.is_match(&sn),
                Serial::parse(&sn).is_ok(),
                "serial {:?}",
                sn
            );
            let ch = if wide { "é" } else { "a" };
            let long = format!(
                "{}@{}",
                ch.repeat(local),
                vec![ch.repeat(label); labels].join(".")
            );
            for m in [mail.as_str(), long.as_str()] {
                prop_assert_eq!(
                    matches(&email, 254, m),
                    Email::parse(m).is_ok(),
                    "email {:?}",
                    m
                );
                prop_assert_eq!(
                    matches(&cert_email, 254, m),
                    CertEmail::parse(m).is_ok(),
                    "certificate email {:?}",
                    m
                );
                // What we accept, the mailer must take, or the mail is silently not sent.
                // (ASCII: non-ASCII domains go through IDNA in lettre, not checked here.)
                if m.is_ascii() && Email::parse(m).is_ok() {
                    prop_assert!(
                        m.parse::<lettre::Address>().is_ok(),
                        "the mailer refuses {:?}",
                        m
                    );
                }
            }
            prop_assert_eq!(
                matches(&text, 64, &name) && !name.is_empty(),
                ProfileName::parse(&name).is_ok(),
                "name {:?}",
                name
            );
            prop_assert_eq!(
                matches(&text, 200, &name) && !name.is_empty(),
                DisplayName::parse(&name).is_ok(),
                "display name {:?}",
                name
            );
            Ok(())
        },
    );
}
