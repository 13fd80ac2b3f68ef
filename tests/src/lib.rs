//! orgcert integration tests: shared suites and helpers for the test binaries in `tests/`.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod conformance;
pub mod counting;
mod decorate;
pub mod faults;
pub mod load;
pub mod moto;
pub mod signing;
pub mod spawn;
pub mod tools;
