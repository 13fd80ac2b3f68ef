//! Helpers shared by the pki integration tests: finding the external verifiers (OpenSSL,
//! Java, pkilint) under `ORGCERT_REQUIRE_TOOLS`, running them, and the leaf they check.
// Each test crate uses a part of this module.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use orgcert_core::model::CertKind;
use orgcert_pki::SubjectPublicKey;
use orgcert_pki::{Authority, CaSigner as _, IssuedCert, KeyAlgorithm, KeyFileSigner, LeafSpec};
use time::{Duration, OffsetDateTime};

/// A public-suffix name: pkilint reports localhost and `.local` URLs as internal names.
pub const BASE_URL: &str = "http://pki.example.dk";
/// The ETSI certificate type pkilint checks leaves against.
pub const ETSI_TYPE: &str = "NCP-LEGAL-PERSON-CERTIFICATE";

/// Command arguments from strings and paths alike, as `&OsStr`s.
#[allow(unused_macros)]
macro_rules! os {
    ($($arg:expr),* $(,)?) => {
        [$(::std::convert::AsRef::<::std::ffi::OsStr>::as_ref($arg)),*]
    };
}
#[allow(unused_imports)]
pub(crate) use os;

pub fn tools_required() -> bool {
    std::env::var("ORGCERT_REQUIRE_TOOLS").as_deref() == Ok("1")
}

/// Whether `program` can be started; a missing tool fails only when tools are required.
pub fn available(program: &str, probe: &[&str]) -> bool {
    match Command::new(program).args(probe).output() {
        Ok(_) => true,
        Err(e) if !tools_required() => {
            eprintln!("SKIP {program} checks: cannot run it ({e})");
            false
        }
        Err(e) => panic!("ORGCERT_REQUIRE_TOOLS=1 but {program} cannot run: {e}"),
    }
}

/// pkilint's bin directory from `PKILINT_BIN`, if configured; `skipped` names the checks
/// that are skipped without it.
pub fn pkilint_bin(skipped: &str) -> Option<PathBuf> {
    match std::env::var_os("PKILINT_BIN") {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            for tool in ["lint_pkix_cert", "lint_etsi_cert"] {
                assert!(
                    dir.join(tool).is_file(),
                    "PKILINT_BIN={} has no {tool}",
                    dir.display()
                );
            }
            Some(dir)
        }
        None if tools_required() => {
            panic!("ORGCERT_REQUIRE_TOOLS=1 but PKILINT_BIN is not set")
        }
        None => {
            eprintln!("SKIP {skipped}: PKILINT_BIN is not set");
            None
        }
    }
}

/// Runs `program` with `args` (in `dir`, if given) and returns what it did.
pub fn run_in<I, S>(dir: Option<&Path>, program: impl AsRef<OsStr>, args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let program = program.as_ref();
    let mut command = Command::new(program);
    if let Some(dir) = dir {
        command.current_dir(dir);
    }
    command
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program:?}: {e}"))
}

/// Runs `program` with `args` in this directory.
pub fn run<I, S>(program: impl AsRef<OsStr>, args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    run_in(None, program, args)
}

/// Exit status and both streams, for failure messages.
pub fn text(out: &Output) -> String {
    format!(
        "status: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Stdout then stderr, as one text to search.
pub fn stdout_and_stderr(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Writes `bytes` to `dir/name`; returns the path.
pub fn write(dir: &Path, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// An OCES3-shaped leaf of `kind` valid from `not_before` for three years (less a second),
/// with non-ASCII names and an email SAN.
pub fn leaf_spec(kind: CertKind, not_before: OffsetDateTime) -> LeafSpec {
    LeafSpec {
        serial: orgcert_pki::random_serial(),
        kind,
        cvr: "12345674".into(),
        organisation_name: "Æblegrød & Søn ApS".into(),
        profile_id: "0f8fad5b-d9cb-469f-a165-70867728950e".into(),
        common_name: "Økonomi signering".into(),
        email: Some("oekonomi@aeblegroed.dk".into()),
        not_before,
        not_after: not_before + Duration::days(1095) - Duration::seconds(1),
        crl_url: None,
    }
}

/// A delegated OCSP responder of `ca` (RFC 6960 §4.2.2.2): a fresh `alg` key and its
/// certificate, valid from five minutes before `now` for `validity`.
pub fn delegated_responder(
    ca: &Authority,
    alg: KeyAlgorithm,
    now: OffsetDateTime,
    validity: Duration,
) -> (KeyFileSigner, IssuedCert) {
    let key = KeyFileSigner::generate(alg).unwrap();
    let public = SubjectPublicKey::from_spki_der(&key.public_key_spki_der()).unwrap();
    let certificate = ca
        .issue_ocsp_responder(
            &public,
            orgcert_pki::random_serial(),
            now - Duration::minutes(5),
            now + validity,
        )
        .unwrap();
    (key, certificate)
}
