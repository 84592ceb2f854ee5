//! The suite of `fetch_to_store` (round trip, a digest mismatch, a truncated body, a dropped
//! future, its abort awaited through `PendingAborts`) and `upload_from_store` against the emulator, on three backends: InMemory,
//! LocalFileSystem, and S3 — moto's server on 127.0.0.1 (wa_media_testkit::moto) through
//! object_store's `AmazonS3Builder` on this crate's hyper connector (`moto::s3_store`), pending multipart uploads
//! listed through S3's ListMultipartUploads. The S3 run is skipped with a printed reason only
//! when moto is not installed and not required (CI). One test binary for all, to save disk.

mod common;
// In this binary rather than its own: one test binary less in target/.
#[cfg(target_os = "linux")]
#[path = "common/memory.rs"]
mod memory;

use std::sync::Arc;

use common::Backend;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use wa_media_testkit::moto::{s3_store, Moto};

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
