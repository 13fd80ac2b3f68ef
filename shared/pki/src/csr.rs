//! PKCS#10 intake (RFC 2986): proof of possession and key checks; the subject is ignored.

use x509_parser::certification_request::X509CertificationRequest;
use x509_parser::prelude::FromDer;

use crate::{PkiError, SubjectPublicKey};

/// Larger inputs are refused unparsed; an RSA-8192 CSR is about 2.5 KB of DER.
const MAX_CSR_BYTES: usize = 64 * 1024;

/// Reads a PKCS#10 request (PEM `CERTIFICATE REQUEST` / `NEW CERTIFICATE REQUEST`, or DER),
/// checks its key and verifies its self-signature; returns the key to certify.
///
/// Accepted keys: RSA 2048..=8192 bits (reported exactly by
/// [`SubjectPublicKey::key_type`]) and EC P-256/P-384. The requested subject and extensions
/// are ignored: the certificate profile decides them.
///
/// # Errors
/// `InvalidCsr` for anything that is not a well-formed request with a valid signature,
/// `WeakKey` for RSA below 2048 bits, `UnsupportedKey` for other key types and curves.
pub fn parse_csr(input: &[u8]) -> Result<SubjectPublicKey, PkiError> {
    let invalid = |reason: String| PkiError::InvalidCsr { reason };
    if input.len() > MAX_CSR_BYTES {
        return Err(invalid(format!("larger than {MAX_CSR_BYTES} bytes")));
    }
    let der = decode(input)?;
    let (rest, csr) = X509CertificationRequest::from_der(&der)
        .map_err(|e| invalid(format!("not a PKCS#10 request: {e}")))?;
    if !rest.is_empty() {
        return Err(invalid("trailing bytes after the request".into()));
    }
    // RFC 2986 §4.1: version is 0 (v1).
    if csr.certification_request_info.version.0 != 0 {
        return Err(invalid("unsupported request version".into()));
    }
    // Classify the key before verifying: the verifier refuses small RSA keys outright, and
    // the user deserves "weak key", not "bad signature".
    let key = SubjectPublicKey::from_spki_der(csr.certification_request_info.subject_pki.raw)
        .map_err(|e| match e {
            PkiError::Encoding(reason) => invalid(reason),
            other => other,
        })?;
    csr.verify_signature()
        .map_err(|e| invalid(format!("signature does not verify: {e}")))?;
    Ok(key)
}

fn decode(input: &[u8]) -> Result<Vec<u8>, PkiError> {
    let invalid = |reason: String| PkiError::InvalidCsr { reason };
    let text_start = input
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(0);
    if !input[text_start..].starts_with(b"-----BEGIN") {
        return Ok(input.to_vec());
    }
    let text = std::str::from_utf8(input).map_err(|_| invalid("PEM is not valid text".into()))?;
    let parsed = pem::parse(text).map_err(|e| invalid(format!("bad PEM: {e}")))?;
    match parsed.tag() {
        "CERTIFICATE REQUEST" | "NEW CERTIFICATE REQUEST" => Ok(parsed.into_contents()),
        other => Err(invalid(format!(
            "PEM label is \"{other}\", expected \"CERTIFICATE REQUEST\""
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{KeyAlgorithm, SubjectKeyType};
    use rcgen::{CertificateParams, KeyPair, PublicKeyData, RsaKeySize, PKCS_RSA_SHA256};
    use std::process::Command;

    fn csr_der(kp: &KeyPair) -> Vec<u8> {
        let mut params = CertificateParams::new(vec!["ignored.example.dk".to_string()]).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "ignored");
        params.serialize_request(kp).unwrap().der().to_vec()
    }

    #[test]
    fn valid_rsa_3072_and_ec_csrs_are_accepted_in_der_and_pem() {
        let cases = [
            (
                KeyPair::generate_rsa_for(&PKCS_RSA_SHA256, RsaKeySize::_3072).unwrap(),
                SubjectKeyType::Rsa { bits: 3072 },
            ),
            (
                KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap(),
                SubjectKeyType::EcdsaP256,
            ),
            (
                KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap(),
                SubjectKeyType::EcdsaP384,
            ),
        ];
        for (kp, expected) in cases {
            let der = csr_der(&kp);
            let key = parse_csr(&der).unwrap();
            assert_eq!(key.key_type(), expected);
            assert_eq!(key.spki_der(), kp.subject_public_key_info().as_slice());
            let pem_text = crate::to_pem("CERTIFICATE REQUEST", &der);
            assert_eq!(parse_csr(pem_text.as_bytes()).unwrap(), key);
            let new_label = crate::to_pem("NEW CERTIFICATE REQUEST", &der);
            let padded = format!("\n  {new_label}");
            assert_eq!(parse_csr(padded.as_bytes()).unwrap(), key);
        }
        assert_eq!(
            parse_csr(&csr_der(
                &KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap()
            ))
            .unwrap()
            .algorithm(),
            KeyAlgorithm::EcdsaP256
        );
    }

    #[test]
    fn garbage_is_invalid() {
        for input in [&b""[..], b"garbage", b"\x30\x03\x02\x01\x00", &[0u8; 100]] {
            assert!(
                matches!(parse_csr(input), Err(PkiError::InvalidCsr { .. })),
                "{input:?}"
            );
        }
        let wrong_label = crate::to_pem("CERTIFICATE", b"\x30\x00");
        assert!(matches!(
            parse_csr(wrong_label.as_bytes()),
            Err(PkiError::InvalidCsr { .. })
        ));
        assert!(matches!(
            parse_csr(&vec![0x30; MAX_CSR_BYTES + 1]),
            Err(PkiError::InvalidCsr { .. })
        ));
    }

    #[test]
    fn tampered_signature_or_content_is_invalid() {
        for kp in [
            KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap(),
            KeyPair::generate_rsa_for(&PKCS_RSA_SHA256, RsaKeySize::_2048).unwrap(),
        ] {
            let der = csr_der(&kp);
            let mut sig = der.clone();
            let last = sig.len() - 1;
            sig[last] ^= 0x01;
            assert!(matches!(parse_csr(&sig), Err(PkiError::InvalidCsr { .. })));
            // Change one letter of the requested CN: still well-formed, no longer signed.
            let mut content = der.clone();
            let at = content.windows(7).position(|w| w == b"ignored").unwrap();
            content[at] = b'I';
            match parse_csr(&content) {
                Err(PkiError::InvalidCsr { reason }) => {
                    assert!(reason.contains("signature"), "{reason}")
                }
                other => panic!("{other:?}"),
            }
            let mut trailing = der.clone();
            trailing.push(0);
            assert!(matches!(
                parse_csr(&trailing),
                Err(PkiError::InvalidCsr { .. })
            ));
        }
    }

    #[test]
    fn ed25519_and_p521_are_unsupported() {
        for alg in [&rcgen::PKCS_ED25519, &rcgen::PKCS_ECDSA_P521_SHA512] {
            let kp = KeyPair::generate_for(alg).unwrap();
            match parse_csr(&csr_der(&kp)) {
                Err(PkiError::UnsupportedKey { reason }) => assert!(!reason.is_empty()),
                other => panic!("{alg:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn rsa_1024_is_weak() {
        let dir = tempfile::tempdir().unwrap();
        let csr_path = dir.path().join("weak.csr");
        let out = Command::new("openssl")
            .args([
                "req", "-new", "-newkey", "rsa:1024", "-nodes", "-subj", "/CN=weak",
            ])
            .arg("-keyout")
            .arg(dir.path().join("weak.key"))
            .arg("-out")
            .arg(&csr_path)
            .output();
        let out = match out {
            Ok(out) => out,
            Err(e) if std::env::var("ORGCERT_REQUIRE_TOOLS").as_deref() != Ok("1") => {
                eprintln!("skipping: openssl not runnable: {e}");
                return;
            }
            Err(e) => panic!("openssl not runnable: {e}"),
        };
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let pem_text = std::fs::read(&csr_path).unwrap();
        match parse_csr(&pem_text) {
            Err(PkiError::WeakKey { reason }) => assert!(reason.contains("1024"), "{reason}"),
            other => panic!("{other:?}"),
        }
    }
}
