//! Adapter suites against moto (AWS) and against the embedded adapters, plus fault
//! injection through the full `App`. Needs `MOTO_SERVER` (tests/aws/run), else skips.

mod cost;
mod events;
mod faults;
mod helpers;
mod mailer;
mod objects;
mod parity;
mod rollover;
mod signer;
mod status;
mod throttling;
