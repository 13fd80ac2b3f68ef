//! Running the outside verifiers (openssl, keytool, pkilint) the tests check our output
//! with, in a working directory, keeping everything they print for the failure message.

use std::path::Path;
use std::process::Command;

/// Runs `program args…` in `dir`: whether it succeeded, and its stdout then stderr.
///
/// # Panics
/// If the program cannot be started (a missing tool fails the test, never skips it).
#[must_use]
pub fn run(dir: &Path, program: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new(program)
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program} could not be started: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Like [`run`], failing the test when the program fails.
///
/// # Panics
/// If the program cannot be started or exits unsuccessfully.
#[track_caller]
pub fn must(dir: &Path, program: &str, args: &[&str]) -> String {
    let (ok, text) = run(dir, program, args);
    assert!(ok, "{program} {args:?} failed:\n{text}");
    text
}

/// A new private key in `dir/<name>.key` (`newkey`: `ec` for P-256, or `rsa:<bits>`) and a
/// CSR for it with `subject` in `dir/<name>.csr`, both made by openssl; returns the CSR (PEM).
///
/// # Panics
/// If openssl fails or the CSR cannot be read.
#[must_use]
pub fn openssl_csr(dir: &Path, name: &str, newkey: &str, subject: &str) -> String {
    let (key, csr) = (format!("{name}.key"), format!("{name}.csr"));
    let mut args = vec!["req", "-new", "-newkey", newkey];
    if newkey == "ec" {
        args.extend(["-pkeyopt", "ec_paramgen_curve:P-256"]);
    }
    args.extend(["-nodes", "-keyout", &key, "-subj", subject, "-out", &csr]);
    must(dir, "openssl", &args);
    std::fs::read_to_string(dir.join(&csr)).expect("the CSR openssl wrote")
}

/// An OCSP request (DER, no nonce) for the certificate in `cert` issued by `issuer`
/// (PEM files in `dir`), as `openssl ocsp -reqout` makes it.
///
/// # Panics
/// If openssl fails or the request cannot be read.
#[must_use]
pub fn openssl_ocsp_request(dir: &Path, issuer: &str, cert: &str) -> Vec<u8> {
    must(
        dir,
        "openssl",
        &[
            "ocsp",
            "-issuer",
            issuer,
            "-cert",
            cert,
            "-no_nonce",
            "-reqout",
            "req.der",
        ],
    );
    std::fs::read(dir.join("req.der")).expect("the request openssl wrote")
}

/// `openssl verify -x509_strict` of `leaf` up to the trust anchor `root` through the
/// intermediate `issuing`, in `dir`; with `crls`, `-crl_check_all` against them too.
/// Whether it verified, and openssl's output.
///
/// # Panics
/// If openssl cannot be started.
#[must_use]
pub fn openssl_verify(
    dir: &Path,
    root: &str,
    issuing: &str,
    leaf: &str,
    crls: &[&str],
) -> (bool, String) {
    let mut args = vec!["verify", "-x509_strict"];
    if !crls.is_empty() {
        args.push("-crl_check_all");
    }
    args.extend(["-CAfile", root, "-untrusted", issuing]);
    for crl in crls {
        args.extend(["-CRLfile", crl]);
    }
    args.push(leaf);
    run(dir, "openssl", &args)
}
