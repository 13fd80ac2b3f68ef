//! Every route through the router: arbitrary JSON bodies on every mutating route,
//! arbitrary path and query values (ids, serials, cursors, directory criteria), OCSP bytes.

use axum::body::Body;
use axum::http::Request;
use orgcert_http::openapi;
use orgcert_http::Operation;
use proptest::prelude::*;
use serde_json::{Map, Value};

use crate::harness::{encode, fuzz, Harness};
use crate::parsers::mutated;

/// Arbitrary JSON, nested a little.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,40}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map(".{0,12}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Values that the document names for a field (enums, plausible strings), or anything.
fn field_value(h: &Harness) -> impl Strategy<Value = Value> {
    let mut enums: Vec<Value> = Vec::new();
    collect_enums(&h.doc["components"]["schemas"], &mut enums);
    let plausible: Vec<Value> = [
        "Fuzz profile",
        "carl.contact@demo-org.dk",
        "x@y.dk",
        "1000000001",
        "12345674",
        "5790000000005",
        "",
        " ",
        "søren@demo-org.dk",
    ]
    .iter()
    .map(|s| Value::from(*s))
    .chain([
        Value::from(true),
        Value::from(false),
        Value::from(1),
        Value::from(0),
    ])
    .chain(h.ids.iter().map(|i| Value::from(i.clone())))
    .collect();
    prop_oneof![
        2 => proptest::sample::select(enums),
        2 => proptest::sample::select(plausible),
        1 => any_json(),
    ]
}

fn collect_enums(v: &Value, out: &mut Vec<Value>) {
    match v {
        Value::Object(m) => {
            if let Some(Value::Array(e)) = m.get("enum") {
                out.extend(e.iter().cloned());
            }
            m.values().for_each(|v| collect_enums(v, out));
        }
        Value::Array(a) => a.iter().for_each(|v| collect_enums(v, out)),
        _ => {}
    }
}

/// A body for an operation: objects over the fields its schema names (plus strangers),
/// arbitrary JSON, or bytes that are not JSON at all.
fn body_for(h: &Harness, schema: Option<&str>) -> impl Strategy<Value = Vec<u8>> {
    let mut fields: Vec<String> = schema
        .and_then(|s| h.doc["components"]["schemas"][s]["properties"].as_object())
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default();
    fields.push("unknown_field".into());
    let object =
        proptest::collection::vec((proptest::sample::select(fields), field_value(h)), 0..8)
            .prop_map(|kv| {
                Value::Object(kv.into_iter().collect::<Map<_, _>>())
                    .to_string()
                    .into_bytes()
            });
    prop_oneof![
        6 => object,
        2 => any_json().prop_map(|v| v.to_string().into_bytes()),
        1 => mutated(br#"{"type":"organisation","name":"x","contact_email":"a@b.dk"}"#.to_vec()),
        1 => Just(Vec::new()),
    ]
}

fn schema_of(h: &Harness, op: Operation) -> Option<String> {
    let m = op.method().as_str().to_ascii_lowercase();
    h.doc["paths"][op.path()][m]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        .as_str()
        .map(|r| r.rsplit('/').next().unwrap_or("").to_owned())
}

/// A path value: an existing one, a well-formed unknown one, or any text.
fn path_value(known: Vec<String>) -> impl Strategy<Value = String> {
    prop_oneof![
        3 => proptest::sample::select(known),
        1 => "[0-9a-f]{32}",
        1 => "[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-8[0-9a-f]{3}-[0-9a-f]{12}",
        1 => ".{1,40}",
    ]
}

fn request(
    op: Operation,
    path: &str,
    token: Option<&str>,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> Request<Body> {
    let mut b = Request::builder().method(op.method().as_str()).uri(path);
    if let Some(t) = token {
        b = b.header("authorization", format!("Bearer {t}"));
    }
    if let Some(ct) = content_type {
        b = b.header("content-type", ct);
    }
    b.body(Body::from(body)).expect("request")
}

fn fill(op: Operation, id: &str, serial: &str, token: &str) -> String {
    op.path()
        .replace("{id}", &encode(id))
        .replace("{serial}", &encode(serial))
        .replace("{token}", &encode(token))
}

#[test]
fn json_bodies_of_every_mutating_route() {
    let h = Harness::new();
    let ops: Vec<Operation> = Operation::ALL
        .iter()
        .copied()
        .filter(|o| o.method() != orgcert_http::Method::Get && *o != Operation::OcspPost)
        .collect();
    let per_op: Vec<(Operation, BoxedStrategy<Vec<u8>>)> = ops
        .iter()
        .map(|op| (*op, body_for(&h, schema_of(&h, *op).as_deref()).boxed()))
        .collect();
    let bodies = proptest::sample::select((0..per_op.len()).collect::<Vec<_>>())
        .prop_flat_map(move |i| (Just(per_op[i].0), per_op[i].1.clone()));
    let strategy = (
        bodies,
        path_value(h.ids.clone()),
        path_value(h.serials.clone()),
        ".{1,60}",
        0..6usize,
        proptest::sample::select(vec![
            Some("application/json"),
            Some("application/json; charset=utf-8"),
            Some("application/merge-patch+json"),
            Some("text/plain"),
            None,
        ]),
        proptest::option::of(prop_oneof!["[!-~]{1,20}", "[ -~\t]{0,300}"]),
    );
    let seen = std::sync::Mutex::new(std::collections::BTreeMap::<u16, u32>::new());
    fuzz(
        "json bodies",
        0.3,
        strategy,
        |((op, body), id, serial, link, who, ct, key)| {
            // Mostly the user administrator, who may call every route; sometimes others.
            let token = match who {
                0..=2 => Some(h.tokens[0].as_str()),
                3 => Some(h.tokens[2].as_str()),
                4 => Some(h.tokens[3].as_str()),
                _ => None,
            };
            let path = fill(op, &id, &serial, &link);
            let shown = String::from_utf8_lossy(&body).into_owned();
            // Every body the document describes is an object: any other JSON is refused.
            let not_object = serde_json::from_slice::<Value>(&body).is_ok_and(|v| !v.is_object());
            let mut req = request(op, &path, token, ct, body);
            if let Some(k) = key.as_deref().and_then(|k| k.parse().ok()) {
                req.headers_mut().insert("idempotency-key", k);
            }
            let a = h.call(req);
            if let Ok(mut seen) = seen.lock() {
                *seen.entry(a.status.as_u16()).or_default() += 1;
            }
            h.check(op, &format!("{path} {ct:?} {shown}"), &a)?;
            if not_object && schema_of(&h, op).is_some() {
                prop_assert!(
                    a.status.as_u16() >= 400,
                    "{} {} accepted: {}",
                    path,
                    shown,
                    a.status
                );
            }
            Ok(())
        },
    );
    // Where the cases ended (not asserted: a figure to see that they reach the use cases).
    println!(
        "fuzz json bodies: answers by status {:?}",
        seen.lock().map(|s| s.clone()).unwrap_or_default()
    );
}

#[test]
fn path_values_are_400_exactly_when_the_document_says() {
    let h = Harness::new();
    let uuid = regex::Regex::new(openapi::UUID_PATTERN).expect("uuid");
    let serial = regex::Regex::new(openapi::SERIAL_PATTERN).expect("serial");
    let strategy = (
        prop_oneof![path_value(h.ids.clone()), "[0-9a-fA-F{}:urn-]{30,40}",],
        prop_oneof![path_value(h.serials.clone()), "[0-9a-fA-Fg: ]{0,44}"],
    );
    fuzz("path values", 0.1, strategy, |(id, sn)| {
        let admin = Some(h.tokens[0].as_str());
        let get = |op: Operation, path: String| {
            let a = h.call(request(op, &path, admin, None, Vec::new()));
            h.check(op, &path, &a).map(|()| a.status.as_u16())
        };
        if !id.is_empty() {
            let s = get(
                Operation::GetProfile,
                format!("/v1/profiles/{}", encode(&id)),
            )?;
            prop_assert_eq!(s == 400, !uuid.is_match(&id), "id {:?}: {}", id, s);
        }
        if !sn.is_empty() {
            let s = get(
                Operation::GetCertificate,
                format!("/v1/certificates/{}", encode(&sn)),
            )?;
            prop_assert_eq!(s == 400, !serial.is_match(&sn), "serial {:?}: {}", sn, s);
        }
        Ok(())
    });
}

#[test]
fn cursors_and_directory_criteria() {
    let h = Harness::new();
    let cursor = regex::Regex::new("^[A-Za-z0-9_-]{0,1024}$").expect("cursor");
    let email = regex::Regex::new(&openapi::email_pattern()).expect("email");
    let strategy = (
        prop_oneof![
            "[A-Za-z0-9_=+/ -]{0,40}",
            ".{0,40}",
            "eyJ[A-Za-z0-9_-]{0,40}"
        ],
        proptest::option::of(0..600u32),
        prop_oneof!["[0-9]{7,9}", ".{0,10}"],
        prop_oneof!["[a-z.@-]{0,12}", ".{0,20}"],
    );
    fuzz(
        "cursors and criteria",
        0.1,
        strategy,
        |(c, limit, cvr, mail)| {
            let lim = limit.map(|l| format!("&limit={l}")).unwrap_or_default();
            for (op, base, token) in [
                (Operation::ListProfiles, "/v1/profiles", &h.tokens[0]),
                (Operation::ListAudit, "/v1/audit", &h.tokens[2]),
            ] {
                let path = format!("{base}?cursor={}{lim}", encode(&c));
                let a = h.call(request(op, &path, Some(token), None, Vec::new()));
                h.check(op, &path, &a)?;
                let status = a.status.as_u16();
                prop_assert!([200, 400, 422].contains(&status), "{} {}", path, status);
                prop_assert_eq!(status == 400, !cursor.is_match(&c), "{} {}", path, status);
            }
            let path = format!(
                "/public/certificates?cvr={}&email={}",
                encode(&cvr),
                encode(&mail)
            );
            let a = h.call(request(
                Operation::PublicCertificates,
                &path,
                None,
                None,
                Vec::new(),
            ));
            h.check(Operation::PublicCertificates, &path, &a)?;
            let cvr_ok =
                cvr.is_empty() || (cvr.len() == 8 && cvr.bytes().all(|b| b.is_ascii_digit()));
            let mail_ok = mail.is_empty() || (email.is_match(&mail) && mail.chars().count() <= 254);
            prop_assert_eq!(
                a.status == 400,
                !(cvr_ok && mail_ok),
                "{} {}",
                path,
                a.status
            );
            Ok(())
        },
    );
}

#[test]
fn ocsp_over_http_always_answers_an_ocsp_response() {
    let h = Harness::new();
    let strategy = (
        proptest::collection::vec(any::<u8>(), 0..300),
        any::<bool>(),
    );
    fuzz("ocsp http", 0.1, strategy, |(bytes, get)| {
        use base64::Engine as _;
        let (op, req) = if get {
            let b64 = base64::engine::general_purpose::STANDARD.encode(&bytes);
            let path = format!("/ocsp/{}", encode(&b64));
            (
                Operation::OcspGet,
                request(Operation::OcspGet, &path, None, None, Vec::new()),
            )
        } else {
            (
                Operation::OcspPost,
                request(
                    Operation::OcspPost,
                    "/ocsp",
                    None,
                    Some("application/ocsp-request"),
                    bytes,
                ),
            )
        };
        let a = h.call(req);
        if bytes_is_empty_get(get, &a) {
            return Ok(());
        }
        h.check(op, "ocsp", &a)?;
        prop_assert_eq!(a.status, 200);
        prop_assert_eq!(
            a.headers.get("content-type").and_then(|v| v.to_str().ok()),
            Some("application/ocsp-response")
        );
        Ok(())
    });
}

/// `GET /ocsp/` with nothing after it is no OCSP route at all (404), as the document's
/// `minLength: 1` says.
fn bytes_is_empty_get(get: bool, a: &crate::harness::Answer) -> bool {
    get && a.status == 404
}
