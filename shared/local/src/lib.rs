//! orgcert embedded adapters: the SQLite [`Store`](orgcert_core::ports::Store), files
//! behind HMAC-signed expiring links, and a mail outbox of `.eml` files.
//!
//! Everything lives in one data directory, so the local server and the CLI share it.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod code_key;
mod fsutil;
pub mod objects;
pub mod outbox;
pub mod store;

pub use code_key::load_or_create_code_key;
pub use objects::{FsObjects, LinkError};
pub use outbox::{OutboxEntry, OutboxMailer};
pub use store::SqliteStore;
