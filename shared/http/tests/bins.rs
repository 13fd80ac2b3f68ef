//! Every API operation's Lambda bin serves that operation with its own handler, named when
//! compiling (`orgcert_http::handler!`), so that the bin links no other handler, on the
//! composition of that operation's needs (`orgcert_lambda::needs`), so that it links no
//! other AWS SDK.

use std::path::PathBuf;

use orgcert_http::Operation;

#[test]
fn every_bin_names_its_own_handler() {
    let bins = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../functions/lambda/src/bin");
    for op in Operation::ALL {
        let path = bins.join(format!("{}.rs", op.name()));
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        // Without whitespace and rustfmt's trailing commas.
        let code = text
            .split_whitespace()
            .collect::<String>()
            .replace(",)", ")")
            .replace(",>", ">");
        let expected = format!(
            "orgcert_lambda::http_main::<{{orgcert_lambda::needs(orgcert_http::Operation::{op:?}).bits()}}>(orgcert_http::Operation::{op:?},orgcert_http::handler!({op:?}))"
        );
        assert!(
            code.contains(&expected),
            "{}: expected {expected}",
            path.display()
        );
    }
}
