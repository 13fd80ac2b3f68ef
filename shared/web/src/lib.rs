//! The browser pages, embedded in the binary and served by the same router as the API.
//! They are a client of the public `/v1` API only.
//!
//! Every page is the same HTML shell (`assets/index.html`); `app.js` picks the page from
//! the path. The shell names the sign-in mode in `<meta>` tags, and `auth.js` signs in
//! accordingly: `local` (the embedded default's sign-in page) or `oidc` (authorization
//! code + PKCE against the issuer API Gateway's JWT authorizer trusts, in the AWS shape).
#![forbid(unsafe_code)]

use std::fmt;
use std::sync::Arc;

use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use include_dir::{include_dir, Dir};

static ASSETS: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/assets");

/// The Content-Security-Policy of every page and asset in `local` mode: no inline script
/// or style, no other origin. OIDC mode adds the identity provider's origin to
/// `connect-src` and `form-action` ([`WebConfig::csp`]).
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; \
form-action 'self'";

/// The asset route (axum syntax; API Gateway writes the greedy parameter `{proxy+}`).
const ASSET_ROUTE: &str = "/assets/{*proxy}";
const FAVICON_ROUTE: &str = "/favicon.ico";

/// Every path the pages and their assets are served at (all `GET`), in axum syntax. The
/// AWS shape routes exactly these to the `web-console` function (checked against
/// `infra/template.yaml` by `shared/http/tests/infra.rs`).
pub const ROUTES: &[&str] = &[
    "/",
    "/signin",
    "/redeem",
    "/directory",
    "/issue/{token}",
    ASSET_ROUTE,
    FAVICON_ROUTE,
];

/// Scopes asked for when `ORGCERT_OIDC_SCOPES` is not set.
pub const DEFAULT_OIDC_SCOPES: &str = "openid email profile";

/// How the pages sign users in.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum AuthMode {
    /// The embedded default: a page listing local users, tokens from `POST /_local/login`.
    #[default]
    Local,
    /// OIDC authorization code + PKCE (S256) in the browser, a public client.
    Oidc(OidcConfig),
}

impl AuthMode {
    fn as_str(&self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::Oidc(_) => "oidc",
        }
    }
}

/// The identity provider of the `oidc` mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcConfig {
    /// Issuer URL, exactly as in the tokens' `iss` (discovery at
    /// `{issuer}/.well-known/openid-configuration`).
    pub issuer: String,
    /// Client id of the pages (a public client: no secret, PKCE).
    pub client_id: String,
    /// Space-separated scopes of the authorization request.
    pub scopes: String,
    /// Origins the pages may call besides the issuer's, e.g. a token endpoint on another
    /// host (Amazon Cognito's hosted-UI domain).
    pub extra_origins: Vec<String>,
}

impl OidcConfig {
    /// Checks and normalises the settings.
    ///
    /// # Errors
    /// When the issuer or an extra origin is not an `https` URL (`http` only on a loopback
    /// host), or the client id or scopes are empty or hold control characters.
    pub fn new(
        issuer: &str,
        client_id: &str,
        scopes: Option<&str>,
        extra_origins: Option<&str>,
    ) -> Result<Self, ConfigError> {
        let issuer = issuer.trim();
        origin_of(issuer).map_err(|why| ConfigError::new("ORGCERT_OIDC_ISSUER", why))?;
        if issuer.contains(['?', '#']) {
            return Err(ConfigError::new(
                "ORGCERT_OIDC_ISSUER",
                "an issuer has no query or fragment (OpenID Connect Discovery 1.0, section 2)",
            ));
        }
        let client_id = client_id.trim();
        if client_id.is_empty() || client_id.chars().any(char::is_control) {
            return Err(ConfigError::new(
                "ORGCERT_OIDC_CLIENT_ID",
                "must be set (the client id of the pages at the identity provider)",
            ));
        }
        let scopes = scopes
            .unwrap_or(DEFAULT_OIDC_SCOPES)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        let scopes = if scopes.is_empty() {
            DEFAULT_OIDC_SCOPES.to_owned()
        } else {
            scopes
        };
        if scopes.chars().any(char::is_control) {
            return Err(ConfigError::new(
                "ORGCERT_OIDC_SCOPES",
                "holds control characters",
            ));
        }
        let mut extra = Vec::new();
        for o in extra_origins
            .unwrap_or("")
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|o| !o.is_empty())
        {
            let origin =
                origin_of(o).map_err(|why| ConfigError::new("ORGCERT_OIDC_EXTRA_ORIGINS", why))?;
            if origin != o.trim_end_matches('/').to_ascii_lowercase() {
                return Err(ConfigError::new(
                    "ORGCERT_OIDC_EXTRA_ORIGINS",
                    "lists origins (scheme://host[:port]), not URLs with a path",
                ));
            }
            extra.push(origin);
        }
        Ok(Self {
            issuer: issuer.to_owned(),
            client_id: client_id.to_owned(),
            scopes,
            extra_origins: extra,
        })
    }

    /// The origins the pages talk to: the issuer's (discovery, token endpoint) and the
    /// extra ones, without duplicates.
    fn origins(&self) -> Vec<String> {
        let mut out = vec![origin_of(&self.issuer).unwrap_or_default()];
        for o in &self.extra_origins {
            if !out.contains(o) {
                out.push(o.clone());
            }
        }
        out.retain(|o| !o.is_empty());
        out
    }
}

/// A setting of the pages that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The environment variable at fault.
    pub variable: &'static str,
    /// Why.
    pub reason: String,
}

impl ConfigError {
    fn new(variable: &'static str, reason: impl Into<String>) -> Self {
        Self {
            variable,
            reason: reason.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.variable, self.reason)
    }
}

impl std::error::Error for ConfigError {}

/// `scheme://host[:port]` of an `https` URL (or `http` on a loopback host, for development
/// and tests), lower-cased, as a CSP source expression.
fn origin_of(url: &str) -> Result<String, &'static str> {
    let url = url.trim();
    let (scheme, rest) = url
        .split_once("://")
        .ok_or("must be an absolute https URL")?;
    let scheme = scheme.to_ascii_lowercase();
    let authority = rest
        .split(['/', '?', '#'])
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    if authority.is_empty()
        || authority.contains('@')
        || !authority
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-.:[]".contains(c))
    {
        return Err("must name a host (letters, digits, '-', '.', an optional port)");
    }
    // host[:port], where host may be an IPv6 literal in brackets.
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => {
            let (inside, after) = v6.split_once(']').ok_or("an unclosed IPv6 literal")?;
            (format!("[{inside}]"), after.strip_prefix(':'))
        }
        None => match authority.split_once(':') {
            Some((h, p)) => (h.to_owned(), Some(p)),
            None => (authority.clone(), None),
        },
    };
    if host.is_empty()
        || (host.contains(['[', ']']) && !host.starts_with('['))
        || port.is_some_and(|p| p.is_empty() || !p.chars().all(|c| c.is_ascii_digit()))
    {
        return Err("must name a host and at most a numeric port");
    }
    let loopback = matches!(host.as_str(), "localhost" | "127.0.0.1" | "[::1]");
    match scheme.as_str() {
        "https" => {}
        "http" if loopback => {}
        _ => return Err("must be an https URL (http only on localhost, for development)"),
    }
    Ok(format!("{scheme}://{authority}"))
}

/// Settings of the pages.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebConfig {
    /// Sign-in mode written into the shell.
    pub auth: AuthMode,
}

impl WebConfig {
    /// Reads `ORGCERT_WEB_AUTH` (`local`, the default, or `oidc`) and, for `oidc`,
    /// `ORGCERT_OIDC_ISSUER`, `ORGCERT_OIDC_CLIENT_ID`, `ORGCERT_OIDC_SCOPES` (default
    /// `openid email profile`) and `ORGCERT_OIDC_EXTRA_ORIGINS` (optional).
    ///
    /// # Errors
    /// An unknown mode, or OIDC settings [`OidcConfig::new`] refuses.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(|k| std::env::var(k).ok())
    }

    /// [`WebConfig::from_env`] over any source of variables.
    ///
    /// # Errors
    /// As [`WebConfig::from_env`].
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mode = var("ORGCERT_WEB_AUTH").unwrap_or_default();
        let auth = match mode.trim().to_ascii_lowercase().as_str() {
            "" | "local" => AuthMode::Local,
            "oidc" => AuthMode::Oidc(OidcConfig::new(
                &var("ORGCERT_OIDC_ISSUER").unwrap_or_default(),
                &var("ORGCERT_OIDC_CLIENT_ID").unwrap_or_default(),
                var("ORGCERT_OIDC_SCOPES").as_deref(),
                var("ORGCERT_OIDC_EXTRA_ORIGINS").as_deref(),
            )?),
            _ => {
                return Err(ConfigError::new(
                    "ORGCERT_WEB_AUTH",
                    "must be local or oidc",
                ))
            }
        };
        Ok(Self { auth })
    }

    /// The Content-Security-Policy of the pages in this mode.
    pub fn csp(&self) -> String {
        match &self.auth {
            AuthMode::Local => CSP.to_owned(),
            AuthMode::Oidc(o) => {
                // Discovery and the token request are fetches (`connect-src`). The redirect
                // to the authorization endpoint is a top-level navigation, which CSP does
                // not restrict; `form-action` allows it as a form submission as well.
                let origins = o.origins().join(" ");
                format!(
                    "default-src 'self'; script-src 'self'; style-src 'self'; \
img-src 'self' data:; connect-src 'self' {origins}; frame-ancestors 'none'; base-uri 'none'; \
form-action 'self' {origins}"
                )
            }
        }
    }
}

/// Routes serving the pages and their assets (merged into the API router), configured
/// from the environment ([`WebConfig::from_env`]).
///
/// # Panics
/// When the environment names an unusable configuration: the server must not start with
/// pages that cannot sign anyone in.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    match WebConfig::from_env() {
        Ok(cfg) => routes_with(cfg),
        Err(e) => panic!("browser pages: {e}"),
    }
}

/// What every response needs: the rendered shell and the policy.
struct Site {
    shell: String,
    csp: HeaderValue,
}

/// [`routes`] with explicit settings.
pub fn routes_with<S: Clone + Send + Sync + 'static>(cfg: WebConfig) -> Router<S> {
    let site = Arc::new(Site {
        shell: shell(&cfg),
        csp: HeaderValue::from_str(&cfg.csp()).unwrap_or_else(|_| HeaderValue::from_static(CSP)),
    });
    let mut router = Router::new();
    for &path in ROUTES {
        let site = site.clone();
        router = match path {
            ASSET_ROUTE => router.route(
                path,
                get(move |Path(p): Path<String>| async move { asset(&site, &p) }),
            ),
            FAVICON_ROUTE => {
                router.route(path, get(move || async move { asset(&site, "icon.svg") }))
            }
            _ => router.route(path, get(move || async move { page_response(&site) })),
        };
    }
    router
}

/// Escapes text for an HTML attribute value in double quotes.
fn attr(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

fn shell(cfg: &WebConfig) -> String {
    let html = ASSETS
        .get_file("index.html")
        .and_then(|f| f.contents_utf8())
        .unwrap_or("<!doctype html><title>orgcert</title>");
    let meta = match &cfg.auth {
        AuthMode::Local => String::new(),
        AuthMode::Oidc(o) => format!(
            "<meta name=\"orgcert-oidc-issuer\" content=\"{}\">\n\
<meta name=\"orgcert-oidc-client-id\" content=\"{}\">\n\
<meta name=\"orgcert-oidc-scopes\" content=\"{}\">\n",
            attr(&o.issuer),
            attr(&o.client_id),
            attr(&o.scopes)
        ),
    };
    // The configured values go in last, so nothing in them is read as a placeholder.
    html.replace("{{auth_mode}}", cfg.auth.as_str())
        .replace("{{auth_meta}}\n", &meta)
}

fn security_headers(site: &Site, resp: &mut Response) {
    let h = resp.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, site.csp.clone());
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // `/issue/{token}` carries a secret in its path: never send it on as a Referer.
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
}

fn page_response(site: &Site) -> Response {
    let mut resp = (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            // The pages show passwords and carry issuance tokens (and OIDC codes) in their URL.
            (header::CACHE_CONTROL, "no-store"),
        ],
        site.shell.clone(),
    )
        .into_response();
    security_headers(site, &mut resp);
    resp
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "json" => "application/json",
        "txt" | "md" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn asset(site: &Site, path: &str) -> Response {
    let file = if path.split('/').any(|s| s.is_empty() || s == "..") || path == "index.html" {
        None
    } else {
        ASSETS.get_file(path)
    };
    let mut resp = match file {
        Some(f) => (
            [
                (header::CONTENT_TYPE, content_type(path)),
                // Not versioned by name: revalidate, but allow the browser to keep a copy.
                (header::CACHE_CONTROL, "no-cache"),
            ],
            f.contents(),
        )
            .into_response(),
        None => (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "not found",
        )
            .into_response(),
    };
    security_headers(site, &mut resp);
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    fn oidc(vars: &[(&str, &str)]) -> Result<WebConfig, ConfigError> {
        let mut all = vec![("ORGCERT_WEB_AUTH", "oidc")];
        all.extend_from_slice(vars);
        WebConfig::from_vars(|k| {
            all.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    #[test]
    fn every_asset_has_a_known_type_and_the_shell_has_no_inline_code() {
        fn walk(d: &Dir<'_>) {
            for f in d.files() {
                let p = f.path().to_string_lossy();
                assert_ne!(content_type(&p), "application/octet-stream", "{p}");
                if p.ends_with(".html") {
                    let t = f.contents_utf8().unwrap();
                    assert!(!t.contains("style="), "inline style in {p}");
                    assert!(!t.contains("<style"), "inline style in {p}");
                    for s in t.split("<script").skip(1) {
                        assert!(s.contains("src="), "inline script in {p}");
                    }
                }
            }
            for sub in d.dirs() {
                walk(sub);
            }
        }
        walk(&ASSETS);
        let local = shell(&WebConfig::default());
        assert!(local.contains("content=\"local\""));
        assert!(!local.contains("{{") && !local.contains("orgcert-oidc"));
    }

    #[test]
    fn local_is_the_default_and_unknown_modes_are_refused() {
        assert_eq!(
            WebConfig::from_vars(|_| None).unwrap(),
            WebConfig::default()
        );
        let e = WebConfig::from_vars(|k| (k == "ORGCERT_WEB_AUTH").then(|| "saml".into()));
        assert_eq!(e.unwrap_err().variable, "ORGCERT_WEB_AUTH");
        assert_eq!(WebConfig::default().csp(), CSP);
    }

    #[test]
    fn oidc_settings_are_checked() {
        let ok = oidc(&[
            (
                "ORGCERT_OIDC_ISSUER",
                "https://Login.Example.COM:8443/tenant/v2.0",
            ),
            ("ORGCERT_OIDC_CLIENT_ID", "pages"),
        ])
        .unwrap();
        let AuthMode::Oidc(o) = &ok.auth else {
            panic!("oidc")
        };
        assert_eq!(
            o.issuer, "https://Login.Example.COM:8443/tenant/v2.0",
            "kept as in iss"
        );
        assert_eq!(o.scopes, DEFAULT_OIDC_SCOPES);
        assert_eq!(o.origins(), ["https://login.example.com:8443"]);
        for (issuer, client) in [
            ("", "pages"),
            ("http://idp.example.com", "pages"),
            ("https://user@idp.example.com", "pages"),
            ("https://idp.example.com/x?y=1", "pages"),
            ("https://idp.example.com; script-src *", "pages"),
            ("https://idp.example.com:x", "pages"),
            ("https://:443", "pages"),
            ("https://a]b", "pages"),
            ("idp.example.com", "pages"),
            ("https://idp.example.com", ""),
        ] {
            assert!(
                oidc(&[
                    ("ORGCERT_OIDC_ISSUER", issuer),
                    ("ORGCERT_OIDC_CLIENT_ID", client)
                ])
                .is_err(),
                "{issuer} / {client}"
            );
        }
        // http only on loopback (development and the browser tests).
        for issuer in [
            "http://127.0.0.1:9000",
            "http://localhost:9000/realms/x",
            "http://[::1]:9000",
        ] {
            oidc(&[
                ("ORGCERT_OIDC_ISSUER", issuer),
                ("ORGCERT_OIDC_CLIENT_ID", "c"),
            ])
            .unwrap();
        }
        let extra = oidc(&[
            ("ORGCERT_OIDC_ISSUER", "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc"),
            ("ORGCERT_OIDC_CLIENT_ID", "c"),
            ("ORGCERT_OIDC_SCOPES", "  openid   email api://orgcert/use "),
            (
                "ORGCERT_OIDC_EXTRA_ORIGINS",
                "https://orgcert.auth.eu-west-1.amazoncognito.com, https://cognito-idp.eu-west-1.amazonaws.com",
            ),
        ])
        .unwrap();
        let AuthMode::Oidc(o) = &extra.auth else {
            panic!("oidc")
        };
        assert_eq!(o.scopes, "openid email api://orgcert/use");
        assert_eq!(
            o.origins(),
            [
                "https://cognito-idp.eu-west-1.amazonaws.com",
                "https://orgcert.auth.eu-west-1.amazoncognito.com"
            ]
        );
        assert!(oidc(&[
            ("ORGCERT_OIDC_ISSUER", "https://idp.example.com"),
            ("ORGCERT_OIDC_CLIENT_ID", "c"),
            (
                "ORGCERT_OIDC_EXTRA_ORIGINS",
                "https://token.example.com/oauth2/token"
            ),
        ])
        .is_err());
    }

    #[test]
    fn oidc_shell_escapes_the_settings_and_the_policy_allows_the_issuer() {
        let cfg = oidc(&[
            ("ORGCERT_OIDC_ISSUER", "https://idp.example.com/realms/a&b"),
            (
                "ORGCERT_OIDC_CLIENT_ID",
                "x\"><script>alert(1)</script>{{auth_mode}}",
            ),
            ("ORGCERT_OIDC_SCOPES", "openid 'email'"),
        ])
        .unwrap();
        let html = shell(&cfg);
        assert!(html.contains(r#"<meta name="orgcert-auth" content="oidc">"#));
        assert!(html.contains(
            r#"<meta name="orgcert-oidc-issuer" content="https://idp.example.com/realms/a&amp;b">"#
        ));
        assert!(html.contains(
            r#"<meta name="orgcert-oidc-client-id" content="x&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;{{auth_mode}}">"#
        ));
        assert!(
            html.contains(r#"<meta name="orgcert-oidc-scopes" content="openid &#39;email&#39;">"#)
        );
        assert_eq!(html.matches("<script").count(), 1, "only the module script");
        let csp = cfg.csp();
        assert!(
            csp.contains("connect-src 'self' https://idp.example.com;"),
            "{csp}"
        );
        assert!(
            csp.contains("form-action 'self' https://idp.example.com"),
            "{csp}"
        );
        assert!(csp.contains("script-src 'self';"), "{csp}");
    }

    #[tokio::test]
    async fn every_route_answers_with_the_mode_policy() {
        let cfg = oidc(&[
            ("ORGCERT_OIDC_ISSUER", "https://idp.example.com"),
            ("ORGCERT_OIDC_CLIENT_ID", "pages"),
        ])
        .unwrap();
        let csp = cfg.csp();
        let app: Router = routes_with(cfg);
        for path in [
            "/",
            "/signin",
            "/redeem",
            "/directory",
            "/issue/abc",
            "/assets/app.js",
            "/favicon.ico",
        ] {
            let resp = app
                .clone()
                .oneshot(Request::get(path).body(Body::empty()).unwrap())
                .await
                .unwrap();
            assert_eq!(resp.status(), StatusCode::OK, "{path}");
            assert_eq!(
                resp.headers()[header::CONTENT_SECURITY_POLICY],
                csp.as_str(),
                "{path}"
            );
        }
        let resp = app
            .oneshot(
                Request::get("/assets/../Cargo.toml")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::NOT_FOUND);
        assert_eq!(ROUTES.len(), 7);
    }
}
