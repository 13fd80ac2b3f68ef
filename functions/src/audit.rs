//! `orgcert audit verify`: recompute an organisation's audit chain (API.md "Audit chain
//! and events") from the store or from an export, and name the first event that does
//! not match.

use std::path::Path;

use orgcert_core::audit_chain::{self, Mismatch, Verified};
use orgcert_core::ids::Cvr;
use orgcert_core::model::AuditEvent;
use orgcert_core::ports::Store;

/// One line of the report for a chain that verified.
fn ok_line(who: &str, count: usize, v: &Verified) -> String {
    let legacy = if v.legacy > 0 {
        format!(
            " ({} earlier events without a chain, written before it existed, not verified)",
            v.legacy
        )
    } else {
        String::new()
    };
    format!(
        "{who}: {count} events, chain verified{legacy}; head seq {} hash {}",
        v.head.seq, v.head.hash
    )
}

fn mismatch_line(who: &str, m: &Mismatch) -> String {
    format!("{who}: {m}")
}

/// Verifies the chains of `orgs` (every organisation when empty) in `store`.
///
/// # Errors
/// The report line of the first organisation whose chain breaks, or a store failure.
pub async fn verify_store(store: &dyn Store, orgs: &[Cvr]) -> Result<Vec<String>, String> {
    let orgs = if orgs.is_empty() {
        store
            .organisations()
            .await
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(|o| o.cvr)
            .collect()
    } else {
        orgs.to_vec()
    };
    let mut report = Vec::new();
    for org in orgs {
        if store
            .organisation(&org)
            .await
            .map_err(|e| e.to_string())?
            .is_none()
        {
            return Err(format!("no organisation with CVR {org}"));
        }
        let events = store.audit_export(&org).await.map_err(|e| e.to_string())?;
        let who = format!("organisation {org}");
        match audit_chain::verify(&events) {
            Ok(v) => report.push(ok_line(&who, events.len(), &v)),
            Err(m) => return Err(mismatch_line(&who, &m)),
        }
    }
    Ok(report)
}

/// Verifies an export (`GET /v1/audit/export`: one event per line, oldest first).
///
/// # Errors
/// The first line that is not an audit event, or the first event that does not match.
pub fn verify_file(path: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut events: Vec<AuditEvent> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let e = serde_json::from_str(line)
            .map_err(|e| format!("{} line {}: not an audit event: {e}", path.display(), i + 1))?;
        events.push(e);
    }
    let who = path.display().to_string();
    audit_chain::verify(&events)
        .map(|v| ok_line(&who, events.len(), &v))
        .map_err(|m| mismatch_line(&who, &m))
}

/// Parses `--org` values.
///
/// # Errors
/// The CVR's own message.
pub fn parse_orgs(orgs: &[String]) -> Result<Vec<Cvr>, String> {
    orgs.iter()
        .map(|o| Cvr::parse(o).map_err(|e| format!("--org {o}: {e}")))
        .collect()
}
