//! Memory stays flat: a 100 MB upload and download through the production client raise the
//! process's peak RSS by less than 16 MiB over a 1 MB transfer.
//!
//! Each transfer runs in a child process (this test binary re-executed with only the ignored
//! `rss_child` test and an environment variable), so its peak RSS (`VmHWM`) measures the
//! client alone; the emulator runs in the parent.
#![cfg(target_os = "linux")]

use std::io::Write;
use std::time::Duration;

use sha2::{Digest, Sha256};
use wa_media_emulator::{Emulator, EmulatorHandle, Endpoint};
use wa_media_hyper::{MediaApi, MediaApiExt, RetryPolicy, Upload};
use wa_media_testkit::process::{reported, run_ignored_test_in_child, vm_hwm_kib};

const CHILD_ENV: &str = "WA_MEDIA_HYPER_RSS_CHILD";
const MB: u64 = 1_000_000;
const MIB: u64 = 1024 * 1024;

/// Runs one upload + download of `size` bytes in a child process; returns its peak RSS in KiB.
async fn transfer_in_child(emu: &EmulatorHandle, size: u64) -> u64 {
    let arg = format!(
        "{} {} {} {size}",
        emu.graph_url(),
        emu.lookaside_addr().port(),
        emu.token()
    );
    let stdout = tokio::task::spawn_blocking(move || {
        run_ignored_test_in_child("rss_child", &[(CHILD_ENV, &arg)])
    })
    .await
    .unwrap();
    reported(&stdout, "PEAK_RSS_KIB").parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peak_rss_stays_flat_from_1_mb_to_100_mb() {
    let emu = Emulator::builder().start().await.unwrap();
    let small = transfer_in_child(&emu, MB).await;
    let large = transfer_in_child(&emu, 100 * MB).await;
    let growth = large.saturating_sub(small) * 1024;
    eprintln!("peak RSS: 1 MB transfer {small} KiB, 100 MB transfer {large} KiB");
    assert!(
        growth < 16 * MIB,
        "peak RSS grew by {} KiB from a 1 MB to a 100 MB transfer",
        growth / 1024
    );
    // Both transfers really happened: two uploads and two downloads of the right sizes.
    let log = emu.request_log();
    let count = |ep| {
        log.iter()
            .filter(|r| r.endpoint == Some(ep) && r.status == 200)
            .count()
    };
    assert_eq!(count(Endpoint::Upload), 2);
    assert_eq!(count(Endpoint::Download), 2);
    let mut sizes: Vec<u64> = emu.media().iter().map(|m| m.file_size).collect();
    sizes.sort_unstable();
    assert_eq!(sizes, vec![MB, 100 * MB]);
}

/// The child half of the test above (does nothing unless run by it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "helper: run in a child process by peak_rss_stays_flat_from_1_mb_to_100_mb"]
async fn rss_child() {
    let Ok(arg) = std::env::var(CHILD_ENV) else {
        return;
    };
    let parts: Vec<&str> = arg.split(' ').collect();
    let [graph_url, lookaside_port, token, size] = parts[..] else {
        panic!("bad {CHILD_ENV}");
    };
    let size: u64 = size.parse().unwrap();
    let client =
        wa_media_testkit::client::builder_at(graph_url, lookaside_port.parse().unwrap(), token)
            .retry_policy(RetryPolicy::none())
            .timeouts(
                wa_media_hyper::Timeouts::default().with_request(Some(Duration::from_secs(300))),
            )
            .build()
            .unwrap();

    // A text document of `size` bytes, written and hashed 1 MiB at a time.
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("big.txt");
    let mut digest = Sha256::new();
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&src).unwrap());
        let line = b"wa-media flat memory test: 0123456789 abcdefghijklmnopqrstuvwxyz\n";
        let block: Vec<u8> = line.iter().copied().cycle().take(MIB as usize).collect();
        let mut left = size;
        while left > 0 {
            let n = left.min(block.len() as u64) as usize;
            f.write_all(&block[..n]).unwrap();
            digest.update(&block[..n]);
            left -= n as u64;
        }
        f.flush().unwrap();
    }
    let expected: String = digest
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();

    let id = client
        .upload(Upload::from_path(&src, "text/plain".parse().unwrap()))
        .await
        .unwrap();
    std::fs::remove_file(&src).unwrap();
    let dest = dir.path().join("back.txt");
    let file = client.fetch_to_file(&id, &dest).await.unwrap();
    assert_eq!(file.file_size, size);
    assert_eq!(file.sha256.to_string(), expected);
    assert_eq!(std::fs::metadata(&dest).unwrap().len(), size);
    println!(
        "PEAK_RSS_KIB={}",
        vm_hwm_kib().expect("VmHWM in /proc/self/status")
    );
}
