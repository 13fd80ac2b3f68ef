//! The demo organisation and users a new data dir starts with (README "Demo").

use orgcert_core::app::NewOrganisation;
use orgcert_core::model::OrgSettings;

/// The demo organisation created on first start.
pub fn demo_organisation() -> NewOrganisation {
    NewOrganisation {
        cvr: DEMO_CVR.into(),
        name: "Demo Organisation ApS".into(),
        p_numbers: vec!["1000000001".into(), "1000000002".into()],
        se_numbers: vec!["12345674".into(), "23456780".into()],
        settings: OrgSettings {
            organisation_certificates_enabled: true,
            seal_generation_allowed: true,
            local_idp_enabled: false,
            nemhandel_enabled: true,
        },
    }
}

/// An organisation like the demo one, with another CVR and name (tests, tooling).
pub fn demo_organisation_with(cvr: &str, name: &str) -> NewOrganisation {
    NewOrganisation {
        cvr: cvr.into(),
        name: name.into(),
        ..demo_organisation()
    }
}

/// CVR of the demo organisation (passes the modulus 11 check).
pub const DEMO_CVR: &str = "12345674";

/// The demo users: (label, email, name, roles).
pub const DEMO_USERS: &[(&str, &str, &str, &[&str])] = &[
    (
        "user admin",
        "ulla.admin@demo-org.dk",
        "Ulla Admin",
        &["user_admin"],
    ),
    (
        "rights admin",
        "rikke.rights@demo-org.dk",
        "Rikke Rights",
        &["rights_admin"],
    ),
    (
        "org admin",
        "ole.org@demo-org.dk",
        "Ole Org",
        &["org_admin"],
    ),
    (
        "demo contact",
        "carl.contact@demo-org.dk",
        "Carl Contact",
        &[],
    ),
];
