//! The suite of `fetch_to_store` (round trip, a digest mismatch, a truncated body, a dropped
//! future, its abort awaited through `PendingAborts`) and `upload_from_store` against the emulator, on three backends: InMemory,
//! LocalFileSystem, and S3 — moto's server on 127.0.0.1 (wa_media_testkit::moto) through
//! object_store's `AmazonS3Builder` on this crate's hyper connector (`moto::s3_store`), pending multipart uploads
//! listed through S3's ListMultipartUploads. The S3 run is skipped with a printed reason only
//! when moto is not installed and not required (CI). One test binary for all, to save disk.
//!
//! Store failures name their cause, in what a webhook's `Ingest` logs (the error chain of the
//! sink's `SinkError`), and say what another attempt may do (the workspace's `Retry` class): a
//! missing bucket on moto (named; Later), a closed port (connection refused, host:port; Later),
//! and an S3 stand-in answering AccessDenied, InvalidAccessKeyId or SignatureDoesNotMatch
//! (Never), or never answering (timeout; Later) — never with a credential in the text.

mod common;
// In this binary rather than its own: one test binary less in target/.
#[cfg(target_os = "linux")]
#[path = "common/memory.rs"]
mod memory;

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use common::Backend;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{ClientOptions, ObjectStore, RetryConfig};
use wa_media_core::{Retry, Retryable};
use wa_media_store::{fetch_to_store, HyperConnector, StoreError, StoreOptions};
use wa_media_testkit::moto::{s3_error, s3_store, standin, Moto};
use wa_media_testkit::net::within;

fn memory() -> Backend {
    Backend {
        name: "memory",
        store: Arc::new(InMemory::new()),
        attributes: true,
        // InMemory keeps a pending upload's parts in the upload itself: nothing to list.
        leftovers: Box::new(Vec::new),
        lists_pending: false,
    }
}

/// A directory store; leftovers are its staging files (`NAME#N`) and any stray file.
fn local(dir: &std::path::Path) -> Backend {
    let root = dir.to_owned();
    Backend {
        name: "local",
        store: Arc::new(
            LocalFileSystem::new_with_prefix(dir)
                .unwrap()
                .with_automatic_cleanup(true),
        ),
        attributes: false,
        lists_pending: true,
        leftovers: Box::new(move || {
            let mut out = Vec::new();
            let mut stack = vec![root.clone()];
            while let Some(d) = stack.pop() {
                for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                    let p = e.path();
                    if p.is_dir() {
                        stack.push(p);
                    } else if p.to_string_lossy().contains('#') {
                        out.push(p.display().to_string());
                    }
                }
            }
            out
        }),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_memory_passes_the_suite() {
    let env = common::env().await;
    let b = memory();
    common::round_trip(&env, &b).await;
    common::digest_mismatch(&env, &b).await;
    common::truncated(&env, &b).await;
    common::dropped(&env, &b).await;
    common::dropped_abort_is_awaited(&env, &b).await;
    common::upload_from_store_arrives_intact(&env, &b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_file_system_passes_the_suite() {
    let env = common::env().await;
    let dir = tempfile::tempdir().unwrap();
    let b = local(dir.path());
    common::round_trip(&env, &b).await;
    common::digest_mismatch(&env, &b).await;
    common::truncated(&env, &b).await;
    common::dropped(&env, &b).await;
    common::dropped_abort_is_awaited(&env, &b).await;
    common::upload_from_store_arrives_intact(&env, &b).await;
}

const BUCKET: &str = "wa-media-test";

fn s3(moto: &Arc<Moto>) -> Backend {
    let store = s3_store(&moto.endpoint(), BUCKET);
    let m = moto.clone();
    Backend {
        name: "s3",
        store: Arc::new(store),
        attributes: true,
        leftovers: Box::new(move || m.pending_multipart_uploads(BUCKET)),
        lists_pending: true,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_on_moto_passes_the_suite() {
    let Some(moto) = Moto::start_or_skip("s3_on_moto_passes_the_suite") else {
        return;
    };
    let moto = Arc::new(moto);
    moto.create_bucket(BUCKET);
    let env = common::env().await;
    let b = s3(&moto);
    common::round_trip(&env, &b).await;
    common::digest_mismatch(&env, &b).await;
    common::truncated(&env, &b).await;
    common::dropped(&env, &b).await;
    common::dropped_abort_is_awaited(&env, &b).await;
    common::upload_from_store_arrives_intact(&env, &b).await;
}

/// The secret key of the stores below: it must never appear in an error.
const SECRET: &str = "wJalrXUtnFEMI-K7MDENG-SECRET";

/// An S3 client for `bucket` at `endpoint` that makes one request per operation (no
/// object_store retries) and gives up on an answer after 1 s.
fn s3_once(endpoint: &str, bucket: &str) -> AmazonS3 {
    AmazonS3Builder::new()
        .with_endpoint(endpoint)
        .with_region("us-east-1")
        .with_bucket_name(bucket)
        .with_access_key_id("AKIAEXAMPLE")
        .with_secret_access_key(SECRET)
        .with_retry(RetryConfig {
            max_retries: 0,
            ..RetryConfig::default()
        })
        .with_client_options(
            ClientOptions::new()
                .with_allow_http(true)
                .with_timeout(Duration::from_secs(1)),
        )
        .with_http_connector(HyperConnector::default())
        .build()
        .unwrap()
}

/// A media fetched into `store` fails on the store; returns the store error's Display and its
/// retry class, after checking that what `wa-media serve` logs (the chain of the `SinkError`
/// it becomes) starts with that Display and holds no credential.
async fn store_failure(env: &common::Env, store: &dyn ObjectStore) -> (String, Retry) {
    let id = common::upload(env, &common::document(1024, 7)).await;
    let location = Path::from("inbound/doc.pdf");
    let e = within(
        "fetch_to_store",
        common::LIMIT,
        fetch_to_store(&env.client, &id, store, &location, StoreOptions::default()),
    )
    .await
    .expect_err("the store fails");
    assert!(matches!(e, StoreError::Store { .. }), "{e:?}");
    let text = e.to_string();
    let class = e.retry();
    let sink_error = wa_media_webhook::SinkError::of(e);
    assert_eq!(sink_error.retry(), class);
    let logged = wa_media_core::error_chain(&sink_error);
    assert!(logged.starts_with(&text), "{logged}");
    let mut all = logged.clone();
    let mut source = std::error::Error::source(&sink_error);
    while let Some(s) = source {
        all.push_str(&format!(" / {s} / {s:?}"));
        source = s.source();
    }
    for secret in [SECRET, "AKIAEXAMPLE", env.emu.token()] {
        assert!(!all.contains(secret), "{secret} in {all}");
    }
    (text, class)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_bucket_is_named() {
    let Some(moto) = Moto::start_or_skip("a_missing_bucket_is_named") else {
        return;
    };
    let env = common::env().await;
    let store = s3_store(&moto.endpoint(), "wa-media-no-such-bucket");
    let (logged, class) = store_failure(&env, &store).await;
    insta::assert_snapshot!(logged, @r#"object store: create multipart upload inbound/doc.pdf failed: no such bucket "wa-media-no-such-bucket": create it, or correct the bucket in the store URL"#);
    // The bucket may be created yet: retried.
    assert_eq!(class, Retry::Later);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_port_is_named_as_connection_refused() {
    let env = common::env().await;
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let store = s3_once(&format!("http://127.0.0.1:{port}"), "media");
    let (logged, class) = store_failure(&env, &store).await;
    let logged = logged.replace(&port.to_string(), "PORT");
    insta::assert_snapshot!(logged, @"object store: create multipart upload inbound/doc.pdf failed: connection refused by 127.0.0.1:PORT: nothing listens there; check the store's endpoint and that the store is running");
    assert_eq!(class, Retry::Later);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_and_timeouts_are_named() {
    let env = common::env().await;
    let mut seen = Vec::new();
    for (status, body, want) in [
        (403, s3_error("AccessDenied"), Retry::Never),
        (403, s3_error("InvalidAccessKeyId"), Retry::Never),
        (403, s3_error("SignatureDoesNotMatch"), Retry::Never),
        (401, String::new(), Retry::Never),
        (0, String::new(), Retry::Later),
    ] {
        let endpoint = standin(status, &body);
        let store = s3_once(&endpoint, "media");
        let (text, class) = store_failure(&env, &store).await;
        assert_eq!(class, want, "{text}");
        let addr = endpoint.trim_start_matches("http://");
        seen.push(text.replace(addr, "ADDR"));
    }
    insta::assert_snapshot!(seen.join("\n"), @"
    object store: create multipart upload inbound/doc.pdf failed: access denied (AccessDenied): the store refused this operation to these credentials; check the bucket's policy and the credentials' permissions
    object store: create multipart upload inbound/doc.pdf failed: invalid credentials (InvalidAccessKeyId): the store refused the access key, its secret or its session token; check the credentials in the environment (see docs/object-store.md)
    object store: create multipart upload inbound/doc.pdf failed: invalid credentials (SignatureDoesNotMatch): the store refused the access key, its secret or its session token; check the credentials in the environment (see docs/object-store.md)
    object store: create multipart upload inbound/doc.pdf failed: invalid credentials: the store refused the access key, its secret or its session token; check the credentials in the environment (see docs/object-store.md)
    object store: create multipart upload inbound/doc.pdf failed: timed out talking to ADDR (no response within 1s): the store is slow or unreachable
    ");
}
