//! The SAM template in `infra/` serves exactly the route table: every operation has one
//! function (named after it) with one HttpApi event of the same method and path, public
//! routes skip the JWT authorizer, and every function has its tiny bin.

use std::collections::BTreeSet;
use std::path::PathBuf;

use orgcert_http::Operation;
use serde_norway::Value;

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
        for (_, ev) in props["Events"].as_mapping().into_iter().flatten() {
            if ev["Type"].as_str() == Some("HttpApi") {
                let p = &ev["Properties"];
                let method = p["Method"].as_str().unwrap().to_owned();
                let path = p["Path"].as_str().unwrap().to_owned();
                let public = p["Auth"]["Authorizer"].as_str() == Some("NONE");
                assert!(
                    routes.insert((method, path, name.clone(), public)),
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
    let expected: BTreeSet<(String, String, String, bool)> = Operation::ALL
        .iter()
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
    for job in ["renewal-reminders", "crl-refresh", "housekeeping"] {
        assert!(names.contains(job), "job function {job}");
    }
    // Every function has its bin (cargo lambda builds target/lambda/<bin>/bootstrap).
    for name in &names {
        let bin = root().join(format!("functions/lambda/src/bin/{name}.rs"));
        assert!(bin.exists(), "missing bin {}", bin.display());
    }
}
