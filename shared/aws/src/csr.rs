//! A PKCS#10 request signed by a remote key through rcgen's `SigningKey` seam.

use orgcert_core::DomainError;
use orgcert_pki::{CaSigner, CaSubject, KeyAlgorithm};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, DnValue, IsCa, KeyUsagePurpose,
    PublicKeyData, SignatureAlgorithm, SigningKey, SubjectPublicKeyInfo,
};

/// A [`CaSigner`] presented to rcgen.
struct RemoteKey<'a> {
    signer: &'a dyn CaSigner,
    public: SubjectPublicKeyInfo,
}

impl PublicKeyData for RemoteKey<'_> {
    fn der_bytes(&self) -> &[u8] {
        self.public.der_bytes()
    }

    fn algorithm(&self) -> &'static SignatureAlgorithm {
        match self.signer.algorithm() {
            KeyAlgorithm::Rsa3072 | KeyAlgorithm::Rsa4096 => &rcgen::PKCS_RSA_SHA256,
            KeyAlgorithm::EcdsaP256 => &rcgen::PKCS_ECDSA_P256_SHA256,
            KeyAlgorithm::EcdsaP384 => &rcgen::PKCS_ECDSA_P384_SHA384,
        }
    }
}

impl SigningKey for RemoteKey<'_> {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        self.signer.sign(msg).map_err(|e| {
            tracing::warn!(error = %e, "remote signing of a CSR failed");
            rcgen::Error::RemoteKeyError
        })
    }
}

/// The CSR (PEM) of a CA with `subject` for `signer`'s key. Blocking (it signs).
pub(crate) fn ca_request(
    signer: &dyn CaSigner,
    subject: &CaSubject,
) -> Result<String, DomainError> {
    let public = SubjectPublicKeyInfo::from_der(&signer.public_key_spki_der())
        .map_err(|e| DomainError::Internal(format!("CA public key: {e}")))?;
    let key = RemoteKey { signer, public };
    let mut dn = DistinguishedName::new();
    let country = subject
        .country
        .as_str()
        .try_into()
        .map_err(|_| DomainError::invalid("country", "not a PrintableString"))?;
    // CN first in the DER, as OCES3 CA names and `create_ca_certificate`.
    dn.push(DnType::CommonName, subject.common_name.as_str());
    dn.push(DnType::OrganizationName, subject.organisation.as_str());
    dn.push(DnType::CountryName, DnValue::PrintableString(country));
    let mut params = CertificateParams::default();
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let csr = params.serialize_request(&key).map_err(|e| match e {
        rcgen::Error::RemoteKeyError => {
            DomainError::Unavailable("the CA key could not sign the request".into())
        }
        other => DomainError::Internal(format!("CSR encoding: {other}")),
    })?;
    csr.pem()
        .map_err(|e| DomainError::Internal(format!("CSR PEM: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use orgcert_pki::KeyFileSigner;

    #[test]
    fn csr_for_a_remote_key_parses_and_names_the_subject() {
        for alg in KeyAlgorithm::ALL {
            let signer = KeyFileSigner::generate(alg).unwrap();
            let pem = ca_request(
                &signer,
                &CaSubject {
                    common_name: "orgcert Test CA".into(),
                    organisation: "orgcert".into(),
                    country: "DK".into(),
                },
            )
            .unwrap();
            assert!(pem.starts_with("-----BEGIN CERTIFICATE REQUEST-----"));
            let parsed = rcgen::CertificateSigningRequestParams::from_pem(&pem).unwrap();
            assert_eq!(
                parsed.public_key.der_bytes(),
                SubjectPublicKeyInfo::from_der(&signer.public_key_spki_der())
                    .unwrap()
                    .der_bytes()
            );
        }
    }
}
