//! Faults through the full `App` on moto: every step of an order and of an issuance is
//! made to fail in turn (before the dependency acts, and after it acted but its answer
//! was lost). After each failure the stored state is checked: an order is Pending or
//! absent; an issuance completed or can be retried with the same link. Then AWS goes
//! away mid-run and the answer is `Unavailable` (503), not a panic.

use std::sync::Arc;

use orgcert_aws::AwsApp;
use orgcert_core::app::{App, Delivery, IssueRequest, ProfileInput};
use orgcert_core::auth::{Actor, Role};
use orgcert_core::clock::SystemClock;
use orgcert_core::ids::Cvr;
use orgcert_core::model::CertStatus;
use orgcert_core::ports::ProfileQuery;
use orgcert_core::DomainError;
use orgcert_pki::port::PkiAuthority;
use orgcert_pki::{Authority, KeyAlgorithm};
use orgcert_tests::conformance::{actor, new_organisation, random_cvr};
use orgcert_tests::faults::{
    FailMode, FailingMailer, FailingObjects, FailingSigner, FailingStore, FaultPlan,
};
use orgcert_tests::moto::Moto;
use serde_json::json;

const CONTACT: &str = "it-drift@eksempel.dk";

struct Rig {
    moto: Moto,
    aws: AwsApp,
    plan: Arc<FaultPlan>,
    app: App,
    admin: Actor,
    holder: Actor,
    org: Cvr,
}

async fn rig() -> Option<Rig> {
    let moto = Moto::try_start()?;
    let cfg = moto.provision_with_ca(KeyAlgorithm::EcdsaP256).await;
    let aws = AwsApp::compose(&cfg, Arc::new(SystemClock))
        .await
        .expect("compose");
    let plan = FaultPlan::new();
    let signer = Arc::new(FailingSigner::new(
        aws.authority.signer().clone(),
        plan.clone(),
    ));
    let authority = Authority::new(
        signer,
        aws.authority.ca_der().to_vec(),
        &cfg.pki_url,
        Authority::default_policies(),
    )
    .expect("authority");
    let app = aws.app.clone().rewired(|p, _| {
        p.store = Arc::new(FailingStore::new(p.store.clone(), plan.clone()));
        p.objects = Arc::new(FailingObjects::new(p.objects.clone(), plan.clone()));
        p.mailer = Arc::new(FailingMailer::new(p.mailer.clone(), plan.clone()));
        p.ca = Arc::new(PkiAuthority::new(Arc::new(authority)));
    });
    let org = random_cvr();
    aws.app
        .add_organisation(new_organisation(&org, "Fejlsikker ApS"))
        .await
        .expect("organisation");
    let actor = |email: &str, roles: Vec<Role>| actor(&org, email, roles);
    Some(Rig {
        admin: actor("admin@eksempel.dk", vec![Role::UserAdmin]),
        holder: actor(CONTACT, vec![]),
        moto,
        aws,
        plan,
        app,
        org,
    })
}

fn input(name: &str, issuing: &str) -> ProfileInput {
    serde_json::from_value(json!({
        "type": "system",
        "name": name,
        "contact_email": CONTACT,
        "identification": "user_login",
        "issuing": issuing,
        "key_algorithm": "ecdsa-p256",
        "system_rights": { "administration_api": true },
    }))
    .expect("profile input")
}

/// The stored state of the profile named `name`: None when absent, else the statuses
/// of its certificates.
async fn stored(rig: &Rig, name: &str) -> Option<Vec<CertStatus>> {
    let store = &rig.aws.app.ports().store;
    let page = store
        .profiles(
            &rig.org,
            &ProfileQuery {
                q: Some(name.into()),
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .expect("profiles");
    assert!(page.items.len() <= 1, "{name}: at most one profile");
    let p = page.items.first()?;
    let certs = store
        .certificates_of(&rig.org, p.id)
        .await
        .expect("certificates");
    Some(certs.iter().map(|c| c.status).collect())
}

#[track_caller]
fn assert_unavailable<T: std::fmt::Debug>(r: &Result<T, DomainError>, what: &str) {
    assert!(
        matches!(r, Err(DomainError::Unavailable(_))),
        "{what}: expected Unavailable (503), got {r:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_is_pending_or_absent_whatever_step_fails() {
    let Some(rig) = rig().await else { return };
    for mode in [FailMode::Before, FailMode::After] {
        for n in 1.. {
            let name = format!("Order {mode:?} {n}");
            rig.plan.arm(n, mode);
            let res = rig
                .app
                .create_profile(&rig.admin, input(&name, "email"), None)
                .await;
            rig.plan.disarm();
            let Some(step) = rig.plan.fired() else {
                res.expect("no fault injected: the order succeeds");
                assert_eq!(stored(&rig, &name).await, Some(vec![CertStatus::Pending]));
                break;
            };
            let state = stored(&rig, &name).await;
            match &res {
                Ok(_) => assert_eq!(state, Some(vec![CertStatus::Pending]), "step {step}"),
                Err(_) => {
                    assert_unavailable(&res, &step);
                    assert!(
                        state.is_none() || state == Some(vec![CertStatus::Pending]),
                        "step {step}: half-done order {state:?}"
                    );
                }
            }
            assert!(n < 50, "the order never ran without a fault");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_issuance_completes_or_can_be_retried_with_the_same_link() {
    let Some(rig) = rig().await else { return };
    for mode in [FailMode::Before, FailMode::After] {
        for n in 1.. {
            let name = format!("Issue {mode:?} {n}");
            let order = rig
                .app
                .create_profile(&rig.admin, input(&name, "direct"), None)
                .await
                .expect("order without faults");
            let Delivery::Link { url } = order.delivery else {
                panic!("direct delivery gives a link")
            };
            let token = url.rsplit('/').next().unwrap().to_owned();
            let req = || IssueRequest {
                accept_terms: true,
                ..Default::default()
            };
            rig.plan.arm(n, mode);
            let res = rig.app.issue_with_link(&rig.holder, &token, req()).await;
            rig.plan.disarm();
            let fired = rig.plan.fired();
            let result = match (res, &fired) {
                (Ok(r), _) => Some(r),
                (Err(e), Some(step)) => {
                    assert_unavailable(&Err::<(), _>(e), step);
                    let state = stored(&rig, &name).await.expect("the profile stays");
                    assert!(
                        state == [CertStatus::Pending] || state == [CertStatus::Issued],
                        "step {step}: {state:?}"
                    );
                    match rig.app.issue_with_link(&rig.holder, &token, req()).await {
                        Ok(r) => Some(r),
                        // Completed: the answer was lost after the issuance was stored.
                        Err(DomainError::Conflict(_)) if state == [CertStatus::Issued] => {
                            eprintln!("step {step} ({mode:?}): issued, but the answer (PKCS#12 password) was lost");
                            None
                        }
                        Err(e) => panic!("step {step}: retry with the same link failed: {e:?}"),
                    }
                }
                (Err(e), None) => panic!("failed without an injected fault: {e:?}"),
            };
            assert_eq!(stored(&rig, &name).await, Some(vec![CertStatus::Issued]));
            if let Some(result) = result {
                assert_eq!(result.certificate.status, CertStatus::Issued);
                let download = result.download_url.expect("a PKCS#12 link");
                let p12 = reqwest::get(&download).await.unwrap();
                assert_eq!(p12.status(), 200, "step {fired:?}: the PKCS#12 downloads");
            }
            if fired.is_none() {
                break;
            }
            assert!(n < 50, "the issuance never ran without a fault");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_gone_mid_run_is_unavailable_not_a_panic() {
    let Some(mut rig) = rig().await else { return };
    let order = rig
        .app
        .create_profile(&rig.admin, input("Before the outage", "direct"), None)
        .await
        .expect("order");
    let Delivery::Link { url } = order.delivery else {
        panic!("direct delivery gives a link")
    };
    rig.moto.stop();
    let started = std::time::Instant::now();
    let res = rig
        .app
        .create_profile(&rig.admin, input("During the outage", "direct"), None)
        .await;
    assert_unavailable(&res, "order while DynamoDB is gone");
    let res = rig
        .aws
        .app
        .issue_with_link(
            &rig.holder,
            url.rsplit('/').next().unwrap(),
            IssueRequest {
                accept_terms: true,
                ..Default::default()
            },
        )
        .await;
    assert_unavailable(&res, "issuance while AWS is gone");
    // The signer alone (KMS gone) is Unavailable too.
    let signer = rig.aws.authority.signer().clone();
    let signed = tokio::task::spawn_blocking(move || signer.sign(b"tbs"))
        .await
        .unwrap();
    let err = orgcert_pki::port::to_domain(signed.unwrap_err());
    assert!(matches!(err, DomainError::Unavailable(_)), "{err:?}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(60),
        "retries are bounded: {:?}",
        started.elapsed()
    );
}
