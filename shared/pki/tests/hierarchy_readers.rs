//! The two-tier hierarchy as relying parties read it (issue 16 items 4–7): an RSA-4096 root,
//! two generations of RSA-3072 issuing CAs under it (a rollover), RSASSA-PSS everywhere,
//! organisation and system leaves, a revocation per generation in that generation's CRL and
//! OCSP answers, the root CRL — checked by OpenSSL (`-x509_strict`, root as the only
//! anchor), pkilint, Java (`keytool -printcert`, a `CertPathValidator`) and Python
//! `cryptography` (`verify_directly_issued_by`).
//!
//! Missing tools fail under `ORGCERT_REQUIRE_TOOLS=1` (CI), else skip their checks.
//! `ORGCERT_PKI_ARTIFACTS=<dir>` keeps the files in `<dir>/hierarchy`.

mod common;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::{
    available, delegated_responder, leaf_spec, pkilint_bin, run_in, stdout_and_stderr, text, write,
    BASE_URL, ETSI_TYPE,
};

use orgcert_core::model::CertKind;
use orgcert_core::ports::OcspHash;
use orgcert_pki::{
    cert_id_for, create_root_certificate, generate_key, to_pem, Authority, CaSigner, CaSubject,
    CrlSpec, KeyAlgorithm, KeyFileSigner, LeafSpec, OcspCertStatus, OcspSigner, RevokedEntry, Root,
    RsaSignature, SubjectPublicKey,
};
use time::{Duration, OffsetDateTime};

/// Runs and asserts success; returns stdout and stderr together.
fn must<I, S>(dir: &Path, program: impl AsRef<OsStr>, args: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let program = program.as_ref().to_owned();
    let args: Vec<S> = args.into_iter().collect();
    let out = run_in(Some(dir), &program, args.iter().map(AsRef::as_ref));
    assert!(out.status.success(), "{program:?} failed\n{}", text(&out));
    stdout_and_stderr(&out)
}

fn subject(cn: &str) -> CaSubject {
    CaSubject {
        common_name: cn.into(),
        organisation: "Orgcert Test A/S".into(),
        country: "DK".into(),
    }
}

fn pss_key(alg: KeyAlgorithm) -> Arc<KeyFileSigner> {
    Arc::new(
        KeyFileSigner::generate(alg)
            .unwrap()
            .with_rsa_signature(RsaSignature::Pss)
            .unwrap(),
    )
}

/// One issuing CA generation with its material written to `dir` as `g{n}-*`.
struct Generation {
    n: u32,
    leaves: Vec<(String, Vec<u8>)>,
}

#[allow(clippy::too_many_lines)]
fn generation(
    dir: &Path,
    root: &Root,
    n: u32,
    now: OffsetDateTime,
    root_not_after: OffsetDateTime,
) -> Generation {
    let key = pss_key(KeyAlgorithm::Rsa3072);
    let public = SubjectPublicKey::from_spki_der(&key.public_key_spki_der()).unwrap();
    let issuing_der = root
        .issue_issuing_ca(
            &public,
            &subject(&format!("Orgcert Test Issuing CA {n}")),
            now - Duration::minutes(5),
            (now + Duration::days(3650)).min(root_not_after),
        )
        .unwrap();
    // Each generation writes its own CRL distribution point (a rollover gives the new CA
    // its own CRL URL).
    let ca = Authority::new(
        key,
        issuing_der.clone(),
        &format!("{BASE_URL}/g{n}"),
        Authority::default_policies(),
    )
    .unwrap()
    .with_chain(vec![root.der().to_vec()]);
    write(
        dir,
        &format!("g{n}-issuing.pem"),
        to_pem("CERTIFICATE", &issuing_der),
    );
    write(dir, &format!("g{n}-chain.pem"), ca.chain_pem());

    let mut leaves = Vec::new();
    for (label, kind, alg) in [
        ("org", CertKind::Organisation, KeyAlgorithm::Rsa3072),
        ("sys", CertKind::System, KeyAlgorithm::EcdsaP256),
    ] {
        let key = generate_key(alg).unwrap();
        let spec = LeafSpec {
            common_name: format!("Gen {n} {label}"),
            email: None,
            ..leaf_spec(kind, now)
        };
        let issued = ca.issue(&spec, key.public()).unwrap();
        let name = format!("g{n}-{label}");
        write(dir, &format!("{name}.pem"), &issued.pem);
        // leaf → issuing → root, as a relying party receives it.
        write(
            dir,
            &format!("{name}-fullchain.pem"),
            format!("{}{}", issued.pem, ca.chain_pem()),
        );
        leaves.push((name, spec.serial));
    }

    // The organisation certificate of this generation is revoked, in this generation's CRL.
    let (_, revoked_serial) = &leaves[0];
    let crl = ca
        .sign_crl(&CrlSpec {
            number: u64::from(n),
            this_update: now,
            next_update: now + Duration::days(1),
            entries: vec![RevokedEntry {
                serial: revoked_serial.clone(),
                revoked_at: now - Duration::minutes(1),
                reason_code: 1,
            }],
            partition: None,
        })
        .unwrap();
    write(dir, &format!("g{n}-crl.der"), &crl);
    must(
        dir,
        "openssl",
        [
            "crl",
            "-inform",
            "DER",
            "-in",
            &format!("g{n}-crl.der"),
            "-out",
            &format!("g{n}-crl.pem"),
        ],
    );

    // OCSP: revoked for the organisation certificate, signed by the CA itself (RSASSA-PSS)
    // and by a delegated P-256 responder the CA certified; good for the system one.
    let (responder_key, responder_cert) =
        delegated_responder(&ca, KeyAlgorithm::EcdsaP256, now, Duration::days(7));
    let responder_key = Arc::new(responder_key);
    let signers = [
        ("ca", OcspSigner::ca(&ca)),
        (
            "delegated",
            OcspSigner::delegated(&ca, responder_cert.der.clone(), responder_key).unwrap(),
        ),
    ];
    for (who, signer) in signers {
        for (i, (name, serial)) in leaves.iter().enumerate() {
            let status = if i == 0 {
                OcspCertStatus::Revoked {
                    revoked_at: now - Duration::minutes(1),
                    reason_code: Some(1),
                }
            } else {
                OcspCertStatus::Good
            };
            let id = cert_id_for(serial, OcspHash::Sha256, &ca);
            let resp = signer
                .sign_response(&id, &status, now, now, now + Duration::days(1), None)
                .unwrap();
            write(dir, &format!("{name}-ocsp-{who}.der"), resp);
        }
    }
    Generation { n, leaves }
}

#[test]
#[allow(clippy::too_many_lines)]
fn two_generations_under_one_root_read_by_openssl_pkilint_java_and_python() {
    // `ORGCERT_PKI_ARTIFACTS=<dir>` keeps the files (for a side-by-side with OCES3).
    let tmp = tempfile::tempdir().unwrap();
    let kept = std::env::var_os("ORGCERT_PKI_ARTIFACTS").map(|root| {
        let dir = PathBuf::from(root).join("hierarchy");
        std::fs::create_dir_all(&dir).unwrap();
        dir
    });
    let d = kept.as_deref().unwrap_or(tmp.path());
    let now = OffsetDateTime::now_utc();

    let root_key = pss_key(KeyAlgorithm::Rsa4096);
    let root_na = now + Duration::days(25 * 365);
    let root_der = create_root_certificate(
        root_key.as_ref(),
        &subject("Orgcert Test Root CA"),
        now - Duration::minutes(10),
        root_na,
    )
    .unwrap();
    write(d, "root.pem", to_pem("CERTIFICATE", &root_der));
    let root = Root::new(root_key, root_der, BASE_URL).unwrap();
    let root_crl = root
        .sign_crl(1, now, now + Duration::days(365), &[])
        .unwrap();
    write(d, "root.crl", &root_crl);
    must(
        d,
        "openssl",
        [
            "crl",
            "-inform",
            "DER",
            "-in",
            "root.crl",
            "-out",
            "root-crl.pem",
        ],
    );

    let gens = [
        generation(d, &root, 1, now, root_na),
        generation(d, &root, 2, now, root_na),
    ];

    if available("openssl", &["version"]) {
        let out = must(d, "openssl", ["x509", "-in", "root.pem", "-noout", "-text"]);
        assert!(out.contains("Public-Key: (4096 bit)"), "{out}");
        assert!(out.contains("rsassaPss"), "root signed with PSS\n{out}");
        assert!(out.contains("Salt Length: 0x20"), "{out}");
        for g in &gens {
            let n = g.n;
            let issuing = format!("g{n}-issuing.pem");
            let out = must(d, "openssl", ["x509", "-in", &issuing, "-noout", "-text"]);
            assert!(out.contains("pathlen:0"), "{out}");
            assert!(out.contains("rsassaPss"), "{out}");
            assert!(
                out.contains("CA Issuers - URI:http://pki.example.dk/public/root.cer"),
                "{out}"
            );
            assert!(
                out.contains("URI:http://pki.example.dk/public/root.crl"),
                "{out}"
            );
            for (name, _) in &g.leaves {
                let leaf = format!("{name}.pem");
                let out = must(
                    d,
                    "openssl",
                    [
                        "verify",
                        "-x509_strict",
                        "-CAfile",
                        "root.pem",
                        "-untrusted",
                        &issuing,
                        &leaf,
                    ],
                );
                assert!(out.contains(&format!("{leaf}: OK")), "{out}");
                // Each generation's CRL and the root's: the organisation certificate is
                // revoked, the system certificate is not.
                let out = run_in(
                    Some(d),
                    "openssl",
                    [
                        "verify",
                        "-x509_strict",
                        "-crl_check_all",
                        "-CAfile",
                        "root.pem",
                        "-untrusted",
                        &issuing,
                        "-CRLfile",
                        &format!("g{n}-crl.pem"),
                        "-CRLfile",
                        "root-crl.pem",
                        &leaf,
                    ],
                );
                let said = text(&out);
                if name.ends_with("-org") {
                    assert!(
                        !out.status.success() && said.contains("certificate revoked"),
                        "{said}"
                    );
                } else {
                    assert!(out.status.success(), "{said}");
                }
                // The other generation's issuing CA does not vouch for this leaf.
                let other = format!("g{}-issuing.pem", 3 - n);
                let out = run_in(
                    Some(d),
                    "openssl",
                    ["verify", "-CAfile", "root.pem", "-untrusted", &other, &leaf],
                );
                assert!(!out.status.success(), "{}", text(&out));
                // OCSP, by the CA key and by its delegated responder.
                for who in ["ca", "delegated"] {
                    let out = must(
                        d,
                        "openssl",
                        [
                            "ocsp",
                            "-respin",
                            &format!("{name}-ocsp-{who}.der"),
                            "-CAfile",
                            "root.pem",
                            "-verify_other",
                            &issuing,
                            "-issuer",
                            &issuing,
                            // The responses carry SHA-256 CertIDs.
                            "-sha256",
                            "-cert",
                            &leaf,
                        ],
                    );
                    assert!(out.contains("Response verify OK"), "{out}");
                    let expected = if name.ends_with("-org") {
                        "revoked"
                    } else {
                        "good"
                    };
                    assert!(
                        out.contains(&format!("{leaf}: {expected}")),
                        "{who} {name}: {out}"
                    );
                }
            }
        }
    }

    if let Some(bin) = pkilint_bin("pkilint and Python checks") {
        let lint = |tool: &str, args: &[&str]| {
            let out = run_in(Some(d), bin.join(tool), args);
            assert!(out.status.success(), "{tool} {args:?}\n{}", text(&out));
        };
        lint("lint_pkix_cert", &["lint", "-s", "ERROR", "root.pem"]);
        lint(
            "lint_crl",
            &[
                "lint",
                "-t",
                "ARL",
                "-p",
                "PKIX",
                "-s",
                "ERROR",
                "root-crl.pem",
            ],
        );
        for g in &gens {
            let n = g.n;
            lint(
                "lint_pkix_cert",
                &["lint", "-s", "ERROR", &format!("g{n}-issuing.pem")],
            );
            lint(
                "lint_crl",
                &[
                    "lint",
                    "-t",
                    "CRL",
                    "-p",
                    "PKIX",
                    "-s",
                    "ERROR",
                    &format!("g{n}-crl.pem"),
                ],
            );
            for (name, _) in &g.leaves {
                let leaf = format!("{name}.pem");
                lint("lint_pkix_cert", &["lint", "-s", "ERROR", &leaf]);
                lint(
                    "lint_etsi_cert",
                    &["lint", "-t", ETSI_TYPE, "-s", "ERROR", &leaf],
                );
                for who in ["ca", "delegated"] {
                    lint(
                        "lint_ocsp_response",
                        &["lint", "-s", "ERROR", &format!("{name}-ocsp-{who}.der")],
                    );
                }
            }
        }

        // Python `cryptography` (pkilint's own dependency): each link of each chain.
        let script = r#"
import sys
from cryptography import x509
def load(p):
    return x509.load_pem_x509_certificates(open(p, "rb").read())
root = load("root.pem")[0]
root.verify_directly_issued_by(root)
for chain in sys.argv[1:]:
    certs = load(chain)
    assert len(certs) == 3, chain
    for child, parent in zip(certs, certs[1:]):
        child.verify_directly_issued_by(parent)
    assert certs[2] == root, chain
    print(chain, "OK", certs[0].signature_algorithm_oid.dotted_string)
"#;
        write(d, "verify.py", script);
        let mut args = vec!["verify.py".to_owned()];
        for g in &gens {
            for (name, _) in &g.leaves {
                args.push(format!("{name}-fullchain.pem"));
            }
        }
        let out = must(d, bin.join("python"), &args);
        assert_eq!(out.matches(" OK 1.2.840.113549.1.1.10").count(), 4, "{out}");
    }

    if available("keytool", &["-help"]) {
        for g in &gens {
            let out = must(
                d,
                "keytool",
                [
                    "-printcert",
                    "-file",
                    &format!("{}-fullchain.pem", g.leaves[0].0),
                ],
            );
            assert_eq!(out.matches("Owner: ").count(), 3, "{out}");
            assert!(out.contains("RSASSA-PSS"), "{out}");
        }
    }

    if available("java", &["-version"]) {
        // PKIX path validation as a Java relying party does it (revocation off: the CRL
        // URLs are not served here).
        let java = r#"
import java.io.FileInputStream;
import java.security.cert.*;
import java.util.*;
public class Validate {
    public static void main(String[] a) throws Exception {
        CertificateFactory cf = CertificateFactory.getInstance("X.509");
        X509Certificate root = (X509Certificate) cf.generateCertificate(new FileInputStream(a[0]));
        for (int i = 1; i < a.length; i++) {
            List<X509Certificate> certs = new ArrayList<>();
            for (Certificate c : cf.generateCertificates(new FileInputStream(a[i]))) certs.add((X509Certificate) c);
            CertPath path = cf.generateCertPath(certs.subList(0, 2));
            PKIXParameters p = new PKIXParameters(Set.of(new TrustAnchor(root, null)));
            p.setRevocationEnabled(false);
            CertPathValidator.getInstance("PKIX").validate(path, p);
            System.out.println(a[i] + " VALID " + certs.get(0).getSubjectX500Principal().getName());
        }
    }
}
"#;
        write(d, "Validate.java", java);
        let mut args = vec!["Validate.java".to_owned(), "root.pem".to_owned()];
        for g in &gens {
            for (name, _) in &g.leaves {
                args.push(format!("{name}-fullchain.pem"));
            }
        }
        let out = must(d, "java", &args);
        assert_eq!(out.matches(" VALID ").count(), 4, "{out}");
        // RFC 2253 text starts with the last RDN: the CN-first DER reads C first here,
        // as it does for OCES3 certificates.
        assert!(out.contains(",CN=Gen 2 sys"), "{out}");
    }
}
