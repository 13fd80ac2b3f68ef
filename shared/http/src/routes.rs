//! The route table: one enum of operations, shared by API Gateway (infra) and the local server.

use orgcert_core::auth::Role;

/// HTTP method of a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// GET
    Get,
    /// POST
    Post,
    /// PUT
    Put,
    /// PATCH
    Patch,
    /// DELETE
    Delete,
}

impl Method {
    /// Upper-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Patch => "PATCH",
            Self::Delete => "DELETE",
        }
    }
}

/// What an operation takes in its request body (the schema names are OpenAPI's
/// `components/schemas`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// No body.
    Empty,
    /// A JSON body of this schema, required.
    Json(&'static str),
    /// A JSON body of this schema that may be left out (its fields then take defaults).
    OptionalJson(&'static str),
    /// A binary body of this media type.
    Der(&'static str),
}

/// What a successful answer carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// 200 with JSON of this schema.
    Body(&'static str),
    /// 201 with JSON of this schema (something was created).
    Created(&'static str),
    /// 204, no body.
    NoContent,
    /// 200 with bytes of one of these media types.
    Bytes(&'static [&'static str]),
    /// 200 with text of this media type.
    Text(&'static str),
}

/// One row of the table: `Op = (method, path, name, access, request, query, answer, summary)`.
macro_rules! operations {
    (
        api { $($(#[$m:meta])* $op:ident = ($method:ident, $path:literal, $name:literal, $access:expr,
            $request:expr, [$($query:literal),*], $answer:expr, $summary:literal),)* }
        local { $($(#[$lm:meta])* $lop:ident = ($lmethod:ident, $lpath:literal, $lname:literal, $laccess:expr,
            $lrequest:expr, [$($lquery:literal),*], $lanswer:expr, $lsummary:literal),)* }
    ) => {
        /// One operation: of the API (in AWS, one Lambda function each), or a local-only
        /// route of the embedded default ([`Operation::LOCAL`]).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Operation { $($(#[$m])* $op,)* $($(#[$lm])* $lop,)* }

        impl Operation {
            /// Every operation of the API, in table order: the Lambda functions, the OpenAPI
            /// document, the SAM template. Not the local-only routes.
            pub const ALL: &'static [Operation] = &[$(Operation::$op,)*];
            /// The routes only the embedded default serves (API.md "Local-only routes"):
            /// never in OpenAPI or the SAM template.
            pub const LOCAL: &'static [Operation] = &[$(Operation::$lop,)*];
            /// HTTP method.
            pub fn method(self) -> Method {
                match self { $(Operation::$op => Method::$method,)* $(Operation::$lop => Method::$lmethod,)* }
            }
            /// Path template with `{param}` segments (axum and API Gateway syntax).
            pub fn path(self) -> &'static str {
                match self { $(Operation::$op => $path,)* $(Operation::$lop => $lpath,)* }
            }
            /// kebab-case name, also the Lambda function's name.
            pub fn name(self) -> &'static str {
                match self { $(Operation::$op => $name,)* $(Operation::$lop => $lname,)* }
            }
            /// One-line summary (OpenAPI).
            pub fn summary(self) -> &'static str {
                match self { $(Operation::$op => $summary,)* $(Operation::$lop => $lsummary,)* }
            }
            /// Who may call this operation (DESIGN §3 "Roles", API.md "Routes"). Each row
            /// must declare it: a new operation does not compile until it does.
            pub fn access(self) -> Access {
                use Access::*;
                match self { $(Operation::$op => $access,)* $(Operation::$lop => $laccess,)* }
            }
            /// What the request body holds.
            pub fn request(self) -> Request {
                use Request::*;
                match self { $(Operation::$op => $request,)* $(Operation::$lop => $lrequest,)* }
            }
            /// The query parameters it takes; any other is a 400 naming it.
            pub fn query(self) -> &'static [&'static str] {
                match self { $(Operation::$op => &[$($query),*],)* $(Operation::$lop => &[$($lquery),*],)* }
            }
            /// What a successful answer holds.
            pub fn answer(self) -> Answer {
                use Answer::*;
                match self { $(Operation::$op => $answer,)* $(Operation::$lop => $lanswer,)* }
            }
            /// The API operation with this kebab-case name.
            pub fn from_name(name: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|o| o.name() == name)
            }
        }
    };
}

use orgcert_core::auth::Role::{OrgAdmin, RightsAdmin, UserAdmin};

/// user_admin.
const ADMIN: Access = Access::Bearer(Users::Roles(&[UserAdmin]));
/// user_admin or rights_admin.
const READERS: Access = Access::Bearer(Users::Roles(&[UserAdmin, RightsAdmin]));
/// Every administrative role.
const ORG_READERS: Access = Access::Bearer(Users::Roles(&[UserAdmin, RightsAdmin, OrgAdmin]));
/// org_admin.
const ORG_ADMIN: Access = Access::Bearer(Users::Roles(&[OrgAdmin]));
/// user_admin or org_admin.
const AUDITORS: Access = Access::Bearer(Users::Roles(&[UserAdmin, OrgAdmin]));
/// The certificate holder.
const HOLDER: Access = Access::Bearer(Users::Holder);
/// Any signed-in user.
const ANY_USER: Access = Access::Bearer(Users::Any);

operations! {
api {
    /// GET /v1/organisation
    GetOrganisation = (Get, "/v1/organisation", "get-organisation", ORG_READERS, Empty, [], Body("Organisation"),
        "The caller's organisation: CVR, name, settings, P and SE numbers"),
    /// PATCH /v1/organisation/settings
    UpdateSettings = (Patch, "/v1/organisation/settings", "update-settings", ORG_ADMIN, Json("SettingsPatch"), [], Body("Organisation"),
        "Change the organisation's certificate settings (org_admin)"),
    /// POST /v1/profiles
    CreateProfile = (Post, "/v1/profiles", "create-profile", ADMIN, Json("ProfileInput"), [], Created("OrderAnswer"),
        "Create a certificate profile and order its first certificate"),
    /// GET /v1/profiles
    ListProfiles = (Get, "/v1/profiles", "list-profiles", READERS, Empty, ["q", "status", "type", "limit", "cursor"], Body("ProfilePage"),
        "List and search certificate profiles"),
    /// GET /v1/profiles/export.csv
    ExportProfiles = (Get, "/v1/profiles/export.csv", "export-profiles", READERS, Empty, [], Text("text/csv"),
        "Export certificate profiles as CSV (RFC 4180)"),
    /// GET /v1/profiles/{id}
    GetProfile = (Get, "/v1/profiles/{id}", "get-profile", READERS, Empty, [], Body("ProfileDetail"),
        "A certificate profile with its settings and certificates"),
    /// PATCH /v1/profiles/{id}
    UpdateProfile = (Patch, "/v1/profiles/{id}", "update-profile", ADMIN, Json("MasterDataPatch"), [], Body("Profile"),
        "Edit master data (requires the current version)"),
    /// PUT /v1/profiles/{id}/system-rights
    PutSystemRights = (Put, "/v1/profiles/{id}/system-rights", "put-system-rights", ADMIN, Json("SystemRights"), [], Body("Profile"),
        "Set system rights (API services, Local IdP)"),
    /// PUT /v1/profiles/{id}/seal-generation
    PutSealGeneration = (Put, "/v1/profiles/{id}/seal-generation", "put-seal-generation", ADMIN, Json("SealGeneration"), [], Body("Profile"),
        "Turn seal generation on or off"),
    /// POST /v1/profiles/{id}/certificates
    OrderCertificate = (Post, "/v1/profiles/{id}/certificates", "order-certificate", ADMIN, Empty, [], Created("OrderAnswer"),
        "Order a new certificate under the profile"),
    /// GET /v1/certificates/{serial}
    GetCertificate = (Get, "/v1/certificates/{serial}", "get-certificate", READERS, Empty, [], Body("Certificate"),
        "A certificate: status, dates, subject, fingerprint, PEM once issued"),
    /// POST /v1/certificates/{serial}/renew
    RenewCertificate = (Post, "/v1/certificates/{serial}/renew", "renew-certificate", ADMIN, Empty, [], Created("OrderAnswer"),
        "Renew: a new pending certificate under the same profile"),
    /// POST /v1/certificates/{serial}/revoke
    RevokeCertificate = (Post, "/v1/certificates/{serial}/revoke", "revoke-certificate", ADMIN, OptionalJson("RevokeRequest"), [], Body("Certificate"),
        "Revoke an issued certificate (terminal)"),
    /// DELETE /v1/certificates/{serial}
    DeleteCertificate = (Delete, "/v1/certificates/{serial}", "delete-certificate", ADMIN, Empty, [], NoContent,
        "Delete a pending certificate order"),
    /// POST /v1/certificates/{serial}/issuance-link
    SendIssuanceLink = (Post, "/v1/certificates/{serial}/issuance-link", "send-issuance-link", ADMIN, Empty, [], Body("LinkAnswer"),
        "Send the issuance link (or a new one-time code) again"),
    /// POST /v1/issuance/redeem
    RedeemIssuance = (Post, "/v1/issuance/redeem", "redeem-issuance", HOLDER, Json("RedeemRequest"), [], Created("IssueAnswer"),
        "Issue with a reference number and one-time code"),
    /// GET /v1/issuance/{token}
    GetIssuance = (Get, "/v1/issuance/{token}", "get-issuance", HOLDER, Empty, [], Body("IssuanceInfo"),
        "What an issuance link will issue"),
    /// POST /v1/issuance/{token}
    IssueCertificate = (Post, "/v1/issuance/{token}", "issue-certificate", HOLDER, Json("IssueRequest"), [], Created("IssueAnswer"),
        "Accept the terms and issue (server-side key or CSR)"),
    /// POST /v1/certificates/{serial}/issue
    IssueByApi = (Post, "/v1/certificates/{serial}/issue", "issue-by-api", Machine(MachineRight::IssuanceApi), OptionalJson("ApiIssueRequest"), [], Created("IssueAnswer"),
        "Issue a pending order with identification api (system certificate over mutual TLS)"),
    /// POST /v1/certificates/self/renew
    SelfRenew = (Post, "/v1/certificates/self/renew", "self-renew", Machine(MachineRight::Itself), Json("SelfRenewRequest"), [], Created("IssueAnswer"),
        "Self-renewal: the calling system certificate gets its successor from a CSR (mutual TLS)"),
    /// GET /v1/notifications
    ListNotifications = (Get, "/v1/notifications", "list-notifications", ANY_USER, Empty, [], Body("Notifications"),
        "The caller's in-app notifications"),
    /// POST /v1/notifications/read
    MarkNotificationsRead = (Post, "/v1/notifications/read", "mark-notifications-read", ANY_USER, OptionalJson("MarkRead"), [], Body("Notifications"),
        "Mark the caller's notifications read (all, or the given ids)"),
    /// GET /v1/audit
    ListAudit = (Get, "/v1/audit", "list-audit", AUDITORS, Empty, ["limit", "cursor"], Body("AuditPage"),
        "Audit events of the organisation, newest first"),
    /// GET /v1/events
    ListEvents = (Get, "/v1/events", "list-events", ORG_READERS, Empty, ["after", "limit"], Body("EventPage"),
        "Lifecycle events of the organisation after a cursor, oldest first"),
    /// GET /v1/audit/export
    ExportAudit = (Get, "/v1/audit/export", "export-audit", AUDITORS, Empty, [], Text("application/x-ndjson"),
        "The organisation's audit chain as JSON lines, oldest first (seq order)"),
    /// GET /public/ca.pem
    CaPem = (Get, "/public/ca.pem", "get-ca-pem", Public, Empty, [], Bytes(&["application/x-pem-file"]),
        "The CA certificate (PEM)"),
    /// GET /public/ca.cer
    CaCer = (Get, "/public/ca.cer", "get-ca-cer", Public, Empty, [], Bytes(&["application/pkix-cert"]),
        "The CA certificate (DER)"),
    /// GET /public/ca/{generation}
    CaGeneration = (Get, "/public/ca/{generation}", "get-ca-generation", Public, Empty, [], Bytes(&["application/pkix-cert"]),
        "One issuing CA generation's certificate (DER): the caIssuers of its certificates"),
    /// GET /public/root.pem
    RootPem = (Get, "/public/root.pem", "get-root-pem", Public, Empty, [], Bytes(&["application/x-pem-file"]),
        "The root CA certificate, the trust anchor (PEM)"),
    /// GET /public/root.cer
    RootCer = (Get, "/public/root.cer", "get-root-cer", Public, Empty, [], Bytes(&["application/pkix-cert"]),
        "The root CA certificate (DER), the issuing CAs' caIssuers"),
    /// GET /public/root.crl
    RootCrl = (Get, "/public/root.crl", "get-root-crl", Public, Empty, [], Bytes(&["application/pkix-crl"]),
        "The root CA's CRL (DER), the issuing CAs' CRL distribution point"),
    /// GET /public/crl
    GetCrl = (Get, "/public/crl", "get-crl", Public, Empty, [], Bytes(&["application/pkix-crl"]),
        "The current full CRL (DER)"),
    /// GET /public/crl/{partition}
    GetCrlPartition = (Get, "/public/crl/{partition}", "get-crl-partition", Public, Empty, [], Bytes(&["application/pkix-crl"]),
        "One CRL partition (DER, critical issuing distribution point)"),
    /// GET /ocsp/{request}
    OcspGet = (Get, "/ocsp/{*request}", "ocsp-get", Public, Empty, [], Bytes(&["application/ocsp-response"]),
        "OCSP over GET: base64 of the DER request (RFC 6960 appendix A.1)"),
    /// POST /ocsp
    OcspPost = (Post, "/ocsp", "ocsp-post", Public, Der("application/ocsp-request"), [], Bytes(&["application/ocsp-response"]),
        "OCSP over POST: DER application/ocsp-request (RFC 6960 appendix A.1)"),
    /// GET /public/certificates
    PublicCertificates = (Get, "/public/certificates", "public-certificates", Public, Empty, ["email", "uuid", "cvr", "serial"], Body("Directory"),
        "Public directory: published certificates by email, profile UUID, CVR or serial"),
    /// GET /public/certificates/{serial}/{file}
    PublicCertificateFile = (Get, "/public/certificates/{serial}/{file}", "public-certificate-file", Public, Empty, [], Bytes(&["application/x-pem-file", "application/pkix-cert"]),
        "A published certificate as certificate.pem or certificate.cer"),
    /// GET /openapi.json
    OpenApi = (Get, "/openapi.json", "get-openapi", Public, Empty, [], Body("OpenApiDocument"),
        "This OpenAPI 3.1 document"),
    /// GET /healthz
    Healthz = (Get, "/healthz", "healthz", Public, Empty, [], Body("Health"),
        "Liveness"),
}
local {
    /// GET /_local/objects/{key}?expires=&sig=: the presigned download (HMAC-signed link)
    LocalObject = (Get, "/_local/objects/{*key}", "local-object", LocalOnly(LocalReach::Anyone), Empty, ["expires", "sig"], Bytes(&["application/x-pkcs12"]),
        "The file behind a signed download link"),
    /// GET /_local/jwks.json
    LocalJwks = (Get, "/_local/jwks.json", "local-jwks", LocalOnly(LocalReach::Anyone), Empty, [], Body("Jwks"),
        "The key set that verifies local bearer tokens"),
    /// GET /_local/outbox: mails, with their issuance links
    LocalOutbox = (Get, "/_local/outbox", "local-outbox", LocalOnly(LocalReach::ThisMachine), Empty, [], Body("Outbox"),
        "The mails sent, with their links"),
    /// GET /_local/users: the users the sign-in page offers
    LocalUsers = (Get, "/_local/users", "local-users", LocalOnly(LocalReach::ThisMachine), Empty, [], Body("LocalUsers"),
        "The users the local sign-in page offers"),
    /// POST /_local/login: a token for a user of the data dir
    LocalLogin = (Post, "/_local/login", "local-login", LocalOnly(LocalReach::ThisMachine), Json("LocalLogin"), [], Body("LocalToken"),
        "A bearer token for a user of the data dir"),
    /// POST /_local/jobs/{name}: run a scheduled job now
    RunJob = (Post, "/_local/jobs/{name}", "run-job", LocalOnly(LocalReach::ThisMachine), Empty, ["now"], Body("JobReport"),
        "Run a scheduled job now (or as of ?now=RFC3339)"),
}
}

/// Who may call an operation (DESIGN §3 "Roles", API.md "Routes"). The use cases enforce
/// it; the table declares it, so that the router, the OpenAPI security, the SAM template
/// check, the role × route × tenant test and readers see one answer. Every caller is
/// confined to its own organisation: another organisation's ids are 404.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, without credentials.
    Public,
    /// A user with a bearer token (or, where a user_admin may call, a system certificate
    /// with `administration_api` over mutual TLS; see [`Operation::machine_right`]).
    Bearer(Users),
    /// Only a system certificate over mutual TLS with this right; no bearer token.
    Machine(MachineRight),
    /// Served only by the embedded default, never deployed (API.md "Local-only routes").
    LocalOnly(LocalReach),
}

/// Which users a bearer route takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Users {
    /// Any authenticated user of an organisation, with or without a role.
    Any,
    /// A user holding one of these roles.
    Roles(&'static [Role]),
    /// The certificate holder: the user whose email is the profile's contact email.
    Holder,
}

/// Who may reach a local-only route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalReach {
    /// Anyone who has the link: the HMAC-signed download, the token verification key.
    Anyone,
    /// This machine only: the TCP peer is loopback and `Host` names this machine; its
    /// POSTs take only JSON (no cross-site form can send that).
    ThisMachine,
}

impl Access {
    /// Whether the caller must present credentials (a bearer token or a system
    /// certificate); such routes may answer 401 and 403.
    pub fn needs_credentials(self) -> bool {
        matches!(self, Self::Bearer(_) | Self::Machine(_))
    }
}
/// A system right a certificate calling over mutual TLS uses (API.md "System certificates").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MachineRight {
    /// Every `/v1` route a user_admin may call, in its organisation.
    AdministrationApi,
    /// API issuance of the organisation's `api` orders.
    IssuanceApi,
    /// No right: every issued system certificate may renew itself (and only itself).
    Itself,
}

impl MachineRight {
    /// Wire name, as in `system_rights`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AdministrationApi => "administration_api",
            Self::IssuanceApi => "issuance_api",
            Self::Itself => "none (the certificate itself)",
        }
    }
}

impl Operation {
    /// The right a system certificate needs to call this operation over mutual TLS, if
    /// any right allows it: `administration_api` for the user_admin routes (not
    /// organisation settings, which need org_admin), the declared right for machine-only
    /// routes. Holder and per-user routes are for people.
    pub fn machine_right(self) -> Option<MachineRight> {
        match self.access() {
            Access::Machine(right) => Some(right),
            Access::Bearer(Users::Roles(roles)) if roles.contains(&Role::UserAdmin) => {
                Some(MachineRight::AdministrationApi)
            }
            Access::Bearer(_) | Access::Public | Access::LocalOnly(_) => None,
        }
    }

    /// The operation routed at `method` and the route template `path`.
    pub fn find(method: &str, path: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .copied()
            .find(|o| o.method().as_str() == method && o.path() == path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn names_and_routes_are_unique() {
        let every: Vec<Operation> = Operation::ALL
            .iter()
            .chain(Operation::LOCAL)
            .copied()
            .collect();
        let names: HashSet<_> = every.iter().map(|o| o.name()).collect();
        assert_eq!(names.len(), every.len());
        let routes: HashSet<_> = every.iter().map(|o| (o.method(), o.path())).collect();
        assert_eq!(routes.len(), every.len());
        for o in Operation::ALL {
            assert_eq!(Operation::from_name(o.name()), Some(*o));
            assert!(!matches!(o.access(), Access::LocalOnly(_)), "{o:?}");
        }
        for o in Operation::LOCAL {
            assert!(matches!(o.access(), Access::LocalOnly(_)), "{o:?}");
            assert!(o.path().starts_with("/_local/"), "{o:?}");
            assert_eq!(Operation::from_name(o.name()), None, "{o:?}");
        }
        for o in &every {
            assert!(o
                .name()
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'-'));
        }
    }

    #[test]
    fn machine_rights_follow_the_declared_access() {
        use Operation as O;
        assert_eq!(
            O::IssueByApi.machine_right(),
            Some(MachineRight::IssuanceApi)
        );
        assert_eq!(O::SelfRenew.machine_right(), Some(MachineRight::Itself));
        assert_eq!(
            O::CreateProfile.machine_right(),
            Some(MachineRight::AdministrationApi)
        );
        assert_eq!(
            O::ListProfiles.machine_right(),
            Some(MachineRight::AdministrationApi)
        );
        // Organisation settings need org_admin; holder and per-user routes are for people.
        for op in [
            O::UpdateSettings,
            O::IssueCertificate,
            O::RedeemIssuance,
            O::ListNotifications,
            O::Healthz,
        ] {
            assert_eq!(op.machine_right(), None, "{op:?}");
        }
        for op in Operation::ALL {
            assert_eq!(Operation::find(op.method().as_str(), op.path()), Some(*op));
        }
    }
}
