//! Someone else's verifier: issued certificates and PKCS#12 files are checked with OpenSSL,
//! Java keytool and (when `PKILINT_BIN` names its bin directory) pkilint.
//!
//! Missing tools skip their checks, unless `ORGCERT_REQUIRE_TOOLS=1`, which turns a missing
//! tool into a failure (CI sets it). `ORGCERT_PKI_ARTIFACTS=<dir>` keeps the files written.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use orgcert_pki::{
    build_pkcs12, create_ca_certificate, generate_key, parse_csr, Authority, CaSigner, CaSubject,
    CertKind, KeyAlgorithm, KeyFileSigner, LeafSpec, P12Format, SubjectKeyType,
};
use time::{Duration, OffsetDateTime};

/// A public-suffix name: pkilint reports localhost and `.local` URLs as internal names.
const BASE_URL: &str = "http://pki.example.dk";
const PASSWORD: &str = "Kx7-vQ2m-Rt9p-Wz4n";
const ETSI_TYPE: &str = "NCP-LEGAL-PERSON-CERTIFICATE";

fn tools_required() -> bool {
    std::env::var("ORGCERT_REQUIRE_TOOLS").as_deref() == Ok("1")
}

/// Whether `program` can be started; a missing tool fails only when tools are required.
fn available(program: &str, probe: &[&str]) -> bool {
    match Command::new(program).args(probe).output() {
        Ok(_) => true,
        Err(e) if !tools_required() => {
            eprintln!("SKIP {program} checks: cannot run it ({e})");
            false
        }
        Err(e) => panic!("ORGCERT_REQUIRE_TOOLS=1 but {program} cannot run: {e}"),
    }
}

/// pkilint's bin directory from `PKILINT_BIN`, if configured.
fn pkilint_bin() -> Option<PathBuf> {
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
            eprintln!("SKIP pkilint checks: PKILINT_BIN is not set");
            None
        }
    }
}

fn run<I, S>(program: impl AsRef<OsStr>, args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let program = program.as_ref();
    Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program:?}: {e}"))
}

fn text(out: &Output) -> String {
    format!(
        "status: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn describe(cert: &Path) -> String {
    text(&run(
        "openssl",
        [
            OsStr::new("x509"),
            OsStr::new("-noout"),
            OsStr::new("-text"),
            OsStr::new("-in"),
            cert.as_os_str(),
        ],
    ))
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
    seal: bool,
}

const LEAVES: [Leaf; 4] = [
    Leaf {
        label: "org-rsa",
        kind: CertKind::Organisation,
        alg: KeyAlgorithm::Rsa3072,
        seal: false,
    },
    Leaf {
        label: "org-ec-seal",
        kind: CertKind::Organisation,
        alg: KeyAlgorithm::EcdsaP256,
        seal: true,
    },
    Leaf {
        label: "sys-rsa",
        kind: CertKind::System,
        alg: KeyAlgorithm::Rsa3072,
        seal: false,
    },
    Leaf {
        label: "sys-ec",
        kind: CertKind::System,
        alg: KeyAlgorithm::EcdsaP256,
        seal: false,
    },
];

fn spec(kind: CertKind, seal: bool, now: OffsetDateTime) -> LeafSpec {
    LeafSpec {
        serial: orgcert_pki::random_serial(),
        kind,
        cvr: "12345674".into(),
        organisation_name: "Æblegrød & Søn ApS".into(),
        profile_id: "0f8fad5b-d9cb-469f-a165-70867728950e".into(),
        common_name: "Økonomi signering".into(),
        email: Some("oekonomi@aeblegroed.dk".into()),
        seal,
        not_before: now - Duration::minutes(1),
        not_after: now - Duration::minutes(1) + Duration::days(1095) - Duration::seconds(1),
    }
}

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

fn run_pkilint(bin: &Path, label: &str, cert: &Path, etsi: bool) {
    let pkix = run(
        bin.join("lint_pkix_cert"),
        [
            OsStr::new("lint"),
            OsStr::new("-s"),
            OsStr::new("ERROR"),
            cert.as_os_str(),
        ],
    );
    println!(
        "pkilint pkix {label}: exit {}",
        pkix.status.code().unwrap_or(-1)
    );
    assert_success(&format!("lint_pkix_cert on {label}"), &pkix, cert);
    if etsi {
        let etsi = run(
            bin.join("lint_etsi_cert"),
            [
                OsStr::new("lint"),
                OsStr::new("-t"),
                OsStr::new(ETSI_TYPE),
                OsStr::new("-s"),
                OsStr::new("ERROR"),
                cert.as_os_str(),
            ],
        );
        println!(
            "pkilint etsi {label}: exit {}",
            etsi.status.code().unwrap_or(-1)
        );
        assert_success(&format!("lint_etsi_cert on {label}"), &etsi, cert);
    }
}

/// RFC 5280 issuer/subject consistency (names, AKI/SKI, validity nesting), when installed.
fn run_chain_lint(bin: &Path, label: &str, ca: &Path, leaf: &Path) {
    let tool = bin.join("lint_pkix_signer_signee_cert_chain");
    if !tool.is_file() {
        return;
    }
    let out = run(
        tool,
        [
            OsStr::new("lint"),
            OsStr::new("-s"),
            OsStr::new("ERROR"),
            ca.as_os_str(),
            leaf.as_os_str(),
        ],
    );
    println!(
        "pkilint chain {label}: exit {}",
        out.status.code().unwrap_or(-1)
    );
    assert_success(
        &format!("lint_pkix_signer_signee_cert_chain on {label}"),
        &out,
        leaf,
    );
}

fn openssl_verify(ca: &Path, leaf: &Path) {
    let out = run(
        "openssl",
        [
            OsStr::new("verify"),
            OsStr::new("-CAfile"),
            ca.as_os_str(),
            leaf.as_os_str(),
        ],
    );
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
        [
            OsStr::new("verify"),
            OsStr::new("-x509_strict"),
            OsStr::new("-CAfile"),
            ca.as_os_str(),
            leaf.as_os_str(),
        ],
    );
    assert_success("openssl verify -x509_strict", &strict, leaf);
}

/// Opens the PKCS#12 with OpenSSL (and checks that the key inside belongs to the certificate).
fn openssl_pkcs12(dir: &Path, p12: &Path, leaf: &Path, legacy: bool) {
    let pass = format!("pass:{PASSWORD}");
    let pkcs12 = |extra: &[&OsStr]| {
        let mut args = vec![
            OsStr::new("pkcs12"),
            OsStr::new("-in"),
            p12.as_os_str(),
            OsStr::new("-passin"),
            OsStr::new(&pass),
        ];
        if legacy {
            args.push(OsStr::new("-legacy"));
        }
        args.extend_from_slice(extra);
        run("openssl", args)
    };
    let out = pkcs12(&[OsStr::new("-noout")]);
    assert_success(
        &format!("openssl pkcs12 -noout (legacy={legacy})"),
        &out,
        leaf,
    );

    let dump = dir.join("p12-dump.pem");
    let out = pkcs12(&[OsStr::new("-nodes"), OsStr::new("-out"), dump.as_os_str()]);
    assert_success("openssl pkcs12 -nodes", &out, leaf);
    let key_pub = run(
        "openssl",
        [
            OsStr::new("pkey"),
            OsStr::new("-in"),
            dump.as_os_str(),
            OsStr::new("-pubout"),
        ],
    );
    assert_success("openssl pkey -pubout", &key_pub, leaf);
    let cert_pub = run(
        "openssl",
        [
            OsStr::new("x509"),
            OsStr::new("-in"),
            leaf.as_os_str(),
            OsStr::new("-noout"),
            OsStr::new("-pubkey"),
        ],
    );
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
        [
            OsStr::new("-list"),
            OsStr::new("-keystore"),
            p12.as_os_str(),
            OsStr::new("-storetype"),
            OsStr::new("PKCS12"),
            OsStr::new("-storepass"),
            OsStr::new(PASSWORD),
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
    let pkilint = pkilint_bin();
    let dir = Scratch::new(&format!("ca-{ca_alg}"));
    let now = OffsetDateTime::now_utc();
    let authority = authority(ca_alg, now);

    let ca_path = dir.path().join("ca.pem");
    std::fs::write(&ca_path, authority.ca_pem()).unwrap();
    if let Some(bin) = &pkilint {
        run_pkilint(bin, &format!("CA {ca_alg}"), &ca_path, false);
    }

    for leaf in LEAVES {
        let label = format!("CA {ca_alg} / {}", leaf.label);
        let key = generate_key(leaf.alg).unwrap();
        let issued = authority
            .issue(&spec(leaf.kind, leaf.seal, now), key.public())
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
        let mut args: Vec<&OsStr> =
            vec![OsStr::new("req"), OsStr::new("-new"), OsStr::new("-nodes")];
        args.extend(keyargs.iter().map(OsStr::new));
        let key_path = dir.path().join(format!("{label}.key"));
        args.extend([
            OsStr::new("-subj"),
            OsStr::new("/CN=ignored/O=Ignored"),
            OsStr::new("-keyout"),
            key_path.as_os_str(),
            OsStr::new("-out"),
            csr_path.as_os_str(),
        ]);
        let out = run("openssl", &args);
        assert!(out.status.success(), "{}", text(&out));
        let key = parse_csr(&std::fs::read(&csr_path).unwrap()).unwrap();
        assert_eq!(key.key_type(), expected);
        let issued = authority
            .issue(&spec(CertKind::System, false, now), &key)
            .unwrap();
        let leaf_path = dir.path().join(format!("{label}.pem"));
        std::fs::write(&leaf_path, &issued.pem).unwrap();
        openssl_verify(&ca_path, &leaf_path);
        println!("openssl verify CSR {label}: OK");
    }
}
