//! The [`Objects`] contract as one suite, checked over HTTP: what a presigned link
//! serves is exactly what was put; an expired or tampered link is refused.

use std::sync::Arc;

use orgcert_core::ports::Objects;
use time::{Duration, OffsetDateTime};

/// Fetches `url`; returns (status, body).
async fn fetch(url: &str) -> (u16, Vec<u8>) {
    let resp = reqwest::get(url).await.expect("GET presigned link");
    let status = resp.status().as_u16();
    (status, resp.bytes().await.expect("body").to_vec())
}

#[track_caller]
fn assert_refused((status, body): (u16, Vec<u8>), secret: &[u8], what: &str) {
    assert!(
        !(200..300).contains(&status),
        "{what}: expected a refusal, got {status}"
    );
    assert!(
        !body.windows(secret.len()).any(|w| w == secret),
        "{what}: a refused link leaked the object"
    );
}

/// Flips the last character of a URL (the end of its signature for both adapters).
fn flip_last(url: &str) -> String {
    let mut s = url.to_owned();
    let last = s.pop().expect("non-empty URL");
    s.push(if last == '0' { '1' } else { '0' });
    s
}

/// Runs the contract against `objects`, whose links a client on this machine can fetch
/// and which judges link expiry by the wall clock.
///
/// # Panics
/// On the first breach.
pub async fn objects_conformance(objects: Arc<dyn Objects>) {
    let o = objects.as_ref();
    let now = OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .expect("seconds");
    let run = uuid::Uuid::new_v4().simple().to_string();
    let key = format!("p12/{run}.p12");
    let other = format!("p12/{run}-other.p12");
    let first: Vec<u8> = b"PKCS#12 bytes \x00\x01\xff, first".to_vec();
    let second: Vec<u8> = (0..70_000u32).map(|i| (i % 253) as u8).collect();

    o.put(&key, first.clone(), "application/x-pkcs12")
        .await
        .expect("put");
    o.put(&other, b"the other object".to_vec(), "application/x-pkcs12")
        .await
        .expect("put other");
    let link = o
        .presign(&key, Duration::minutes(10), now)
        .await
        .expect("presign");
    assert_eq!(fetch(&link).await, (200, first.clone()), "fresh link");
    assert_eq!(o.get(&key).await.expect("get"), Some(first.clone()));

    // Overwrite: a new link serves the new bytes (binary, larger than one read buffer).
    o.put(&key, second.clone(), "application/x-pkcs12")
        .await
        .expect("overwrite");
    let link = o
        .presign(&key, Duration::minutes(10), now)
        .await
        .expect("presign");
    assert_eq!(fetch(&link).await, (200, second.clone()), "after overwrite");

    // Expired: issued an hour ago with ten minutes to live.
    let old = o
        .presign(&key, Duration::minutes(10), now - Duration::hours(1))
        .await
        .expect("presign in the past");
    assert_refused(fetch(&old).await, &second[..64], "expired link");

    // Tampered: another signature, or the signature of one key used for another.
    assert_refused(
        fetch(&flip_last(&link)).await,
        &second[..64],
        "flipped signature",
    );
    let moved = link.replacen(&key, &other, 1);
    assert_ne!(moved, link);
    assert_refused(
        fetch(&moved).await,
        b"the other object",
        "link moved to another key",
    );

    // Delete: the link stops working; deleting again is no error.
    o.delete(&key).await.expect("delete");
    let gone = o
        .presign(&key, Duration::minutes(10), now)
        .await
        .expect("presign");
    assert_refused(fetch(&gone).await, &second[..64], "deleted object");
    o.delete(&key).await.expect("delete a missing object");
    assert_eq!(o.get(&key).await.expect("get missing"), None);

    // Purge by prefix and age.
    let prefix = format!("purge/{run}/");
    for i in 0..3 {
        o.put(
            &format!("{prefix}{i}.bin"),
            vec![i],
            "application/octet-stream",
        )
        .await
        .expect("put for purge");
    }
    assert_eq!(
        o.purge(&prefix, now - Duration::hours(1))
            .await
            .expect("purge none"),
        0,
        "nothing is older than an hour"
    );
    assert_eq!(
        o.purge(&prefix, now + Duration::hours(1))
            .await
            .expect("purge all"),
        3
    );
    assert_eq!(
        o.get(&format!("{prefix}0.bin")).await.expect("get purged"),
        None
    );
    assert_eq!(
        o.get(&other).await.expect("get other"),
        Some(b"the other object".to_vec()),
        "purge leaves other prefixes alone"
    );
}
