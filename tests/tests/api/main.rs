//! API integration tests over HTTP against an in-process server with a temp data dir.
mod aws_backend;
mod bad_input;
mod concurrency;
mod helpers;
mod interop;
mod lifecycle;
mod model;
mod status;
