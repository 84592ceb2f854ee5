//! Memory stays bounded: `fetch_to_store` of a 100 MB media raises the process's peak RSS by
//! less than 32 MiB over a 1 MB one (parts of 8 MiB, at most two in memory), into a local
//! directory and into S3 (moto, when installed; required in CI).
//!
//! Each fetch runs in a child process (this test binary re-executed with only the ignored
//! `memory::rss_child` test and an environment variable), so its peak RSS (`VmHWM`) measures the fetch
//! alone; the emulator (and moto) run outside it. The child also prints its throughput.

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use wa_media_core::{MediaApi, RetryPolicy, Timeouts, Upload};
use wa_media_emulator::{Emulator, EmulatorHandle};
use wa_media_store::{fetch_to_store, StoreOptions};
use wa_media_testkit::moto::{s3_store, Moto};
use wa_media_testkit::process::{reported, run_ignored_test_in_child, vm_hwm_kib};

const CHILD_ENV: &str = "WA_MEDIA_STORE_RSS_CHILD";
const MB: u64 = 1_000_000;
const MIB: u64 = 1024 * 1024;
const BUCKET: &str = "wa-media-memory";

/// The production client for the emulator at these parts, without retries and with a request
/// timeout long enough for 100 MB.
fn client(graph_url: &str, lookaside_port: u16, token: &str) -> wa_media_hyper::MediaClient {
    wa_media_testkit::client::builder_at(graph_url, lookaside_port, token)
        .retry_policy(RetryPolicy::none())
        .timeouts(Timeouts::default().with_request(Some(Duration::from_secs(300))))
        .build()
        .unwrap()
}

/// Uploads a text document of `size` bytes (written 1 MiB at a time) to the emulator.
async fn upload(emu: &EmulatorHandle, size: u64) -> String {
    let c = client(emu.graph_url(), emu.lookaside_addr().port(), emu.token());
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("big.txt");
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&src).unwrap());
        let line = b"wa-media-store flat memory test: 0123456789 abcdefghijklmnopqrstuvwxyz\n";
        let block: Vec<u8> = line.iter().copied().cycle().take(MIB as usize).collect();
        let mut left = size;
        while left > 0 {
            let n = left.min(block.len() as u64) as usize;
            f.write_all(&block[..n]).unwrap();
            left -= n as u64;
        }
        f.flush().unwrap();
    }
    c.upload(Upload::from_path(&src, "text/plain".parse().unwrap()))
        .await
        .unwrap()
        .to_string()
}

/// Runs one fetch into `target` (`local` or an S3 endpoint) in a child process; returns its
/// peak RSS in KiB and its MB/s.
async fn fetch_in_child(emu: &EmulatorHandle, id: &str, size: u64, target: &str) -> (u64, f64) {
    let arg = format!(
        "{} {} {} {id} {size} {target}",
        emu.graph_url(),
        emu.lookaside_addr().port(),
        emu.token()
    );
    let stdout = tokio::task::spawn_blocking(move || {
        run_ignored_test_in_child("memory::rss_child", &[(CHILD_ENV, &arg)])
    })
    .await
    .unwrap();
    (
        reported(&stdout, "PEAK_RSS_KIB").parse().unwrap(),
        reported(&stdout, "MB_PER_S").parse().unwrap(),
    )
}

async fn check(emu: &EmulatorHandle, small: &str, large: &str, target: &str, name: &str) {
    let (s, _) = fetch_in_child(emu, small, MB, target).await;
    let (l, rate) = fetch_in_child(emu, large, 100 * MB, target).await;
    let growth = l.saturating_sub(s) * 1024;
    eprintln!(
        "fetch_to_store into {name}: peak RSS 1 MB {s} KiB, 100 MB {l} KiB (+{} KiB); 100 MB at {rate:.1} MB/s",
        growth / 1024
    );
    assert!(
        growth < 32 * MIB,
        "{name}: peak RSS grew by {} KiB from a 1 MB to a 100 MB fetch",
        growth / 1024
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peak_rss_of_a_100_mb_fetch_to_store_stays_within_32_mib() {
    let emu = Emulator::builder().start().await.unwrap();
    let small = upload(&emu, MB).await;
    let large = upload(&emu, 100 * MB).await;
    check(&emu, &small, &large, "local", "a local directory").await;
    if let Some(moto) = Moto::start_or_skip("peak_rss_of_a_100_mb_fetch_to_store (S3 part)") {
        moto.create_bucket(BUCKET);
        check(&emu, &small, &large, &moto.endpoint(), "S3 (moto)").await;
        assert!(moto.pending_multipart_uploads(BUCKET).is_empty());
    }
}

/// The child half of the test above (does nothing unless run by it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "helper: run in a child process by peak_rss_of_a_100_mb_fetch_to_store_stays_within_32_mib"]
async fn rss_child() {
    let Ok(arg) = std::env::var(CHILD_ENV) else {
        return;
    };
    let parts: Vec<&str> = arg.split(' ').collect();
    let [graph_url, lookaside_port, token, id, size, target] = parts[..] else {
        panic!("bad {CHILD_ENV}");
    };
    let size: u64 = size.parse().unwrap();
    let api = client(graph_url, lookaside_port.parse().unwrap(), token);
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn ObjectStore> = if target == "local" {
        Arc::new(LocalFileSystem::new_with_prefix(dir.path()).unwrap())
    } else {
        Arc::new(s3_store(target, BUCKET))
    };
    let id = id.parse().unwrap();
    let location = Path::from(format!("memory/{size}.txt"));
    let started = Instant::now();
    let stored = fetch_to_store(
        &api,
        &id,
        store.as_ref(),
        &location,
        StoreOptions::default(),
    )
    .await
    .unwrap();
    let secs = started.elapsed().as_secs_f64();
    assert_eq!(stored.file_size, size);
    assert_eq!(store.head(&location).await.unwrap().size, size);
    println!(
        "PEAK_RSS_KIB={}",
        vm_hwm_kib().expect("VmHWM in /proc/self/status")
    );
    println!("MB_PER_S={:.1}", size as f64 / 1e6 / secs);
}
