//! The emulator under load: 200 concurrent upload-then-fetch flows of mixed sizes (1 KB – 2 MB)
//! through one production client (wa-media-hyper, with retries) over real sockets, while random
//! faults (seeded) are injected on every endpoint. Afterwards: nothing stored is lost or
//! corrupted (every media the emulator holds downloads and verifies against its digest, every
//! id the client was given is among them), no download ever yielded wrong bytes as a success,
//! the emulator still answers, and the process's peak memory stayed bounded.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use wa_media_emulator::{Emulator, Endpoint, Fault};
use wa_media_hyper::{
    Error, MediaApi, MediaApiExt, MediaClient, MediaId, MediaType, RetryPolicy, Upload,
};

const FLOWS: usize = 200;
const SEED: u64 = 0x5eed_10ad;
/// Peak resident memory allowed for the whole test process (emulator + 200 flows + client).
/// The uploads' own bytes (about 55 MB in total) are held in memory by the test.
const MAX_PEAK_RSS: u64 = 768 << 20;

/// Printable bytes (a valid `text/plain` document) from a per-flow seed.
fn payload(seed: u64, len: usize) -> Vec<u8> {
    let mut rng = fastrand::Rng::with_seed(seed);
    (0..len).map(|_| rng.u8(b' '..=b'~')).collect()
}

/// Log-uniform between 1 KB and 2 MB: mostly small, some large.
fn size(rng: &mut fastrand::Rng) -> usize {
    let (lo, hi) = (1024f64.ln(), (2.0 * 1024.0 * 1024.0f64).ln());
    (lo + rng.f64() * (hi - lo)).exp() as usize
}

fn random_fault(rng: &mut fastrand::Rng) -> Fault {
    match rng.u8(0..6) {
        0 => Fault::RateLimited {
            retry_after_secs: rng.u64(0..3),
        },
        1 => Fault::ServerError {
            status: [500, 502, 503][rng.usize(0..3)],
        },
        2 => Fault::ResetMidBody,
        3 => Fault::TruncatedBody,
        4 => Fault::CorruptByte,
        _ => Fault::Delay {
            millis: rng.u64(10..200),
        },
    }
}

fn hex(d: &[u8]) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// Downloads `id` (fresh URL, verified by the client) and hashes what the stream yielded.
async fn fetch_digest(client: &MediaClient, id: &MediaId) -> Result<(u64, String), Error> {
    let mut dl = client.fetch(id).await?;
    let mut h = Sha256::new();
    let mut n = 0u64;
    while let Some(chunk) = dl.next().await {
        let chunk = chunk?;
        n += chunk.len() as u64;
        h.update(&chunk);
    }
    Ok((n, hex(&h.finalize())))
}

/// `fetch_to_file` (restarts broken transfers itself) into `dir`, as an application does it:
/// a corrupt or unreadable answer is discarded and fetched again, up to three times. Returns
/// the file's length and SHA-256 as read back from disk.
async fn fetch_file(
    client: &MediaClient,
    id: &MediaId,
    dir: &std::path::Path,
) -> Result<(u64, String), Error> {
    let path = dir.join(format!("{id}.txt"));
    let mut last = None;
    for _ in 0..3 {
        match client.fetch_to_file(id, &path).await {
            Ok(_) => {
                let bytes = std::fs::read(&path).expect("the verified file is there");
                std::fs::remove_file(&path).unwrap();
                return Ok((bytes.len() as u64, hex(&Sha256::digest(&bytes))));
            }
            Err(e @ (Error::Integrity(_) | Error::InvalidResponse { .. })) => {
                assert!(!path.exists(), "a failed fetch left a file");
                last = Some(e);
            }
            Err(e) => return Err(e),
        }
    }
    Err(last.expect("three attempts"))
}

/// Errors a flow may end with while faults are injected: each a clear, expected kind.
fn acceptable(e: &Error) -> bool {
    matches!(
        e,
        Error::Api(_)
            | Error::Integrity(_)
            | Error::Transport(_)
            | Error::Timeout { .. }
            | Error::InvalidResponse { .. }
            | Error::UrlExpired { .. }
    )
}

#[derive(Default)]
struct Tally {
    uploaded: HashMap<String, String>,
    upload_errors: Vec<String>,
    fetched: usize,
    fetch_errors: Vec<String>,
    wrong_bytes: Vec<String>,
    unexpected: Vec<String>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_flows_with_random_faults() {
    let emu = Emulator::builder().start().await.unwrap();
    let client = wa_media_hyper::builder()
        .token(emu.token())
        .phone_number_id("106540352242922")
        .graph_url(emu.graph_url())
        .trust_host(emu.lookaside_addr().to_string())
        .retry_policy(
            RetryPolicy::default()
                .with_max_attempts(5)
                .with_delays(Duration::from_millis(5), Duration::from_millis(50))
                .with_max_retry_after(Duration::from_millis(50)),
        )
        .build()
        .unwrap();

    let mut rng = fastrand::Rng::with_seed(SEED);
    let tally = Arc::new(Mutex::new(Tally::default()));
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let mut tasks = Vec::with_capacity(FLOWS);
    for flow in 0..FLOWS {
        let len = size(&mut rng);
        let seed = rng.u64(..);
        // About one flow in three injects a fault on each of its endpoints. The fault queue is
        // shared, so it hits whichever request of any flow comes next.
        let mut faults: Vec<(Endpoint, Fault)> = Vec::new();
        for e in [Endpoint::Upload, Endpoint::Retrieve, Endpoint::Download] {
            if rng.u8(0..3) == 0 {
                faults.push((e, random_fault(&mut rng)));
            }
        }
        let (client, tally, faults_ctl) = (client.clone(), tally.clone(), emu.faults().clone());
        let dir = dir.clone();
        tasks.push(tokio::spawn(async move {
            let data = payload(seed, len);
            let want = hex(&Sha256::digest(&data));
            for (e, f) in faults.iter().filter(|(e, _)| *e == Endpoint::Upload) {
                faults_ctl.push(*e, f.clone(), 1);
            }
            let mime = MediaType::parse("text/plain").unwrap();
            let upload = Upload::from_bytes(data, mime).filename(format!("flow-{flow}.txt"));
            let id = match client.upload(upload).await {
                Ok(id) => id,
                Err(e) => {
                    let mut t = tally.lock().unwrap();
                    if !acceptable(&e) {
                        t.unexpected.push(format!("upload {flow}: {e:?}"));
                    }
                    t.upload_errors.push(format!("{e}"));
                    return;
                }
            };
            tally
                .lock()
                .unwrap()
                .uploaded
                .insert(id.as_str().to_owned(), want.clone());
            for (e, f) in faults.iter().filter(|(e, _)| *e != Endpoint::Upload) {
                faults_ctl.push(*e, f.clone(), 1);
            }
            let got = fetch_file(&client, &id, dir.path()).await;
            let mut t = tally.lock().unwrap();
            match got {
                Ok((n, digest)) => {
                    if digest != want || n != len as u64 {
                        t.wrong_bytes
                            .push(format!("flow {flow}: {n} bytes, {digest}"));
                    }
                    t.fetched += 1;
                }
                Err(e) => {
                    if !acceptable(&e) {
                        t.unexpected.push(format!("fetch {flow}: {e:?}"));
                    }
                    t.fetch_errors.push(format!("{e}"));
                }
            }
        }));
    }
    for t in tasks {
        t.await.expect("no flow panicked");
    }
    emu.faults().clear();

    let t = std::mem::take(&mut *tally.lock().unwrap());
    println!(
        "uploaded {} (failed {}), fetched {} (failed {}), stored {}",
        t.uploaded.len(),
        t.upload_errors.len(),
        t.fetched,
        t.fetch_errors.len(),
        emu.media().len()
    );
    assert!(
        t.unexpected.is_empty(),
        "unexpected errors: {:#?}",
        t.unexpected
    );
    assert!(
        t.wrong_bytes.is_empty(),
        "a download succeeded with wrong bytes: {:#?}",
        t.wrong_bytes
    );
    // Retries absorb most faults: nearly every flow completes.
    assert!(
        t.uploaded.len() >= FLOWS * 85 / 100,
        "uploads: {:#?}",
        t.upload_errors
    );
    assert!(
        t.fetched >= t.uploaded.len() * 95 / 100,
        "fetches: {:#?}",
        t.fetch_errors
    );

    // Nothing lost: every id the client got is stored with the digest of what was sent…
    let stored: HashMap<String, String> = emu
        .media()
        .into_iter()
        .map(|m| (m.id.as_str().to_owned(), m.sha256.to_hex()))
        .collect();
    for (id, want) in &t.uploaded {
        assert_eq!(stored.get(id), Some(want), "media {id} lost or altered");
    }
    // …and nothing corrupted: every stored media (retried uploads' duplicates included)
    // downloads and verifies, now that no fault is pending.
    let ids: Vec<(String, String)> = stored.into_iter().collect();
    let checks = futures_util::stream::iter(ids.into_iter().map(|(id, want)| {
        let client = client.clone();
        async move {
            let parsed: MediaId = id.parse().unwrap();
            let got = fetch_digest(&client, &parsed).await;
            (id, want, got)
        }
    }))
    .buffer_unordered(16)
    .collect::<Vec<_>>()
    .await;
    for (id, want, got) in checks {
        match got {
            Ok((_, digest)) => assert_eq!(digest, want, "media {id} is corrupt"),
            Err(e) => panic!("stored media {id} does not download: {e}"),
        }
    }

    // Still answering.
    let id = client
        .upload(Upload::from_bytes(
            &b"still here"[..],
            MediaType::parse("text/plain").unwrap(),
        ))
        .await
        .expect("the emulator still accepts uploads");
    assert_eq!(
        fetch_digest(&client, &id).await.unwrap().1,
        hex(&Sha256::digest(b"still here"))
    );

    // Memory stayed bounded.
    if let Some(peak) = wa_media_testkit::process::vm_hwm_kib().map(|kib| kib * 1024) {
        println!("peak RSS {} MiB", peak >> 20);
        assert!(peak < MAX_PEAK_RSS, "peak RSS {} MiB", peak >> 20);
    }

    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "no partial or temporary file left behind"
    );
    emu.shutdown().await;
}
