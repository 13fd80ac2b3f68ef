//! Certificate revocation lists (RFC 5280 §5, DESIGN §5): full and partitioned CRLs, built by
//! rcgen and signed by the CA signer.

use std::collections::HashSet;

use rcgen::{
    CertificateRevocationListParams, CrlDistributionPoint, CrlIssuingDistributionPoint, CrlScope,
    Issuer, KeyIdMethod, PublicKeyData, RevocationReason, SerialNumber, SigningKey,
};
use time::{Duration, OffsetDateTime, UtcOffset};

use crate::authority::check_http_url;
use crate::signer::verify_signed_der;
use crate::{pss, validate};
use crate::{Authority, PkiError};

/// DESIGN §5: thisUpdate and nextUpdate at most 10 days apart.
pub(crate) const MAX_UPDATE_INTERVAL: Duration = Duration::days(10);

/// One revoked certificate in a CRL (RFC 5280 §5.1.2.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokedEntry {
    /// The certificate's serial, big-endian magnitude (leading zero octets are ignored).
    pub serial: Vec<u8>,
    /// When the CA processed the revocation (revocationDate).
    pub revoked_at: OffsetDateTime,
    /// RFC 5280 §5.3.1 CRLReason; 0 (unspecified) writes no reasonCode entry extension.
    pub reason_code: u8,
}

/// What goes into one CRL; the issuer, signature and key identifier come from the [`Authority`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrlSpec {
    /// The cRLNumber (RFC 5280 §5.2.3); the caller keeps it monotonic per CRL scope.
    pub number: u64,
    /// Issue time of this CRL.
    pub this_update: OffsetDateTime,
    /// When the next CRL will be issued; after `this_update`, at most 10 days later.
    pub next_update: OffsetDateTime,
    /// The revoked certificates in this CRL's scope, in any order.
    pub entries: Vec<RevokedEntry>,
    /// `Some(url)`: a partition CRL carrying a critical issuingDistributionPoint with that
    /// URI (RFC 5280 §5.2.5), the CRL distribution point of the certificates it covers.
    pub partition: Option<String>,
}

impl Authority {
    /// The URL a CRL is published at: `{base}/public/crl` for the full CRL, or
    /// `{base}/public/crl/{partition}` (the partition percent-encoded as a path segment).
    pub fn crl_url(&self, partition: Option<&str>) -> String {
        let base = self.pki_base_url();
        match (self.generation(), partition) {
            (1, None) => format!("{base}/public/crl"),
            (1, Some(p)) => format!("{base}/public/crl/{}", path_segment(p)),
            (g, None) => format!("{base}/public/crl/g{g}"),
            (g, Some(p)) => format!("{base}/public/crl/g{g}.{}", path_segment(p)),
        }
    }

    /// Builds and signs a CRL (DER): v2, the CA's name, authorityKeyIdentifier (the CA's SKI)
    /// and cRLNumber (RFC 5280 §5.2), reason codes per entry, and for a partition a critical
    /// issuingDistributionPoint with onlyContainsUserCerts (our CA issues no sub-CAs).
    ///
    /// Linear in the number of entries; the signature is verified before the CRL leaves.
    ///
    /// # Errors
    /// `InvalidSpec` before the signer is called: `next_update` (not after `this_update`, or
    /// more than 10 days later), `partition` (not an http(s) URL), `entries` (a serial that is
    /// zero, too long or listed twice; a reason code that is not a CRLReason, or
    /// removeFromCRL, which belongs to delta CRLs only; a revocation after `this_update`).
    /// `Signer` if signing fails or the signature does not verify.
    pub fn sign_crl(&self, spec: &CrlSpec) -> Result<Vec<u8>, PkiError> {
        let this_update = spec.this_update.to_offset(UtcOffset::UTC);
        let next_update = spec.next_update.to_offset(UtcOffset::UTC);
        // Compare at the one-second precision the encoding keeps.
        let interval = next_update.unix_timestamp() - this_update.unix_timestamp();
        if interval <= 0 {
            return Err(PkiError::spec(
                "next_update",
                "must be after this_update (RFC 5280 §5.1.2.5)",
            ));
        }
        if interval > MAX_UPDATE_INTERVAL.whole_seconds() {
            return Err(PkiError::spec(
                "next_update",
                "must be at most 10 days after this_update",
            ));
        }
        if let Some(url) = &spec.partition {
            check_http_url("partition", url)?;
        }
        encode_and_sign(
            self,
            spec.number,
            this_update,
            next_update,
            spec.partition.as_deref(),
            &spec.entries,
        )
    }
}

/// Builds and signs a CRL for `ca` (the checks on the dates and the partition URL are the
/// caller's; the entries are checked here, before the signer is called).
///
/// Why not rcgen for the whole CRL: rcgen builds a `RevokedCertParams` and a yasna writer
/// per entry and copies the result more than once, which at a million entries is most of the
/// time and several times the DER in memory. Here rcgen writes only the parts around the
/// revoked list (an empty CRL, signed with a placeholder, never published); the revoked list
/// is encoded straight into one buffer sized from precomputed lengths, the TBS is signed
/// once in place, and the signature is checked before the CRL leaves (Boulder's habit: a
/// faulty signer, e.g. a KMS returning raw r||s, is caught here).
pub(crate) fn encode_and_sign(
    ca: &Authority,
    number: u64,
    this_update: OffsetDateTime,
    next_update: OffsetDateTime,
    partition: Option<&str>,
    entries: &[RevokedEntry],
) -> Result<Vec<u8>, PkiError> {
    let revoked_content = check_entries(entries, this_update)?;
    let params = CertificateRevocationListParams {
        this_update,
        next_update,
        crl_number: SerialNumber::from_slice(&number.to_be_bytes()),
        issuing_distribution_point: partition.map(|url| CrlIssuingDistributionPoint {
            distribution_point: CrlDistributionPoint {
                uris: vec![url.to_owned()],
            },
            scope: Some(CrlScope::UserCertsOnly),
        }),
        revoked_certs: Vec::new(),
        // RFC 5280 §5.2.1: the AKI keyIdentifier is the CA certificate's SKI, whatever
        // method produced it.
        key_identifier_method: KeyIdMethod::PreSpecified(ca.ca_ski().to_vec()),
    };
    let signer = ca.signer().as_ref();
    let placeholder = Placeholder {
        public: ca.ca_key(),
        alg: signer.algorithm(),
    };
    let issuer = Issuer::from_ca_cert_der(&ca.ca_der().into(), &placeholder)
        .map_err(|e| PkiError::encoding("CA certificate", e))?;
    let template = params
        .signed_by(&issuer)
        .map_err(|e| PkiError::encoding("CRL encoding failed", e))?;
    let outer = pss::tlvs(pss::content(template.der())?)?;
    let [template_tbs, template_alg, ..] = outer.as_slice() else {
        return Err(PkiError::Encoding("CRL template has too few fields".into()));
    };
    let fields = pss::tlvs(pss::content(template_tbs)?)?;
    // version, signature, issuer, thisUpdate, nextUpdate, [0] crlExtensions (RFC 5280 §5.1).
    let [version, _, name, this, next, extensions] = fields.as_slice() else {
        return Err(PkiError::Encoding(
            "CRL template has unexpected fields".into(),
        ));
    };
    let use_pss = pss::uses_pss(signer);
    let alg: &[u8] = if use_pss {
        pss::PSS_SHA256_ALGORITHM
    } else {
        template_alg
    };
    // RFC 5280 §5.1.2.6: no revokedCertificates at all when nothing is revoked.
    let revoked_len = if entries.is_empty() {
        0
    } else {
        tlv_len(revoked_content)
    };
    let tbs_content = version.len()
        + alg.len()
        + name.len()
        + this.len()
        + next.len()
        + revoked_len
        + extensions.len();
    // Room for the outer SEQUENCE header (tag + at most 5 length octets), written last.
    const HEAD: usize = 6;
    // An RSA-8192 signature in its BIT STRING, more than any ECDSA signature here.
    const SIGNATURE_ROOM: usize = 1030;
    let mut out = Vec::with_capacity(HEAD + tlv_len(tbs_content) + alg.len() + SIGNATURE_ROOM);
    out.resize(HEAD, 0);
    push_header(&mut out, 0x30, tbs_content);
    for part in [*version, alg, *name, *this, *next] {
        out.extend_from_slice(part);
    }
    if !entries.is_empty() {
        push_header(&mut out, 0x30, revoked_content);
        for entry in entries {
            write_entry(&mut out, entry);
        }
    }
    out.extend_from_slice(extensions);
    debug_assert_eq!(out.len(), HEAD + tlv_len(tbs_content));
    let signature = if use_pss {
        signer.sign_pss(&out[HEAD..])?
    } else {
        signer.sign(&out[HEAD..])?
    };
    out.extend_from_slice(alg);
    push_header(&mut out, 0x03, signature.len() + 1);
    out.push(0); // no unused bits
    out.extend_from_slice(&signature);
    let mut head = Vec::with_capacity(HEAD);
    push_header(&mut head, 0x30, out.len() - HEAD);
    let start = HEAD - head.len();
    out[start..HEAD].copy_from_slice(&head);
    // One move of the buffer, instead of a second CRL-sized allocation.
    out.drain(..start);
    verify_signed_der(&out, ca.ca_key().spki_der())?;
    Ok(out)
}

/// Presents the CA's public key to rcgen for the CRL template; its "signature" is a
/// placeholder that is never published (the real one is over the full TBS).
struct Placeholder<'a> {
    public: &'a crate::SubjectPublicKey,
    alg: crate::KeyAlgorithm,
}

impl PublicKeyData for Placeholder<'_> {
    fn der_bytes(&self) -> &[u8] {
        self.public.raw()
    }

    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        self.alg.rcgen()
    }
}

impl SigningKey for Placeholder<'_> {
    fn sign(&self, _msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        Ok(vec![0])
    }
}

/// The reasonCode entry extension for `code` (RFC 5280 §5.3.1), as the whole
/// `crlEntryExtensions` SEQUENCE: `SEQUENCE { SEQUENCE { OID 2.5.29.21, OCTET STRING {
/// ENUMERATED code } } }`.
fn reason_extension(code: u8) -> [u8; 14] {
    [
        0x30, 0x0c, 0x30, 0x0a, 0x06, 0x03, 0x55, 0x1d, 0x15, 0x04, 0x03, 0x0a, 0x01, code,
    ]
}

/// The serial's magnitude (no leading zero octets).
fn magnitude(serial: &[u8]) -> &[u8] {
    let start = serial.iter().position(|b| *b != 0).unwrap_or(serial.len());
    &serial[start..]
}

/// The DER content length of one revokedCertificates entry (always below 128).
fn entry_content_len(magnitude: &[u8], at: OffsetDateTime, reason_code: u8) -> usize {
    let integer = 2 + magnitude.len() + usize::from(magnitude[0] & 0x80 != 0);
    integer + time_len(at) + if reason_code == 0 { 0 } else { 14 }
}

fn utc_time(at: OffsetDateTime) -> bool {
    (1950..2050).contains(&at.year())
}

/// RFC 5280 §5.1.2.4/§4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050.
fn time_len(at: OffsetDateTime) -> usize {
    if utc_time(at) {
        15
    } else {
        17
    }
}

fn write_entry(out: &mut Vec<u8>, entry: &RevokedEntry) {
    let at = entry.revoked_at.to_offset(UtcOffset::UTC);
    let magnitude = magnitude(&entry.serial);
    out.push(0x30);
    out.push(entry_content_len(magnitude, at, entry.reason_code) as u8);
    let pad = magnitude[0] & 0x80 != 0;
    out.push(0x02);
    out.push((magnitude.len() + usize::from(pad)) as u8);
    if pad {
        out.push(0);
    }
    out.extend_from_slice(magnitude);
    write_time(out, at);
    if entry.reason_code != 0 {
        out.extend_from_slice(&reason_extension(entry.reason_code));
    }
}

fn write_time(out: &mut Vec<u8>, at: OffsetDateTime) {
    let (year, month, day) = at.to_calendar_date();
    let (hour, minute, second) = at.to_hms();
    // Years here are 0..=9999 (`time`'s default range), so the casts cannot wrap.
    let year = year.unsigned_abs();
    if utc_time(at) {
        out.extend_from_slice(&[0x17, 13]);
        push_2_digits(out, (year % 100) as u8);
    } else {
        out.extend_from_slice(&[0x18, 15]);
        push_2_digits(out, (year / 100 % 100) as u8);
        push_2_digits(out, (year % 100) as u8);
    }
    for v in [u8::from(month), day, hour, minute, second] {
        push_2_digits(out, v);
    }
    out.push(b'Z');
}

fn push_2_digits(out: &mut Vec<u8>, value: u8) {
    out.push(b'0' + value / 10);
    out.push(b'0' + value % 10);
}

/// The length of a TLV with `content` octets of content.
fn tlv_len(content: usize) -> usize {
    1 + header_len(content) + content
}

fn header_len(content: usize) -> usize {
    match content {
        0..=0x7f => 1,
        0x80..=0xff => 2,
        0x100..=0xffff => 3,
        0x1_0000..=0xff_ffff => 4,
        _ => 5,
    }
}

/// A tag and a DER (minimal) length.
fn push_header(out: &mut Vec<u8>, tag: u8, content: usize) {
    out.push(tag);
    let octets = header_len(content) - 1;
    if octets == 0 {
        out.push(content as u8);
    } else {
        out.push(0x80 | octets as u8);
        for i in (0..octets).rev() {
            out.push((content >> (8 * i)) as u8);
        }
    }
}

/// Checks every entry (in order, the first problem is named) and returns the content length
/// of the revokedCertificates SEQUENCE. Duplicates are found by sorting one 64-bit key per
/// entry (8 bytes each rather than a hash set of slices); only entries whose keys collide
/// are compared exactly.
pub(crate) fn check_entries(
    entries: &[RevokedEntry],
    this_update: OffsetDateTime,
) -> Result<usize, PkiError> {
    let mut keys = Vec::with_capacity(entries.len());
    let mut total = 0usize;
    for (i, entry) in entries.iter().enumerate() {
        let bad = |reason: String| PkiError::spec("entries", format!("entry {i}: {reason}"));
        let magnitude = magnitude(&entry.serial);
        if magnitude.is_empty() {
            return Err(bad("serial must be a positive, non-zero integer".into()));
        }
        let encoded = magnitude.len() + usize::from(magnitude[0] & 0x80 != 0);
        if encoded > validate::MAX_SERIAL_OCTETS {
            return Err(bad(format!(
                "serial encodes to {encoded} octets; at most {} are allowed",
                validate::MAX_SERIAL_OCTETS
            )));
        }
        if entry.revoked_at.unix_timestamp() > this_update.unix_timestamp() {
            return Err(bad("revoked_at is after this_update".into()));
        }
        crl_reason(entry.reason_code).map_err(bad)?;
        let at = entry.revoked_at.to_offset(UtcOffset::UTC);
        total += 2 + entry_content_len(magnitude, at, entry.reason_code);
        keys.push(serial_key(magnitude));
    }
    keys.sort_unstable();
    let colliding: HashSet<u64> = keys
        .windows(2)
        .filter(|w| w[0] == w[1])
        .map(|w| w[0])
        .collect();
    drop(keys);
    if !colliding.is_empty() {
        let mut seen: HashSet<&[u8]> = HashSet::new();
        for (i, entry) in entries.iter().enumerate() {
            let magnitude = magnitude(&entry.serial);
            if colliding.contains(&serial_key(magnitude)) && !seen.insert(magnitude) {
                return Err(PkiError::spec(
                    "entries",
                    format!(
                        "entry {i}: serial {} is listed twice",
                        hex::encode(magnitude)
                    ),
                ));
            }
        }
    }
    Ok(total)
}

/// A 64-bit key of a serial's magnitude (equal magnitudes, equal keys; collisions are
/// resolved exactly by the caller). Serials are random, so a multiply-rotate mix suffices.
fn serial_key(magnitude: &[u8]) -> u64 {
    let mut h = magnitude.len() as u64;
    for chunk in magnitude.chunks(8) {
        let mut word = [0u8; 8];
        word[..chunk.len()].copy_from_slice(chunk);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(word)).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
    h
}

/// RFC 5280 §5.3.1 CRLReason. 7 is unassigned; removeFromCRL (8) is only for delta CRLs,
/// which we do not issue, and means nothing in an OCSP response either.
pub(crate) fn crl_reason(code: u8) -> Result<RevocationReason, String> {
    use RevocationReason::*;
    Ok(match code {
        0 => Unspecified,
        1 => KeyCompromise,
        2 => CaCompromise,
        3 => AffiliationChanged,
        4 => Superseded,
        5 => CessationOfOperation,
        6 => CertificateHold,
        9 => PrivilegeWithdrawn,
        10 => AaCompromise,
        8 => return Err("reason removeFromCRL (8) is only for delta CRLs".into()),
        other => return Err(format!("reason code {other} is not a CRLReason")),
    })
}

/// Percent-encodes everything but RFC 3986 unreserved characters, so any partition name
/// yields a valid URI path segment (and an IA5String, RFC 5280 §4.2.1.6).
fn path_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::*;
    use crate::{random_serial, KeyAlgorithm, KeyFileSigner};
    use std::sync::Arc;
    use x509_parser::extensions::{DistributionPointName, GeneralName, ParsedExtension};
    use x509_parser::prelude::FromDer;
    use x509_parser::revocation_list::CertificateRevocationList;

    fn entry(serial: &[u8], reason_code: u8) -> RevokedEntry {
        RevokedEntry {
            serial: serial.to_vec(),
            revoked_at: t0() - Duration::hours(2),
            reason_code,
        }
    }

    fn spec(entries: Vec<RevokedEntry>) -> CrlSpec {
        CrlSpec {
            number: 42,
            this_update: t0(),
            next_update: t0() + Duration::days(7),
            entries,
            partition: None,
        }
    }

    fn reason_of(
        crl: &CertificateRevocationList<'_>,
        serial: &[u8],
    ) -> Option<Option<x509_parser::x509::ReasonCode>> {
        crl.iter_revoked_certificates()
            .find(|r| r.raw_serial() == serial)
            .map(|r| r.reason_code().map(|(_, c)| c))
    }

    #[test]
    fn crl_profile() {
        for alg in [KeyAlgorithm::Rsa3072, KeyAlgorithm::EcdsaP256] {
            let authority = test_authority(alg);
            let key_compromise = random_serial();
            let unspecified = random_serial();
            let superseded = random_serial();
            let der = authority
                .sign_crl(&spec(vec![
                    entry(&key_compromise, 1),
                    entry(&unspecified, 0),
                    entry(&superseded, 4),
                ]))
                .unwrap();
            let (rest, crl) = CertificateRevocationList::from_der(&der).unwrap();
            assert!(rest.is_empty());
            assert_eq!(crl.version().map(|v| v.0), Some(1), "v2");
            assert_eq!(
                crl.issuer().as_raw(),
                ca_subject_raw(authority.ca_der()).as_slice()
            );
            assert_eq!(crl.last_update().timestamp(), t0().unix_timestamp());
            assert_eq!(
                crl.next_update().unwrap().timestamp(),
                (t0() + Duration::days(7)).unix_timestamp()
            );
            assert_eq!(crl.crl_number().map(|n| n.to_string()), Some("42".into()));
            let (_, ca) = x509_parser::parse_x509_certificate(authority.ca_der()).unwrap();
            crl.verify_signature(ca.public_key()).unwrap();
            let mut oids = Vec::new();
            for ext in crl.extensions() {
                oids.push(ext.oid.to_id_string());
                assert!(!ext.critical);
                if let ParsedExtension::AuthorityKeyIdentifier(aki) = ext.parsed_extension() {
                    assert_eq!(
                        aki.key_identifier.as_ref().unwrap().0,
                        ca_ski(authority.ca_der()).as_slice()
                    );
                    assert!(aki.authority_cert_issuer.is_none());
                }
            }
            oids.sort();
            assert_eq!(oids, vec!["2.5.29.20", "2.5.29.35"]);
            assert_eq!(crl.iter_revoked_certificates().count(), 3);
            use x509_parser::x509::ReasonCode;
            assert_eq!(
                reason_of(&crl, &key_compromise),
                Some(Some(ReasonCode::KeyCompromise))
            );
            assert_eq!(reason_of(&crl, &unspecified), Some(None), "§5.3.1");
            assert_eq!(
                reason_of(&crl, &superseded),
                Some(Some(ReasonCode::Superseded))
            );
            let revoked = crl.iter_revoked_certificates().next().unwrap();
            assert_eq!(
                revoked.revocation_date.timestamp(),
                (t0() - Duration::hours(2)).unix_timestamp()
            );
        }
    }

    /// The CRL as rcgen writes it (the encoder before the streamed one), PKCS#1 only.
    fn rcgen_reference(authority: &Authority, spec: &CrlSpec) -> Vec<u8> {
        use crate::signer::RcgenSigner;
        use rcgen::RevokedCertParams;
        let params = CertificateRevocationListParams {
            this_update: spec.this_update,
            next_update: spec.next_update,
            crl_number: SerialNumber::from_slice(&spec.number.to_be_bytes()),
            issuing_distribution_point: spec.partition.as_ref().map(|url| {
                CrlIssuingDistributionPoint {
                    distribution_point: CrlDistributionPoint {
                        uris: vec![url.clone()],
                    },
                    scope: Some(CrlScope::UserCertsOnly),
                }
            }),
            revoked_certs: spec
                .entries
                .iter()
                .map(|e| RevokedCertParams {
                    serial_number: SerialNumber::from(magnitude(&e.serial).to_vec()),
                    revocation_time: e.revoked_at,
                    reason_code: Some(crl_reason(e.reason_code).unwrap()),
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: KeyIdMethod::PreSpecified(authority.ca_ski().to_vec()),
        };
        let key = RcgenSigner::checked(authority.signer().as_ref(), authority.ca_key().clone());
        let issuer = Issuer::from_ca_cert_der(&authority.ca_der().into(), &key).unwrap();
        params.signed_by(&issuer).unwrap().der().to_vec()
    }

    fn tbs(der: &[u8]) -> Vec<u8> {
        pss::tlvs(pss::content(der).unwrap()).unwrap()[0].to_vec()
    }

    #[test]
    fn the_streamed_encoding_is_byte_for_byte_rcgen_s() {
        // PKCS#1 v1.5 signatures are deterministic: the whole DER must match.
        let authority = test_authority(KeyAlgorithm::Rsa3072);
        let this_update = time::macros::datetime!(2050-01-02 03:04:05 UTC);
        let mut entries: Vec<RevokedEntry> = (0..2500u32)
            .map(|i| RevokedEntry {
                serial: random_serial(),
                // Both sides of 2050: UTCTime and GeneralizedTime (RFC 5280 §5.1.2.6).
                revoked_at: this_update - Duration::hours(i64::from(i) * 7),
                reason_code: [0u8, 1, 2, 3, 4, 5, 6, 9, 10][i as usize % 9],
            })
            .collect();
        // A serial needing the 0x00 pad, one with leading zero octets, a one-octet one.
        entries.push(entry(&[0x80; 19], 1));
        entries.push(entry(&[0, 0, 0x12, 0x34], 4));
        entries.push(entry(&[7], 0));
        for (partition, entries) in [
            (None, entries.clone()),
            (Some(authority.crl_url(Some("p3"))), entries[..3].to_vec()),
            (None, vec![]),
        ] {
            let spec = CrlSpec {
                number: 0x0102_0304_0506,
                this_update,
                next_update: this_update + Duration::days(7),
                entries,
                partition,
            };
            assert_eq!(
                authority.sign_crl(&spec).unwrap(),
                rcgen_reference(&authority, &spec)
            );
        }
        // ECDSA signatures are randomised: the signed part must match.
        let authority = test_authority(KeyAlgorithm::EcdsaP256);
        let spec = spec(vec![entry(&random_serial(), 1), entry(&random_serial(), 0)]);
        assert_eq!(
            tbs(&authority.sign_crl(&spec).unwrap()),
            tbs(&rcgen_reference(&authority, &spec))
        );
    }

    #[test]
    fn a_pss_ca_signs_the_streamed_crl_with_pss() {
        let signer = KeyFileSigner::generate(KeyAlgorithm::Rsa3072)
            .unwrap()
            .with_rsa_signature(crate::RsaSignature::Pss)
            .unwrap();
        let (nb, na) = ca_validity();
        let ca = crate::create_ca_certificate(&signer, &ca_subject(), nb, na).unwrap();
        let authority = Authority::new(
            Arc::new(signer),
            ca,
            BASE_URL,
            Authority::default_policies(),
        )
        .unwrap();
        let der = authority
            .sign_crl(&spec(vec![entry(&random_serial(), 1)]))
            .unwrap();
        let parts = pss::tlvs(pss::content(&der).unwrap()).unwrap();
        assert_eq!(parts[1], pss::PSS_SHA256_ALGORITHM);
        let fields = pss::tlvs(pss::content(parts[0]).unwrap()).unwrap();
        assert_eq!(fields[1], pss::PSS_SHA256_ALGORITHM, "RFC 5280 §5.1.2.2");
        verify_signed_der(&der, authority.ca_key().spki_der()).unwrap();
    }

    #[test]
    fn partition_crl_has_a_critical_issuing_distribution_point() {
        let authority = test_authority(KeyAlgorithm::EcdsaP256);
        let url = authority.crl_url(Some("p7"));
        assert_eq!(url, "http://pki.example.dk/public/crl/p7");
        let der = authority
            .sign_crl(&CrlSpec {
                partition: Some(url.clone()),
                ..spec(vec![])
            })
            .unwrap();
        let (_, crl) = CertificateRevocationList::from_der(&der).unwrap();
        assert_eq!(crl.iter_revoked_certificates().count(), 0);
        let idp = crl
            .extensions()
            .iter()
            .find(|e| e.oid.to_id_string() == "2.5.29.28")
            .unwrap();
        assert!(idp.critical);
        match idp.parsed_extension() {
            ParsedExtension::IssuingDistributionPoint(p) => {
                assert!(p.only_contains_user_certs);
                assert!(!p.only_contains_ca_certs && !p.indirect_crl);
                match &p.distribution_point {
                    Some(DistributionPointName::FullName(names)) => {
                        assert_eq!(names, &vec![GeneralName::URI(url.as_str())])
                    }
                    other => panic!("{other:?}"),
                }
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn crl_urls() {
        let authority = test_authority(KeyAlgorithm::EcdsaP256);
        assert_eq!(authority.crl_url(None), "http://pki.example.dk/public/crl");
        assert_eq!(
            authority.crl_url(Some("a b/ø")),
            "http://pki.example.dk/public/crl/a%20b%2F%C3%B8"
        );
    }

    #[test]
    fn bad_specs_are_refused_before_the_signer_is_called() {
        let signer = Arc::new(CountingSigner::new(KeyAlgorithm::EcdsaP256));
        let authority = counting_authority(signer.clone());
        let calls = signer.calls();
        let s = random_serial();
        let cases: Vec<(&str, CrlSpec)> = vec![
            (
                "next_update",
                CrlSpec {
                    next_update: t0(),
                    ..spec(vec![])
                },
            ),
            (
                "next_update",
                CrlSpec {
                    next_update: t0() + Duration::days(10) + Duration::seconds(1),
                    ..spec(vec![])
                },
            ),
            (
                "partition",
                CrlSpec {
                    partition: Some("crl/p1".into()),
                    ..spec(vec![])
                },
            ),
            ("entries", spec(vec![entry(&s, 1), entry(&s, 4)])),
            (
                "entries",
                spec(vec![entry(&s, 1), entry(&[&[0u8][..], &s].concat(), 4)]),
            ),
            ("entries", spec(vec![entry(&[0, 0], 1)])),
            ("entries", spec(vec![entry(&[0x80; 20], 1)])),
            ("entries", spec(vec![entry(&s, 7)])),
            ("entries", spec(vec![entry(&s, 8)])),
            ("entries", spec(vec![entry(&s, 11)])),
            (
                "entries",
                spec(vec![RevokedEntry {
                    revoked_at: t0() + Duration::seconds(1),
                    ..entry(&s, 1)
                }]),
            ),
        ];
        for (field, bad) in cases {
            match authority.sign_crl(&bad) {
                Err(PkiError::InvalidSpec { field: f, reason }) => assert_eq!(f, field, "{reason}"),
                other => panic!("{field}: {other:?}"),
            }
        }
        assert_eq!(signer.calls(), calls);
        // Exactly 10 days is allowed.
        authority
            .sign_crl(&CrlSpec {
                next_update: t0() + Duration::days(10),
                ..spec(vec![entry(&s, 0)])
            })
            .unwrap();
        assert_eq!(signer.calls(), calls + 1);
    }

    #[test]
    fn signer_failures_surface_as_such() {
        let signer = Arc::new(CountingSigner::new(KeyAlgorithm::EcdsaP256));
        let authority = counting_authority(signer.clone());
        signer.start_failing();
        match authority.sign_crl(&spec(vec![])) {
            Err(PkiError::Signer(msg)) => assert!(msg.contains("HSM unavailable"), "{msg}"),
            other => panic!("{other:?}"),
        }
        signer.start_corrupting();
        assert!(matches!(
            authority.sign_crl(&spec(vec![])),
            Err(PkiError::Signer(_))
        ));
    }

    /// Timing for a large CRL: `cargo test -p orgcert-pki --release -- --ignored --nocapture`.
    #[test]
    #[ignore = "slow; prints the time to build a 100k-entry CRL"]
    fn large_crl_build_time() {
        let authority = test_authority(KeyAlgorithm::EcdsaP256);
        for n in [100_000usize, 1_000_000] {
            let entries: Vec<RevokedEntry> = (0..n)
                .map(|i| entry(&random_serial(), [0u8, 1, 4, 5][i % 4]))
                .collect();
            let started = std::time::Instant::now();
            let der = authority.sign_crl(&spec(entries)).unwrap();
            println!(
                "{n} entries: {} bytes in {:?}",
                der.len(),
                started.elapsed()
            );
        }
    }
}
