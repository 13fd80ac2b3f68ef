//! The embedded default's composition root: one data dir, one process. The pieces live in
//! `orgcert-local` (configuration, CA bootstrap, token key, demo data, the CRL rebuilder,
//! the local-only routes); here they are wired into [`open`] and [`router`].

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;

use axum::Router;
use orgcert_core::app::{App, Config, Ports};
use orgcert_core::clock::Clock;
use orgcert_core::DomainError;
use orgcert_http::auth::{JwtAuthenticator, AUDIENCE, LOCAL_ISSUER};
use orgcert_http::HttpState;
use orgcert_local::bootstrap::{load_or_create_ca, LoadedCa};
use orgcert_local::site::LocalSite;
use orgcert_local::{FsObjects, OutboxMailer, SqliteStore};
use orgcert_pki::port::PkiAuthority;
use orgcert_pki::Authority;
use time::Duration;

pub use orgcert_local::bootstrap::rollover;
pub use orgcert_local::config::LocalConfig;
pub use orgcert_local::demo::{demo_organisation, demo_organisation_with, DEMO_CVR, DEMO_USERS};
pub use orgcert_local::jobs::CrlRebuilder;
pub use orgcert_local::tokens::{load_token_keys, TokenKeys};

/// The composed embedded service.
pub struct Local {
    /// Router state (use cases + authenticator).
    pub state: HttpState,
    /// Mail outbox.
    pub outbox: Arc<OutboxMailer>,
    /// Objects with signed links.
    pub objects: Arc<FsObjects>,
    /// Token keys.
    pub tokens: Arc<TokenKeys>,
    /// Store (for tooling).
    pub store: Arc<SqliteStore>,
    /// Whether the demo organisation was created by this start.
    pub created_demo: bool,
    /// Base of links (`ORGCERT_PUBLIC_URL`): its host also names this machine.
    pub public_url: String,
    /// The issuing CA (the mutual-TLS listener's server certificate and trust root).
    pub authority: Arc<Authority>,
}

/// Opens (or creates) the data dir and composes the service.
///
/// # Errors
/// `Internal`/`Unavailable` when the data dir, keys or database cannot be used.
pub async fn open(cfg: &LocalConfig, clock: Arc<dyn Clock>) -> Result<Local, DomainError> {
    fs::create_dir_all(&cfg.data_dir)
        .map_err(|e| DomainError::Internal(format!("creating the data dir: {e}")))?;
    let _ = fs::set_permissions(&cfg.data_dir, fs::Permissions::from_mode(0o700));
    let now = clock.now();
    let dir = cfg.data_dir.clone();
    let ca_cfg = cfg.clone();
    // Key generation (RSA-3072) is CPU work: keep it off the async workers.
    let (authority, tokens) = tokio::task::spawn_blocking(move || {
        Ok::<_, DomainError>((load_or_create_ca(&ca_cfg, now)?, load_token_keys(&dir)?))
    })
    .await
    .map_err(|e| DomainError::Internal(e.to_string()))??;
    let store = Arc::new(
        SqliteStore::open(&cfg.data_dir.join("orgcert.db"))?.with_ocsp_cache(
            orgcert_core::ocsp_cache::ttl_from_env(orgcert_local::store::OCSP_CACHE_TTL)
                .map_err(DomainError::Internal)?,
        ),
    );
    let objects =
        Arc::new(FsObjects::new(&cfg.data_dir, &cfg.public_url)?.with_clock(clock.clone()));
    let outbox = Arc::new(OutboxMailer::new(&cfg.data_dir)?);
    let LoadedCa {
        authority,
        older,
        root_crl,
    } = authority;
    let authority = Arc::new(authority);
    let mut ca = PkiAuthority::new(authority.clone())
        .with_older_generations(older.into_iter().map(Arc::new).collect())
        .with_key_pool(Arc::new(orgcert_pki::KeyPool::new(cfg.key_pool)));
    if let Some(crl) = root_crl {
        ca = ca.with_root_crl(crl);
    }
    if cfg.ocsp_delegated {
        // The same scheme as AWS (DESIGN §5a): a short-lived delegated responder whose key
        // lives in memory; the key file makes minting free, so it is minted on demand.
        ca = ca
            .with_rotating_responder(
                Arc::new(orgcert_pki::port::MemoryResponderStore::default()),
                true,
            )
            // Older generations too (as AWS): an answer for a CertID under an older issuer,
            // an unknown serial included, is signed by that generation's responder, not by
            // its CA key on every request.
            .with_older_rotating_responders(
                |_| Arc::new(orgcert_pki::port::MemoryResponderStore::default()),
                true,
            );
    }
    let mut config = Config::new(cfg.public_url.clone());
    config.crl_partitions = cfg.crl_partitions;
    config.crl_validity = Duration::hours(i64::from(cfg.crl_validity_hours));
    config.reminder_days = cfg.reminder_days.clone();
    config.code_key = Some(orgcert_local::load_or_create_code_key(&cfg.data_dir)?);
    let events = Arc::new(CrlRebuilder::default());
    let app = App::new(
        Ports {
            store: store.clone(),
            ca: Arc::new(ca),
            objects: objects.clone(),
            mailer: outbox.clone(),
            clock,
            events: events.clone(),
        },
        config,
    );
    events.start(app.clone());
    let created_demo = app.add_first_organisation(demo_organisation()).await?;
    let auth = Arc::new(JwtAuthenticator::from_public_pem(
        tokens.public_pem(),
        LOCAL_ISSUER,
        AUDIENCE,
    )?);
    Ok(Local {
        state: HttpState::new(app, auth),
        outbox,
        objects,
        tokens: Arc::new(tokens),
        store,
        created_demo,
        public_url: cfg.public_url.clone(),
        authority,
    })
}

/// The full local router: the shared API, the local-only routes and the pages.
pub fn router(local: &Local) -> Router {
    let site = LocalSite {
        objects: local.objects.clone(),
        outbox: local.outbox.clone(),
        tokens: local.tokens.clone(),
        app: local.state.app.clone(),
    };
    orgcert_http::router(local.state.clone())
        .merge(orgcert_local::site::routes(site, &local.public_url))
        .merge(orgcert_web::routes())
}

/// The local server's HTTP service: `POST /ocsp` straight to its handler, every other
/// request through `router`. OCSP is the one public route answered at volume (issue 15:
/// a few µs of CPU per answer), and axum's routing, middleware and `State` clones were
/// a tenth of that. The answer is the router's own: the same handler, and the router's
/// middleware leaves a `POST /ocsp` answer as it is (it only marks `/v1/` answers
/// `no-store` and rewrites 405s, which a matched method never gets); see the test.
#[derive(Clone)]
pub struct OcspFirst {
    router: Router,
    state: HttpState,
}

impl OcspFirst {
    /// `router` (from [`router`]) with the OCSP fast path on `local`'s state.
    pub fn new(router: Router, local: &Local) -> Self {
        Self {
            router,
            state: local.state.clone(),
        }
    }
}

impl tower::Service<axum::extract::Request> for OcspFirst {
    type Response = axum::response::Response;
    type Error = std::convert::Infallible;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Self::Response, Self::Error>> + Send>,
    >;

    fn poll_ready(
        &mut self,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        // Both are always ready (axum's Router is).
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: axum::extract::Request) -> Self::Future {
        use tower::ServiceExt as _;
        let op = orgcert_http::Operation::OcspPost;
        if req.method() == axum::http::Method::POST && req.uri().path() == op.path() {
            let state = self.state.clone();
            return Box::pin(async move {
                Ok(
                    orgcert_http::handlers::status::ocsp_post(axum::extract::State(state), req)
                        .await,
                )
            });
        }
        Box::pin(self.router.clone().oneshot(req))
    }
}
