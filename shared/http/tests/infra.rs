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
                op.access() == orgcert_http::Access::Public,
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
    let expected: BTreeSet<String> = [
        "crl-refresh",
        "issue-certificate",
        "redeem-issuance",
        "issue-by-api",
        "self-renew",
    ]
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

/// The next issuing CA key (`orgcert-ca rollover`, infra/README.md "CA rollover") exists
/// only with CreateNextCaKey=true, has the CA key's spec and exactly its policy (the same
/// signing roles and algorithms, no grants), is retained, and is an output for the
/// bootstrap principal; no function's environment names it (functions read each
/// generation's key id from the table).
#[test]
fn the_next_ca_key_has_the_ca_keys_policy() {
    let doc = template();
    let next = &doc["Resources"]["NextCaKey"];
    let ca = &doc["Resources"]["CaKey"];
    assert_eq!(next["Type"].as_str(), Some("AWS::KMS::Key"));
    assert_eq!(next["Condition"].as_str(), Some("HasNextCaKey"));
    for policy in ["DeletionPolicy", "UpdateReplacePolicy"] {
        assert_eq!(next[policy].as_str(), Some("Retain"), "NextCaKey {policy}");
    }
    for prop in ["KeyPolicy", "KeySpec", "KeyUsage", "EnableKeyRotation"] {
        assert_eq!(
            next["Properties"][prop], ca["Properties"][prop],
            "NextCaKey {prop} is CaKey's"
        );
    }
    let condition = serde_norway::to_string(&doc["Conditions"]["HasNextCaKey"]).expect("yaml");
    assert!(condition.contains("CreateNextCaKey"), "{condition}");
    assert_eq!(
        doc["Parameters"]["CreateNextCaKey"]["Default"].as_str(),
        Some("false"),
        "no second key unless asked for"
    );
    assert_eq!(
        ref_target(&doc["Outputs"]["NextCaKeyId"]["Value"]),
        Some("NextCaKey")
    );
    let rule = serde_norway::to_string(&doc["Resources"]["CaKeyChangesRule"]).expect("yaml");
    assert!(
        rule.contains("NextCaKey"),
        "changes to the next CA key's policy are announced too: {rule}"
    );
    for (name, f) in functions(&doc) {
        let text = serde_norway::to_string(&f).expect("yaml");
        assert!(
            !text.contains("NextCaKey"),
            "{name}: functions take each generation's key id from the table"
        );
    }
}

/// The root key (two tiers, DESIGN §4) signs only for the bootstrap principal: no function
/// role is named in its policy, no function policy or environment refers to it, and
/// without a bootstrap principal nobody may sign with it.
#[test]
fn only_the_bootstrap_principal_may_sign_with_the_root_key() {
    let doc = template();
    let root = &doc["Resources"]["RootKey"];
    assert_eq!(root["Type"].as_str(), Some("AWS::KMS::Key"));
    let statements = root["Properties"]["KeyPolicy"]["Statement"]
        .as_sequence()
        .expect("root key policy statements");
    let mut signing_statements = 0;
    for st in statements {
        // `!If [HasBootstrapPrincipal, statement, !Ref AWS::NoValue]`: only with a
        // bootstrap principal is there a statement at all.
        let st = match st {
            Value::Tagged(t) if t.tag == "!If" => {
                let branches = t.value.as_sequence().expect("!If list");
                assert_eq!(branches[0].as_str(), Some("HasBootstrapPrincipal"));
                &branches[1]
            }
            other => other,
        };
        let text = serde_norway::to_string(st).expect("yaml");
        assert!(
            !text.contains("Role"),
            "no function role in the root key policy: {text}"
        );
        let signs = match &st["Action"] {
            Value::String(a) => a == "kms:Sign" || a == "kms:*",
            Value::Sequence(v) => v
                .iter()
                .any(|a| matches!(a.as_str(), Some("kms:Sign" | "kms:*"))),
            _ => false,
        };
        if !signs || st["Effect"].as_str() != Some("Allow") {
            continue;
        }
        signing_statements += 1;
        let Value::Tagged(t) = &st["Principal"]["AWS"] else {
            panic!("root key signer must be the bootstrap principal: {text}");
        };
        assert_eq!(t.tag.to_string(), "!Ref", "{text}");
        assert_eq!(t.value.as_str(), Some("BootstrapPrincipalArn"), "{text}");
    }
    assert_eq!(
        signing_statements, 1,
        "one statement lets the bootstrap principal sign"
    );
    for (name, f) in functions(&doc) {
        let text = serde_norway::to_string(&f).expect("yaml");
        assert!(
            !text.contains("RootKey") && !text.contains("ORGCERT_ROOT_KMS_KEY_ID"),
            "{name}: a function must not know the root key"
        );
    }
}

fn template() -> Value {
    let text =
        std::fs::read_to_string(root().join("infra/template.yaml")).expect("infra/template.yaml");
    serde_norway::from_str(&text).expect("template parses")
}

/// The functions of the template by their short name (`get-crl`), with their properties.
fn functions(doc: &Value) -> Vec<(String, Value)> {
    doc["Resources"]
        .as_mapping()
        .expect("Resources")
        .iter()
        .filter(|(_, r)| r["Type"].as_str() == Some("AWS::Serverless::Function"))
        .map(|(_, r)| {
            let name = function_name(&r["Properties"]["FunctionName"]).expect("function name");
            (name, r["Properties"].clone())
        })
        .collect()
}

/// The functions any anonymous caller can invoke: the public operations and the pages.
fn public_functions() -> BTreeSet<String> {
    let mut names: BTreeSet<String> = Operation::ALL
        .iter()
        .filter(|op| {
            matches!(
                op,
                Operation::CaPem
                    | Operation::CaCer
                    | Operation::CaGeneration
                    | Operation::RootPem
                    | Operation::RootCer
                    | Operation::RootCrl
                    | Operation::OpenApi
                    | Operation::Healthz
                    | Operation::GetCrl
                    | Operation::GetCrlPartition
                    | Operation::OcspGet
                    | Operation::OcspPost
                    | Operation::PublicCertificates
                    | Operation::PublicCertificateFile
            )
        })
        .map(|op| op.name().to_owned())
        .collect();
    names.insert(WEB_CONSOLE.to_owned());
    names
}

/// `!Ref X` → `X`.
fn ref_target(v: &Value) -> Option<&str> {
    match v {
        Value::Tagged(t) if t.tag == "!Ref" => t.value.as_str(),
        _ => None,
    }
}

/// The table, the bucket (and its log bucket) and every KMS key survive a stack delete
/// and a replacing update; the table also refuses a direct delete.
#[test]
fn the_ca_state_is_retained() {
    let doc = template();
    let resources = doc["Resources"].as_mapping().expect("Resources");
    let mut kept = BTreeSet::new();
    for (k, r) in resources {
        let kind = r["Type"].as_str().unwrap_or("");
        if matches!(
            kind,
            "AWS::KMS::Key" | "AWS::DynamoDB::Table" | "AWS::S3::Bucket"
        ) {
            for policy in ["DeletionPolicy", "UpdateReplacePolicy"] {
                assert_eq!(r[policy].as_str(), Some("Retain"), "{k:?}: {policy}");
            }
            kept.insert(k.as_str().unwrap().to_owned());
        }
    }
    for logical in ["CaKey", "Table", "Bucket", "LogBucket"] {
        assert!(kept.contains(logical), "{logical} retained");
    }
    let table = &doc["Resources"]["Table"]["Properties"];
    assert_eq!(table["DeletionProtectionEnabled"].as_bool(), Some(true));
    let bucket = &doc["Resources"]["Bucket"]["Properties"];
    assert_eq!(
        bucket["VersioningConfiguration"]["Status"].as_str(),
        Some("Enabled")
    );
    assert_eq!(
        ref_target(&bucket["LoggingConfiguration"]["DestinationBucketName"]),
        Some("LogBucket"),
        "bucket access logs"
    );
    // With versioning, PKCS#12 files (private keys) must not linger as noncurrent versions.
    let rules = bucket["LifecycleConfiguration"]["Rules"]
        .as_sequence()
        .expect("lifecycle rules");
    let p12 = rules
        .iter()
        .find(|r| r["Prefix"].as_str() == Some("p12/"))
        .expect("p12/ lifecycle rule");
    assert!(p12["ExpirationInDays"].as_u64().is_some_and(|d| d <= 1));
    assert!(
        p12["NoncurrentVersionExpiration"]["NoncurrentDays"]
            .as_u64()
            .is_some_and(|d| d <= 1),
        "noncurrent p12/ versions expire within a day"
    );
    // Nobody may create grants on the CA key (a grant bypasses the key policy's signer list).
    let statements = doc["Resources"]["CaKey"]["Properties"]["KeyPolicy"]["Statement"]
        .as_sequence()
        .expect("key policy");
    assert!(
        statements
            .iter()
            .any(|st| st["Effect"].as_str() == Some("Deny")
                && st["Action"].as_str() == Some("kms:CreateGrant")
                && st["Principal"]["AWS"].as_str() == Some("*")),
        "key policy denies kms:CreateGrant to everyone"
    );
    let sign = statements
        .iter()
        .find(|st| st["Action"].as_str() == Some("kms:Sign"))
        .expect("kms:Sign statement");
    assert!(
        sign["Condition"]["StringEquals"]["kms:SigningAlgorithm"].is_sequence(),
        "kms:Sign limited to the algorithms the code uses"
    );
}

/// Public functions read only: no `*CrudPolicy`, no SAM read policy (it includes Scan), no
/// write action; public and signing functions have reserved concurrency.
#[test]
fn public_functions_read_only_and_bounded() {
    let doc = template();
    let public = public_functions();
    let all = functions(&doc);
    for (name, props) in &all {
        if !public.contains(name) {
            continue;
        }
        let policies = serde_norway::to_string(&props["Policies"]).expect("yaml");
        for banned in [
            "CrudPolicy",
            "DynamoDBReadPolicy",
            "dynamodb:Scan",
            "dynamodb:Put",
            "dynamodb:Update",
            "dynamodb:Delete",
            "s3:Put",
            "s3:Delete",
            "s3:*",
            "dynamodb:*",
        ] {
            assert!(
                !policies.contains(banned),
                "{name}: public function has {banned}"
            );
        }
        assert!(
            !props["ReservedConcurrentExecutions"].is_null(),
            "{name}: reserved concurrency"
        );
    }
    // The CRL and OCSP functions may list their own prefix only, so that a missing CRL or
    // responder object is a 404 (NoSuchKey), not a 403, and nothing else is listed.
    for reader in ["get-crl", "get-crl-partition", "ocsp-get", "ocsp-post"] {
        let (_, props) = all.iter().find(|(n, _)| n == reader).expect(reader);
        let lists: Vec<&Value> = props["Policies"]
            .as_sequence()
            .into_iter()
            .flatten()
            .flat_map(|p| p["Statement"].as_sequence().into_iter().flatten())
            .filter(|st| {
                st["Action"]
                    .as_sequence()
                    .is_some_and(|a| a.iter().any(|a| a.as_str() == Some("s3:ListBucket")))
            })
            .collect();
        assert_eq!(lists.len(), 1, "{reader}: one s3:ListBucket statement");
        assert!(
            lists[0]["Condition"]["StringLike"]["s3:prefix"].is_sequence(),
            "{reader}: s3:ListBucket limited by s3:prefix"
        );
    }
    for signer in [
        "issue-certificate",
        "redeem-issuance",
        "crl-refresh",
        "issue-by-api",
        "self-renew",
    ] {
        let (_, props) = all.iter().find(|(n, _)| n == signer).expect(signer);
        assert!(
            !props["ReservedConcurrentExecutions"].is_null(),
            "{signer}: reserved concurrency"
        );
    }
    // One CRL run at a time, finished before the next minute's run.
    let (_, crl) = all
        .iter()
        .find(|(n, _)| n == "crl-refresh")
        .expect("crl-refresh");
    assert_eq!(crl["ReservedConcurrentExecutions"].as_u64(), Some(1));
    assert!(crl["Timeout"].as_u64().is_some_and(|t| t < 60));
}

/// Alarms: errors and throttles of every function, API 5xx, DynamoDB throttles, the
/// jobs' dead-letter queue and CRL freshness (the EMF metric of crl-refresh); every HTTP function deploys as a canary rolled back by its
/// own errors alarm.
#[test]
fn alarms_watch_functions_api_table_and_dead_letters() {
    let doc = template();
    let resources = doc["Resources"].as_mapping().expect("Resources");
    // function name → its alarm's logical id, for alarms on both Errors and Throttles.
    let mut function_alarms = std::collections::BTreeMap::new();
    let mut namespaces = BTreeSet::new();
    for (k, r) in resources {
        if r["Type"].as_str() != Some("AWS::CloudWatch::Alarm") {
            continue;
        }
        let p = &r["Properties"];
        assert!(!p["AlarmActions"].is_null(), "{k:?}: alarm actions");
        let mut metrics: Vec<(String, String, Value)> = Vec::new();
        if let Some(ns) = p["Namespace"].as_str() {
            metrics.push((
                ns.to_owned(),
                p["MetricName"].as_str().unwrap_or("").to_owned(),
                p["Dimensions"].clone(),
            ));
        }
        for m in p["Metrics"].as_sequence().into_iter().flatten() {
            let metric = &m["MetricStat"]["Metric"];
            if let Some(ns) = metric["Namespace"].as_str() {
                metrics.push((
                    ns.to_owned(),
                    metric["MetricName"].as_str().unwrap_or("").to_owned(),
                    metric["Dimensions"].clone(),
                ));
            }
        }
        let names: BTreeSet<&str> = metrics.iter().map(|(_, n, _)| n.as_str()).collect();
        for (ns, name, dims) in &metrics {
            namespaces.insert((ns.clone(), name.clone()));
            if ns == "AWS/Lambda" && names.contains("Errors") && names.contains("Throttles") {
                let f = function_name(&dims[0]["Value"]).expect("FunctionName dimension");
                function_alarms.insert(f, k.as_str().unwrap().to_owned());
            }
        }
    }
    for (name, props) in functions(&doc) {
        let alarm = function_alarms
            .get(&name)
            .unwrap_or_else(|| panic!("{name}: no errors/throttles alarm"));
        let http = props["Events"]
            .as_mapping()
            .into_iter()
            .flatten()
            .any(|(_, ev)| ev["Type"].as_str() == Some("HttpApi"));
        if http {
            assert_eq!(props["AutoPublishAlias"].as_str(), Some("live"), "{name}");
            let pref = &props["DeploymentPreference"];
            assert_eq!(
                pref["Type"].as_str(),
                Some("Canary10Percent5Minutes"),
                "{name}"
            );
            let rollback: Vec<_> = pref["Alarms"]
                .as_sequence()
                .into_iter()
                .flatten()
                .filter_map(ref_target)
                .collect();
            assert!(
                rollback.contains(&alarm.as_str()),
                "{name}: rolled back by {alarm}"
            );
        }
    }
    for (ns, metric) in [
        ("AWS/ApiGateway", "5xx"),
        ("AWS/DynamoDB", "ReadThrottleEvents"),
        ("AWS/DynamoDB", "WriteThrottleEvents"),
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible"),
        ("orgcert", "CrlSecondsUntilNextUpdate"),
    ] {
        assert!(
            namespaces.contains(&(ns.to_owned(), metric.to_owned())),
            "alarm on {ns} {metric}"
        );
    }
}

/// Every job (a function on a schedule) retries at most once, then lands in a
/// dead-letter queue; its schedule has a dead-letter queue and a stack-prefixed name.
#[test]
fn jobs_never_fail_silently() {
    let doc = template();
    let mut jobs = BTreeSet::new();
    for (name, props) in functions(&doc) {
        for (_, ev) in props["Events"].as_mapping().into_iter().flatten() {
            if !matches!(ev["Type"].as_str(), Some("ScheduleV2" | "Schedule")) {
                continue;
            }
            jobs.insert(name.clone());
            let p = &ev["Properties"];
            assert!(
                !p["DeadLetterConfig"]["Arn"].is_null(),
                "{name}: schedule DLQ"
            );
            assert_eq!(
                function_name(&p["Name"]).as_deref(),
                Some(name.as_str()),
                "{name}: schedule named ${{AWS::StackName}}-{name}"
            );
            let cfg = &props["EventInvokeConfig"];
            assert!(
                cfg["MaximumRetryAttempts"].as_u64().is_some_and(|n| n <= 1),
                "{name}: at most one retry"
            );
            assert!(
                cfg["MaximumEventAgeInSeconds"]
                    .as_u64()
                    .is_some_and(|s| s <= 3600),
                "{name}: short event age"
            );
            let failure = &cfg["DestinationConfig"]["OnFailure"];
            assert_eq!(failure["Type"].as_str(), Some("SQS"), "{name}");
            assert!(
                !failure["Destination"].is_null(),
                "{name}: failure destination"
            );
        }
    }
    let expected: BTreeSet<String> = [
        "renewal-reminders",
        "crl-refresh",
        "housekeeping",
        "deliver-events",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert_eq!(jobs, expected);
}

/// The machine API (API.md "System certificates: mutual TLS"): when `MachineDomainName`
/// and `MachineCertificateArn` are set, a second HTTP API on a custom domain with mutual
/// TLS against the truststore the bootstrap writes, its execute-api endpoint disabled, no
/// authorizer, routing exactly the operations a system certificate may call (a right
/// allows it, or it is self-renewal) to the function of the same name; the functions
/// learn the domain, so that only requests arriving there have their certificate trusted.
#[test]
fn the_machine_api_routes_exactly_the_machine_operations_over_mutual_tls() {
    let doc = template();
    let resources = doc["Resources"].as_mapping().expect("Resources");
    let res = |logical: &str| -> &Value {
        resources
            .iter()
            .find(|(k, _)| k.as_str() == Some(logical))
            .map(|(_, v)| v)
            .unwrap_or_else(|| panic!("no resource {logical}"))
    };
    assert!(doc["Parameters"]["MachineDomainName"]["Default"].as_str() == Some(""));
    assert!(doc["Parameters"]["MachineCertificateArn"]["Default"].as_str() == Some(""));
    assert!(!doc["Conditions"]["HasMachineApi"].is_null());
    let api = res("MachineApi");
    assert_eq!(api["Type"].as_str(), Some("AWS::ApiGatewayV2::Api"));
    assert_eq!(api["Properties"]["ProtocolType"].as_str(), Some("HTTP"));
    assert_eq!(
        api["Properties"]["DisableExecuteApiEndpoint"].as_bool(),
        Some(true)
    );
    let domain = &res("MachineDomain")["Properties"];
    assert_eq!(ref_target(&domain["DomainName"]), Some("MachineDomainName"));
    assert_eq!(
        ref_target(&domain["DomainNameConfigurations"][0]["CertificateArn"]),
        Some("MachineCertificateArn")
    );
    let Value::Tagged(uri) = &domain["MutualTlsAuthentication"]["TruststoreUri"] else {
        panic!("TruststoreUri is no !Sub");
    };
    assert_eq!(
        uri.value.as_str(),
        Some(format!("s3://${{Bucket}}/{}", "truststore/ca.pem").as_str()),
        "the object orgcert-ca writes (orgcert_aws::TRUSTSTORE_OBJECT)"
    );
    assert_eq!(
        ref_target(&res("MachineApiMapping")["Properties"]["DomainName"]),
        Some("MachineDomain")
    );
    // Every machine resource exists only with the condition.
    for (k, r) in resources {
        let k = k.as_str().unwrap_or("");
        if k.starts_with("Machine") {
            assert_eq!(r["Condition"].as_str(), Some("HasMachineApi"), "{k}");
        }
    }
    // Routes: method, path → function (through its live alias), no authorizer.
    let mut routes = BTreeSet::new();
    for (k, r) in resources {
        if r["Type"].as_str() != Some("AWS::ApiGatewayV2::Route") {
            continue;
        }
        let p = &r["Properties"];
        assert_eq!(ref_target(&p["ApiId"]), Some("MachineApi"), "{k:?}");
        assert_eq!(p["AuthorizationType"].as_str(), Some("NONE"), "{k:?}");
        let Value::Tagged(target) = &p["Target"] else {
            panic!("{k:?}: Target is no !Sub");
        };
        let integration = target
            .value
            .as_str()
            .and_then(|t| t.strip_prefix("integrations/${"))
            .and_then(|t| t.strip_suffix('}'))
            .unwrap_or_else(|| panic!("{k:?}: target {target:?}"));
        let ip = &res(integration)["Properties"];
        assert_eq!(ip["IntegrationType"].as_str(), Some("AWS_PROXY"));
        assert_eq!(ip["PayloadFormatVersion"].as_str(), Some("2.0"));
        let alias = ref_target(&ip["IntegrationUri"]).expect("IntegrationUri !Ref");
        let function = alias
            .strip_suffix("Aliaslive")
            .unwrap_or_else(|| panic!("{integration}: not a live alias"));
        let name = function_name(&res(function)["Properties"]["FunctionName"]).expect("name");
        // API Gateway may invoke that alias from this API.
        let permitted = resources.iter().any(|(_, r)| {
            r["Type"].as_str() == Some("AWS::Lambda::Permission")
                && ref_target(&r["Properties"]["FunctionName"]) == Some(alias)
                && serde_norway::to_string(&r["Properties"]["SourceArn"])
                    .is_ok_and(|s| s.contains("${MachineApi}"))
        });
        assert!(
            permitted,
            "{name}: no invoke permission for the machine API"
        );
        let (method, path) = p["RouteKey"]
            .as_str()
            .and_then(|rk| rk.split_once(' '))
            .expect("RouteKey");
        routes.insert((method.to_owned(), path.to_owned(), name));
    }
    let expected: BTreeSet<(String, String, String)> = Operation::ALL
        .iter()
        .filter(|op| op.machine_right().is_some())
        .map(|op| {
            (
                op.method().as_str().to_owned(),
                api_gateway_path(op.path()),
                op.name().to_owned(),
            )
        })
        .collect();
    assert!(expected.iter().any(|(_, _, n)| n == "self-renew"));
    assert!(expected.iter().any(|(_, _, n)| n == "issue-by-api"));
    assert_eq!(routes, expected, "machine API routes vs the route table");
    // The functions know the machine domain (empty without the machine API).
    let env = &doc["Globals"]["Function"]["Environment"]["Variables"];
    assert!(
        !env["ORGCERT_MACHINE_DOMAIN"].is_null(),
        "ORGCERT_MACHINE_DOMAIN in every function's environment"
    );
}

/// The actions of a policy statement (`Action` as one string or a list).
fn actions(st: &Value) -> Vec<String> {
    match &st["Action"] {
        Value::String(a) => vec![a.clone()],
        Value::Sequence(v) => v
            .iter()
            .filter_map(|a| a.as_str().map(str::to_owned))
            .collect(),
        _ => vec![],
    }
}

/// Least privilege by key (issue 17, item 5): every public function reads the table with
/// explicit point-read actions (never Scan) under a `dynamodb:LeadingKeys` condition that
/// names exactly the partitions its code reads (shared/aws/src/store/keys.rs): the CA item
/// read at init, the CRL pointers, the serial pointers and certificates, the directory
/// indexes. An anonymous request can then not make a public function read an
/// organisation's settings, secrets, idempotency records or audit log, whatever the code
/// does.
#[test]
fn public_functions_read_only_the_partitions_they_need() {
    let doc = template();
    let ca = ["CA"];
    let crl = ["CA", "CRL#*@published"];
    let cert = ["CA", "SERIAL#*", "PROFILE#*"];
    let expected: std::collections::BTreeMap<&str, (&[&str], &[&str])> = [
        ("get-ca-pem", (&ca[..], &[][..])),
        ("get-ca-cer", (&ca[..], &[][..])),
        ("get-ca-generation", (&ca[..], &[][..])),
        ("get-root-pem", (&ca[..], &[][..])),
        ("get-root-cer", (&ca[..], &[][..])),
        ("get-root-crl", (&ca[..], &[][..])),
        ("get-openapi", (&ca[..], &[][..])),
        ("healthz", (&ca[..], &[][..])),
        ("get-crl", (&crl[..], &[][..])),
        ("get-crl-partition", (&crl[..], &[][..])),
        ("ocsp-get", (&cert[..], &[][..])),
        ("ocsp-post", (&cert[..], &[][..])),
        ("public-certificate-file", (&cert[..], &[][..])),
        (
            "public-certificates",
            (&cert[..], &["DIR#ORG#*", "DIR#EMAIL#*"][..]),
        ),
    ]
    .into_iter()
    .collect();
    let public = public_functions();
    let all = functions(&doc);
    for (name, props) in &all {
        if !public.contains(name) {
            continue;
        }
        let statements: Vec<&Value> = props["Policies"]
            .as_sequence()
            .into_iter()
            .flatten()
            .flat_map(|p| p["Statement"].as_sequence().into_iter().flatten())
            .filter(|st| actions(st).iter().any(|a| a.starts_with("dynamodb:")))
            .collect();
        if name == WEB_CONSOLE {
            assert!(statements.is_empty(), "{name}: the pages read no table");
            continue;
        }
        let (table_keys, index_keys) = expected
            .get(name.as_str())
            .unwrap_or_else(|| panic!("{name}: a public function this test does not know"));
        let mut on_table = None;
        let mut on_indexes = None;
        for st in &statements {
            assert_eq!(st["Effect"].as_str(), Some("Allow"), "{name}");
            for a in actions(st) {
                assert!(
                    matches!(
                        a.as_str(),
                        "dynamodb:GetItem" | "dynamodb:Query" | "dynamodb:BatchGetItem"
                    ),
                    "{name}: {a} is no point read"
                );
            }
            let keys: Vec<String> = st["Condition"]["ForAllValues:StringLike"]
                ["dynamodb:LeadingKeys"]
                .as_sequence()
                .unwrap_or_else(|| panic!("{name}: statement without dynamodb:LeadingKeys"))
                .iter()
                .map(|k| k.as_str().expect("key prefix").to_owned())
                .collect();
            assert!(
                keys.iter().all(|k| k != "*" && !k.is_empty()),
                "{name}: LeadingKeys {keys:?} restrict nothing"
            );
            let resource = serde_norway::to_string(&st["Resource"]).expect("yaml");
            if resource.contains("/index/") {
                assert!(
                    !resource.contains("/index/*"),
                    "{name}: indexes named one by one"
                );
                on_indexes = Some(keys);
            } else {
                assert_eq!(
                    st["Resource"],
                    serde_norway::from_str::<Value>("!GetAtt Table.Arn").unwrap(),
                    "{name}"
                );
                on_table = Some(keys);
            }
        }
        assert_eq!(
            on_table.as_deref(),
            Some(
                &table_keys
                    .iter()
                    .map(|s| (*s).to_owned())
                    .collect::<Vec<_>>()[..]
            ),
            "{name}: partitions read on the table"
        );
        let want_index: Vec<String> = index_keys.iter().map(|s| (*s).to_owned()).collect();
        assert_eq!(
            on_indexes.unwrap_or_default(),
            want_index,
            "{name}: partitions read on the indexes"
        );
    }
}

/// No function calls KMS `GetPublicKey` or `DescribeKey` (init takes the public key from
/// the stored CA certificate, shared/aws/src/kms.rs `KmsSigner::from_certificate`), so no
/// function role is in a key policy except in the statement that lets the signing
/// functions sign; the administrators and the bootstrap principal keep every other action.
#[test]
fn no_function_role_reads_the_public_key() {
    let doc = template();
    for key in ["CaKey", "NextCaKey", "RootKey"] {
        let statements = doc["Resources"][key]["Properties"]["KeyPolicy"]["Statement"]
            .as_sequence()
            .expect("key policy statements");
        for st in statements {
            let text = serde_norway::to_string(st).expect("yaml");
            if !text.contains("FunctionRole") {
                continue;
            }
            assert_eq!(
                actions(st),
                vec!["kms:Sign".to_owned()],
                "{key}: a function role is named for more than kms:Sign: {text}"
            );
        }
        let text = serde_norway::to_string(&doc["Resources"][key]).expect("yaml");
        assert!(
            !text.contains("kms:GetPublicKey"),
            "{key}: no statement grants kms:GetPublicKey (no function calls it)"
        );
    }
}

/// CloudFront's path patterns: `*` any run of characters (`/` included), `?` one.
fn cloudfront_matches(pattern: &str, path: &str) -> bool {
    fn go(p: &[u8], s: &[u8]) -> bool {
        match p.split_first() {
            None => s.is_empty(),
            Some((b'*', rest)) => (0..=s.len()).any(|i| go(rest, &s[i..])),
            Some((b'?', rest)) => !s.is_empty() && go(rest, &s[1..]),
            Some((c, rest)) => s.first() == Some(c) && go(rest, &s[1..]),
        }
    }
    go(pattern.as_bytes(), path.as_bytes())
}

/// Managed CloudFront policies the distribution names by id.
const CACHING_DISABLED: &str = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad";
const ALL_VIEWER_EXCEPT_HOST: &str = "b689b0a8-53d0-40ab-baf2-68738e2966ac";

/// The optional CDN (issue 17, item 4): with EnableCdn=true a CloudFront distribution on
/// PublicDomainName fronts the HTTP API. Every PKI route of the route table (CA and root
/// certificates, CRLs, OCSP GET) is served over plain HTTP too (RFC 5280 §4.2.1.13 and
/// §4.2.2.1, RFC 6960 appendix A.1: relying parties fetch them over http) and cached per
/// the origin's Cache-Control (min TTL 0, path-only cache key); OCSP POST is
/// plain-HTTP but never cached; every other route redirects to HTTPS, is never cached and
/// reaches the API with Authorization. A WAFv2 web ACL (scope CLOUDFRONT, per-IP rate
/// rule) guards it, created here in us-east-1 and taken as WebAclArn elsewhere; the
/// functions then write http://<PublicDomainName> into certificates.
#[test]
fn the_optional_cdn_caches_the_pki_routes_over_http_and_guards_the_rest() {
    let doc = template();
    let resources = doc["Resources"].as_mapping().expect("Resources");
    for p in [
        "PublicDomainName",
        "PublicCertificateArn",
        "WebAclArn",
        "EnableCdn",
    ] {
        assert!(!doc["Parameters"][p].is_null(), "parameter {p}");
    }
    assert_eq!(
        doc["Parameters"]["EnableCdn"]["Default"].as_str(),
        Some("false"),
        "no CDN unless asked for"
    );
    let has_cdn = serde_norway::to_string(&doc["Conditions"]["HasCdn"]).expect("yaml");
    assert!(has_cdn.contains("EnableCdn"), "{has_cdn}");
    let create_acl = serde_norway::to_string(&doc["Conditions"]["CreateCdnWebAcl"]).expect("yaml");
    assert!(
        create_acl.contains("us-east-1") && create_acl.contains("WebAclArn"),
        "the web ACL is created only in us-east-1 and without WebAclArn: {create_acl}"
    );
    let rule = serde_norway::to_string(&doc["Rules"]["CdnWebAclOutsideUsEast1"]).expect("yaml");
    assert!(
        rule.contains("WebAclArn") && rule.contains("us-east-1"),
        "outside us-east-1 WebAclArn is required: {rule}"
    );
    // Every CDN resource exists only with the CDN.
    for (k, r) in resources {
        let k = k.as_str().unwrap_or("");
        let kind = r["Type"].as_str().unwrap_or("");
        if kind.starts_with("AWS::CloudFront::")
            || kind.starts_with("AWS::WAFv2::")
            || k.starts_with("Cdn")
        {
            assert!(
                matches!(r["Condition"].as_str(), Some("HasCdn" | "CreateCdnWebAcl")),
                "{k}: only with the CDN"
            );
        }
    }
    // The web ACL: CLOUDFRONT scope, a blocking per-IP rate rule.
    let acl = &doc["Resources"]["CdnWebAcl"];
    assert_eq!(acl["Type"].as_str(), Some("AWS::WAFv2::WebACL"));
    assert_eq!(acl["Properties"]["Scope"].as_str(), Some("CLOUDFRONT"));
    let rate = acl["Properties"]["Rules"]
        .as_sequence()
        .expect("web ACL rules")
        .iter()
        .find(|r| !r["Statement"]["RateBasedStatement"].is_null())
        .expect("a rate-based rule");
    assert_eq!(
        rate["Statement"]["RateBasedStatement"]["AggregateKeyType"].as_str(),
        Some("IP")
    );
    assert!(!rate["Action"]["Block"].is_null(), "the rate rule blocks");
    // The PKI cache policy honours the origin's Cache-Control and keys on the path alone.
    let cache = &doc["Resources"]["PkiCachePolicy"]["Properties"]["CachePolicyConfig"];
    assert_eq!(cache["MinTTL"].as_u64(), Some(0));
    assert!(
        cache["DefaultTTL"].as_u64().is_some_and(|s| s <= 3600),
        "an answer without Cache-Control is kept at most as long as the CA files say"
    );
    let key = &cache["ParametersInCacheKeyAndForwardedToOrigin"];
    assert_eq!(
        key["HeadersConfig"]["HeaderBehavior"].as_str(),
        Some("none")
    );
    assert_eq!(
        key["CookiesConfig"]["CookieBehavior"].as_str(),
        Some("none")
    );
    assert_eq!(
        key["QueryStringsConfig"]["QueryStringBehavior"].as_str(),
        Some("none")
    );
    // The distribution.
    let cdn = &doc["Resources"]["Cdn"];
    assert_eq!(cdn["Type"].as_str(), Some("AWS::CloudFront::Distribution"));
    let dc = &cdn["Properties"]["DistributionConfig"];
    assert_eq!(ref_target(&dc["Aliases"][0]), Some("PublicDomainName"));
    assert_eq!(
        ref_target(&dc["ViewerCertificate"]["AcmCertificateArn"]),
        Some("PublicCertificateArn")
    );
    let waf = serde_norway::to_string(&dc["WebACLId"]).expect("yaml");
    assert!(
        waf.contains("CdnWebAcl.Arn") && waf.contains("WebAclArn"),
        "the created web ACL, else WebAclArn: {waf}"
    );
    let origins = dc["Origins"].as_sequence().expect("origins");
    assert_eq!(origins.len(), 1);
    let domain = serde_norway::to_string(&origins[0]["DomainName"]).expect("yaml");
    assert!(domain.contains("${HttpApi}.execute-api"), "{domain}");
    assert_eq!(
        origins[0]["CustomOriginConfig"]["OriginProtocolPolicy"].as_str(),
        Some("https-only")
    );
    let default = &dc["DefaultCacheBehavior"];
    assert_eq!(
        default["ViewerProtocolPolicy"].as_str(),
        Some("redirect-to-https")
    );
    assert_eq!(default["CachePolicyId"].as_str(), Some(CACHING_DISABLED));
    assert_eq!(
        default["OriginRequestPolicyId"].as_str(),
        Some(ALL_VIEWER_EXCEPT_HOST),
        "Authorization (and all but Host) reaches the API"
    );
    let methods = serde_norway::to_string(&default["AllowedMethods"]).expect("yaml");
    for m in ["POST", "PUT", "PATCH", "DELETE"] {
        assert!(methods.contains(m), "default behaviour allows {m}");
    }
    let behaviours = dc["CacheBehaviors"]
        .as_sequence()
        .expect("cache behaviours");
    // Which behaviour serves a route: the first whose pattern matches, else the default.
    let serving = |path: &str| -> &Value {
        behaviours
            .iter()
            .find(|b| cloudfront_matches(b["PathPattern"].as_str().unwrap_or(""), path))
            .unwrap_or(default)
    };
    let concrete = |template: &str| -> String {
        template
            .split('/')
            .map(|seg| if seg.starts_with('{') { "x1" } else { seg })
            .collect::<Vec<_>>()
            .join("/")
    };
    let cached_pki = [
        Operation::CaPem,
        Operation::CaCer,
        Operation::CaGeneration,
        Operation::RootPem,
        Operation::RootCer,
        Operation::RootCrl,
        Operation::GetCrl,
        Operation::GetCrlPartition,
        Operation::OcspGet,
    ];
    for op in Operation::ALL {
        let path = concrete(op.path());
        let b = serving(&path);
        let name = op.name();
        if cached_pki.contains(op) {
            assert_eq!(
                b["ViewerProtocolPolicy"].as_str(),
                Some("allow-all"),
                "{name} {path}: plain HTTP"
            );
            assert_eq!(
                ref_target(&b["CachePolicyId"]),
                Some("PkiCachePolicy"),
                "{name} {path}: cached per Cache-Control"
            );
            assert!(
                b["OriginRequestPolicyId"].is_null(),
                "{name}: nothing of the viewer's request but the path reaches the origin"
            );
        } else if *op == Operation::OcspPost {
            assert_eq!(
                b["ViewerProtocolPolicy"].as_str(),
                Some("allow-all"),
                "{name}"
            );
            assert_eq!(
                b["CachePolicyId"].as_str(),
                Some(CACHING_DISABLED),
                "{name}"
            );
            let m = serde_norway::to_string(&b["AllowedMethods"]).expect("yaml");
            assert!(m.contains("POST"), "{name}: POST allowed");
        } else {
            assert!(
                std::ptr::eq(b, default),
                "{name} {path}: served by the default behaviour (HTTPS, not cached)"
            );
        }
    }
    for page in orgcert_web::ROUTES {
        assert!(
            std::ptr::eq(serving(&concrete(page)), default),
            "page {page}: HTTPS, not cached"
        );
    }
    // The functions write the CDN's plain-HTTP base into certificates.
    let pki = serde_norway::to_string(
        &doc["Globals"]["Function"]["Environment"]["Variables"]["ORGCERT_PKI_URL"],
    )
    .expect("yaml");
    assert!(
        pki.contains("HasCdn") && pki.contains("http://${PublicDomainName}"),
        "ORGCERT_PKI_URL with the CDN: {pki}"
    );
    for output in ["CdnDomain", "CdnDistributionId"] {
        assert_eq!(
            doc["Outputs"][output]["Condition"].as_str(),
            Some("HasCdn"),
            "output {output}"
        );
    }
}

/// After a rollover the older issuing CA generations keep answering OCSP with their own
/// responders (`private/ocsp-responder-g<n>.json`, shared/aws/src/responder.rs): every
/// function that reads the current responder may read those too, and nothing else under
/// `private/`.
#[test]
fn responder_readers_read_every_generations_responder() {
    let doc = template();
    let mut readers = BTreeSet::new();
    for (name, props) in functions(&doc) {
        let statements: Vec<Value> = props["Policies"]
            .as_sequence()
            .into_iter()
            .flatten()
            .flat_map(|p| p["Statement"].as_sequence().cloned().unwrap_or_default())
            .collect();
        let gets: Vec<String> = statements
            .iter()
            .filter(|st| actions(st).iter().any(|a| a == "s3:GetObject"))
            .map(|st| serde_norway::to_string(&st["Resource"]).expect("yaml"))
            .collect();
        if !gets.iter().any(|r| r.contains("private/ocsp-responder")) {
            continue;
        }
        readers.insert(name.clone());
        let text = gets.join("\n");
        assert!(
            text.contains("private/ocsp-responder.json")
                && text.contains("private/ocsp-responder-g*.json"),
            "{name}: reads the responders of every generation: {text}"
        );
        assert!(
            !text.contains("private/*"),
            "{name}: no other private object: {text}"
        );
    }
    for f in ["ocsp-get", "ocsp-post"] {
        assert!(readers.contains(f), "{f} reads the responders");
    }
}

/// Least privilege by prefix (issue 17, item 5): no function holds a bucket-wide S3 policy
/// template (`S3CrudPolicy` and friends); every S3 object action names objects under a
/// prefix its code uses (`p12/`, `crl/`, `private/ocsp-responder*`, `keys/code.key`),
/// never the whole bucket; only the issuance functions write PKCS#12 files, only the
/// crl-refresh job writes CRLs and responders, and only housekeeping and the issuance
/// functions (undoing a failed commit) delete PKCS#12 files.
#[test]
fn s3_access_is_by_prefix_and_as_narrow_as_the_code() {
    let doc = template();
    let prefixes = [
        "/p12/*",
        "/crl/*",
        "/private/ocsp-responder.json",
        "/private/ocsp-responder-g*.json",
        "/keys/code.key",
    ];
    let mut writers: std::collections::BTreeMap<&str, BTreeSet<String>> = Default::default();
    for (name, props) in functions(&doc) {
        let policies = props["Policies"].as_sequence().cloned().unwrap_or_default();
        for p in &policies {
            let text = serde_norway::to_string(p).expect("yaml");
            for template in ["S3CrudPolicy", "S3FullAccessPolicy", "S3WritePolicy"] {
                assert!(
                    !text.contains(template),
                    "{name}: {template} is bucket-wide"
                );
            }
        }
        let statements: Vec<Value> = policies
            .iter()
            .flat_map(|p| p["Statement"].as_sequence().cloned().unwrap_or_default())
            .collect();
        for st in &statements {
            let object_actions: Vec<String> = actions(st)
                .into_iter()
                .filter(|a| a.starts_with("s3:") && a != "s3:ListBucket")
                .collect();
            if object_actions.is_empty() {
                continue;
            }
            let resources = match &st["Resource"] {
                Value::Sequence(v) => v.clone(),
                other => vec![other.clone()],
            };
            for r in &resources {
                let r = serde_norway::to_string(r).expect("yaml");
                // A bucket of this stack: each object resource names one of the code's prefixes.
                if r.contains("Bucket.Arn") {
                    assert!(
                        prefixes
                            .iter()
                            .any(|p| r.contains(&format!("Bucket.Arn}}{p}"))),
                        "{name}: {object_actions:?} on {r} is not one of the code's prefixes"
                    );
                }
                for a in &object_actions {
                    if a == "s3:PutObject" || a == "s3:DeleteObject" {
                        let prefix = prefixes
                            .iter()
                            .find(|p| r.contains(&format!("Bucket.Arn}}{p}")))
                            .copied()
                            .unwrap_or("other");
                        writers
                            .entry(if a == "s3:PutObject" { "put" } else { "delete" })
                            .or_default()
                            .insert(format!("{name} {prefix}"));
                    }
                }
            }
        }
    }
    let issuers = [
        "redeem-issuance",
        "issue-certificate",
        "issue-by-api",
        "self-renew",
    ];
    let expected_put: BTreeSet<String> = issuers
        .iter()
        .map(|f| format!("{f} /p12/*"))
        .chain(
            [
                "/crl/*",
                "/private/ocsp-responder.json",
                "/private/ocsp-responder-g*.json",
            ]
            .iter()
            .map(|p| format!("crl-refresh {p}")),
        )
        .collect();
    let puts = writers.remove("put").unwrap_or_default();
    let in_bucket: BTreeSet<String> = puts
        .iter()
        .filter(|w| !w.ends_with(" other"))
        .cloned()
        .collect();
    assert_eq!(in_bucket, expected_put, "who writes which objects");
    let expected_delete: BTreeSet<String> = issuers
        .iter()
        .chain(&["housekeeping"])
        .map(|f| format!("{f} /p12/*"))
        .chain(std::iter::once("crl-refresh /crl/*".to_owned()))
        .collect();
    let deletes: BTreeSet<String> = writers
        .remove("delete")
        .unwrap_or_default()
        .into_iter()
        .filter(|w| !w.ends_with(" other"))
        .collect();
    assert_eq!(deletes, expected_delete, "who deletes which objects");
}
