//! The role × route × tenant matrix, generated from the route table.
//!
//! For every operation in `Operation::ALL`, every caller (none, the holder, a plain user,
//! user_admin, rights_admin, org_admin, another organisation's admin) and, where the route
//! names an object, our own and the other organisation's object: the expected status class
//! follows from the route's declared [`Access`] alone. Each refused mutation leaves the
//! state (organisations, profiles, certificates, secrets, audit count) exactly as it was.
//! An operation added to the table without an access rule does not compile; one whose
//! target is not described here fails this test.

use orgcert_core::ids::Cvr;
use orgcert_core::ports::ProfileQuery;
use orgcert_http::{Access, LocalReach, Method as RouteMethod, Operation, Users};
use orgcert_pki::KeyAlgorithm;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;

const OTHER_CVR: &str = "25313763";
const OTHER_ADMIN: &str = "admin@other-org.dk";
const OTHER_CONTACT: &str = "kim.contact@other-org.dk";
const PLAIN: &str = "pia.plain@demo-org.dk";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    Anonymous,
    Holder,
    Plain,
    UserAdmin,
    RightsAdmin,
    OrgAdmin,
    ForeignAdmin,
}

const CALLERS: [Caller; 7] = [
    Caller::Anonymous,
    Caller::Holder,
    Caller::Plain,
    Caller::UserAdmin,
    Caller::RightsAdmin,
    Caller::OrgAdmin,
    Caller::ForeignAdmin,
];

/// A login an hour before the service's clock (before any order of the fixtures).
fn earlier(app: &TestApp) -> time::OffsetDateTime {
    app.clock_now() - time::Duration::hours(1)
}

impl Caller {
    fn token(self, app: &TestApp) -> Option<String> {
        match self {
            Caller::Anonymous => None,
            Caller::Holder => Some(app.contact()),
            Caller::Plain => Some(app.token(PLAIN, &[])),
            // The administrators logged in before the fixtures' orders: the ordering
            // administrator of a direct order may issue it only after a fresh login
            // (`lifecycle::the_ordering_administrator_issues_…`), not with this one.
            Caller::UserAdmin => Some(app.token_issued_at(ADMIN, &["user_admin"], earlier(app))),
            Caller::RightsAdmin => Some(app.rights()),
            Caller::OrgAdmin => Some(app.org_admin()),
            Caller::ForeignAdmin => Some(app.token_in_issued_at(
                OTHER_CVR,
                OTHER_ADMIN,
                &["user_admin", "rights_admin", "org_admin"],
                earlier(app),
            )),
        }
    }
    fn roles(self) -> &'static [orgcert_core::auth::Role] {
        use orgcert_core::auth::Role::*;
        match self {
            Caller::Anonymous | Caller::Holder | Caller::Plain => &[],
            Caller::UserAdmin => &[UserAdmin],
            Caller::RightsAdmin => &[RightsAdmin],
            Caller::OrgAdmin => &[OrgAdmin],
            Caller::ForeignAdmin => &[UserAdmin, RightsAdmin, OrgAdmin],
        }
    }
    fn foreign(self) -> bool {
        self == Caller::ForeignAdmin
    }
}

/// The status class a cell must answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// Through the access check: 2xx, or a 4xx about the request itself (400, 409, 410,
    /// 422), never 401/403/404.
    Allowed,
    /// Public: the same answer as without credentials, never 401/403.
    Public,
    Unauthenticated,
    Forbidden,
    NotFound,
}

/// What the route's declared access says for this caller and object owner.
fn expect(access: Access, caller: Caller, object_foreign: Option<bool>) -> Expect {
    if access == Access::Public {
        return Expect::Public;
    }
    if caller == Caller::Anonymous {
        return Expect::Unauthenticated;
    }
    // Another organisation's object: the caller's organisation is not the object's.
    let other_org = object_foreign.is_some_and(|f| f != caller.foreign());
    match access {
        Access::Public => Expect::Public,
        Access::Bearer(Users::Any) => Expect::Allowed,
        Access::Bearer(Users::Roles(roles)) => {
            if !roles.iter().any(|r| caller.roles().contains(r)) {
                Expect::Forbidden
            } else if other_org {
                Expect::NotFound
            } else {
                Expect::Allowed
            }
        }
        // A system certificate over mutual TLS only: a bearer token is no credential here
        // (functions/tests/mtls.rs covers the certificates).
        Access::Machine(_) => Expect::Unauthenticated,
        // Not in `Operation::ALL`: `local_routes` covers them.
        Access::LocalOnly(_) => unreachable!("a local-only row in the API table"),
        Access::Bearer(Users::Holder) => {
            if other_org {
                Expect::NotFound
            } else if caller == Caller::Holder {
                Expect::Allowed
            } else {
                Expect::Forbidden
            }
        }
    }
}

/// Ids of one organisation's fixtures.
#[derive(Debug, Clone)]
struct Fixture {
    /// A profile with an issued certificate.
    profile: String,
    issued: String,
    /// A pending order (deletable, its link may be sent again).
    pending: String,
    /// The unused link of another pending order.
    link_token: String,
    /// A one-time-code order.
    reference: String,
    code: String,
    /// The download link of the issued certificate's PKCS#12.
    download: String,
}

async fn fixture(app: &TestApp, admin: &str, holder: &str, contact: &str, name: &str) -> Fixture {
    let create = |body: Value| async move {
        let mut b = json!({ "type": "organisation", "name": name, "contact_email": contact,
                            "key_algorithm": "ecdsa-p256" });
        for (k, v) in body.as_object().unwrap() {
            b[k] = v.clone();
        }
        app.post("/v1/profiles", admin, b).await.ok(201).clone()
    };
    let issued = create(json!({ "issuing": "direct" })).await;
    let url = issued["issuance_url"].as_str().unwrap();
    let done = app
        .post(
            &format!("/v1/issuance/{}", link_token(url)),
            holder,
            json!({ "accept_terms": true }),
        )
        .await;
    let download = done.ok(201)["download_url"].as_str().unwrap().to_owned();
    let pending = create(json!({ "issuing": "direct" })).await;
    let linked = create(json!({ "issuing": "direct" })).await;
    let otc = create(json!({ "identification": "one_time_code" })).await;
    let s = |v: &Value| v.as_str().unwrap().to_owned();
    Fixture {
        profile: s(&issued["profile"]["id"]),
        issued: s(&issued["certificate"]["serial"]),
        pending: s(&pending["certificate"]["serial"]),
        link_token: link_token(linked["issuance_url"].as_str().unwrap()).to_owned(),
        reference: s(&otc["reference"]),
        code: s(&otc["one_time_code"]),
        download,
    }
}

/// Path and body of a cell. `allowed`: the caller passes the access check, so the body
/// is one that leaves the fixtures usable (a validation error or an idempotent change);
/// otherwise it is the body that would change state if the check were missing.
fn target(op: Operation, fx: &Fixture, allowed: bool, version: i64) -> (String, Option<Value>) {
    use Operation as O;
    let profile = |rest: &str| format!("/v1/profiles/{}{rest}", fx.profile);
    let cert = |serial: &str, rest: &str| format!("/v1/certificates/{serial}{rest}");
    let pick = |yes: Value, no: Value| Some(if allowed { yes } else { no });
    match op {
        O::GetOrganisation
        | O::ListProfiles
        | O::ExportProfiles
        | O::ListNotifications
        | O::ListAudit
        | O::ExportAudit
        | O::ListEvents
        | O::CaPem
        | O::CaCer
        | O::RootPem
        | O::RootCer
        | O::RootCrl
        | O::GetCrl
        | O::PublicCertificates
        | O::OpenApi
        | O::Healthz => (op.path().to_owned(), None),
        O::UpdateSettings => (
            op.path().to_owned(),
            pick(
                json!({ "local_idp_enabled": 7 }),
                json!({ "seal_generation_allowed": false, "nemhandel_enabled": false }),
            ),
        ),
        O::CreateProfile => (
            op.path().to_owned(),
            pick(
                json!({ "type": "organisation" }),
                json!({ "type": "organisation", "name": "Intruder", "contact_email": CONTACT, "issuing": "direct" }),
            ),
        ),
        O::GetProfile => (profile(""), None),
        O::UpdateProfile => (
            profile(""),
            pick(
                json!({ "name": "" , "version": version }),
                json!({ "name": "Renamed by an intruder", "version": version }),
            ),
        ),
        O::PutSystemRights => (
            profile("/system-rights"),
            pick(
                json!({ "administration_api": "yes" }),
                json!({ "administration_api": true, "issuance_api": true, "local_idp": false }),
            ),
        ),
        O::PutSealGeneration => (
            profile("/seal-generation"),
            pick(json!({ "enabled": "maybe" }), json!({ "enabled": true })),
        ),
        // A new order is harmless to the other cells; refused, it must not appear.
        O::OrderCertificate => (profile("/certificates"), None),
        O::GetCertificate => (cert(&fx.issued, ""), None),
        // Allowed: a renewal (a new pending order); refused: none may appear.
        O::RenewCertificate => (cert(&fx.issued, "/renew"), None),
        O::RevokeCertificate => (
            cert(&fx.issued, "/revoke"),
            pick(
                json!({ "reason": "bogus" }),
                json!({ "reason": "keyCompromise" }),
            ),
        ),
        // Refused on a deletable order; allowed on an issued one (409, nothing deleted).
        O::DeleteCertificate => (
            cert(if allowed { &fx.issued } else { &fx.pending }, ""),
            None,
        ),
        O::SendIssuanceLink => (
            cert(
                if allowed { &fx.issued } else { &fx.pending },
                "/issuance-link",
            ),
            None,
        ),
        O::RedeemIssuance => (
            op.path().to_owned(),
            Some(json!({
                "reference": fx.reference,
                "code": if allowed { "WRONGCODE222" } else { fx.code.as_str() },
                "accept_terms": true,
            })),
        ),
        O::GetIssuance => (format!("/v1/issuance/{}", fx.link_token), None),
        O::IssueCertificate => (
            format!("/v1/issuance/{}", fx.link_token),
            pick(
                json!({ "accept_terms": false }),
                json!({ "accept_terms": true }),
            ),
        ),
        // Over bearer tokens never reachable (mutual TLS only): a pending order, an
        // empty body that would issue it with a server-side key.
        O::IssueByApi => (cert(&fx.pending, "/issue"), Some(json!({}))),
        O::SelfRenew => (op.path().to_owned(), Some(json!({ "csr": "" }))),
        O::MarkNotificationsRead => (op.path().to_owned(), Some(json!({}))),
        O::GetCrlPartition => ("/public/crl/0".to_owned(), None),
        O::CaGeneration => ("/public/ca/1".to_owned(), None),
        O::OcspGet => ("/ocsp/MAA=".to_owned(), None),
        O::OcspPost => ("/ocsp".to_owned(), None),
        O::PublicCertificateFile => (
            format!("/public/certificates/{}/certificate.pem", fx.issued),
            None,
        ),
        // Not in `Operation::ALL`: `local_routes` covers them.
        O::LocalObject
        | O::LocalJwks
        | O::LocalOutbox
        | O::LocalUsers
        | O::LocalLogin
        | O::RunJob => unreachable!("{op:?} is a local-only row"),
    }
}

/// Whether the route names an object of an organisation (path id, token or reference).
fn names_an_object(op: Operation) -> bool {
    op.path().contains("{id}")
        || op.path().contains("{serial}")
        || op.path().contains("{token}")
        || op == Operation::RedeemIssuance
}

/// The profile's current version (an edit that should be refused must not fail on a stale one).
async fn version_of(app: &TestApp, fx: &Fixture, cvr: &'static str) -> i64 {
    let store = app.service.ports().store;
    let id = uuid::Uuid::parse_str(&fx.profile).unwrap();
    app.on_service(async move {
        let p = store.profile(&Cvr::parse(cvr).unwrap(), id).await.unwrap();
        p.map_or(1, |p| p.version as i64)
    })
    .await
}

/// Everything a refused mutation could have changed.
async fn snapshot(app: &TestApp, references: Vec<String>) -> Vec<String> {
    let store = app.service.ports().store;
    app.on_service(async move {
        let mut out = Vec::new();
        for cvr in ["12345674", OTHER_CVR] {
            let org = Cvr::parse(cvr).unwrap();
            out.push(format!("{:?}", store.organisation(&org).await.unwrap()));
            let q = ProfileQuery {
                limit: 200,
                ..Default::default()
            };
            for p in store.profiles(&org, &q).await.unwrap().items {
                out.push(format!("{p:?}"));
                for c in store.certificates_of(&org, p.id).await.unwrap() {
                    out.push(format!("{c:?}"));
                }
            }
            let audit = store.audit(&org, 1000, None).await.unwrap().items.len();
            out.push(format!("audit {cvr}: {audit}"));
        }
        for r in references {
            out.push(format!(
                "{:?}",
                store.secret_by_reference(&r).await.unwrap()
            ));
        }
        out
    })
    .await
}

#[tokio::test]
async fn role_route_tenant_matrix() {
    let app = spawn_app_with(KeyAlgorithm::EcdsaP256).await;
    app.add_organisation(orgcert_functions::local::demo_organisation_with(
        OTHER_CVR,
        "Other Organisation A/S",
    ))
    .await
    .expect("other organisation");
    let ours = fixture(&app, &app.admin(), &app.contact(), CONTACT, "Ours").await;
    let foreign_admin = app.token_in(OTHER_CVR, OTHER_ADMIN, &["user_admin"]);
    let foreign_holder = app.token_in(OTHER_CVR, OTHER_CONTACT, &[]);
    let theirs = fixture(
        &app,
        &foreign_admin,
        &foreign_holder,
        OTHER_CONTACT,
        "Theirs",
    )
    .await;
    let references = vec![ours.reference.clone(), theirs.reference.clone()];

    let mut cells = 0;
    let mut refused_mutations = 0;
    let mut failures = Vec::new();
    for &op in Operation::ALL {
        let access = op.access();
        // Public routes answer everyone alike: one object is enough (and stays under the
        // directory's rate limit).
        let objects: &[Option<bool>] = if access != Access::Public && names_an_object(op) {
            &[Some(false), Some(true)]
        } else {
            &[None]
        };
        let method = match op.method() {
            RouteMethod::Get => Method::GET,
            RouteMethod::Post => Method::POST,
            RouteMethod::Put => Method::PUT,
            RouteMethod::Patch => Method::PATCH,
            RouteMethod::Delete => Method::DELETE,
        };
        let mut public_answer = None;
        for &object in objects {
            let foreign_object = object == Some(true);
            let (fx, cvr) = if foreign_object {
                (&theirs, OTHER_CVR)
            } else {
                (&ours, "12345674")
            };
            for caller in CALLERS {
                let want = expect(access, caller, object);
                let allowed = matches!(want, Expect::Allowed | Expect::Public);
                let version = version_of(&app, fx, cvr).await;
                let (path, body) = target(op, fx, allowed, version);
                let token = caller.token(&app);
                let mutation = op.method() != RouteMethod::Get;
                let before = if mutation && !allowed {
                    Some(snapshot(&app, references.clone()).await)
                } else {
                    None
                };
                let a = app
                    .call(method.clone(), &path, token.as_deref(), body, &[])
                    .await;
                cells += 1;
                let status = a.status.as_u16();
                let cell = format!(
                    "{} {path} as {caller:?}: {want:?}, got {a:?}",
                    op.method().as_str()
                );
                let ok = match want {
                    Expect::Allowed => {
                        (200..300).contains(&status)
                            || (op.method() != RouteMethod::Get
                                && [400, 409, 410, 422].contains(&status))
                    }
                    Expect::Public => {
                        let first = *public_answer.get_or_insert(status);
                        status == first && status != 401 && status != 403 && status < 500
                    }
                    Expect::Unauthenticated => status == 401,
                    Expect::Forbidden => status == 403,
                    Expect::NotFound => status == 404,
                };
                let problem_ok = allowed
                    || a.headers
                        .get("content-type")
                        .is_some_and(|v| v == "application/problem+json");
                if !ok || !problem_ok {
                    failures.push(cell.clone());
                }
                if let Some(before) = before {
                    refused_mutations += 1;
                    let after = snapshot(&app, references.clone()).await;
                    if before != after {
                        let changed: Vec<_> =
                            after.iter().filter(|l| !before.contains(l)).collect();
                        failures.push(format!(
                            "state changed by a refused call: {cell}\n  {changed:?}"
                        ));
                    }
                }
            }
        }
    }
    let local_cells = if app.backend == Backend::Local {
        local_routes(
            &app,
            &ours,
            &references,
            &mut refused_mutations,
            &mut failures,
        )
        .await
    } else {
        0
    };
    println!(
        "role × route × tenant matrix: {cells} cells over {} operations, {local_cells} cells over {} local-only routes, {refused_mutations} refused mutations with unchanged state",
        Operation::ALL.len(),
        Operation::LOCAL.len()
    );
    assert!(
        failures.is_empty(),
        "{} cells failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The embedded default's local-only routes, from their declared [`LocalReach`]: the
/// machine-only ones refuse a `Host` that does not name this machine (403) and, for POSTs,
/// anything but JSON (415), changing nothing; public ones answer whatever the `Host`.
async fn local_routes(
    app: &TestApp,
    fx: &Fixture,
    references: &[String],
    refused_mutations: &mut usize,
    failures: &mut Vec<String>,
) -> usize {
    let mut cells = 0;
    let login =
        json!({ "org": "12345674", "email": "x@demo-org.dk", "roles": ["user_admin"] }).to_string();
    for &route in Operation::LOCAL {
        let is_post = route.method() == RouteMethod::Post;
        let content_types: &[&str] = if is_post {
            &["application/json", "text/plain"]
        } else {
            &[""]
        };
        let mut public_answer = None;
        for host in [None, Some("attacker.example")] {
            for &ct in content_types {
                let json = ct == "application/json" || !is_post;
                let refused = route.access() == Access::LocalOnly(LocalReach::ThisMachine)
                    && (host.is_some() || !json);
                let (path, body) = match route {
                    Operation::LocalObject => (
                        fx.download.strip_prefix(&app.base).unwrap().to_owned(),
                        String::new(),
                    ),
                    Operation::RunJob if refused => (
                        "/_local/jobs/housekeeping?now=2099-01-01T00:00:00Z".to_owned(),
                        String::new(),
                    ),
                    Operation::RunJob => ("/_local/jobs/crl-refresh".to_owned(), String::new()),
                    Operation::LocalLogin => (route.path().to_owned(), login.clone()),
                    _ => (route.path().to_owned(), String::new()),
                };
                let method = if is_post { Method::POST } else { Method::GET };
                let before = if refused && is_post {
                    Some(snapshot(app, references.to_vec()).await)
                } else {
                    None
                };
                let mut rb = app.http.request(method, format!("{}{path}", app.base));
                if let Some(h) = host {
                    rb = rb.header("host", h);
                }
                if !ct.is_empty() {
                    rb = rb.header("content-type", ct);
                }
                let resp = rb.body(body).send().await.expect("request");
                let status = resp.status().as_u16();
                let text = resp.text().await.unwrap_or_default();
                cells += 1;
                let cell = format!("{path} host={host:?} content-type={ct:?}: {status} {text}");
                let reach = match route.access() {
                    Access::LocalOnly(reach) => reach,
                    other => panic!("{route:?}: a local row declares {other:?}"),
                };
                let ok = match reach {
                    LocalReach::Anyone => {
                        let first = *public_answer.get_or_insert(status);
                        status == 200 && status == first
                    }
                    LocalReach::ThisMachine if host.is_some() => {
                        status == 403 && !text.contains("token\"")
                    }
                    LocalReach::ThisMachine if !json => status == 415,
                    LocalReach::ThisMachine => status == 200,
                };
                if !ok {
                    failures.push(format!("local route: {cell}"));
                }
                if let Some(before) = before {
                    *refused_mutations += 1;
                    if before != snapshot(app, references.to_vec()).await {
                        failures.push(format!("state changed by a refused local call: {cell}"));
                    }
                }
            }
        }
    }
    cells
}
