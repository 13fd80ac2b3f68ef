//! The SAM template in `infra/` serves exactly the route table: every operation has one
//! function (named after it) with one HttpApi event of the same method and path, public
//! routes skip the JWT authorizer, the `web-console` function serves exactly the pages'
//! routes (`orgcert_web::ROUTES`, public, signing in against the authorizer's issuer), and
//! every function has its tiny bin.

use std::collections::BTreeSet;
use std::path::PathBuf;

use orgcert_http::Operation;
use serde_norway::Value;

/// The function serving the browser pages.
const WEB_CONSOLE: &str = "web-console";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `!Sub "${AWS::StackName}-name"` → `name`.
fn function_name(v: &Value) -> Option<String> {
    let text = match v {
        Value::Tagged(t) => t.value.as_str()?.to_owned(),
        Value::String(s) => s.clone(),
        _ => return None,
    };
    text.strip_prefix("${AWS::StackName}-").map(str::to_owned)
}

/// API Gateway writes a greedy path parameter `{name+}`; axum writes `{*name}`.
fn api_gateway_path(p: &str) -> String {
    p.split('/')
        .map(|seg| match seg.strip_prefix("{*") {
            Some(rest) => format!("{{{}+}}", rest.trim_end_matches('}')),
            None => seg.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[test]
fn template_routes_equal_the_route_table() {
    let text =
        std::fs::read_to_string(root().join("infra/template.yaml")).expect("infra/template.yaml");
    let doc: Value = serde_norway::from_str(&text).expect("template parses");
    let resources = doc["Resources"].as_mapping().expect("Resources");
    let mut routes = BTreeSet::new();
    let mut web_routes = BTreeSet::new();
    let mut web_env = None;
    let mut names = BTreeSet::new();
    for (_, r) in resources {
        if r["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let props = &r["Properties"];
        let name = function_name(&props["FunctionName"])
            .expect("FunctionName !Sub ${AWS::StackName}-<name>");
        assert!(names.insert(name.clone()), "two functions named {name}");
        let code = props["CodeUri"].as_str().unwrap_or("");
        assert_eq!(code, format!("../target/lambda/{name}/"), "{name}: CodeUri");
        let web = name == WEB_CONSOLE;
        if web {
            web_env = Some(props["Environment"]["Variables"].clone());
        }
        for (_, ev) in props["Events"].as_mapping().into_iter().flatten() {
            if ev["Type"].as_str() == Some("HttpApi") {
                let p = &ev["Properties"];
                let method = p["Method"].as_str().unwrap().to_owned();
                let path = p["Path"].as_str().unwrap().to_owned();
                let public = p["Auth"]["Authorizer"].as_str() == Some("NONE");
                let set = if web { &mut web_routes } else { &mut routes };
                assert!(
                    set.insert((method, path, name.clone(), public)),
                    "duplicate route in {name}"
                );
            }
        }
    }
    let public_ops = [
        Operation::CaPem,
        Operation::CaCer,
        Operation::OpenApi,
        Operation::Healthz,
        Operation::GetCrl,
        Operation::GetCrlPartition,
        Operation::OcspGet,
        Operation::OcspPost,
        Operation::PublicCertificates,
        Operation::PublicCertificateFile,
    ];
    // Machine-only operations (mutual TLS) belong to the separate machine API of API.md
    // "System certificates" (a custom domain with a truststore), not to this HTTP API.
    let expected: BTreeSet<(String, String, String, bool)> = Operation::ALL
        .iter()
        .filter(|op| !matches!(op.access(), orgcert_http::Access::Machine(_)))
        .map(|op| {
            (
                op.method().as_str().to_owned(),
                api_gateway_path(op.path()),
                op.name().to_owned(),
                public_ops.contains(op),
            )
        })
        .collect();
    let missing: Vec<_> = expected.difference(&routes).collect();
    let extra: Vec<_> = routes.difference(&expected).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "template vs route table\nmissing: {missing:?}\nextra: {extra:?}"
    );
    // The pages: every page and asset path, public (they sign in themselves).
    let expected_web: BTreeSet<(String, String, String, bool)> = orgcert_web::ROUTES
        .iter()
        .map(|p| {
            (
                "GET".to_owned(),
                api_gateway_path(p),
                WEB_CONSOLE.to_owned(),
                true,
            )
        })
        .collect();
    let missing: Vec<_> = expected_web.difference(&web_routes).collect();
    let extra: Vec<_> = web_routes.difference(&expected_web).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "template vs orgcert_web::ROUTES\nmissing: {missing:?}\nextra: {extra:?}"
    );
    // They sign in by OIDC against the issuer the JWT authorizer trusts.
    let env = web_env.expect("web-console function");
    assert_eq!(env["ORGCERT_WEB_AUTH"].as_str(), Some("oidc"));
    let authorizer = &doc["Resources"]["HttpApi"]["Properties"]["Auth"]["Authorizers"]
        ["OrgcertJwt"]["JwtConfiguration"];
    assert_eq!(env["ORGCERT_OIDC_ISSUER"], authorizer["issuer"]);
    assert!(
        !env["ORGCERT_OIDC_CLIENT_ID"].is_null(),
        "ORGCERT_OIDC_CLIENT_ID"
    );
    for job in ["renewal-reminders", "crl-refresh", "housekeeping"] {
        assert!(names.contains(job), "job function {job}");
    }
    // Every function has its bin (cargo lambda builds target/lambda/<bin>/bootstrap).
    for name in &names {
        let bin = root().join(format!("functions/lambda/src/bin/{name}.rs"));
        assert!(bin.exists(), "missing bin {}", bin.display());
    }
}

/// Exactly these functions may sign with the KMS CA key (DESIGN §5a): issuance signs
/// certificates, crl-refresh signs CRLs and the short-lived OCSP responder certificate.
/// No public function (OCSP, CRL, directory) may sign, so no anonymous request can spend
/// KMS quota; the key policy is the only grant (no function policy names `kms:Sign`).
#[test]
fn only_issuance_and_the_crl_job_may_sign_with_the_ca_key() {
    let text =
        std::fs::read_to_string(root().join("infra/template.yaml")).expect("infra/template.yaml");
    let doc: Value = serde_norway::from_str(&text).expect("template parses");
    let resources = doc["Resources"].as_mapping().expect("Resources");
    let name_of = |logical: &str| -> String {
        let r = resources
            .iter()
            .find(|(k, _)| k.as_str() == Some(logical))
            .map(|(_, v)| v)
            .unwrap_or_else(|| panic!("no resource {logical}"));
        function_name(&r["Properties"]["FunctionName"]).expect("function name")
    };
    let statements = doc["Resources"]["CaKey"]["Properties"]["KeyPolicy"]["Statement"]
        .as_sequence()
        .expect("key policy statements");
    let mut signers = BTreeSet::new();
    for st in statements {
        let actions = match &st["Action"] {
            Value::String(a) => vec![a.clone()],
            Value::Sequence(v) => v
                .iter()
                .filter_map(|a| a.as_str().map(str::to_owned))
                .collect(),
            _ => vec![],
        };
        if !actions.iter().any(|a| a == "kms:Sign" || a == "kms:*") {
            continue;
        }
        assert_eq!(st["Effect"].as_str(), Some("Allow"));
        for p in st["Principal"]["AWS"]
            .as_sequence()
            .expect("principal list")
        {
            let Value::Tagged(t) = p else {
                panic!("unexpected signer principal {p:?}");
            };
            match t.tag.to_string().as_str() {
                // The optional bootstrap principal (a person, for the one-time CA set-up).
                "!If" => continue,
                "!GetAtt" => {
                    let role = t.value.as_str().expect("GetAtt text");
                    let logical = role
                        .strip_suffix("Role.Arn")
                        .unwrap_or_else(|| panic!("signer {role} is not a function role"));
                    signers.insert(name_of(logical));
                }
                other => panic!("unexpected signer principal {other}"),
            }
        }
    }
    let expected: BTreeSet<String> = ["crl-refresh", "issue-certificate", "redeem-issuance"]
        .into_iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(signers, expected, "functions the key policy lets sign");
    for (k, r) in resources {
        if r["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let policies = serde_norway::to_string(&r["Properties"]["Policies"]).expect("yaml");
        assert!(
            !policies.contains("kms:Sign") && !policies.contains("kms:*"),
            "{k:?}: a function policy must not grant kms:Sign"
        );
    }
}
