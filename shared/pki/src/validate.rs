//! Pre-signing checks shared by CA and leaf issuance (Boulder's habit: lint before signing).

use time::OffsetDateTime;

use crate::PkiError;

/// X.520 upper bound for CN, O and most DirectoryString attributes (RFC 5280 Appendix A.1).
pub(crate) const UB_NAME: usize = 64;
/// RFC 5280 §4.1.2.2: serial numbers are at most 20 octets.
pub(crate) const MAX_SERIAL_OCTETS: usize = 20;
/// CA/Browser Forum BR §7.1: at least 64 bits of CSPRNG output in the serial.
const MIN_SERIAL_OCTETS: usize = 8;
/// RFC 5321 §4.5.3.1.3: a forward path holds at most 254 octets of mailbox.
const MAX_EMAIL_OCTETS: usize = 254;

/// A DirectoryString value: non-empty, no surrounding blanks, no control characters, at
/// most `max` characters (X.520 bounds count characters, not bytes).
pub(crate) fn text(field: &'static str, value: &str, max: usize) -> Result<(), PkiError> {
    if value.trim().is_empty() {
        return Err(PkiError::spec(field, "must not be empty"));
    }
    if value.trim() != value {
        return Err(PkiError::spec(
            field,
            "must not start or end with whitespace",
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(PkiError::spec(field, "must not contain control characters"));
    }
    // Names also become PKCS#12 friendlyNames and Windows UI strings, which are BMPString /
    // UCS-2: refuse what they cannot carry (e.g. emoji) before anything is signed.
    if value.chars().any(|c| u32::from(c) > 0xffff) {
        return Err(PkiError::spec(
            field,
            "must not contain characters such as emoji (outside the Basic Multilingual Plane)",
        ));
    }
    let len = value.chars().count();
    if len > max {
        return Err(PkiError::spec(
            field,
            format!("is {len} characters long; at most {max} are allowed"),
        ));
    }
    Ok(())
}

/// ISO 3166-1 alpha-2 country code, as X.520 countryName requires.
pub(crate) fn country(field: &'static str, value: &str) -> Result<(), PkiError> {
    if value.len() == 2 && value.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(())
    } else {
        Err(PkiError::spec(
            field,
            "must be a two-letter upper-case ISO 3166 country code",
        ))
    }
}

/// RFC 5280 §4.1.2.5: notAfter must follow notBefore (compared at the one-second precision
/// that the encoding keeps).
pub(crate) fn validity(
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
) -> Result<(), PkiError> {
    if not_after.unix_timestamp() <= not_before.unix_timestamp() {
        return Err(PkiError::spec(
            "validity",
            "not_after must be after not_before",
        ));
    }
    Ok(())
}

/// RFC 5280 §4.1.2.2: a positive, non-zero integer of at most 20 octets; we also require
/// at least 64 bits from the caller. Returns the minimal big-endian magnitude.
pub(crate) fn serial(serial: &[u8]) -> Result<Vec<u8>, PkiError> {
    if serial.len() < MIN_SERIAL_OCTETS {
        return Err(PkiError::spec(
            "serial",
            format!("must carry at least {MIN_SERIAL_OCTETS} random octets"),
        ));
    }
    serial_magnitude("serial", serial)
}

/// RFC 5280 §4.1.2.2 without our entropy minimum (for serials named in CRLs and OCSP, which
/// may be older than this code): positive, non-zero, at most 20 octets once DER-encoded.
/// Returns the minimal big-endian magnitude.
pub(crate) fn serial_magnitude(field: &'static str, serial: &[u8]) -> Result<Vec<u8>, PkiError> {
    let start = serial
        .iter()
        .position(|b| *b != 0)
        .ok_or_else(|| PkiError::spec(field, "must be a positive, non-zero integer"))?;
    let magnitude = &serial[start..];
    // DER adds a 0x00 octet when the top bit is set, to keep the INTEGER positive.
    let encoded = magnitude.len() + usize::from(magnitude[0] & 0x80 != 0);
    if encoded > MAX_SERIAL_OCTETS {
        return Err(PkiError::spec(
            field,
            format!("encodes to {encoded} octets; at most {MAX_SERIAL_OCTETS} are allowed"),
        ));
    }
    Ok(magnitude.to_vec())
}

/// Exactly eight ASCII digits (the checksum is the domain's business).
pub(crate) fn cvr(value: &str) -> Result<(), PkiError> {
    if value.len() == 8 && value.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(PkiError::spec("cvr", "must be exactly 8 digits"))
    }
}

/// UUID text form `8-4-4-4-12` hex digits (also keeps the serialNumber a PrintableString).
pub(crate) fn uuid(field: &'static str, value: &str) -> Result<(), PkiError> {
    let groups: Vec<&str> = value.split('-').collect();
    let lens = [8, 4, 4, 4, 12];
    let ok = groups.len() == lens.len()
        && groups
            .iter()
            .zip(lens)
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()));
    if ok {
        Ok(())
    } else {
        Err(PkiError::spec(
            field,
            "must be a UUID (8-4-4-4-12 hex digits)",
        ))
    }
}

/// An ASCII mailbox `local@domain` for an rfc822Name (RFC 5280 §4.2.1.6: IA5String, no
/// display name, no angle brackets); non-ASCII would need SmtpUTF8Mailbox (RFC 9598).
pub(crate) fn email(value: &str) -> Result<(), PkiError> {
    let bad = |reason: &str| Err(PkiError::spec("email", reason.to_string()));
    if !value.is_ascii() {
        return bad("must be ASCII only (letters such as æ, ø and å cannot be used)");
    }
    if value.len() > MAX_EMAIL_OCTETS {
        return bad("is too long");
    }
    let Some((local, domain)) = value.rsplit_once('@') else {
        return bad("must be an address of the form name@domain");
    };
    let atext = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+/=?^_`{|}~-".contains(&b);
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && local
            .split('.')
            .all(|part| !part.is_empty() && part.bytes().all(atext));
    if !local_ok {
        return bad("has an invalid part before the @");
    }
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_alphabetic()));
    if !domain_ok {
        return bad("has an invalid domain after the @");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_bounds_count_characters() {
        assert!(text("name", &"Æ".repeat(64), UB_NAME).is_ok());
        assert!(matches!(
            text("name", &"a".repeat(65), UB_NAME),
            Err(PkiError::InvalidSpec { field: "name", .. })
        ));
        for bad in ["", "   ", " lead", "trail ", "tab\there", "key 🔑"] {
            assert!(text("name", bad, UB_NAME).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn serial_rules() {
        assert_eq!(
            serial(&[0, 0, 1, 2, 3, 4, 5, 6, 7, 8]).unwrap(),
            vec![1, 2, 3, 4, 5, 6, 7, 8]
        );
        assert!(serial(&[]).is_err());
        assert!(serial(&[1; 7]).is_err());
        assert!(serial(&[0; 16]).is_err());
        assert!(serial(&[0x7f; 20]).is_ok());
        assert!(serial(&[0x80; 20]).is_err(), "21 octets once DER-encoded");
        assert!(serial(&[0x80; 19]).is_ok());
        // Without the entropy minimum, short serials are fine (CRL entries, OCSP).
        assert_eq!(serial_magnitude("entries", &[0, 5]).unwrap(), vec![5]);
        assert!(serial_magnitude("entries", &[0]).is_err());
        assert!(serial_magnitude("entries", &[0x80; 20]).is_err());
    }

    #[test]
    fn email_rules() {
        for ok in [
            "a@b.dk",
            "first.last+tag@sub.example.dk",
            "x_y-z@example-1.dk",
        ] {
            assert!(email(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "plain",
            "@example.dk",
            "a@",
            "a@localhost",
            "a@b.c.123",
            "søren@example.dk",
            "a b@example.dk",
            "a..b@example.dk",
            "a@-x.dk",
            "A <a@b.dk>",
        ] {
            assert!(
                matches!(
                    email(bad),
                    Err(PkiError::InvalidSpec { field: "email", .. })
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn cvr_uuid_country_validity() {
        assert!(cvr("12345678").is_ok());
        assert!(cvr("1234567").is_err());
        assert!(cvr("1234567a").is_err());
        assert!(uuid("profile_id", "0f8fad5b-d9cb-469f-a165-70867728950e").is_ok());
        assert!(uuid("profile_id", "0f8fad5bd9cb469fa16570867728950e").is_err());
        assert!(country("country", "DK").is_ok());
        assert!(country("country", "dk").is_err());
        let t = OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
        assert!(validity(t, t + time::Duration::seconds(1)).is_ok());
        assert!(validity(t, t).is_err());
        assert!(validity(t, t + time::Duration::milliseconds(500)).is_err());
    }
}
