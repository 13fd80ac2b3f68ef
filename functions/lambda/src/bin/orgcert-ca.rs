//! CA bootstrap for the KMS key (not a Lambda function; run once per deployment):
//!   orgcert-ca self-signed [--cn NAME] [--o ORG] [--c DK]   development root, stored in the table;
//!                                                           with ORGCERT_ROOT_KMS_KEY_ID (the
//!                                                           RootKey output): a root on that key
//!                                                           and an issuing CA for the CA key
//!                                                           ("--cn" names the root)
//!   orgcert-ca root-crl                                     re-sign the root CRL (365 days)
//!                                                           with ORGCERT_ROOT_KMS_KEY_ID
//!   orgcert-ca rollover [--key KEY_ID] [--cn NAME]         a new issuing CA generation under
//!                                                           the root (ORGCERT_ROOT_KMS_KEY_ID)
//!                                                           for the next KMS key (--key, else
//!                                                           ORGCERT_NEXT_KMS_KEY_ID); rewrites
//!                                                           the truststore with every
//!                                                           generation and the root
//!   orgcert-ca csr [--cn NAME] [--o ORG] [--c DK]           PEM request for an external root
//!   orgcert-ca install FILE.pem [--root ROOT.pem]           the certificate the root issued
//! `self-signed` and `install` also write the machine API's truststore
//! (`s3://<bucket>/truststore/ca.pem`: the CA certificate, and the root given with --root).
//!   orgcert-ca org-add --cvr CVR --name NAME [--p-number P]... [--se-number S]...
//!                                                           an organisation (tenant)
//! Reads the same variables as the functions (infra/README.md).
use std::process::ExitCode;

use orgcert_aws::AwsConfig;
use orgcert_pki::CaSubject;

fn arg(args: &[String], flag: &str, default: &str) -> String {
    args.windows(2)
        .find(|w| w[0] == flag)
        .map_or_else(|| default.to_owned(), |w| w[1].clone())
}

async fn run(args: Vec<String>) -> Result<(), String> {
    let cfg = AwsConfig::from_env().map_err(|e| e.to_string())?;
    let subject = CaSubject {
        common_name: arg(&args, "--cn", "orgcert CA"),
        organisation: arg(&args, "--o", "orgcert"),
        country: arg(&args, "--c", "DK"),
    };
    match args.first().map(String::as_str) {
        Some("self-signed")
            if std::env::var("ORGCERT_ROOT_KMS_KEY_ID").is_ok_and(|v| !v.trim().is_empty()) =>
        {
            let root_key = std::env::var("ORGCERT_ROOT_KMS_KEY_ID").unwrap_or_default();
            let root_subject = CaSubject {
                common_name: arg(&args, "--cn", "orgcert Root CA"),
                ..subject.clone()
            };
            let issuing_subject = CaSubject {
                common_name: arg(&args, "--issuing-cn", "orgcert Issuing CA 1"),
                ..subject
            };
            let (root, issuing) = orgcert_aws::bootstrap_two_tier_ca(
                &cfg,
                root_key.trim(),
                &root_subject,
                &issuing_subject,
            )
            .await
            .map_err(|e| e.to_string())?;
            // The machine API's truststore: the issuing CA and the root that completes it.
            let root_pem = orgcert_pki::to_pem("CERTIFICATE", &root);
            orgcert_aws::write_truststore(&cfg, &issuing, Some(&root_pem))
                .await
                .map_err(|e| format!("truststore: {e}"))?;
            print!(
                "{}{}",
                orgcert_pki::to_pem("CERTIFICATE", &issuing),
                root_pem
            );
            Ok(())
        }
        Some("self-signed") => {
            let der = orgcert_aws::bootstrap_ca(&cfg, &subject)
                .await
                .map_err(|e| e.to_string())?;
            orgcert_aws::write_truststore(&cfg, &der, None)
                .await
                .map_err(|e| format!("truststore: {e}"))?;
            print!("{}", orgcert_pki::to_pem("CERTIFICATE", &der));
            Ok(())
        }
        Some("root-crl") => {
            let root_key = std::env::var("ORGCERT_ROOT_KMS_KEY_ID")
                .map_err(|_| "root-crl needs ORGCERT_ROOT_KMS_KEY_ID (the RootKeyId output)")?;
            let crl = orgcert_aws::resign_root_crl(&cfg, root_key.trim())
                .await
                .map_err(|e| e.to_string())?;
            print!("{}", orgcert_pki::to_pem("X509 CRL", &crl));
            Ok(())
        }
        Some("rollover") => {
            let root_key = std::env::var("ORGCERT_ROOT_KMS_KEY_ID")
                .map_err(|_| "rollover needs ORGCERT_ROOT_KMS_KEY_ID (the RootKeyId output)")?;
            let next_key = match args.windows(2).find(|w| w[0] == "--key") {
                Some(w) => w[1].clone(),
                None => std::env::var("ORGCERT_NEXT_KMS_KEY_ID").map_err(|_| {
                    "rollover needs the new KMS key: --key KEY_ID or ORGCERT_NEXT_KMS_KEY_ID (the NextCaKeyId output)"
                })?,
            };
            let cn = args
                .windows(2)
                .find(|w| w[0] == "--cn")
                .map(|w| w[1].clone());
            let rolled = orgcert_aws::rollover(&cfg, root_key.trim(), next_key.trim(), |n| {
                CaSubject {
                    common_name: cn.unwrap_or_else(|| format!("orgcert Issuing CA {n}")),
                    ..subject
                }
            })
            .await
            .map_err(|e| e.to_string())?;
            // The machine API's truststore: every generation (newest first) and the root.
            orgcert_aws::write_rollover_truststore(&cfg, &rolled)
                .await
                .map_err(|e| format!("truststore: {e}"))?;
            eprintln!(
                "orgcert-ca: issuing CA generation {} stored; functions issue with it from their next cold start",
                rolled.generation
            );
            print!(
                "{}",
                orgcert_pki::to_pem("CERTIFICATE", &rolled.generations_der[0])
            );
            Ok(())
        }
        Some("csr") => {
            print!(
                "{}",
                orgcert_aws::ca_certificate_request(&cfg, &subject)
                    .await
                    .map_err(|e| e.to_string())?
            );
            Ok(())
        }
        Some("install") => {
            let file = args.get(1).ok_or("install needs the certificate file")?;
            let text = std::fs::read_to_string(file).map_err(|e| format!("{file}: {e}"))?;
            let der = pem_body(&text).ok_or("the file holds no PEM certificate")?;
            let root = match args.windows(2).find(|w| w[0] == "--root") {
                Some(w) => {
                    Some(std::fs::read_to_string(&w[1]).map_err(|e| format!("{}: {e}", w[1]))?)
                }
                None => None,
            };
            orgcert_aws::install_ca_certificate(&cfg, der.clone())
                .await
                .map_err(|e| e.to_string())?;
            orgcert_aws::write_truststore(&cfg, &der, root.as_deref())
                .await
                .map_err(|e| format!("truststore: {e}"))
        }
        _ => Err(
            "usage: orgcert-ca self-signed|csr [--cn NAME --o ORG --c CC] | install FILE.pem | root-crl | rollover [--key KEY_ID]"
                .into(),
        ),
    }
}

/// The first certificate of a PEM file.
fn pem_body(text: &str) -> Option<Vec<u8>> {
    pem::parse_many(text)
        .ok()?
        .into_iter()
        .find(|p| p.tag() == "CERTIFICATE")
        .map(pem::Pem::into_contents)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("orgcert-ca: {e}");
            ExitCode::FAILURE
        }
    }
}
