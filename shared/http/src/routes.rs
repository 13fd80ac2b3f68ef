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

macro_rules! operations {
    ($($(#[$m:meta])* $op:ident = ($method:ident, $path:literal, $name:literal, $summary:literal),)*) => {
        /// One operation of the API; in AWS, one Lambda function each.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Operation { $($(#[$m])* $op,)* }

        impl Operation {
            /// Every operation, in table order.
            pub const ALL: &'static [Operation] = &[$(Operation::$op,)*];
            /// HTTP method.
            pub fn method(self) -> Method { match self { $(Operation::$op => Method::$method,)* } }
            /// Path template with `{param}` segments (axum and API Gateway syntax).
            pub fn path(self) -> &'static str { match self { $(Operation::$op => $path,)* } }
            /// kebab-case name, also the Lambda function's name.
            pub fn name(self) -> &'static str { match self { $(Operation::$op => $name,)* } }
            /// One-line summary (OpenAPI).
            pub fn summary(self) -> &'static str { match self { $(Operation::$op => $summary,)* } }
            /// The operation with this kebab-case name.
            pub fn from_name(name: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|o| o.name() == name)
            }
        }
    };
}

operations! {
    /// GET /v1/organisation
    GetOrganisation = (Get, "/v1/organisation", "get-organisation", "The caller's organisation: CVR, name, settings, P and SE numbers"),
    /// PATCH /v1/organisation/settings
    UpdateSettings = (Patch, "/v1/organisation/settings", "update-settings", "Change the organisation's certificate settings (org_admin)"),
    /// POST /v1/profiles
    CreateProfile = (Post, "/v1/profiles", "create-profile", "Create a certificate profile and order its first certificate"),
    /// GET /v1/profiles
    ListProfiles = (Get, "/v1/profiles", "list-profiles", "List and search certificate profiles"),
    /// GET /v1/profiles/export.csv
    ExportProfiles = (Get, "/v1/profiles/export.csv", "export-profiles", "Export certificate profiles as CSV (RFC 4180)"),
    /// GET /v1/profiles/{id}
    GetProfile = (Get, "/v1/profiles/{id}", "get-profile", "A certificate profile with its settings and certificates"),
    /// PATCH /v1/profiles/{id}
    UpdateProfile = (Patch, "/v1/profiles/{id}", "update-profile", "Edit master data (requires the current version)"),
    /// PUT /v1/profiles/{id}/system-rights
    PutSystemRights = (Put, "/v1/profiles/{id}/system-rights", "put-system-rights", "Set system rights (API services, Local IdP)"),
    /// PUT /v1/profiles/{id}/seal-generation
    PutSealGeneration = (Put, "/v1/profiles/{id}/seal-generation", "put-seal-generation", "Turn seal generation on or off"),
    /// POST /v1/profiles/{id}/certificates
    OrderCertificate = (Post, "/v1/profiles/{id}/certificates", "order-certificate", "Order a new certificate under the profile"),
    /// GET /v1/certificates/{serial}
    GetCertificate = (Get, "/v1/certificates/{serial}", "get-certificate", "A certificate: status, dates, subject, fingerprint, PEM once issued"),
    /// POST /v1/certificates/{serial}/renew
    RenewCertificate = (Post, "/v1/certificates/{serial}/renew", "renew-certificate", "Renew: a new pending certificate under the same profile"),
    /// POST /v1/certificates/{serial}/revoke
    RevokeCertificate = (Post, "/v1/certificates/{serial}/revoke", "revoke-certificate", "Revoke an issued certificate (terminal)"),
    /// DELETE /v1/certificates/{serial}
    DeleteCertificate = (Delete, "/v1/certificates/{serial}", "delete-certificate", "Delete a pending certificate order"),
    /// POST /v1/certificates/{serial}/issuance-link
    SendIssuanceLink = (Post, "/v1/certificates/{serial}/issuance-link", "send-issuance-link", "Send the issuance link (or a new one-time code) again"),
    /// POST /v1/issuance/redeem
    RedeemIssuance = (Post, "/v1/issuance/redeem", "redeem-issuance", "Issue with a reference number and one-time code"),
    /// GET /v1/issuance/{token}
    GetIssuance = (Get, "/v1/issuance/{token}", "get-issuance", "What an issuance link will issue"),
    /// POST /v1/issuance/{token}
    IssueCertificate = (Post, "/v1/issuance/{token}", "issue-certificate", "Accept the terms and issue (server-side key or CSR)"),
    /// POST /v1/certificates/{serial}/issue
    IssueByApi = (Post, "/v1/certificates/{serial}/issue", "issue-by-api", "Issue a pending order with identification api (system certificate over mutual TLS)"),
    /// POST /v1/certificates/self/renew
    SelfRenew = (Post, "/v1/certificates/self/renew", "self-renew", "Self-renewal: the calling system certificate gets its successor from a CSR (mutual TLS)"),
    /// GET /v1/notifications
    ListNotifications = (Get, "/v1/notifications", "list-notifications", "The caller's in-app notifications"),
    /// POST /v1/notifications/read
    MarkNotificationsRead = (Post, "/v1/notifications/read", "mark-notifications-read", "Mark the caller's notifications read (all, or the given ids)"),
    /// GET /v1/audit
    ListAudit = (Get, "/v1/audit", "list-audit", "Audit events of the organisation, newest first"),
    /// GET /v1/events
    ListEvents = (Get, "/v1/events", "list-events", "Lifecycle events of the organisation after a cursor, oldest first"),
    /// GET /v1/audit/export
    ExportAudit = (Get, "/v1/audit/export", "export-audit", "The organisation's audit chain as JSON lines, oldest first (seq order)"),
    /// GET /public/ca.pem
    CaPem = (Get, "/public/ca.pem", "get-ca-pem", "The CA certificate (PEM)"),
    /// GET /public/ca.cer
    CaCer = (Get, "/public/ca.cer", "get-ca-cer", "The CA certificate (DER)"),
    /// GET /public/ca/{generation}
    CaGeneration = (Get, "/public/ca/{generation}", "get-ca-generation", "One issuing CA generation's certificate (DER): the caIssuers of its certificates"),
    /// GET /public/root.pem
    RootPem = (Get, "/public/root.pem", "get-root-pem", "The root CA certificate, the trust anchor (PEM)"),
    /// GET /public/root.cer
    RootCer = (Get, "/public/root.cer", "get-root-cer", "The root CA certificate (DER), the issuing CAs' caIssuers"),
    /// GET /public/root.crl
    RootCrl = (Get, "/public/root.crl", "get-root-crl", "The root CA's CRL (DER), the issuing CAs' CRL distribution point"),
    /// GET /public/crl
    GetCrl = (Get, "/public/crl", "get-crl", "The current full CRL (DER)"),
    /// GET /public/crl/{partition}
    GetCrlPartition = (Get, "/public/crl/{partition}", "get-crl-partition", "One CRL partition (DER, critical issuing distribution point)"),
    /// GET /ocsp/{request}
    OcspGet = (Get, "/ocsp/{*request}", "ocsp-get", "OCSP over GET: base64 of the DER request (RFC 6960 appendix A.1)"),
    /// POST /ocsp
    OcspPost = (Post, "/ocsp", "ocsp-post", "OCSP over POST: DER application/ocsp-request (RFC 6960 appendix A.1)"),
    /// GET /public/certificates
    PublicCertificates = (Get, "/public/certificates", "public-certificates", "Public directory: published certificates by email, profile UUID, CVR or serial"),
    /// GET /public/certificates/{serial}/{file}
    PublicCertificateFile = (Get, "/public/certificates/{serial}/{file}", "public-certificate-file", "A published certificate as certificate.pem or certificate.cer"),
    /// GET /openapi.json
    OpenApi = (Get, "/openapi.json", "get-openapi", "This OpenAPI 3.1 document"),
    /// GET /healthz
    Healthz = (Get, "/healthz", "healthz", "Liveness"),
}

/// Who may call an operation (DESIGN §3 "Roles", API.md "Routes"). The use cases enforce
/// it; the table declares it, so that the role × route × tenant test and readers see one
/// answer. Every caller is confined to its own organisation: another organisation's ids
/// are 404.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, without credentials.
    Public,
    /// Any authenticated user of an organisation, with or without a role.
    Authenticated,
    /// A user holding one of these roles.
    Roles(&'static [Role]),
    /// The certificate holder: the user whose email is the profile's contact email.
    Holder,
    /// Only a system certificate over mutual TLS with this right; no bearer token.
    Machine(MachineRight),
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
    /// Who may call this operation. No wildcard arm: a new operation does not compile
    /// until it declares its access.
    pub fn access(self) -> Access {
        use Operation as O;
        use Role::{OrgAdmin, RightsAdmin, UserAdmin};
        const ADMIN: Access = Access::Roles(&[UserAdmin]);
        const READERS: Access = Access::Roles(&[UserAdmin, RightsAdmin]);
        match self {
            O::GetOrganisation => Access::Roles(&[UserAdmin, RightsAdmin, OrgAdmin]),
            O::UpdateSettings => Access::Roles(&[OrgAdmin]),
            O::CreateProfile
            | O::UpdateProfile
            | O::PutSystemRights
            | O::PutSealGeneration
            | O::OrderCertificate
            | O::RenewCertificate
            | O::RevokeCertificate
            | O::DeleteCertificate
            | O::SendIssuanceLink => ADMIN,
            O::ListProfiles | O::ExportProfiles | O::GetProfile | O::GetCertificate => READERS,
            O::RedeemIssuance | O::GetIssuance | O::IssueCertificate => Access::Holder,
            O::IssueByApi => Access::Machine(MachineRight::IssuanceApi),
            O::SelfRenew => Access::Machine(MachineRight::Itself),
            O::ListNotifications | O::MarkNotificationsRead => Access::Authenticated,
            O::ListAudit | O::ExportAudit => Access::Roles(&[UserAdmin, OrgAdmin]),
            O::ListEvents => Access::Roles(&[UserAdmin, RightsAdmin, OrgAdmin]),
            O::CaPem
            | O::CaCer
            | O::CaGeneration
            | O::RootPem
            | O::RootCer
            | O::RootCrl
            | O::GetCrl
            | O::GetCrlPartition
            | O::OcspGet
            | O::OcspPost
            | O::PublicCertificates
            | O::PublicCertificateFile
            | O::OpenApi
            | O::Healthz => Access::Public,
        }
    }

    /// The right a system certificate needs to call this operation over mutual TLS, if
    /// any right allows it: `administration_api` for the user_admin routes (not
    /// organisation settings, which need org_admin), the declared right for machine-only
    /// routes. Holder and per-user routes are for people.
    pub fn machine_right(self) -> Option<MachineRight> {
        match self.access() {
            Access::Machine(right) => Some(right),
            Access::Roles(roles) if roles.contains(&Role::UserAdmin) => {
                Some(MachineRight::AdministrationApi)
            }
            Access::Roles(_) | Access::Public | Access::Authenticated | Access::Holder => None,
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
        let names: HashSet<_> = Operation::ALL.iter().map(|o| o.name()).collect();
        assert_eq!(names.len(), Operation::ALL.len());
        let routes: HashSet<_> = Operation::ALL
            .iter()
            .map(|o| (o.method(), o.path()))
            .collect();
        assert_eq!(routes.len(), Operation::ALL.len());
        for o in Operation::ALL {
            assert_eq!(Operation::from_name(o.name()), Some(*o));
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
