//! Fuzz tests on stable Rust (proptest): arbitrary input never panics the service, never
//! gets a 5xx, and every answer is one the OpenAPI document lists for its operation.
//!
//! `cargo test -p orgcert-tests --test fuzz` runs about 2,000 cases in all;
//! `ORGCERT_FUZZ_CASES=100000` raises the total (each test prints its cases and time).
mod harness;
mod parsers;
mod routes;
