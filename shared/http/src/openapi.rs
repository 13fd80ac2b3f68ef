//! The OpenAPI 3.1 document, generated from the route table so that it covers every route.
//!
//! The document is meant to be exact, so that a generator (schemathesis in `tests/run`)
//! can hold the service to it: a request the document calls valid is never answered 400,
//! one it calls invalid is never accepted, and every status an operation can answer is
//! listed. Path parameters are described by their name in the route table; the patterns
//! below are written to accept exactly what the parsers accept (`ids.rs`, `handlers.rs`),
//! and the fuzz tests check that both ways.

use serde_json::{json, Map, Value};

use crate::routes::{Access, Answer, Method, Operation, Request};

/// A serial as `Serial::parse` takes it: 1 to 20 octets of hex, any case, colons anywhere.
pub const SERIAL_PATTERN: &str = "^:*(?:[0-9A-Fa-f]:*[0-9A-Fa-f]:*){1,20}$";

/// A UUID in its hyphenated form (RFC 9562 §4), the only form the API takes.
pub const UUID_PATTERN: &str =
    "^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$";

/// Control characters and Unicode white space (Rust's `char::is_control`/`is_whitespace`).
const BLANK: &str = r"\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000";
/// Control characters only.
const CONTROL: &str = r"\u0000-\u001f\u007f-\u009f";

/// An email as `Email::parse` takes it (length 254 is `maxLength`).
pub fn email_pattern() -> String {
    // Any non-ASCII character but blanks (RFC 6531 UTF-8) besides ASCII `atext`.
    email_pattern_over(&format!("|[^{BLANK}\\u0021-\\u007e]"))
}

/// An email as `CertEmail::parse` takes it: the same, ASCII only.
pub fn cert_email_pattern() -> String {
    email_pattern_over("")
}

/// `wide` is an alternative (`|[...]`) admitting non-ASCII characters, or empty.
fn email_pattern_over(wide: &str) -> String {
    // ASCII atext (RFC 5322 §3.2.3): ! # $ % & ' * + - / 0-9 = ? A-Z ^ _ ` a-z { | } ~
    let atext = format!(r"(?:[!#-'*+\-/-9=?A-Z^-~]{wide})");
    let end = format!("(?:[A-Za-z0-9]{wide})");
    let label = format!("{end}(?:{atext}{{0,61}}{end})?");
    format!(r"^(?:{atext}|\.){{1,64}}@{label}(?:\.{label})+$")
}

/// A name as `ProfileName`/`DisplayName` take it: no control characters, no blank ends.
pub fn text_pattern() -> String {
    format!("^[^{BLANK}](?:[^{CONTROL}]*[^{BLANK}])?$")
}

fn r(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn nullable(t: &str) -> Value {
    json!({ "type": [t, "null"] })
}

fn binary(media: &str) -> Value {
    json!({ media: { "schema": { "type": "string", "format": "binary" } } })
}

fn json_of(n: &str) -> Value {
    json!({ "application/json": { "schema": r(n) } })
}

/// Every route that needs credentials: the token or certificate (401), the role or right
/// (403) and the store (503).
const AUTH: [u16; 3] = [401, 403, 503];

/// Problem statuses the operation can answer besides [`AUTH`] (RFC 9457 bodies): what the
/// document says about an operation beyond its row in the route table.
fn errors(op: Operation) -> &'static [u16] {
    use Operation as O;
    match op {
        O::GetOrganisation => &[404],
        O::UpdateSettings => &[400, 404, 409],
        O::CreateProfile
        | O::UpdateProfile
        | O::PutSystemRights
        | O::PutSealGeneration
        | O::OrderCertificate
        | O::RenewCertificate => &[400, 404, 409, 422],
        O::ListProfiles => &[400, 422],
        O::ExportProfiles | O::ListNotifications | O::ExportAudit => &[],
        O::GetProfile | O::GetCertificate => &[400, 404],
        O::RevokeCertificate | O::DeleteCertificate | O::SendIssuanceLink => &[400, 404, 409],
        O::RedeemIssuance => &[400, 404, 409, 410, 422, 423, 429],
        O::GetIssuance => &[404, 409, 410],
        O::IssueCertificate => &[400, 404, 409, 410, 422],
        O::IssueByApi => &[400, 404, 409, 422],
        // The caller is the certificate renewed: no path parameter, a CSR is required.
        O::SelfRenew => &[400, 409, 422],
        O::MarkNotificationsRead | O::ListAudit | O::ListEvents => &[400, 422],
        O::CaPem | O::CaCer | O::RootPem | O::RootCer | O::GetCrl => &[503],
        O::CaGeneration | O::RootCrl | O::GetCrlPartition => &[404, 503],
        // RFC 6960 §2.3: every failure is itself an OCSP response (malformedRequest,
        // unauthorized, tryLater), so the HTTP status is always 200.
        O::OcspGet | O::OcspPost => &[],
        O::PublicCertificates => &[400, 422, 429, 503],
        O::PublicCertificateFile => &[400, 404, 429, 503],
        O::OpenApi | O::Healthz => &[],
        // Never documented: see `Operation::LOCAL`.
        O::LocalObject
        | O::LocalJwks
        | O::LocalOutbox
        | O::LocalUsers
        | O::LocalLogin
        | O::RunJob => &[],
    }
}

/// The success status and its content, from the row's [`Answer`].
fn success(op: Operation) -> (&'static str, Value) {
    match op.answer() {
        // Untyped or tiny answers are written in place rather than as components.
        Answer::Body("OpenApiDocument") => (
            "200",
            json!({ "application/json": { "schema": { "type": "object" } } }),
        ),
        Answer::Body("Health") => (
            "200",
            json!({ "application/json": { "schema": { "type": "object",
                "required": ["status"], "properties": { "status": { "const": "ok" } } } } }),
        ),
        Answer::Body(schema) => ("200", json_of(schema)),
        Answer::Created(schema) => ("201", json_of(schema)),
        Answer::NoContent => ("204", Value::Null),
        Answer::Bytes(media) => {
            let mut m = Map::new();
            for t in media {
                m.extend(binary(t).as_object().cloned().unwrap_or_default());
            }
            ("200", Value::Object(m))
        }
        // JSON lines: each line one AuditEvent (schema AuditEvent), oldest first.
        Answer::Text(media) if op == Operation::ExportAudit => (
            "200",
            json!({ media: { "schema": { "type": "string",
                "description": "One AuditEvent (components/schemas/AuditEvent) per line, in seq order; events written before the chain existed come first without seq" } } }),
        ),
        Answer::Text(media) => ("200", json!({ media: { "schema": { "type": "string" } } })),
    }
}

/// Schema of a path parameter, by its name in the route table.
fn path_param(op: Operation, name: &str) -> Value {
    match name {
        "id" => json!({ "type": "string", "pattern": UUID_PATTERN,
            "description": "Profile id (UUID, hyphenated)" }),
        "serial" => json!({ "type": "string", "pattern": SERIAL_PATTERN,
            "description": "Certificate serial number in hex (any case, colons allowed)" }),
        // Unknown or malformed links are 404: a token is a secret, nothing to validate.
        "token" => json!({ "type": "string", "minLength": 1,
            "description": "Issuance link token (base64url, 43 characters)" }),
        // `{n}`: a partition of the first issuing CA; `g{g}` / `g{g}.{n}`: the CRL (or a
        // partition) of issuing CA generation g after a rollover (README "Rollover").
        "partition" => {
            json!({ "type": "string", "pattern": "^([0-9]{1,10}|g[0-9]{1,10}(\\.[0-9]{1,10})?)$",
            "description": "CRL partition number, or g{generation} / g{generation}.{partition}" })
        }
        "generation" => json!({ "type": "string", "pattern": "^[0-9]{1,10}$",
            "description": "Issuing CA generation (1, then one more per rollover)" }),
        "file" => json!({ "type": "string", "enum": ["certificate.pem", "certificate.cer"] }),
        // The rest of the path: base64 of a DER OCSPRequest; garbage gets an OCSP
        // malformedRequest answer, not an HTTP error.
        "request" => json!({ "type": "string", "minLength": 1 }),
        other => unreachable!("{op:?}: path parameter {other} has no schema"),
    }
}

fn query_param(op: Operation, name: &str) -> Value {
    // Empty values mean "not given", as HTML forms send them.
    let opt = |p: String| format!("^(?:|{})$", p.trim_start_matches('^').trim_end_matches('$'));
    let schema = match name {
        "status" => {
            json!({ "type": "string", "enum": ["", "pending", "issued", "revoked", "expired"] })
        }
        "type" => json!({ "type": "string", "enum": ["", "organisation", "system"] }),
        "limit" => {
            let max = if matches!(op, Operation::ListAudit | Operation::ListEvents) {
                500
            } else {
                200
            };
            json!({ "type": "integer", "minimum": 1, "maximum": max })
        }
        "q" => json!({ "type": "string", "maxLength": 200 }),
        "cursor" => json!({ "type": "string", "pattern": "^[A-Za-z0-9_-]{0,1024}$",
            "description": "next_cursor of the previous page" }),
        "after" => json!({ "type": "string", "pattern": "^[A-Za-z0-9_-]{0,1024}$",
            "description": "next_cursor of the previous answer (absent: from the first event); it survives restarts" }),
        "email" => json!({ "type": "string", "maxLength": 254, "pattern": opt(email_pattern()) }),
        "uuid" => json!({ "type": "string", "pattern": opt(UUID_PATTERN.into()) }),
        "cvr" => json!({ "type": "string", "pattern": "^(?:|[0-9]{8})$",
            "description": "8 digits; a number that fails the modulus 11 check is 422" }),
        "serial" => json!({ "type": "string", "pattern": opt(SERIAL_PATTERN.into()) }),
        other => unreachable!("{op:?}: query parameter {other} has no schema"),
    };
    json!({ "name": name, "in": "query", "required": false, "schema": schema })
}

/// Links from an answer to the operations that take what it holds (OpenAPI 3.1 §4.8.20).
fn links(op: Operation) -> Value {
    use Operation as O;
    let to = |target: Operation, param: &str, expr: &str| {
        (
            target.name().to_owned(),
            json!({ "operationId": target.name(), "parameters": { param: expr } }),
        )
    };
    let profile = "$response.body#/profile/id";
    let serial = "$response.body#/certificate/serial";
    let l: Vec<(String, Value)> = match op {
        O::CreateProfile | O::OrderCertificate | O::RenewCertificate => vec![
            to(O::GetProfile, "id", profile),
            to(O::UpdateProfile, "id", profile),
            to(O::PutSystemRights, "id", profile),
            to(O::PutSealGeneration, "id", profile),
            to(O::OrderCertificate, "id", profile),
            to(O::GetCertificate, "serial", serial),
            to(O::SendIssuanceLink, "serial", serial),
            to(O::RenewCertificate, "serial", serial),
            to(O::RevokeCertificate, "serial", serial),
            to(O::DeleteCertificate, "serial", serial),
        ],
        O::ListProfiles => vec![to(O::GetProfile, "id", "$response.body#/items/0/id")],
        O::GetProfile => vec![to(
            O::GetCertificate,
            "serial",
            "$response.body#/certificates/0/serial",
        )],
        O::GetCertificate | O::RevokeCertificate => vec![
            to(O::GetProfile, "id", "$response.body#/profile_id"),
            to(O::RenewCertificate, "serial", "$response.body#/serial"),
        ],
        _ => vec![],
    };
    Value::Object(l.into_iter().collect())
}

fn operation(op: Operation) -> Value {
    let secured = op.access().needs_credentials();
    let mut params: Vec<Value> = op
        .path()
        .split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|p| p.trim_start_matches('*'))
        .map(|p| json!({ "name": p, "in": "path", "required": true, "schema": path_param(op, p) }))
        .collect();
    params.extend(op.query().iter().map(|q| query_param(op, q)));
    if matches!(
        op,
        Operation::CreateProfile | Operation::OrderCertificate | Operation::RenewCertificate
    ) {
        params.push(json!({ "name": "Idempotency-Key", "in": "header", "required": false,
            "description": "Replays answer with the created resources (secrets are not shown again) and header Idempotent-Replayed: true",
            // Visible ASCII (RFC 9110 §5.5 field-vchar), 1 to 255 characters.
            "schema": { "type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~](?:[ -~]*[!-~])?$" } }));
    }
    let problem = json!({ "application/problem+json": { "schema": r("Problem") } });
    let mut responses = Map::new();
    let (status, content) = success(op);
    let mut ok = json!({ "description": "Success" });
    if !content.is_null() {
        ok["content"] = content;
    }
    let links = links(op);
    if links.as_object().is_some_and(|l| !l.is_empty()) {
        ok["links"] = links;
    }
    responses.insert(status.into(), ok);
    let mut errors: Vec<u16> = errors(op).to_vec();
    if secured {
        errors.extend(AUTH);
    }
    errors.sort_unstable();
    errors.dedup();
    for e in errors {
        responses.insert(
            e.to_string(),
            json!({ "description": problem_description(e), "content": problem }),
        );
    }
    let mut o = json!({
        "operationId": op.name(),
        "summary": op.summary(),
        "parameters": params,
        "responses": responses,
    });
    let json_body = |b: &str, required: bool| json!({ "required": required, "content": { "application/json": { "schema": r(b) } } });
    match op.request() {
        Request::Empty => {}
        Request::Der(media) => {
            o["requestBody"] = json!({ "required": true, "content": binary(media) })
        }
        Request::Json(b) => o["requestBody"] = json_body(b, true),
        Request::OptionalJson(b) => o["requestBody"] = json_body(b, false),
    }
    o["security"] = if let Access::Machine(_) = op.access() {
        json!([{ "mutualTLS": [] }])
    } else if secured {
        // Routes a user_admin may call a system certificate with `administration_api`
        // may call too, over mutual TLS.
        if op.machine_right().is_some() {
            json!([{ "bearer": [] }, { "mutualTLS": [] }])
        } else {
            json!([{ "bearer": [] }])
        }
    } else {
        json!([])
    };
    o
}

fn problem_description(status: u16) -> &'static str {
    match status {
        400 => "Malformed request: unreadable JSON, wrong type, unknown or missing field, bad parameter",
        401 => "No valid bearer token",
        403 => "The caller's role does not allow this",
        404 => "Unknown, or of another organisation",
        409 => "Not allowed in the current state, or changed by someone else",
        410 => "The issuance link or code has expired or was replaced",
        422 => "Well-formed but breaks a rule (errors name each field)",
        423 => "Locked after too many wrong one-time codes",
        429 => "Too many requests from this client (Retry-After)",
        503 => "A dependency is temporarily unavailable (Retry-After)",
        _ => "Problem (RFC 9457)",
    }
}

fn schemas() -> Value {
    let s = |t: &str| json!({ "type": t });
    let text = |max: u32| json!({ "type": "string", "minLength": 1, "maxLength": max, "pattern": text_pattern() });
    let email = json!({ "type": "string", "maxLength": 254, "pattern": email_pattern() });
    let cert_email = json!({ "type": "string", "maxLength": 254, "pattern": cert_email_pattern() });
    let digits = |n: u32| json!({ "type": "string", "pattern": format!("^[0-9]{{{n}}}$") });
    // `null` is taken as "not given" by every optional field of type Option in the code.
    let or_null = |v: &Value| json!({ "anyOf": [v, { "type": "null" }] });
    let kind = json!({ "enum": ["organisation", "system"] });
    let identification = json!({ "enum": ["user_login", "one_time_code", "api"] });
    let issuing = json!({ "enum": ["direct", "email", "api"] });
    let key_algorithm = json!({ "enum": ["rsa-3072", "ecdsa-p256", "ecdsa-p384"] });
    let p12 = json!({ "enum": ["modern", "legacy"] });
    let rights = json!({ "type": "object", "additionalProperties": false, "properties": {
        "administration_api": s("boolean"), "issuance_api": s("boolean"), "local_idp": s("boolean") } });
    let settings_props = json!({
        "organisation_certificates_enabled": s("boolean"), "seal_generation_allowed": s("boolean"),
        "local_idp_enabled": s("boolean"), "nemhandel_enabled": s("boolean") });
    let settings_patch: Map<String, Value> = settings_props
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, _)| (k.clone(), nullable("boolean")))
        .collect();
    let time = json!({ "type": "string", "format": "date-time" });
    let time_or_null = json!({ "type": ["string", "null"], "format": "date-time" });
    let profile_props = json!({
        "id": { "type": "string", "format": "uuid" }, "type": kind,
        "name": s("string"), "contact_email": s("string"), "certificate_email": nullable("string"),
        "contact_name": nullable("string"), "p_number": nullable("string"), "se_number": nullable("string"),
        "ean": nullable("string"), "system_rights": r("SystemRights"), "seal_generation": s("boolean"),
        "identification": identification, "issuing": issuing, "publish": s("boolean"),
        "key_algorithm": key_algorithm, "p12_format": p12,
        "status": { "enum": ["pending", "issued", "revoked", "expired", null] },
        "latest_serial": nullable("string"), "latest_not_after": time_or_null,
        "created_at": time, "updated_at": time, "version": s("integer") });
    let cert_props = json!({
        "serial": s("string"), "profile_id": { "type": "string", "format": "uuid" }, "type": kind,
        "name": s("string"),
        "status": { "enum": ["pending", "issued", "revoked", "expired"] },
        "ordered_at": time, "ordered_by": s("string"), "renewal_of": nullable("string"),
        "issuing": issuing, "identification": identification, "seal_generation": s("boolean"),
        "system_rights": r("SystemRights"), "key_algorithm": key_algorithm,
        "certificate_email": nullable("string"), "publish": s("boolean"),
        "issued_at": time_or_null, "not_before": time_or_null, "not_after": time_or_null,
        "subject": nullable("string"), "fingerprint_sha256": nullable("string"),
        "certificate_pem": nullable("string"), "chain_pem": s("string"),
        "revoked_at": time_or_null, "revocation_reason": nullable("string"), "version": s("integer") });
    let issue_props = json!({
        "accept_terms": { "type": "boolean", "const": true },
        "csr": { "type": ["string", "null"], "maxLength": 65536,
            "description": "PKCS#10 PEM; without it the key is generated server-side" },
        "p12_format": or_null(&p12) });
    let mut redeem = issue_props.clone();
    redeem["reference"] = json!({ "type": "string", "minLength": 1, "maxLength": 64,
        "description": "The reference number mailed to the contact" });
    redeem["code"] = json!({ "type": "string", "minLength": 1, "maxLength": 64,
        "description": "The one-time code shown to the administrator" });
    let mut m = Map::new();
    m.insert("Problem".into(), json!({ "type": "object", "required": ["type", "title", "status", "detail"], "properties": {
            "type": s("string"), "title": s("string"), "status": s("integer"), "detail": s("string"),
            "errors": { "type": "array", "items": { "type": "object", "required": ["field", "message"],
                "properties": { "field": s("string"), "message": s("string") } } } } }));
    m.insert("SystemRights".into(), json!(rights));
    m.insert("Organisation".into(), json!({ "type": "object", "required": ["cvr", "name", "settings", "version"], "properties": {
            "cvr": s("string"), "name": s("string"), "settings": { "type": "object", "properties": settings_props },
            "p_numbers": { "type": "array", "items": s("string") }, "se_numbers": { "type": "array", "items": s("string") },
            "version": s("integer") } }));
    m.insert(
        "SettingsPatch".into(),
        json!({ "type": "object", "additionalProperties": false, "properties": settings_patch }),
    );
    m.insert("ProfileInput".into(), json!({ "type": "object", "additionalProperties": false, "required": ["type", "name", "contact_email"], "properties": {
            "type": kind, "name": text(64), "contact_email": email,
            "certificate_email": or_null(&cert_email), "contact_name": or_null(&text(200)),
            "p_number": or_null(&digits(10)), "se_number": or_null(&digits(8)),
            "ean": or_null(&digits(13)), "system_rights": r("SystemRights"),
            "seal_generation": s("boolean"), "identification": or_null(&identification),
            "issuing": or_null(&issuing), "publish": s("boolean"),
            "key_algorithm": key_algorithm, "p12_format": p12 } }));
    m.insert("MasterDataPatch".into(), json!({ "type": "object", "additionalProperties": false, "required": ["version"], "properties": {
            "version": { "type": "integer", "minimum": 0, "maximum": u64::MAX },
            "name": or_null(&text(64)), "contact_email": or_null(&email),
            "certificate_email": or_null(&cert_email), "contact_name": or_null(&text(200)),
            "p_number": or_null(&digits(10)), "se_number": or_null(&digits(8)),
            "ean": or_null(&digits(13)), "publish": nullable("boolean") },
            "description": "Absent fields stay; null clears an optional field (name, contact_email and publish: null leaves them)" }));
    m.insert("SealGeneration".into(), json!({ "type": "object", "additionalProperties": false, "required": ["enabled"], "properties": { "enabled": s("boolean") } }));
    m.insert("RevokeRequest".into(), json!({ "type": "object", "additionalProperties": false, "properties": { "reason": or_null(&json!({ "enum": [
            "unspecified", "keyCompromise", "affiliationChanged", "superseded", "cessationOfOperation", "privilegeWithdrawn"] })) } }));
    m.insert("Profile".into(), json!({ "type": "object", "required": ["id", "type", "name", "version"], "properties": profile_props }));
    m.insert("Certificate".into(), json!({ "type": "object", "required": ["serial", "profile_id", "status", "version"], "properties": cert_props }));
    m.insert("ProfileDetail".into(), json!({ "type": "object", "required": ["profile", "certificates"], "properties": {
            "profile": r("Profile"), "certificates": { "type": "array", "items": r("Certificate") } } }));
    m.insert("ProfilePage".into(), json!({ "type": "object", "required": ["items", "next_cursor"], "properties": {
            "items": { "type": "array", "items": r("Profile") }, "next_cursor": nullable("string") } }));
    m.insert("OrderAnswer".into(), json!({ "type": "object", "required": ["profile", "certificate"], "properties": { "profile": r("Profile"), "certificate": r("Certificate"),
            "issuance_url": s("string"), "one_time_code": s("string"), "reference": s("string"), "mailed_to": s("string"),
            "awaiting": s("string"), "idempotent_replay": s("boolean") } }));
    m.insert("LinkAnswer".into(), json!({ "type": "object", "required": ["certificate"], "properties": { "certificate": r("Certificate"), "issuance_url": s("string"),
            "one_time_code": s("string"), "reference": s("string"), "mailed_to": s("string") } }));
    m.insert("IssuanceInfo".into(), json!({ "type": "object", "properties": { "serial": s("string"), "type": kind, "name": s("string"),
            "cvr": s("string"), "organisation": s("string"), "contact_email": s("string"), "certificate_email": nullable("string"),
            "seal_generation": s("boolean"), "key_algorithm": key_algorithm, "p12_format": p12,
            "p12_formats": { "type": "array", "items": p12 }, "renewal_of": nullable("string"),
            "terms": s("string"), "expires_at": time } }));
    m.insert("IssueRequest".into(), json!({ "type": "object", "additionalProperties": false, "required": ["accept_terms"], "properties": issue_props }));
    let mut api_issue = issue_props.clone();
    if let Some(o) = api_issue.as_object_mut() {
        o.remove("accept_terms");
    }
    m.insert(
        "ApiIssueRequest".into(),
        json!({ "type": "object", "additionalProperties": false, "properties": api_issue }),
    );
    m.insert("SelfRenewRequest".into(), json!({ "type": "object", "additionalProperties": false, "required": ["csr"], "properties": {
            "csr": { "type": "string", "maxLength": 65536, "description": "PKCS#10 request (PEM) for the new key" } } }));
    m.insert("RedeemRequest".into(), json!({ "type": "object", "additionalProperties": false, "required": ["accept_terms", "reference", "code"], "properties": redeem }));
    m.insert("IssueAnswer".into(), json!({ "type": "object", "required": ["serial", "status", "certificate_pem", "chain_pem"], "properties": {
            "serial": s("string"), "status": s("string"),
            "not_before": time_or_null, "not_after": time_or_null, "fingerprint_sha256": nullable("string"),
            "certificate_pem": s("string"), "chain_pem": s("string"),
            "password": { "type": ["string", "null"], "description": "shown once; null with a CSR" },
            "download_url": { "type": ["string", "null"], "description": "short-lived link to the .p12" } } }));
    m.insert("Directory".into(), json!({ "type": "object", "required": ["items"], "properties": { "items": { "type": "array", "items": { "type": "object", "properties": {
            "serial": s("string"), "profile_id": s("string"), "name": s("string"), "type": kind, "cvr": s("string"),
            "organisation": s("string"), "email": nullable("string"), "status": s("string"), "not_before": time_or_null,
            "not_after": time_or_null, "revoked_at": time_or_null, "revocation_reason": nullable("string"),
            "pem_url": s("string"), "der_url": s("string") } } } } }));
    m.insert("MarkRead".into(), json!({ "type": "object", "additionalProperties": false, "properties": {
            "ids": { "type": "array", "maxItems": 500, "items": { "type": "string", "format": "uuid" },
                "description": "Notifications to mark read; empty or absent: all" } } }));
    m.insert(
        "Notifications".into(),
        json!({ "type": "object", "required": ["items", "unread"], "properties": {
            "unread": { "type": "integer", "minimum": 0 },
            "items": { "type": "array", "items": { "type": "object", "properties": {
                "id": { "type": "string", "format": "uuid" }, "at": time, "subject": s("string"),
                "text": s("string"), "link": nullable("string"), "read": s("boolean") } } } } }),
    );
    // The chain (API.md "Audit chain and events"): hash = hex SHA-256 over the RFC 8785
    // canonical JSON of the event without `hash`.
    // Lifecycle events (API.md "Audit chain and events"); in AWS the same object is the
    // EventBridge event's detail (source "orgcert", detail-type = type).
    m.insert("LifecycleEvent".into(), json!({ "type": "object", "required": ["id", "type", "org", "seq", "at", "actor", "subject", "detail"], "properties": {
            "id": { "type": "string", "format": "uuid", "description": "the same for every delivery of one event: deduplicate by it (at least once)" },
            "type": { "type": "string", "enum": orgcert_core::events::TYPES },
            "org": s("string"),
            "seq": { "type": "integer", "minimum": 1, "description": "position in the organisation's feed (its audit chain seq)" },
            "at": time, "actor": s("string"),
            "subject": { "type": "string", "description": "certificate serial; profile id for profile.updated; the reminded contact for certificate.expiring" },
            "detail": { "type": "object", "description": "e.g. profile_id, reason (revoked), threshold_days and serials (expiring), change (profile.updated)" } } }));
    m.insert(
        "EventPage".into(),
        json!({ "type": "object", "required": ["items", "next_cursor"], "properties": {
            "items": { "type": "array", "items": r("LifecycleEvent") },
            "next_cursor": nullable("string") } }),
    );
    m.insert("AuditEvent".into(), json!({ "type": "object", "required": ["id", "at", "actor", "action", "target", "detail"], "properties": {
            "id": s("string"), "org": s("string"), "at": time, "actor": s("string"), "action": s("string"), "target": s("string"), "detail": {},
            "seq": { "type": "integer", "minimum": 1, "description": "place in the organisation's audit chain; absent on events written before the chain existed" },
            "prev_hash": { "type": "string", "pattern": "^[0-9a-f]{64}$", "description": "hash of the previous chained event; 64 zeros for seq 1" },
            "hash": { "type": "string", "pattern": "^[0-9a-f]{64}$", "description": "hex SHA-256 over the RFC 8785 canonical JSON of this event without hash" } } }));
    m.insert(
        "AuditPage".into(),
        json!({ "type": "object", "required": ["items", "next_cursor"], "properties": {
            "items": { "type": "array", "items": r("AuditEvent") },
            "next_cursor": nullable("string") } }),
    );
    Value::Object(m)
}

/// The whole document.
pub fn document() -> Value {
    let mut paths: Map<String, Value> = Map::new();
    for op in Operation::ALL {
        // OpenAPI path templates have no catch-all: `{*request}` is written `{request}`.
        let entry = paths
            .entry(op.path().replace("{*", "{"))
            .or_insert_with(|| json!({}));
        let m = match op.method() {
            Method::Get => "get",
            Method::Post => "post",
            Method::Put => "put",
            Method::Patch => "patch",
            Method::Delete => "delete",
        };
        entry[m] = operation(*op);
    }
    json!({
        "openapi": "3.1.0",
        "info": { "title": "orgcert", "version": env!("CARGO_PKG_VERSION"),
            "description": "Certificate lifecycle for organisations: profiles, orders, issuance, renewal, revocation." },
        "paths": paths,
        "components": {
            "schemas": schemas(),
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer", "bearerFormat": "JWT" },
                "mutualTLS": { "type": "mutualTLS", "description": "A system certificate of this CA (API.md \"System certificates\"); locally the listener on ORGCERT_MTLS_ADDR" } },
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_documented() {
        let doc = document();
        for op in Operation::ALL {
            let m = op.method().as_str().to_ascii_lowercase();
            let o = &doc["paths"][&op.path().replace("{*", "{")][&m];
            assert_eq!(o["operationId"], op.name(), "{op:?}");
            // Every error answer is problem+json.
            for (status, resp) in o["responses"].as_object().unwrap() {
                if status.starts_with('4') || status.starts_with('5') {
                    assert!(
                        resp["content"]["application/problem+json"].is_object(),
                        "{op:?} {status}"
                    );
                }
            }
        }
        // Every $ref resolves, and so does every link's target.
        let text = doc.to_string();
        for part in text.split("#/components/schemas/").skip(1) {
            let name: String = part.chars().take_while(|c| c.is_alphanumeric()).collect();
            assert!(doc["components"]["schemas"].get(&name).is_some(), "{name}");
        }
        for part in text.split("\"operationId\":\"").skip(1) {
            let name: String = part.chars().take_while(|c| *c != '"').collect();
            assert!(Operation::from_name(&name).is_some(), "{name}");
        }
    }
}
