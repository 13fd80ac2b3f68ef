//! The HTTP floor under the OCSP figures (bench/run, issue 15): the stack `orgcert serve`
//! answers on — tokio's multi-thread runtime (`Runtime::new`), `axum::serve`, hyper —
//! answering every `POST /ocsp` with one fixed body after reading the request body, and
//! doing nothing else: no parsing, no lookup, no caching headers. What a response costs
//! here is what any answer costs on this machine with this stack; orgcert's per-response
//! CPU is measured next to it by `cargo bench -p orgcert-tests --bench compare`.
//!
//! usage: bare-http ADDR BODY_FILE   (listens on ADDR, 127.0.0.1 only in the bench)

use axum::body::Bytes;
use axum::http::header;
use axum::routing::post;

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(addr), Some(file)) = (args.next(), args.next()) else {
        eprintln!("usage: bare-http ADDR BODY_FILE");
        std::process::exit(2);
    };
    let body = Bytes::from(std::fs::read(&file).expect("read BODY_FILE"));
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    rt.block_on(async move {
        let app = axum::Router::new().route(
            "/ocsp",
            post(move |_request: Bytes| {
                let body = body.clone();
                async move { ([(header::CONTENT_TYPE, "application/ocsp-response")], body) }
            }),
        );
        let listener = tokio::net::TcpListener::bind(&addr)
            .await
            .expect("bind ADDR");
        axum::serve(listener, app).await.expect("serve");
    });
}
