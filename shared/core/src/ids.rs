//! Validated newtypes: a value of one of these types has passed its rules.
//!
//! `parse` returns a message meant for a problem+json field error; the caller names
//! the field.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! string_newtype {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// The validated text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }
        impl TryFrom<String> for $name {
            type Error = String;
            fn try_from(s: String) -> Result<Self, String> {
                Self::parse(&s)
            }
        }
        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                Self::parse(s)
            }
        }
    };
}

fn digits(s: &str, n: usize, what: &str) -> Result<Vec<u32>, String> {
    if s.len() != n || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{what} must be exactly {n} digits"));
    }
    Ok(s.bytes().map(|b| u32::from(b - b'0')).collect())
}

string_newtype!(
    /// Danish company registration number: 8 digits, weights 2,7,6,5,4,3,2,1, sum mod 11 = 0.
    Cvr
);
impl Cvr {
    /// Validates a CVR number.
    pub fn parse(s: &str) -> Result<Self, String> {
        let d = digits(s, 8, "CVR number")?;
        const W: [u32; 8] = [2, 7, 6, 5, 4, 3, 2, 1];
        let sum: u32 = d.iter().zip(W).map(|(a, w)| a * w).sum();
        if !sum.is_multiple_of(11) || d[0] == 0 {
            return Err("CVR number fails the modulus 11 check".into());
        }
        Ok(Self(s.to_owned()))
    }
}

string_newtype!(
    /// SE number (tax registration unit): 8 digits.
    SeNumber
);
impl SeNumber {
    /// Validates an SE number.
    pub fn parse(s: &str) -> Result<Self, String> {
        digits(s, 8, "SE number")?;
        Ok(Self(s.to_owned()))
    }
}

string_newtype!(
    /// P number (production unit): 10 digits. Not checksum-verified: some real series fail it.
    PNumber
);
impl PNumber {
    /// Validates a P number.
    pub fn parse(s: &str) -> Result<Self, String> {
        digits(s, 10, "P number")?;
        Ok(Self(s.to_owned()))
    }
}

string_newtype!(
    /// EAN/GLN location number: 13 digits with the GS1 mod-10 check digit.
    Ean
);
impl Ean {
    /// Validates an EAN number.
    pub fn parse(s: &str) -> Result<Self, String> {
        let d = digits(s, 13, "EAN number")?;
        // GS1: weights 1,3,1,3... from the left over the first 12 digits for GTIN-13.
        let sum: u32 = d[..12]
            .iter()
            .enumerate()
            .map(|(i, v)| if i % 2 == 0 { *v } else { v * 3 })
            .sum();
        if (10 - sum % 10) % 10 != d[12] {
            return Err("EAN number has a wrong GS1 check digit".into());
        }
        Ok(Self(s.to_owned()))
    }
}

fn check_email(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("email must not be empty".into());
    }
    // Limits count characters, as the messages say (and as OpenAPI maxLength counts).
    if s.chars().count() > 254 {
        return Err("email must be at most 254 characters".into());
    }
    if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("email must not contain spaces or control characters".into());
    }
    let Some((local, domain)) = s.rsplit_once('@') else {
        return Err("email must contain @".into());
    };
    // The characters are those the mailer (lettre, via `email_address`) takes: RFC 5322 atext
    // plus UTF-8 (RFC 6531) in the local part; domain labels start and end with a letter or
    // digit. An address we accept and the mailer refuses would make a mail silently unsent.
    if local.is_empty() || local.chars().count() > 64 || !local.chars().all(local_char) {
        return Err("email has an invalid local part".into());
    }
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2 || labels.iter().any(|l| !domain_label(l)) {
        return Err("email has an invalid domain".into());
    }
    Ok(())
}

/// RFC 5322 §3.2.3 `atext` or `.`, or any other non-ASCII character (RFC 6531 UTF-8);
/// blanks and controls were refused before.
fn local_char(c: char) -> bool {
    !c.is_ascii() || c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c)
}

/// A domain label: 1–63 characters of `atext`, its ends a letter, digit or non-ASCII.
fn domain_label(l: &str) -> bool {
    let end = |c: Option<char>| c.is_some_and(|c| !c.is_ascii() || c.is_ascii_alphanumeric());
    l.chars().count() <= 63
        && end(l.chars().next())
        && end(l.chars().last())
        && l.chars().all(|c| c != '.' && local_char(c))
}

string_newtype!(
    /// A contact email address (compared case-insensitively).
    Email
);
impl Email {
    /// Validates an email address.
    pub fn parse(s: &str) -> Result<Self, String> {
        check_email(s)?;
        Ok(Self(s.to_owned()))
    }
    /// Case-insensitive comparison, as mail systems treat addresses in practice.
    pub fn matches(&self, other: &str) -> bool {
        self.0.eq_ignore_ascii_case(other)
    }
}

string_newtype!(
    /// The email written into a certificate (rfc822Name): ASCII only, since Æ/Ø/Å break certificates.
    CertEmail
);
impl CertEmail {
    /// Validates a certificate email.
    pub fn parse(s: &str) -> Result<Self, String> {
        if !s.is_ascii() {
            return Err("the email in the certificate must be ASCII only (no Æ, Ø, Å)".into());
        }
        check_email(s)?;
        Ok(Self(s.to_owned()))
    }
}

fn check_text(s: &str, what: &str, max: usize) -> Result<(), String> {
    if s.trim().is_empty() {
        return Err(format!("{what} must not be empty"));
    }
    if s.trim() != s {
        return Err(format!("{what} must not start or end with spaces"));
    }
    if s.chars().count() > max {
        return Err(format!("{what} must be at most {max} characters"));
    }
    if s.chars().any(char::is_control) {
        return Err(format!("{what} must not contain control characters"));
    }
    Ok(())
}

string_newtype!(
    /// Certificate profile name, which becomes the CN: at most 64 characters (RFC 5280 ub-common-name).
    ProfileName
);
impl ProfileName {
    /// Validates a profile name.
    pub fn parse(s: &str) -> Result<Self, String> {
        check_text(s, "name", 64)?;
        Ok(Self(s.to_owned()))
    }
}

string_newtype!(
    /// A person's or organisation's display name (at most 200 characters).
    DisplayName
);
impl DisplayName {
    /// Validates a display name.
    pub fn parse(s: &str) -> Result<Self, String> {
        check_text(s, "name", 200)?;
        Ok(Self(s.to_owned()))
    }
}

string_newtype!(
    /// X.509 serial number as lowercase hex (positive, at most 20 octets, RFC 5280 §4.1.2.2).
    Serial
);
impl Serial {
    /// Validates a serial given as hex (case-insensitive, optional colons).
    pub fn parse(s: &str) -> Result<Self, String> {
        let h: String = s
            .chars()
            .filter(|c| *c != ':')
            .collect::<String>()
            .to_ascii_lowercase();
        if h.is_empty()
            || h.len() > 40
            || !h.len().is_multiple_of(2)
            || !h.bytes().all(|b| b.is_ascii_hexdigit())
        {
            return Err("serial must be an even number of hex digits, at most 40".into());
        }
        Ok(Self(h))
    }
    /// Big-endian bytes of the serial.
    pub fn to_bytes(&self) -> Vec<u8> {
        hex::decode(&self.0).unwrap_or_default()
    }
    /// From big-endian bytes.
    pub fn from_bytes(b: &[u8]) -> Self {
        Self(hex::encode(b))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cvr_table() {
        for (s, ok) in [
            ("10150817", true), // a real CVR (mod 11)
            ("25313763", true),
            ("12345678", false),
            ("1015081", false),
            ("101508170", false),
            ("1015081a", false),
            ("", false),
            ("00000000", false),
        ] {
            assert_eq!(Cvr::parse(s).is_ok(), ok, "{s}");
        }
    }

    #[test]
    fn se_and_p_tables() {
        assert!(SeNumber::parse("12345678").is_ok());
        assert!(SeNumber::parse("1234567").is_err());
        assert!(SeNumber::parse("1234567x").is_err());
        assert!(PNumber::parse("1012345678").is_ok());
        assert!(PNumber::parse("101234567").is_err());
        assert!(PNumber::parse("10123456789").is_err());
    }

    #[test]
    fn ean_table() {
        for (s, ok) in [
            ("5790000000005", true),
            ("5790001330583", true),
            ("5798000000005", false),
            ("4006381333931", true),
            ("4006381333932", false),
            ("400638133393", false),
            ("40063813339311", false),
        ] {
            assert_eq!(Ean::parse(s).is_ok(), ok, "{s}");
        }
    }

    #[test]
    fn email_table() {
        for (s, ok) in [
            ("anna@example.dk", true),
            ("a.b+c@sub.example.dk", true),
            ("anna@localhost", false),
            ("anna", false),
            ("@example.dk", false),
            ("anna @example.dk", false),
            ("anna@-x.dk", false),
            ("søren@example.dk", true),
            ("an(na@example.dk", false),
            ("anna\"x@example.dk", false),
            ("o'neil@example.dk", true),
            ("anna@ex_ample.dk", true),
            ("anna@example.dk!", false),
            ("anna@ex,ample.dk", false),
        ] {
            assert_eq!(Email::parse(s).is_ok(), ok, "{s}");
        }
        assert!(CertEmail::parse("søren@example.dk").is_err());
        assert!(CertEmail::parse("soren@example.dk").is_ok());
        let long = format!("{}@example.dk", "a".repeat(250));
        assert!(Email::parse(&long).is_err());
        assert!(Email::parse("Anna@Example.dk")
            .unwrap()
            .matches("anna@example.dk"));
    }

    #[test]
    fn names_and_serials() {
        assert!(ProfileName::parse(&"x".repeat(64)).is_ok());
        assert!(ProfileName::parse(&"x".repeat(65)).is_err());
        assert!(ProfileName::parse("ÆØÅ system").is_ok());
        assert!(ProfileName::parse(" lead").is_err());
        assert!(ProfileName::parse("").is_err());
        assert!(ProfileName::parse("a\nb").is_err());
        assert_eq!(Serial::parse("0A:FF").unwrap().as_str(), "0aff");
        assert!(Serial::parse("abc").is_err());
        assert!(Serial::parse("zz").is_err());
        assert!(Serial::parse(&"a".repeat(42)).is_err());
    }
}
