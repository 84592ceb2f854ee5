//! `wa-media serve --store s3://…` (issue 17) through the built binary: media announced by
//! webhooks are fetched from the emulator into a real S3 protocol server (moto, on
//! 127.0.0.1), under random download and retrieve faults; every object is compared with what
//! was sent, its metadata object says it was saved, one customer's `invoice.pdf` never
//! replaces another's, and no multipart upload is left pending. And a signal (SIGTERM, SIGINT)
//! arriving while a large media is halfway through its multipart upload: the fetch is cut off
//! after `--grace`, and `serve` exits only after that upload was aborted (nothing pending in
//! the bucket, no object, no `saved` metadata), the media staying in the spool; the restart
//! saves it once, verified. Skipped with a printed reason only when moto is not installed and
//! not required (CI).

#[allow(dead_code)]
mod common;

use std::sync::Arc;

use std::time::{Duration, Instant};

use common::raw_http::StallingMedia;
use common::running::wait_until;
use common::serve::{is_spooled, jpeg, requests_to, spooled, Serve, WAIT};
use common::Env;
use serde_json::Value;
use wa_media_emulator::{Endpoint, Fault, InboundMessage, SimulatedInbound};
use wa_media_store::object_store::path::Path;
use wa_media_store::object_store::{ObjectStore, ObjectStoreExt};
use wa_media_store::DEFAULT_PART_SIZE;
use wa_media_testkit::moto::{s3_store, Moto};
use wa_media_types::Sha256Digest;

const BUCKET: &str = "wa-media-inbound";
/// Media in the run (the issue asks for 200; one media per notification).
const MEDIA: usize = 200;
/// Faults queued at random on retrieves and downloads.
const FAULTS: usize = 30;

#[test]
fn serve_store_saves_every_media_into_s3_verified_under_random_faults() {
    let Some(moto) = Moto::start_or_skip("serve_store_saves_every_media_into_s3") else {
        return;
    };
    moto.create_bucket(BUCKET);
    let env = Env::start();
    let dir = env.dir.path().join("state");
    let mut rng = fastrand::Rng::with_seed(17);

    // Every fifth media is a document named invoice.pdf: same name, other bytes.
    let mut sent: Vec<(SimulatedInbound, Vec<u8>)> = Vec::new();
    for i in 0..MEDIA {
        let size = rng.usize(2_000..300_000);
        let (bytes, msg) = if i % 5 == 0 {
            let mut b = b"%PDF-1.7\n".to_vec();
            b.extend((0..size).map(|_| rng.u8(..)));
            let m = InboundMessage::new(b.clone(), "application/pdf").filename("invoice.pdf");
            (b, m)
        } else {
            let b = jpeg(size, rng.u8(..));
            (b.clone(), InboundMessage::new(b, "image/jpeg"))
        };
        let sim = env.rt.block_on(env.emu().simulate_inbound(msg)).unwrap();
        sent.push((sim, bytes));
    }
    for _ in 0..FAULTS {
        let (endpoint, fault) = match rng.u8(0..4) {
            0 => (Endpoint::Retrieve, Fault::ServerError { status: 503 }),
            1 => (Endpoint::Download, Fault::ResetMidBody),
            2 => (Endpoint::Download, Fault::TruncatedBody),
            _ => (Endpoint::Download, Fault::CorruptByte),
        };
        env.emu().faults().push(endpoint, fault, 1);
    }

    let started = std::time::Instant::now();
    let mut cmd = common::serve::serve_command(
        &env,
        &dir,
        &[
            "--store",
            &format!("s3://{BUCKET}/inbound"),
            "--store-endpoint",
            &moto.endpoint(),
        ],
    );
    cmd.env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env("RUST_LOG", "warn");
    let mut s = Serve::spawn(cmd);
    for (sim, _) in &sent {
        let r = s.deliver(&sim.body);
        assert_eq!(r.status, 200, "{}", r.text());
    }
    // A redelivery of the first notification changes nothing.
    assert_eq!(s.deliver(&sent[0].0.body).status, 200);
    let mut saved: Vec<Value> = Vec::new();
    for (sim, _) in &sent {
        saved.push(s.wait_event(std::time::Duration::from_secs(60), |v| {
            v["media_id"] == sim.media_id.as_str() && v["event"] == "saved"
        }));
    }
    let elapsed = started.elapsed();
    assert!(
        env.emu().faults().pending().is_empty(),
        "every fault was taken"
    );
    assert!(
        spooled(&dir, "failed").is_empty(),
        "{:?}",
        spooled(&dir, "failed")
    );

    let store: Arc<dyn ObjectStore> = Arc::new(s3_store(&moto.endpoint(), BUCKET));
    let mut keys = std::collections::BTreeSet::new();
    env.rt.block_on(async {
        for ((sim, bytes), event) in sent.iter().zip(&saved) {
            let key = Path::parse(event["path"].as_str().unwrap()).unwrap();
            assert!(key.as_ref().starts_with("inbound/"), "{key}");
            assert!(keys.insert(key.to_string()), "two media under {key}");
            let got = store.get(&key).await.unwrap().bytes().await.unwrap();
            assert!(
                got == bytes[..],
                "{key}: the object differs from what was sent"
            );
            assert_eq!(event["sha256"], Sha256Digest::of(bytes).to_hex());
            let name = key.filename().unwrap().to_owned();
            let parts: Vec<_> = key.parts().collect();
            let dir = Path::from_iter(parts[..parts.len() - 1].iter().cloned());
            let meta_key = dir
                .clone()
                .join(".meta")
                .join(format!("{name}.json").as_str());
            let meta: Value =
                serde_json::from_slice(&store.get(&meta_key).await.unwrap().bytes().await.unwrap())
                    .unwrap();
            assert_eq!(meta["state"], "saved", "{meta}");
            assert_eq!(meta["media_id"], sim.media_id.as_str());
            assert_eq!(meta["sha256"], Sha256Digest::of(bytes).to_hex());
            assert_eq!(meta["path"], key.to_string());
        }
    });
    let invoices = keys.iter().filter(|k| k.contains("/invoice")).count();
    assert_eq!(invoices, MEDIA / 5, "{keys:?}");
    assert!(
        moto.pending_multipart_uploads(BUCKET).is_empty(),
        "{:?}",
        moto.pending_multipart_uploads(BUCKET)
    );
    eprintln!("{MEDIA} media with {FAULTS} faults saved into moto in {elapsed:?}");
    s.signal("TERM");
    let _ = s.wait_exit(std::time::Duration::from_secs(30));
}

/// Three parts of the store's part size: the stalling host sends half (a part and a half)
/// before it stalls, so a part is uploaded or in flight when the signal comes.
const LARGE: usize = 3 * DEFAULT_PART_SIZE;

/// `serve --store s3://BUCKET/inbound` on `moto` with `extra` arguments; the Graph API and
/// download host are `env`'s emulator unless the caller sets `WHATSAPP_GRAPH_URL` again.
fn serve_store_command(
    env: &Env,
    dir: &std::path::Path,
    moto: &Moto,
    extra: &[&str],
) -> std::process::Command {
    let store = format!("s3://{BUCKET}/inbound");
    let endpoint = moto.endpoint();
    let mut args = vec![
        "--store",
        store.as_str(),
        "--store-endpoint",
        endpoint.as_str(),
    ];
    args.extend_from_slice(extra);
    let mut cmd = common::serve::serve_command(env, dir, &args);
    cmd.env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env("RUST_LOG", "info");
    cmd
}

/// Every object under `inbound/` of the bucket, with its bytes.
fn objects(env: &Env, store: &Arc<dyn ObjectStore>) -> Vec<(String, Vec<u8>)> {
    use futures_util::TryStreamExt as _;
    env.rt.block_on(async {
        let listed: Vec<_> = store
            .list(Some(&Path::from("inbound")))
            .try_collect()
            .await
            .unwrap();
        let mut out = Vec::new();
        for o in listed {
            let bytes = store.get(&o.location).await.unwrap().bytes().await.unwrap();
            out.push((o.location.to_string(), bytes.to_vec()));
        }
        out.sort();
        out
    })
}

fn is_meta(key: &str) -> bool {
    key.contains("/.meta/")
}

/// The gap this closes: a signal while a media is halfway through its multipart upload. The
/// download stalls mid-body (so the fetch is still running when `--grace` ends and is cut
/// off); `serve` must abort that upload before it exits. Then the restart, fetching from the
/// emulator, saves the media exactly once.
fn signal_mid_multipart_upload_aborts_it_before_exit(signal: &str) {
    let test = format!("signal_{signal}_mid_multipart_upload");
    let Some(moto) = Moto::start_or_skip(&test) else {
        return;
    };
    moto.create_bucket(BUCKET);
    let env = Env::start();
    let dir = env.dir.path().join("state");
    let mut bytes = b"%PDF-1.7\n".to_vec();
    let mut rng = fastrand::Rng::with_seed(signal.len() as u64);
    bytes.extend((bytes.len()..LARGE).map(|_| rng.u8(..)));
    let sim = env
        .rt
        .block_on(env.emu().simulate_inbound(
            InboundMessage::new(bytes.clone(), "application/pdf").filename("contract.pdf"),
        ))
        .unwrap();
    let media_id = sim.media_id.as_str().to_owned();
    let store: Arc<dyn ObjectStore> = Arc::new(s3_store(&moto.endpoint(), BUCKET));

    // First run: the same bytes from a host that stalls after half of them.
    let stalling = StallingMedia::start(bytes.clone(), "application/pdf");
    let mut cmd = serve_store_command(&env, &dir, &moto, &["--grace", "1"]);
    cmd.env("WHATSAPP_GRAPH_URL", stalling.url())
        .env("WHATSAPP_TRUSTED_HOSTS", stalling.addr.to_string());
    let s = Serve::spawn(cmd);
    let r = s.deliver(&sim.body);
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        stalling.wait_half_sent(WAIT),
        "the download never reached mid-body; stderr:\n{}",
        s.stderr()
    );
    assert!(
        wait_until(WAIT, Duration::from_millis(50), || !moto
            .pending_multipart_uploads(BUCKET)
            .is_empty()),
        "no multipart upload started; stderr:\n{}",
        s.stderr()
    );
    let pending = moto.pending_multipart_uploads(BUCKET);
    assert_eq!(pending.len(), 1, "{pending:?}");
    assert!(pending[0].starts_with("inbound/"), "{pending:?}");
    assert!(!pending[0].contains("/.meta/"), "{pending:?}");

    let signalled = Instant::now();
    s.signal(signal);
    let exited = s.wait_exit(WAIT);
    let stop_took = signalled.elapsed();
    // The drain path, whichever of the two signals: exit 0 with the summary line.
    assert_eq!(exited.code(), 0, "{}", exited.stderr);
    assert!(exited.stderr.contains("cut off"), "{}", exited.stderr);
    assert!(exited.events.is_empty(), "{:?}", exited.events);
    // The upload was aborted before the process ended, not left to a lifecycle rule.
    assert_eq!(
        moto.pending_multipart_uploads(BUCKET),
        Vec::<String>::new(),
        "a multipart upload outlived `serve`; stderr:\n{}",
        exited.stderr
    );
    // No object; the name's claim may stay (pending, for the retry), never as saved.
    let left = objects(&env, &store);
    for (key, body) in &left {
        assert!(is_meta(key), "an object appeared at {key}");
        let meta: Value = serde_json::from_slice(body).unwrap();
        assert_ne!(meta["state"], "saved", "{key}: {meta}");
        assert_eq!(meta["media_id"], media_id.as_str(), "{key}: {meta}");
    }
    assert!(is_spooled(&dir, &media_id), "the media left the spool");
    assert!(spooled(&dir, "failed").is_empty());

    // Restart on the same spool, from the emulator (nothing stalls): saved once, verified.
    let restarted = Instant::now();
    let mut s = Serve::spawn(serve_store_command(&env, &dir, &moto, &[]));
    let saved = s.wait_event(Duration::from_secs(90), |v| {
        v["media_id"] == media_id.as_str() && v["event"] == "saved"
    });
    let save_took = restarted.elapsed();
    let sha = Sha256Digest::of(&bytes).to_hex();
    assert_eq!(saved["sha256"], sha);
    assert_eq!(saved["file_size"], LARGE as u64);
    s.signal("TERM");
    let exited = s.wait_exit(WAIT);
    assert_eq!(exited.code(), 0, "{}", exited.stderr);
    let lines: Vec<_> = exited
        .events
        .iter()
        .filter(|v| v["media_id"] == media_id.as_str())
        .collect();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(requests_to(&env, Endpoint::Download), 1, "downloaded once");

    let key = saved["path"].as_str().unwrap();
    let all = objects(&env, &store);
    let media: Vec<_> = all.iter().filter(|(k, _)| !is_meta(k)).collect();
    assert_eq!(
        media.len(),
        1,
        "{:?}",
        all.iter().map(|(k, _)| k).collect::<Vec<_>>()
    );
    assert_eq!(media[0].0, key);
    assert!(
        media[0].1 == bytes,
        "{key}: the object differs from what was sent"
    );
    let metas: Vec<_> = all.iter().filter(|(k, _)| is_meta(k)).collect();
    assert_eq!(
        metas.len(),
        1,
        "{:?}",
        all.iter().map(|(k, _)| k).collect::<Vec<_>>()
    );
    let meta: Value = serde_json::from_slice(&metas[0].1).unwrap();
    assert_eq!(meta["state"], "saved", "{meta}");
    assert_eq!(meta["sha256"], sha, "{meta}");
    assert_eq!(meta["path"], key, "{meta}");
    assert_eq!(moto.pending_multipart_uploads(BUCKET), Vec::<String>::new());
    for sub in ["new", "cur", "failed"] {
        assert!(
            spooled(&dir, sub).is_empty(),
            "{sub}: {:?}",
            spooled(&dir, sub)
        );
    }
    eprintln!(
        "SIG{signal} mid-upload: serve stopped {stop_took:?} after the signal; the restart saved {} MiB in {save_took:?}",
        LARGE >> 20
    );
}

#[test]
fn sigterm_mid_multipart_upload_aborts_it_before_serve_exits_and_the_restart_saves_once() {
    signal_mid_multipart_upload_aborts_it_before_exit("TERM");
}

#[test]
fn sigint_mid_multipart_upload_aborts_it_before_serve_exits_and_the_restart_saves_once() {
    signal_mid_multipart_upload_aborts_it_before_exit("INT");
}

/// A store that refuses access (S3 answering 403 AccessDenied to every request): each media
/// goes to `failed/` after one attempt, with the cause in its reason and on stderr, instead of
/// being retried for minutes (issue 24: the store said "not retryable", the conversion into an
/// I/O error lost it, and ingest retried it ten times).
#[test]
fn a_store_that_refuses_access_sends_the_media_to_failed_after_one_attempt_with_the_cause() {
    let env = Env::start();
    let dir = env.dir.path().join("state");
    let endpoint =
        wa_media_testkit::moto::standin(403, &wa_media_testkit::moto::s3_error("AccessDenied"));
    let sim = env
        .rt
        .block_on(
            env.emu()
                .simulate_inbound(InboundMessage::new(jpeg(5_000, 3), "image/jpeg")),
        )
        .unwrap();
    let mut cmd = common::serve::serve_command(
        &env,
        &dir,
        &[
            "--store",
            "s3://media/inbound",
            "--store-endpoint",
            &endpoint,
        ],
    );
    cmd.env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1");
    let s = Serve::spawn(cmd);
    assert_eq!(s.deliver(&sim.body).status, 200);
    let failed = dir
        .join(".spool/failed")
        .join(format!("{}.json", sim.media_id.as_str()));
    assert!(
        wait_until(WAIT, Duration::from_millis(20), || failed.exists()),
        "{}",
        s.stderr()
    );
    s.signal("TERM");
    let exited = s.wait_exit(WAIT);
    assert_eq!(exited.code(), 0, "{}", exited.stderr);
    let entry: Value = serde_json::from_slice(&std::fs::read(&failed).unwrap()).unwrap();
    assert_eq!(entry["attempts"], 1, "{entry}");
    let reason = entry["failure"].as_str().unwrap();
    assert!(
        reason.starts_with("permanent failure: ")
            && reason.contains("access denied (AccessDenied)"),
        "{reason}"
    );
    assert!(
        exited.stderr.contains("access denied (AccessDenied)"),
        "{}",
        exited.stderr
    );
    assert!(
        !exited.stderr.contains("retrying later"),
        "{}",
        exited.stderr
    );
}
