//! The browser pages, embedded in the binary and served by the same router as the API.
//! They are a client of the public `/v1` API only.
//!
//! Every page is the same HTML shell (`assets/index.html`); `app.js` picks the page from
//! the path. The shell names the sign-in mode in a `<meta>` tag so that another mode
//! (OIDC with PKCE, in the AWS shape) can be added in `auth.js` without touching the pages.
#![forbid(unsafe_code)]

use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use include_dir::{include_dir, Dir};

static ASSETS: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/assets");

/// The Content-Security-Policy of every page and asset: no inline script or style.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; \
form-action 'self'";

/// How the pages sign users in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuthMode {
    /// The embedded default: a page listing local users, tokens from `POST /_local/login`.
    #[default]
    Local,
}

impl AuthMode {
    fn as_str(self) -> &'static str {
        match self {
            Self::Local => "local",
        }
    }
}

/// Settings of the pages.
#[derive(Debug, Clone, Copy, Default)]
pub struct WebConfig {
    /// Sign-in mode written into the shell.
    pub auth: AuthMode,
}

/// Routes serving the pages and their assets (merged into the API router).
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    routes_with(WebConfig::default())
}

/// [`routes`] with explicit settings.
pub fn routes_with<S: Clone + Send + Sync + 'static>(cfg: WebConfig) -> Router<S> {
    let shell = shell(cfg);
    let page = move || {
        let body = shell.clone();
        async move { page_response(body) }
    };
    Router::new()
        .route("/", get(page.clone()))
        .route("/signin", get(page.clone()))
        .route("/redeem", get(page.clone()))
        .route("/directory", get(page.clone()))
        .route("/issue/{token}", get(page))
        .route("/assets/{*path}", get(asset))
        .route("/favicon.ico", get(favicon))
}

fn shell(cfg: WebConfig) -> String {
    let html = ASSETS
        .get_file("index.html")
        .and_then(|f| f.contents_utf8())
        .unwrap_or("<!doctype html><title>orgcert</title>");
    html.replace("{{auth_mode}}", cfg.auth.as_str())
}

fn security_headers(resp: &mut Response) {
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
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

fn page_response(body: String) -> Response {
    let mut resp = (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            // The pages show passwords and carry issuance tokens in their URL.
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response();
    security_headers(&mut resp);
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

async fn asset(Path(path): Path<String>) -> Response {
    let file = if path.split('/').any(|s| s.is_empty() || s == "..") || path == "index.html" {
        None
    } else {
        ASSETS.get_file(&path)
    };
    let mut resp = match file {
        Some(f) => (
            [
                (header::CONTENT_TYPE, content_type(&path)),
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
    security_headers(&mut resp);
    resp
}

async fn favicon() -> Response {
    asset(Path("icon.svg".to_owned())).await
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(shell(WebConfig::default()).contains("content=\"local\""));
    }
}
