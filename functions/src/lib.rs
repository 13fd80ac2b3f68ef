//! Composition roots. `local` wires the embedded default: SQLite, a CA key file, files
//! with signed links and a mail outbox, around the shared router.
#![forbid(unsafe_code)]

pub mod audit;
pub mod aws;
pub mod local;
pub mod mtls;
pub mod renew;
