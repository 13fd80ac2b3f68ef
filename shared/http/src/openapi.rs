//! The OpenAPI 3.1 document, generated from the route table so that it covers every route.

use serde_json::{json, Map, Value};

use crate::routes::{Method, Operation};

fn r(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn nullable(t: &str) -> Value {
    json!({ "type": [t, "null"] })
}

/// Request body schema, query parameters, success status + schema, and whether a bearer token is needed.
fn shape(
    op: Operation,
) -> (
    Option<&'static str>,
    &'static [&'static str],
    (&'static str, Value),
    bool,
) {
    use Operation as O;
    let json_of = |n: &str| json!({ "application/json": { "schema": r(n) } });
    match op {
        O::GetOrganisation => (None, &[], ("200", json_of("Organisation")), true),
        O::UpdateSettings => (
            Some("SettingsPatch"),
            &[],
            ("200", json_of("Organisation")),
            true,
        ),
        O::CreateProfile => (
            Some("ProfileInput"),
            &[],
            ("201", json_of("OrderAnswer")),
            true,
        ),
        O::ListProfiles => (
            None,
            &["q", "status", "type", "limit", "cursor"],
            ("200", json_of("ProfilePage")),
            true,
        ),
        O::ExportProfiles => (
            None,
            &[],
            (
                "200",
                json!({ "text/csv": { "schema": { "type": "string" } } }),
            ),
            true,
        ),
        O::GetProfile => (None, &[], ("200", json_of("ProfileDetail")), true),
        O::UpdateProfile => (
            Some("MasterDataPatch"),
            &[],
            ("200", json_of("Profile")),
            true,
        ),
        O::PutSystemRights => (Some("SystemRights"), &[], ("200", json_of("Profile")), true),
        O::PutSealGeneration => (
            Some("SealGeneration"),
            &[],
            ("200", json_of("Profile")),
            true,
        ),
        O::OrderCertificate | O::RenewCertificate => {
            (None, &[], ("201", json_of("OrderAnswer")), true)
        }
        O::GetCertificate => (None, &[], ("200", json_of("Certificate")), true),
        O::RevokeCertificate => (
            Some("RevokeRequest"),
            &[],
            ("200", json_of("Certificate")),
            true,
        ),
        O::DeleteCertificate => (None, &[], ("204", Value::Null), true),
        O::SendIssuanceLink => (None, &[], ("200", json_of("LinkAnswer")), true),
        O::RedeemIssuance => (
            Some("RedeemRequest"),
            &[],
            ("201", json_of("IssueAnswer")),
            true,
        ),
        O::GetIssuance => (None, &[], ("200", json_of("IssuanceInfo")), true),
        O::IssueCertificate => (
            Some("IssueRequest"),
            &[],
            ("201", json_of("IssueAnswer")),
            true,
        ),
        O::ListNotifications => (None, &[], ("200", json_of("Notifications")), true),
        O::MarkNotificationsRead => (
            Some("MarkRead"),
            &[],
            ("200", json_of("Notifications")),
            true,
        ),
        O::ListAudit => (
            None,
            &["limit", "cursor"],
            ("200", json_of("AuditPage")),
            true,
        ),
        O::CaPem => (
            None,
            &[],
            (
                "200",
                json!({ "application/x-pem-file": { "schema": { "type": "string" } } }),
            ),
            false,
        ),
        O::CaCer => (
            None,
            &[],
            (
                "200",
                json!({ "application/pkix-cert": { "schema": { "type": "string", "contentMediaType": "application/pkix-cert" } } }),
            ),
            false,
        ),
        O::GetCrl | O::GetCrlPartition => (
            None,
            &[],
            (
                "200",
                json!({ "application/pkix-crl": { "schema": { "type": "string", "contentMediaType": "application/pkix-crl" } } }),
            ),
            false,
        ),
        O::OcspGet => (
            None,
            &[],
            (
                "200",
                json!({ "application/ocsp-response": { "schema": { "type": "string", "contentMediaType": "application/ocsp-response" } } }),
            ),
            false,
        ),
        O::OcspPost => (
            Some("OcspRequest"),
            &[],
            (
                "200",
                json!({ "application/ocsp-response": { "schema": { "type": "string", "contentMediaType": "application/ocsp-response" } } }),
            ),
            false,
        ),
        O::PublicCertificates => (
            None,
            &["email", "uuid", "cvr", "serial"],
            ("200", json_of("Directory")),
            false,
        ),
        O::PublicCertificateFile => (
            None,
            &[],
            (
                "200",
                json!({ "application/x-pem-file": { "schema": { "type": "string" } }, "application/pkix-cert": { "schema": { "type": "string" } } }),
            ),
            false,
        ),
        O::OpenApi => (
            None,
            &[],
            (
                "200",
                json!({ "application/json": { "schema": { "type": "object" } } }),
            ),
            false,
        ),
        O::Healthz => (
            None,
            &[],
            (
                "200",
                json!({ "application/json": { "schema": { "type": "object" } } }),
            ),
            false,
        ),
    }
}

fn query_param(name: &str) -> Value {
    let schema = match name {
        "status" => {
            json!({ "type": "string", "enum": ["pending", "issued", "revoked", "expired"] })
        }
        "type" => json!({ "type": "string", "enum": ["organisation", "system"] }),
        "limit" => json!({ "type": "integer", "minimum": 1, "maximum": 500 }),
        _ => json!({ "type": "string", "maxLength": 1000 }),
    };
    json!({ "name": name, "in": "query", "required": false, "schema": schema })
}

fn operation(op: Operation) -> Value {
    let (body, query, (status, content), secured) = shape(op);
    let mut params: Vec<Value> = op
        .path()
        .split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|p| json!({ "name": p.trim_start_matches('*'), "in": "path", "required": true, "schema": { "type": "string" } }))
        .collect();
    params.extend(query.iter().map(|q| query_param(q)));
    if matches!(
        op,
        Operation::CreateProfile | Operation::OrderCertificate | Operation::RenewCertificate
    ) {
        params.push(json!({ "name": "Idempotency-Key", "in": "header", "required": false,
            "description": "Replays answer with the created resources (secrets are not shown again) and header Idempotent-Replayed: true",
            "schema": { "type": "string", "maxLength": 255 } }));
    }
    let problem = json!({ "application/problem+json": { "schema": r("Problem") } });
    let mut responses = Map::new();
    let mut ok = json!({ "description": "Success" });
    if !content.is_null() {
        ok["content"] = content;
    }
    responses.insert(status.into(), ok);
    let errors: &[&str] = if secured {
        &[
            "400", "401", "403", "404", "409", "410", "422", "423", "503",
        ]
    } else {
        &["503"]
    };
    for e in errors {
        responses.insert(
            (*e).into(),
            json!({ "description": "Problem (RFC 9457)", "content": problem }),
        );
    }
    let mut o = json!({
        "operationId": op.name(),
        "summary": op.summary(),
        "parameters": params,
        "responses": responses,
    });
    if op == Operation::OcspPost {
        o["requestBody"] = json!({ "required": true, "content": { "application/ocsp-request": { "schema": { "type": "string", "contentMediaType": "application/ocsp-request" } } } });
    } else if let Some(b) = body {
        o["requestBody"] = json!({ "required": !matches!(op, Operation::RevokeCertificate), "content": { "application/json": { "schema": r(b) } } });
    }
    o["security"] = if secured {
        json!([{ "bearer": [] }])
    } else {
        json!([])
    };
    o
}

fn schemas() -> Value {
    let s = |t: &str| json!({ "type": t });
    let str_max = |n: u32| json!({ "type": "string", "maxLength": n });
    let rights = json!({ "type": "object", "additionalProperties": false, "properties": {
        "administration_api": s("boolean"), "issuance_api": s("boolean"), "local_idp": s("boolean") } });
    let settings_props = json!({
        "organisation_certificates_enabled": s("boolean"), "seal_generation_allowed": s("boolean"),
        "local_idp_enabled": s("boolean"), "nemhandel_enabled": s("boolean") });
    let profile_props = json!({
        "id": { "type": "string", "format": "uuid" }, "type": { "enum": ["organisation", "system"] },
        "name": str_max(64), "contact_email": s("string"), "certificate_email": nullable("string"),
        "contact_name": nullable("string"), "p_number": nullable("string"), "se_number": nullable("string"),
        "ean": nullable("string"), "system_rights": r("SystemRights"), "seal_generation": s("boolean"),
        "identification": { "enum": ["user_login", "one_time_code", "api"] },
        "issuing": { "enum": ["direct", "email", "api"] }, "publish": s("boolean"),
        "key_algorithm": { "enum": ["rsa-3072", "ecdsa-p256", "ecdsa-p384"] },
        "p12_format": { "enum": ["modern", "legacy"] },
        "status": { "enum": ["pending", "issued", "revoked", "expired", null] },
        "latest_serial": nullable("string"), "latest_not_after": nullable("string"),
        "created_at": s("string"), "updated_at": s("string"), "version": s("integer") });
    let cert_props = json!({
        "serial": s("string"), "profile_id": s("string"), "type": s("string"), "name": s("string"),
        "status": { "enum": ["pending", "issued", "revoked", "expired"] },
        "ordered_at": s("string"), "ordered_by": s("string"), "renewal_of": nullable("string"),
        "issued_at": nullable("string"), "not_before": nullable("string"), "not_after": nullable("string"),
        "subject": nullable("string"), "fingerprint_sha256": nullable("string"),
        "certificate_pem": nullable("string"), "chain_pem": s("string"),
        "revoked_at": nullable("string"), "revocation_reason": nullable("string"), "version": s("integer") });
    let issue_props = json!({
        "accept_terms": { "type": "boolean", "const": true },
        "csr": { "type": "string", "description": "PKCS#10 PEM; without it the key is generated server-side" },
        "p12_format": { "enum": ["modern", "legacy"] } });
    let mut redeem = issue_props.clone();
    redeem["reference"] = s("string");
    redeem["code"] = s("string");
    json!({
        "Problem": { "type": "object", "required": ["type", "title", "status", "detail"], "properties": {
            "type": s("string"), "title": s("string"), "status": s("integer"), "detail": s("string"),
            "errors": { "type": "array", "items": { "type": "object", "properties": { "field": s("string"), "message": s("string") } } } } },
        "SystemRights": rights,
        "Organisation": { "type": "object", "properties": {
            "cvr": s("string"), "name": s("string"), "settings": { "type": "object", "properties": settings_props },
            "p_numbers": { "type": "array", "items": s("string") }, "se_numbers": { "type": "array", "items": s("string") },
            "version": s("integer") } },
        "SettingsPatch": { "type": "object", "additionalProperties": false, "properties": settings_props },
        "ProfileInput": { "type": "object", "additionalProperties": false, "required": ["type", "name", "contact_email"], "properties": {
            "type": { "enum": ["organisation", "system"] }, "name": str_max(64), "contact_email": str_max(254),
            "certificate_email": str_max(254), "contact_name": str_max(200),
            "p_number": { "type": "string", "pattern": "^[0-9]{10}$" }, "se_number": { "type": "string", "pattern": "^[0-9]{8}$" },
            "ean": { "type": "string", "pattern": "^[0-9]{13}$" }, "system_rights": r("SystemRights"),
            "seal_generation": s("boolean"), "identification": { "enum": ["user_login", "one_time_code", "api"] },
            "issuing": { "enum": ["direct", "email", "api"] }, "publish": s("boolean"),
            "key_algorithm": { "enum": ["rsa-3072", "ecdsa-p256", "ecdsa-p384"] }, "p12_format": { "enum": ["modern", "legacy"] } } },
        "MasterDataPatch": { "type": "object", "additionalProperties": false, "required": ["version"], "properties": {
            "version": s("integer"), "name": str_max(64), "contact_email": str_max(254),
            "certificate_email": nullable("string"), "contact_name": nullable("string"), "p_number": nullable("string"),
            "se_number": nullable("string"), "ean": nullable("string"), "publish": s("boolean") } },
        "SealGeneration": { "type": "object", "additionalProperties": false, "required": ["enabled"], "properties": { "enabled": s("boolean") } },
        "RevokeRequest": { "type": "object", "additionalProperties": false, "properties": { "reason": { "enum": [
            "unspecified", "keyCompromise", "affiliationChanged", "superseded", "cessationOfOperation", "privilegeWithdrawn"] } } },
        "Profile": { "type": "object", "properties": profile_props },
        "Certificate": { "type": "object", "properties": cert_props },
        "ProfileDetail": { "type": "object", "properties": { "profile": r("Profile"), "certificates": { "type": "array", "items": r("Certificate") } } },
        "ProfilePage": { "type": "object", "properties": { "items": { "type": "array", "items": r("Profile") }, "next_cursor": nullable("string") } },
        "OrderAnswer": { "type": "object", "properties": { "profile": r("Profile"), "certificate": r("Certificate"),
            "issuance_url": s("string"), "one_time_code": s("string"), "reference": s("string"), "mailed_to": s("string"),
            "awaiting": s("string"), "idempotent_replay": s("boolean") } },
        "LinkAnswer": { "type": "object", "properties": { "certificate": r("Certificate"), "issuance_url": s("string"),
            "one_time_code": s("string"), "reference": s("string"), "mailed_to": s("string") } },
        "IssuanceInfo": { "type": "object", "properties": { "serial": s("string"), "type": s("string"), "name": s("string"),
            "cvr": s("string"), "organisation": s("string"), "contact_email": s("string"), "certificate_email": nullable("string"),
            "seal_generation": s("boolean"), "key_algorithm": s("string"), "p12_format": s("string"),
            "p12_formats": { "type": "array", "items": s("string") }, "renewal_of": nullable("string"),
            "terms": s("string"), "expires_at": s("string") } },
        "IssueRequest": { "type": "object", "additionalProperties": false, "required": ["accept_terms"], "properties": issue_props },
        "RedeemRequest": { "type": "object", "additionalProperties": false, "required": ["accept_terms", "reference", "code"], "properties": redeem },
        "IssueAnswer": { "type": "object", "properties": { "serial": s("string"), "status": s("string"),
            "not_before": s("string"), "not_after": s("string"), "fingerprint_sha256": s("string"),
            "certificate_pem": s("string"), "chain_pem": s("string"),
            "password": { "type": ["string", "null"], "description": "shown once; absent with a CSR" },
            "download_url": { "type": ["string", "null"], "description": "short-lived link to the .p12" } } },
        "Directory": { "type": "object", "properties": { "items": { "type": "array", "items": { "type": "object", "properties": {
            "serial": s("string"), "profile_id": s("string"), "name": s("string"), "type": s("string"), "cvr": s("string"),
            "organisation": s("string"), "email": nullable("string"), "status": s("string"), "not_before": nullable("string"),
            "not_after": nullable("string"), "revoked_at": nullable("string"), "revocation_reason": nullable("string"),
            "pem_url": s("string"), "der_url": s("string") } } } } },
        "MarkRead": { "type": "object", "additionalProperties": false, "properties": {
            "ids": { "type": "array", "maxItems": 500, "items": { "type": "string", "format": "uuid" } } } },
        "Notifications": { "type": "object", "properties": { "unread": s("integer"), "items": { "type": "array", "items": { "type": "object" } } } },
        "AuditPage": { "type": "object", "properties": { "items": { "type": "array", "items": { "type": "object", "properties": {
            "id": s("string"), "at": s("string"), "actor": s("string"), "action": s("string"), "target": s("string"), "detail": {} } } },
            "next_cursor": nullable("string") } },
    })
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
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer", "bearerFormat": "JWT" } },
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
        }
        // Every $ref resolves.
        let text = doc.to_string();
        for part in text.split("#/components/schemas/").skip(1) {
            let name: String = part.chars().take_while(|c| c.is_alphanumeric()).collect();
            assert!(doc["components"]["schemas"].get(&name).is_some(), "{name}");
        }
    }
}
