//! The browser pages, embedded in the binary and served by the same router as the API.
//! They are a client of the public `/v1` API only.
#![forbid(unsafe_code)]

use axum::Router;

/// Routes serving the pages and their assets (merged into the API router).
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
}
