//! orgcert domain: organisations, certificate profiles, certificates and their lifecycle.
//!
//! No AWS, HTTP or SQL type appears here: adapters implement the [`ports`] and the
//! [`app::App`] use cases orchestrate them.
#![forbid(unsafe_code)]

pub mod app;
pub mod audit_chain;
pub mod auth;
pub mod clock;
pub mod error;
pub mod events;
pub mod ids;
pub mod lifecycle;
pub mod model;
pub mod ocsp_cache;
pub mod ports;
pub mod secret;
pub mod secrets;
pub mod store_support;

pub use error::{DomainError, FieldError};
