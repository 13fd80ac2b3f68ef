//! Objects conformance: files behind HMAC links (served like the local server does) and
//! S3-on-moto behind presigned GETs.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use orgcert_aws::{provision, S3Objects, MAX_LINK_TTL};
use orgcert_core::ports::Objects;
use orgcert_local::FsObjects;
use orgcert_tests::conformance::objects_conformance;
use orgcert_tests::moto::{Moto, REGION};
use serde::Deserialize;
use time::{Duration, OffsetDateTime};

use crate::helpers::clients;

#[derive(Deserialize)]
struct Link {
    expires: i64,
    sig: String,
}

/// What `/_local/objects/{*key}` does in the local server: verify, then serve.
async fn serve(
    State(objects): State<Arc<FsObjects>>,
    Path(key): Path<String>,
    Query(link): Query<Link>,
) -> Result<Vec<u8>, StatusCode> {
    objects
        .verify(&key, link.expires, &link.sig, OffsetDateTime::now_utc())
        .await
        .map_err(|_| StatusCode::FORBIDDEN)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fs_objects_conform() {
    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let objects = Arc::new(FsObjects::new(dir.path(), &base).unwrap());
    let app = Router::new()
        .route("/_local/objects/{*key}", get(serve))
        .with_state(objects.clone());
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    objects_conformance(objects).await;
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_objects_conform() {
    let Some(moto) = Moto::try_start() else {
        return;
    };
    let c = clients(&moto).await;
    provision::create_bucket(&c.s3, &c.cfg.bucket, REGION)
        .await
        .expect("bucket");
    let objects = Arc::new(S3Objects::new(c.s3.clone(), &c.cfg.bucket));
    objects_conformance(objects.clone()).await;

    // Every put asks for server-side encryption.
    objects
        .put("p12/sse.p12", b"x".to_vec(), "application/x-pkcs12")
        .await
        .unwrap();
    let head =
        c.s3.head_object()
            .bucket(&c.cfg.bucket)
            .key("p12/sse.p12")
            .send()
            .await
            .unwrap();
    assert_eq!(
        head.server_side_encryption(),
        Some(&aws_sdk_s3::types::ServerSideEncryption::Aes256)
    );
    assert_eq!(head.content_type(), Some("application/x-pkcs12"));

    // Links live at most ten minutes, whatever is asked.
    let url = objects
        .presign("p12/sse.p12", Duration::hours(6), OffsetDateTime::now_utc())
        .await
        .unwrap();
    assert!(
        url.contains(&format!("X-Amz-Expires={}", MAX_LINK_TTL.whole_seconds())),
        "{url}"
    );

    // The bucket expires PKCS#12 objects by a lifecycle rule.
    let rules =
        c.s3.get_bucket_lifecycle_configuration()
            .bucket(&c.cfg.bucket)
            .send()
            .await
            .unwrap();
    let rule = &rules.rules()[0];
    assert_eq!(
        rule.filter().and_then(|f| f.prefix()),
        Some(provision::P12_PREFIX)
    );
    assert_eq!(
        rule.expiration().and_then(|e| e.days()),
        Some(provision::P12_EXPIRY_DAYS)
    );
}
