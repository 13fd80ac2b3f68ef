//! API integration tests over HTTP against an in-process server with a temp data dir.
mod abuse;
mod aws_backend;
mod bad_input;
mod concurrency;
mod cost;
mod events;
mod guide;
mod helpers;
mod hierarchy;
mod interop;
mod lifecycle;
mod local_only;
mod matrix;
mod model;
mod status;
