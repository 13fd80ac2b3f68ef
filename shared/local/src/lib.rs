//! orgcert embedded adapters: the SQLite [`Store`](orgcert_core::ports::Store), files
//! behind HMAC-signed expiring links, and a mail outbox of `.eml` files.
//!
//! Everything lives in one data directory, so the local server and the CLI share it. The
//! embedded default's composition pieces live here too: its configuration, the CA
//! bootstrap, the token key, the demo data, the CRL rebuilder and the local-only routes
//! (`functions/src/local.rs` only wires them).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod bootstrap;
pub mod code_key;
pub mod config;
pub mod demo;
mod fsutil;
pub mod jobs;
mod keyfile;
pub mod objects;
pub mod outbox;
pub mod site;
pub mod store;
pub mod tokens;

pub use code_key::load_or_create_code_key;
pub use objects::{FsObjects, LinkError};
pub use outbox::{OutboxEntry, OutboxMailer};
pub use store::SqliteStore;
