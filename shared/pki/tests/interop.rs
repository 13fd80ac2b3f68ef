//! Someone else's verifier: issued certificates, PKCS#12 files, CRLs and OCSP responses are
//! checked with OpenSSL, Java keytool and (when `PKILINT_BIN` names its bin directory) pkilint.
//!
//! Missing tools skip their checks, unless `ORGCERT_REQUIRE_TOOLS=1`, which turns a missing
//! tool into a failure (CI sets it). `ORGCERT_PKI_ARTIFACTS=<dir>` keeps the files written.

mod common;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;

use common::{
    available, delegated_responder, leaf_spec, os, pkilint_bin, run, stdout_and_stderr, text,
    tools_required, write, BASE_URL, ETSI_TYPE,
};

use orgcert_core::model::{CertKind, P12Format};
use orgcert_core::ports::OcspHash;
use orgcert_pki::{
    build_pkcs12, create_ca_certificate, generate_key, ocsp_error_response, parse_csr,
    parse_ocsp_request, Authority, CaSigner, CaSubject, CrlSpec, IssuedCert, KeyAlgorithm,
    KeyFileSigner, LeafSpec, OcspCertStatus, OcspErrorStatus, OcspSigner, RevokedEntry,
    SubjectKeyType,
};
use time::{Duration, OffsetDateTime};

const PASSWORD: &str = "Kx7-vQ2m-Rt9p-Wz4n";

fn describe(cert: &Path) -> String {
    text(&run("openssl", os!["x509", "-noout", "-text", "-in", cert]))
}

fn assert_success(what: &str, out: &Output, cert: &Path) {
    assert!(
        out.status.success(),
        "{what} failed\n{}\n--- certificate ---\n{}",
        text(out),
        describe(cert)
    );
}

struct Leaf {
    label: &'static str,
    kind: CertKind,
    alg: KeyAlgorithm,
    /// Issued with `nameRegistrationAuthorities` in the qcStatement.
    registration_authority: bool,
}

const LEAVES: [Leaf; 4] = [
    Leaf {
        label: "org-rsa",
        kind: CertKind::Organisation,
        alg: KeyAlgorithm::Rsa3072,
        registration_authority: false,
    },
    Leaf {
        label: "org-ec-nra",
        kind: CertKind::Organisation,
        alg: KeyAlgorithm::EcdsaP256,
        registration_authority: true,
    },
    Leaf {
        label: "sys-rsa",
        kind: CertKind::System,
        alg: KeyAlgorithm::Rsa3072,
        registration_authority: false,
    },
    Leaf {
        label: "sys-ec",
        kind: CertKind::System,
        alg: KeyAlgorithm::EcdsaP256,
        registration_authority: false,
    },
];

fn authority(alg: KeyAlgorithm, now: OffsetDateTime) -> Authority {
    let signer = Arc::new(KeyFileSigner::generate(alg).unwrap());
    let subject = CaSubject {
        common_name: "Orgcert Interop Root CA".into(),
        organisation: "Orgcert Test A/S".into(),
        country: "DK".into(),
    };
    let ca = create_ca_certificate(
        signer.as_ref() as &dyn CaSigner,
        &subject,
        now - Duration::hours(1),
        now + Duration::days(365 * 20),
    )
    .unwrap();
    Authority::new(signer, ca, BASE_URL, Authority::default_policies()).unwrap()
}

/// Runs pkilint's `tool lint <options> -s ERROR <files>` and prints its exit status.
fn pkilint(bin: &Path, tool: &str, label: &str, options: &[&str], files: &[&Path]) -> Output {
    let mut args = Vec::from(os!["lint"]);
    args.extend(options.iter().map(OsStr::new));
    args.extend(os!["-s", "ERROR"]);
    args.extend(files.iter().map(|f| f.as_os_str()));
    let out = run(bin.join(tool), args);
    println!(
        "pkilint {tool} {label}: exit {}",
        out.status.code().unwrap_or(-1)
    );
    out
}

/// Whether pkilint's `tool` is installed; a missing one fails when tools are required.
fn has_lint(bin: &Path, tool: &str) -> bool {
    let found = bin.join(tool).is_file();
    if !found {
        assert!(!tools_required(), "{} is missing", bin.join(tool).display());
        eprintln!("SKIP {tool}: not in PKILINT_BIN");
    }
    found
}

fn run_pkilint(bin: &Path, label: &str, cert: &Path, etsi: bool) {
    let pkix = pkilint(bin, "lint_pkix_cert", label, &[], &[cert]);
    assert_success(&format!("lint_pkix_cert on {label}"), &pkix, cert);
    if etsi {
        let etsi = pkilint(bin, "lint_etsi_cert", label, &["-t", ETSI_TYPE], &[cert]);
        assert_success(&format!("lint_etsi_cert on {label}"), &etsi, cert);
    }
}

/// RFC 5280 issuer/subject consistency (names, AKI/SKI, validity nesting), when installed.
fn run_chain_lint(bin: &Path, label: &str, ca: &Path, leaf: &Path) {
    let tool = "lint_pkix_signer_signee_cert_chain";
    if !bin.join(tool).is_file() {
        return;
    }
    let out = pkilint(bin, tool, label, &[], &[ca, leaf]);
    assert_success(&format!("{tool} on {label}"), &out, leaf);
}

fn openssl_verify(ca: &Path, leaf: &Path) {
    let out = run("openssl", os!["verify", "-CAfile", ca, leaf]);
    assert_success("openssl verify", &out, leaf);
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .trim_end()
            .ends_with(": OK"),
        "{}",
        text(&out)
    );
    // -x509_strict adds RFC 5280 checks (AKI/SKI presence, critical basicConstraints, ...).
    let strict = run(
        "openssl",
        os!["verify", "-x509_strict", "-CAfile", ca, leaf],
    );
    assert_success("openssl verify -x509_strict", &strict, leaf);
}

/// Opens the PKCS#12 with OpenSSL (and checks that the key inside belongs to the certificate).
fn openssl_pkcs12(dir: &Path, p12: &Path, leaf: &Path, legacy: bool) {
    let pass = format!("pass:{PASSWORD}");
    let pkcs12 = |extra: &[&OsStr]| {
        let mut args = Vec::from(os!["pkcs12", "-in", p12, "-passin", &pass]);
        if legacy {
            args.push(OsStr::new("-legacy"));
        }
        args.extend_from_slice(extra);
        run("openssl", args)
    };
    let out = pkcs12(&os!["-noout"]);
    assert_success(
        &format!("openssl pkcs12 -noout (legacy={legacy})"),
        &out,
        leaf,
    );

    let dump = dir.join("p12-dump.pem");
    let out = pkcs12(&os!["-nodes", "-out", &dump]);
    assert_success("openssl pkcs12 -nodes", &out, leaf);
    let key_pub = run("openssl", os!["pkey", "-in", &dump, "-pubout"]);
    assert_success("openssl pkey -pubout", &key_pub, leaf);
    let cert_pub = run("openssl", os!["x509", "-in", leaf, "-noout", "-pubkey"]);
    assert_success("openssl x509 -pubkey", &cert_pub, leaf);
    assert_eq!(
        key_pub.stdout, cert_pub.stdout,
        "the PKCS#12 key does not match the certificate"
    );
    let dumped = String::from_utf8_lossy(&std::fs::read(&dump).unwrap()).into_owned();
    assert_eq!(
        dumped.matches("BEGIN CERTIFICATE").count(),
        2,
        "leaf and CA expected:\n{dumped}"
    );
}

fn keytool_list(p12: &Path, leaf: &Path) {
    let out = run(
        "keytool",
        os![
            "-list",
            "-keystore",
            p12,
            "-storetype",
            "PKCS12",
            "-storepass",
            PASSWORD
        ],
    );
    assert_success("keytool -list", &out, leaf);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("PrivateKeyEntry"), "{}", text(&out));
}

/// A scratch directory: a temporary one, or `$ORGCERT_PKI_ARTIFACTS/<name>` to keep the files.
enum Scratch {
    Temp(tempfile::TempDir),
    Kept(PathBuf),
}

impl Scratch {
    fn new(name: &str) -> Self {
        match std::env::var_os("ORGCERT_PKI_ARTIFACTS") {
            Some(root) => {
                let dir = PathBuf::from(root).join(name);
                std::fs::create_dir_all(&dir).unwrap();
                Scratch::Kept(dir)
            }
            None => Scratch::Temp(tempfile::tempdir().unwrap()),
        }
    }

    fn path(&self) -> &Path {
        match self {
            Scratch::Temp(t) => t.path(),
            Scratch::Kept(p) => p,
        }
    }
}

fn check_ca(ca_alg: KeyAlgorithm) {
    let openssl = available("openssl", &["version"]);
    let keytool = available("keytool", &["-help"]);
    let pkilint = pkilint_bin("pkilint checks");
    let dir = Scratch::new(&format!("ca-{ca_alg}"));
    let now = OffsetDateTime::now_utc();
    let authority = authority(ca_alg, now);
    // The same CA, naming a registration authority in the qcStatement (RFC 3739 §3.2.6.1).
    let registering = Authority::new(
        authority.signer().clone(),
        authority.ca_der().to_vec(),
        BASE_URL,
        Authority::default_policies(),
    )
    .unwrap()
    .with_name_registration_authority(Some("https://datacvr.virk.dk"))
    .unwrap();

    let ca_path = dir.path().join("ca.pem");
    std::fs::write(&ca_path, authority.ca_pem()).unwrap();
    if let Some(bin) = &pkilint {
        run_pkilint(bin, &format!("CA {ca_alg}"), &ca_path, false);
    }

    for leaf in LEAVES {
        let label = format!("CA {ca_alg} / {}", leaf.label);
        let key = generate_key(leaf.alg).unwrap();
        let issuer = if leaf.registration_authority {
            &registering
        } else {
            &authority
        };
        let issued = issuer
            .issue(
                &leaf_spec(leaf.kind, now - Duration::minutes(1)),
                key.public(),
            )
            .unwrap();
        let leaf_path = dir.path().join(format!("{}.pem", leaf.label));
        std::fs::write(&leaf_path, &issued.pem).unwrap();

        if openssl {
            openssl_verify(&ca_path, &leaf_path);
            println!("openssl verify {label}: OK");
        }
        let chain = vec![authority.ca_der().to_vec()];
        for format in [P12Format::Modern, P12Format::Legacy] {
            let p12 =
                build_pkcs12(&key, &issued.der, &chain, PASSWORD, format, leaf.label).unwrap();
            let p12_path = dir.path().join(format!("{}-{format:?}.p12", leaf.label));
            std::fs::write(&p12_path, &p12).unwrap();
            if openssl {
                openssl_pkcs12(
                    dir.path(),
                    &p12_path,
                    &leaf_path,
                    format == P12Format::Legacy,
                );
                println!("openssl pkcs12 {label} {format:?}: OK");
            }
            if keytool {
                keytool_list(&p12_path, &leaf_path);
                println!("keytool -list {label} {format:?}: OK");
            }
        }
        if let Some(bin) = &pkilint {
            run_pkilint(bin, &label, &leaf_path, true);
            run_chain_lint(bin, &label, &ca_path, &leaf_path);
        }
    }
}

#[test]
fn rsa_3072_ca_issues_certificates_others_accept() {
    check_ca(KeyAlgorithm::Rsa3072);
}

#[test]
fn p256_ca_issues_certificates_others_accept() {
    check_ca(KeyAlgorithm::EcdsaP256);
}

/// CSRs made by OpenSSL (not by rcgen) are accepted and certified.
#[test]
fn openssl_csrs_are_certified() {
    if !available("openssl", &["version"]) {
        return;
    }
    let dir = Scratch::new("csr");
    let now = OffsetDateTime::now_utc();
    let authority = authority(KeyAlgorithm::EcdsaP256, now);
    let ca_path = dir.path().join("ca.pem");
    std::fs::write(&ca_path, authority.ca_pem()).unwrap();
    let cases: [(&str, &[&str], SubjectKeyType); 3] = [
        (
            "rsa2048",
            &["-newkey", "rsa:2048"],
            SubjectKeyType::Rsa { bits: 2048 },
        ),
        (
            "rsa4096",
            &["-newkey", "rsa:4096"],
            SubjectKeyType::Rsa { bits: 4096 },
        ),
        (
            "p384",
            &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384"],
            SubjectKeyType::EcdsaP384,
        ),
    ];
    for (label, keyargs, expected) in cases {
        let csr_path = dir.path().join(format!("{label}.csr"));
        let mut args: Vec<&OsStr> = Vec::from(os!["req", "-new", "-nodes"]);
        args.extend(keyargs.iter().map(OsStr::new));
        let key_path = dir.path().join(format!("{label}.key"));
        args.extend(os![
            "-subj",
            "/CN=ignored/O=Ignored",
            "-keyout",
            &key_path,
            "-out",
            &csr_path
        ]);
        let out = run("openssl", &args);
        assert!(out.status.success(), "{}", text(&out));
        let key = parse_csr(&std::fs::read(&csr_path).unwrap()).unwrap();
        assert_eq!(key.key_type(), expected);
        let issued = authority
            .issue(
                &leaf_spec(CertKind::System, now - Duration::minutes(1)),
                &key,
            )
            .unwrap();
        let leaf_path = dir.path().join(format!("{label}.pem"));
        std::fs::write(&leaf_path, &issued.pem).unwrap();
        openssl_verify(&ca_path, &leaf_path);
        println!("openssl verify CSR {label}: OK");
    }
}

// ---------------------------------------------------------------------------------------
// CRLs (RFC 5280 §5) and OCSP (RFC 6960)
// ---------------------------------------------------------------------------------------

/// Issues a system certificate whose CRL distribution point is `crl_url` (None: the full CRL).
fn issue_leaf(
    authority: &Authority,
    now: OffsetDateTime,
    crl_url: Option<String>,
) -> (IssuedCert, Vec<u8>) {
    let key = generate_key(KeyAlgorithm::EcdsaP256).unwrap();
    let spec = LeafSpec {
        crl_url,
        ..leaf_spec(CertKind::System, now - Duration::minutes(1))
    };
    let issued = authority.issue(&spec, key.public()).unwrap();
    (issued, spec.serial)
}

fn crl_spec(now: OffsetDateTime, entries: Vec<RevokedEntry>, partition: Option<String>) -> CrlSpec {
    CrlSpec {
        number: 7,
        this_update: now - Duration::minutes(1),
        next_update: now + Duration::days(7),
        entries,
        partition,
    }
}

fn revoked(serial: &[u8], now: OffsetDateTime, reason_code: u8) -> RevokedEntry {
    RevokedEntry {
        serial: serial.to_vec(),
        revoked_at: now - Duration::minutes(2),
        reason_code,
    }
}

/// `openssl verify -crl_check`; returns (success, combined output).
fn openssl_verify_crl(ca: &Path, crl_pem: &Path, leaf: &Path) -> (bool, String) {
    let out = run(
        "openssl",
        os![
            "verify",
            "-crl_check",
            "-CAfile",
            ca,
            "-CRLfile",
            crl_pem,
            leaf
        ],
    );
    (out.status.success(), stdout_and_stderr(&out))
}

fn assert_revoked(ca: &Path, crl_pem: &Path, leaf: &Path) {
    let (ok, out) = openssl_verify_crl(ca, crl_pem, leaf);
    assert!(!ok && out.contains("certificate revoked"), "{out}");
}

fn assert_not_revoked(ca: &Path, crl_pem: &Path, leaf: &Path) {
    let (ok, out) = openssl_verify_crl(ca, crl_pem, leaf);
    assert!(ok && out.trim_end().ends_with(": OK"), "{out}");
}

fn run_crl_lint(bin: &Path, label: &str, crl: &Path) {
    if !has_lint(bin, "lint_crl") {
        return;
    }
    let out = pkilint(bin, "lint_crl", label, &["-t", "CRL", "-p", "PKIX"], &[crl]);
    assert!(out.status.success(), "lint_crl on {label}\n{}", text(&out));
}

/// The `openssl crl -text` block of the entry with `serial` (up to the next entry).
fn crl_entry_text<'a>(crl_text: &'a str, serial: &[u8]) -> &'a str {
    let needle = format!("Serial Number: {}", hex::encode_upper(serial));
    let start = crl_text
        .find(&needle)
        .unwrap_or_else(|| panic!("{needle} not in\n{crl_text}"));
    let rest = &crl_text[start + needle.len()..];
    let end = rest
        .find("Serial Number:")
        .or_else(|| rest.find("Signature Algorithm"))
        .unwrap_or(rest.len());
    &rest[..end]
}

/// What the CRL and OCSP checks start from: pkilint if configured, a scratch directory, the
/// time, an authority and its certificate written to `ca.pem` there.
type Setup = (Option<PathBuf>, Scratch, OffsetDateTime, Authority, PathBuf);

/// The [`Setup`] of the `name` checks of a `ca_alg` CA; `None` (the checks skipped) without
/// OpenSSL, unless tools are required.
fn setup(name: &str, ca_alg: KeyAlgorithm) -> Option<Setup> {
    if !available("openssl", &["version"]) {
        return None;
    }
    let pkilint = pkilint_bin("pkilint checks");
    let scratch = Scratch::new(&format!("{name}-{ca_alg}"));
    let now = OffsetDateTime::now_utc();
    let authority = authority(ca_alg, now);
    let ca = write(scratch.path(), "ca.pem", authority.ca_pem());
    Some((pkilint, scratch, now, authority, ca))
}

fn check_crl(ca_alg: KeyAlgorithm) {
    let Some((pkilint, scratch, now, authority, ca)) = setup("crl", ca_alg) else {
        return;
    };
    let dir = scratch.path();

    // Full CRL: three revoked leaves, one good.
    let (key_compromise, kc_serial) = issue_leaf(&authority, now, None);
    let (unspecified, un_serial) = issue_leaf(&authority, now, None);
    let (superseded, su_serial) = issue_leaf(&authority, now, None);
    let (good, _) = issue_leaf(&authority, now, None);
    let crl = authority
        .sign_crl(&crl_spec(
            now,
            vec![
                revoked(&kc_serial, now, 1),
                revoked(&un_serial, now, 0),
                revoked(&su_serial, now, 4),
            ],
            None,
        ))
        .unwrap();
    let crl_der = write(dir, "crl.der", &crl);
    let crl_pem = write(dir, "crl.pem", orgcert_pki::to_pem("X509 CRL", &crl));

    let out = run(
        "openssl",
        os!["crl", "-in", &crl_der, "-inform", "DER", "-CAfile", &ca, "-noout"],
    );
    assert!(
        out.status.success() && stdout_and_stderr(&out).contains("verify OK"),
        "openssl crl -CAfile\n{}",
        text(&out)
    );
    let out = run(
        "openssl",
        os!["crl", "-in", &crl_der, "-inform", "DER", "-noout", "-text"],
    );
    assert!(out.status.success(), "{}", text(&out));
    let crl_text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(crl_text.contains("Version 2 (0x1)"), "{crl_text}");
    assert!(
        crl_text.contains("X509v3 CRL Number: \n                7\n"),
        "{crl_text}"
    );
    assert!(
        crl_text.contains("X509v3 Authority Key Identifier"),
        "{crl_text}"
    );
    assert!(crl_entry_text(&crl_text, &kc_serial).contains("Key Compromise"));
    assert!(crl_entry_text(&crl_text, &su_serial).contains("Superseded"));
    // RFC 5280 §5.3.1: no reasonCode extension at all for unspecified.
    let unspecified_entry = crl_entry_text(&crl_text, &un_serial);
    assert!(
        !unspecified_entry.contains("Reason Code") && !unspecified_entry.contains("Unspecified"),
        "{unspecified_entry}"
    );
    println!("openssl crl {ca_alg}: verify OK, reasons as expected");

    for (name, leaf) in [
        ("key-compromise", &key_compromise),
        ("unspecified", &unspecified),
        ("superseded", &superseded),
    ] {
        let path = write(dir, &format!("{name}.pem"), &leaf.pem);
        assert_revoked(&ca, &crl_pem, &path);
    }
    let good_path = write(dir, "good.pem", &good.pem);
    assert_not_revoked(&ca, &crl_pem, &good_path);
    println!("openssl verify -crl_check {ca_alg}: revoked and good as expected");

    // Partitioned CRL: critical issuingDistributionPoint equal to the leaves' CRL DP.
    let partition = authority.crl_url(Some("p1"));
    let (p_revoked, p_serial) = issue_leaf(&authority, now, Some(partition.clone()));
    let (p_good, _) = issue_leaf(&authority, now, Some(partition.clone()));
    let p_crl = authority
        .sign_crl(&crl_spec(
            now,
            vec![revoked(&p_serial, now, 1)],
            Some(partition.clone()),
        ))
        .unwrap();
    let p_crl_der = write(dir, "crl-p1.der", &p_crl);
    let p_crl_pem = write(dir, "crl-p1.pem", orgcert_pki::to_pem("X509 CRL", &p_crl));
    let out = run(
        "openssl",
        os!["crl", "-in", &p_crl_der, "-inform", "DER", "-noout", "-text"],
    );
    let p_text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        p_text.contains("X509v3 Issuing Distribution Point: critical")
            && p_text.contains(&format!("URI:{partition}"))
            && p_text.contains("Only User Certificates"),
        "{p_text}"
    );
    let p_revoked_path = write(dir, "p1-revoked.pem", &p_revoked.pem);
    let p_good_path = write(dir, "p1-good.pem", &p_good.pem);
    assert_revoked(&ca, &p_crl_pem, &p_revoked_path);
    assert_not_revoked(&ca, &p_crl_pem, &p_good_path);
    // The partition does not cover a certificate pointing at the full CRL (RFC 5280
    // §6.3.3 (b)): OpenSSL reports the scope mismatch rather than calling it good.
    let (ok, out) = openssl_verify_crl(&ca, &p_crl_pem, &good_path);
    assert!(!ok && out.contains("different CRL scope"), "{out}");
    println!("openssl verify -crl_check {ca_alg} partition: scoped as expected");

    if let Some(bin) = &pkilint {
        run_crl_lint(bin, &format!("{ca_alg} full"), &crl_der);
        run_crl_lint(bin, &format!("{ca_alg} partition"), &p_crl_der);
    }
}

#[test]
fn rsa_3072_ca_crls_verify_with_openssl_and_pkilint() {
    check_crl(KeyAlgorithm::Rsa3072);
}

#[test]
fn p256_ca_crls_verify_with_openssl_and_pkilint() {
    check_crl(KeyAlgorithm::EcdsaP256);
}

/// `openssl ocsp -reqout`: a request made by OpenSSL, not by us.
fn openssl_ocsp_request(
    dir: &Path,
    label: &str,
    ca: &Path,
    leaf: &Path,
    extra: &[&str],
) -> PathBuf {
    let req = dir.join(format!("{label}-req.der"));
    // The digest option must come before -cert.
    let mut args = Vec::from(os!["ocsp"]);
    args.extend(extra.iter().map(OsStr::new));
    args.extend(os!["-issuer", ca, "-cert", leaf, "-reqout", &req]);
    let out = run("openssl", args);
    assert!(out.status.success(), "openssl ocsp -reqout\n{}", text(&out));
    req
}

/// `openssl ocsp -respin` with the request (nonce check) and CA as trust anchor; returns the
/// combined output after asserting that the response verifies.
fn openssl_ocsp_verify(ca: &Path, req: &Path, resp: &Path) -> String {
    let out = run(
        "openssl",
        os![
            "ocsp",
            "-respin",
            resp,
            "-reqin",
            req,
            "-issuer",
            ca,
            "-CAfile",
            ca,
            "-resp_text"
        ],
    );
    let all = stdout_and_stderr(&out);
    // OpenSSL reports a nonce mismatch but still says "Response verify OK" and exits 0.
    assert!(
        out.status.success()
            && all.contains("Response verify OK")
            && !all.contains("Nonce Verify error")
            && !all.contains("WARNING"),
        "openssl ocsp -respin\n{}",
        text(&out)
    );
    all
}

/// OpenSSL's own status lookup: it builds the CertID for `leaf` (with `digest`) and must find
/// the SingleResponse for it, so our echoed CertID matches byte-for-byte where it matters.
fn openssl_ocsp_status(ca: &Path, leaf: &Path, resp: &Path, digest: &[&str]) -> String {
    let mut args = Vec::from(os!["ocsp"]);
    args.extend(digest.iter().map(OsStr::new));
    args.extend(os![
        "-issuer",
        ca,
        "-cert",
        leaf,
        "-no_nonce",
        "-respin",
        resp,
        "-CAfile",
        ca
    ]);
    let out = run("openssl", args);
    assert!(
        out.status.success(),
        "openssl ocsp -cert -respin\n{}",
        text(&out)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn run_ocsp_lint(bin: &Path, label: &str, resp: &Path) {
    if !has_lint(bin, "lint_ocsp_response") {
        return;
    }
    let out = pkilint(bin, "lint_ocsp_response", label, &[], &[resp]);
    assert!(
        out.status.success(),
        "lint_ocsp_response on {label}\n{}",
        text(&out)
    );
}

fn check_ocsp(ca_alg: KeyAlgorithm) {
    let Some((pkilint, scratch, now, authority, ca)) = setup("ocsp", ca_alg) else {
        return;
    };
    let dir = scratch.path();
    let (leaf, serial) = issue_leaf(&authority, now, None);
    let leaf_path = write(dir, "leaf.pem", &leaf.pem);

    // The delegated responder: a key of the other family than the CA's.
    let responder_alg = if ca_alg.is_rsa() {
        KeyAlgorithm::EcdsaP256
    } else {
        KeyAlgorithm::Rsa3072
    };
    let (responder_key, responder_cert) =
        delegated_responder(&authority, responder_alg, now, Duration::days(30));
    let responder_path = write(dir, "responder.pem", &responder_cert.pem);
    if let Some(bin) = &pkilint {
        run_pkilint(
            bin,
            &format!("OCSP responder {ca_alg}"),
            &responder_path,
            false,
        );
        run_chain_lint(
            bin,
            &format!("OCSP responder {ca_alg}"),
            &ca,
            &responder_path,
        );
    }
    let signers = [
        ("ca", OcspSigner::ca(&authority)),
        (
            "delegated",
            OcspSigner::delegated(
                &authority,
                responder_cert.der.clone(),
                Arc::new(responder_key),
            )
            .unwrap(),
        ),
    ];

    let requests: [(&str, &[&str], OcspHash, bool); 3] = [
        ("sha1", &[], OcspHash::Sha1, true),
        ("sha256", &["-sha256"], OcspHash::Sha256, true),
        ("no-nonce", &["-no_nonce"], OcspHash::Sha1, false),
    ];
    let revoked_at = now - Duration::hours(1);
    let statuses = [
        ("good", OcspCertStatus::Good, "Cert Status: good"),
        (
            "revoked",
            OcspCertStatus::Revoked {
                revoked_at,
                reason_code: Some(1),
            },
            "Revocation Reason: keyCompromise (0x1)",
        ),
        ("unknown", OcspCertStatus::Unknown, "Cert Status: unknown"),
    ];
    let leaf_name = leaf_path
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    for (req_label, extra, hash, with_nonce) in requests {
        let req = openssl_ocsp_request(dir, req_label, &ca, &leaf_path, extra);
        let info = parse_ocsp_request(&std::fs::read(&req).unwrap()).unwrap();
        assert_eq!(info.cert_ids.len(), 1);
        let id = &info.cert_ids[0];
        assert_eq!(id.hash_algorithm, hash);
        assert_eq!(id.serial, serial);
        assert_eq!(*id, orgcert_pki::cert_id_for(&serial, hash, &authority));
        assert_eq!(info.nonce.is_some(), with_nonce, "{req_label}");
        for (signer_label, signer) in &signers {
            assert!(signer.is_our_issuer(id));
            for (status_label, status, expected) in &statuses {
                let label = format!("{ca_alg} {signer_label} {req_label} {status_label}");
                let resp = signer
                    .sign_response(
                        id,
                        status,
                        now,
                        now - Duration::minutes(1),
                        now + Duration::days(4),
                        info.nonce.as_deref(),
                    )
                    .unwrap();
                let resp_path = write(
                    dir,
                    &format!("{signer_label}-{req_label}-{status_label}-resp.der"),
                    &resp,
                );
                let out = openssl_ocsp_verify(&ca, &req, &resp_path);
                assert!(out.contains(expected), "{label}: {expected}\n{out}");
                if *status_label == "revoked" {
                    assert!(out.contains("Cert Status: revoked"), "{label}\n{out}");
                }
                let summary = openssl_ocsp_status(&ca, &leaf_path, &resp_path, extra);
                assert!(
                    summary.contains(&format!("{leaf_name}: {status_label}")),
                    "{label}\n{summary}"
                );
                if *status_label == "revoked" {
                    assert!(
                        summary.contains("Reason: keyCompromise"),
                        "{label}\n{summary}"
                    );
                }
                if let Some(bin) = &pkilint {
                    run_ocsp_lint(bin, &label, &resp_path);
                }
            }
            println!("openssl ocsp {ca_alg} {signer_label} {req_label}: Response verify OK");
        }
    }

    // OpenSSL does compare nonces: a response echoing another nonce is reported.
    let req = openssl_ocsp_request(dir, "nonce-check", &ca, &leaf_path, &[]);
    let info = parse_ocsp_request(&std::fs::read(&req).unwrap()).unwrap();
    let mut other_nonce = info.nonce.clone().unwrap();
    other_nonce[0] ^= 0xff;
    let resp = signers[0]
        .1
        .sign_response(
            &info.cert_ids[0],
            &OcspCertStatus::Good,
            now,
            now,
            now + Duration::days(1),
            Some(&other_nonce),
        )
        .unwrap();
    let resp_path = write(dir, "wrong-nonce-resp.der", &resp);
    let out = stdout_and_stderr(&run(
        "openssl",
        os!["ocsp", "-respin", &resp_path, "-reqin", &req, "-CAfile", &ca],
    ));
    assert!(out.contains("Nonce Verify error"), "{out}");

    // Unsigned error responses.
    let err = write(
        dir,
        "malformed-resp.der",
        ocsp_error_response(OcspErrorStatus::MalformedRequest),
    );
    let out = run(
        "openssl",
        os!["ocsp", "-respin", &err, "-resp_text", "-noverify"],
    );
    let all = stdout_and_stderr(&out);
    assert!(
        all.contains("malformedrequest (1)") || all.contains("malformedRequest (1)"),
        "{all}"
    );
    if let Some(bin) = &pkilint {
        run_ocsp_lint(bin, "malformedRequest", &err);
    }
}

#[test]
fn rsa_3072_ca_ocsp_responses_verify_with_openssl_and_pkilint() {
    check_ocsp(KeyAlgorithm::Rsa3072);
}

#[test]
fn p256_ca_ocsp_responses_verify_with_openssl_and_pkilint() {
    check_ocsp(KeyAlgorithm::EcdsaP256);
}
