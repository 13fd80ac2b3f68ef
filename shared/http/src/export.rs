//! CSV export per RFC 4180 (CRLF, quoted as needed, UTF-8), with formula injection neutralised.

use orgcert_core::model::Profile;
use time::OffsetDateTime;

/// Header row.
pub const COLUMNS: &[&str] = &[
    "profile_id",
    "type",
    "name",
    "status",
    "contact_email",
    "contact_name",
    "certificate_email",
    "p_number",
    "se_number",
    "ean",
    "identification",
    "issuing",
    "seal_generation",
    "administration_api",
    "issuance_api",
    "local_idp",
    "publish",
    "latest_serial",
    "latest_not_after",
];

/// Spreadsheets run cells starting with these as formulas (OWASP CSV injection): prefix a quote.
pub fn neutralise(cell: &str) -> String {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}"),
        _ => cell.to_owned(),
    }
}

/// The CSV document.
///
/// # Errors
/// Only on an internal writer failure.
pub fn profiles_csv(profiles: &[Profile], now: OffsetDateTime) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    w.write_record(COLUMNS)?;
    let b = |v: bool| if v { "yes" } else { "no" }.to_owned();
    let o = |v: Option<&dyn ToString>| v.map(|x| x.to_string()).unwrap_or_default();
    for p in profiles {
        let row = [
            p.id.to_string(),
            p.kind.as_str().into(),
            p.name.to_string(),
            p.status(now).map(|s| s.as_str()).unwrap_or("").into(),
            p.contact_email.to_string(),
            o(p.contact_name.as_ref().map(|x| x as &dyn ToString)),
            o(p.certificate_email.as_ref().map(|x| x as &dyn ToString)),
            o(p.p_number.as_ref().map(|x| x as &dyn ToString)),
            o(p.se_number.as_ref().map(|x| x as &dyn ToString)),
            o(p.ean.as_ref().map(|x| x as &dyn ToString)),
            p.identification.as_str().into(),
            p.issuing.as_str().into(),
            b(p.seal_generation),
            b(p.system_rights.administration_api),
            b(p.system_rights.issuance_api),
            b(p.system_rights.local_idp),
            b(p.publish),
            p.latest
                .as_ref()
                .map(|l| l.serial.to_string())
                .unwrap_or_default(),
            p.latest
                .as_ref()
                .and_then(|l| l.not_after)
                .map(crate::views::rfc3339)
                .unwrap_or_default(),
        ];
        w.write_record(row.iter().map(|c| neutralise(c)))?;
    }
    w.into_inner().map_err(|e| csv::Error::from(e.into_error()))
}

#[cfg(test)]
mod tests {
    use super::neutralise;

    #[test]
    fn formula_cells_are_neutralised() {
        for (i, o) in [
            ("=1+1", "'=1+1"),
            ("+x", "'+x"),
            ("-2", "'-2"),
            ("@SUM", "'@SUM"),
            ("\tx", "'\tx"),
            ("\rx", "'\rx"),
            ("a=b", "a=b"),
            ("", ""),
        ] {
            assert_eq!(neutralise(i), o);
        }
    }
}
