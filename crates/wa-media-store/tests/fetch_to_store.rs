//! `fetch_to_store` on InMemory and LocalFileSystem against the emulator: round trip, a digest
//! mismatch, a truncated body and a dropped future (the S3 run of the same suite: s3_moto.rs).

mod common;

use std::sync::Arc;

use common::Backend;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;

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
    common::upload_from_store_arrives_intact(&env, &b).await;
}
