//! Scenario 9: `fetch_to_store` (crate wa-media-store) of the large media from the emulator
//! into two object stores: S3 (moto's server on 127.0.0.1) and a `LocalFileSystem` in the work
//! directory. MB/s and peak RSS of each: the cost of the object-store path. moto is a Python
//! server, so its row shows moto's pace, not S3's or the client's.
//!
//! Each fetch runs in a child process (this runner re-executed with [`CHILD_ARG`]), so its peak
//! RSS is the fetch's alone (the emulator and moto run outside it); the parent reads it as it
//! reads the CLI's (`memory::peak_rss`). The child times `fetch_to_store` itself (retrieve,
//! download and verification, multipart upload, completion) and prints the seconds.
//!
//! moto is found as the store tests find it (`wa_media_testkit::moto`: `WA_MEDIA_MOTO_PYTHON`,
//! else `target/ci-venv`). Without it the S3 rows are skipped with the reason, unless moto is
//! required (`WA_MEDIA_REQUIRE_MOTO=1` or `CI`, as `.ci/run` sets): then they fail.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use wa_media_hyper::MediaId;
use wa_media_store::{fetch_to_store, open_store, StoreOptions, DEFAULT_PART_SIZE};
use wa_media_testkit::moto::{self, Moto};

use crate::environment::{client_to, mb_per_s, run_on, runtime, Environment, Plan};
use crate::memory::peak_rss;
use crate::report::Row;

/// The first argument that makes `wa-media-bench` the child of this stage.
pub const CHILD_ARG: &str = "--fetch-to-store-child";
/// The bucket created in moto.
const BUCKET: &str = "wa-media-bench";
/// The object's name under the store's prefix.
const OBJECT: &str = "media.txt";
/// The emulator's coordinates, given to the child in its environment.
const ENV_TOKEN: &str = "WA_MEDIA_BENCH_TOKEN";
const ENV_GRAPH: &str = "WA_MEDIA_BENCH_GRAPH_URL";
const ENV_LOOKASIDE: &str = "WA_MEDIA_BENCH_LOOKASIDE";

/// The rows of scenario 9: MB/s and peak RSS into a local directory and into moto.
pub fn rows(env: &Environment) -> Vec<Row> {
    let size = env.plan.big;
    let label = Plan::size_label(size);
    let pair = |key: &str, into: &str| {
        (
            Row::new(
                format!("store.{key}"),
                9,
                format!("fetch_to_store {label} into {into}"),
                "wa-media-store",
                "MB/s",
            ),
            Row::new(
                format!("store.{key}.rss"),
                9,
                format!("fetch_to_store {label} into {into}, peak RSS"),
                "wa-media-store",
                "MiB",
            ),
        )
    };
    let media = env
        .payload("store-big.txt", size, 9 + size)
        .and_then(|p| env.upload(&p));
    let mut out = Vec::new();

    let (mut rate, mut rss) = pair("local", "a local directory (LocalFileSystem)");
    match &media {
        Err(e) => fail_both(&mut rate, &mut rss, e),
        Ok(id) => {
            let dir = env.work.join("store-local");
            let r = local(env, id, &dir, &mut rate, &mut rss);
            let _ = std::fs::remove_dir_all(&dir);
            if let Err(e) = r {
                fail_both(&mut rate, &mut rss, e);
            }
            rate.note("LocalFileSystem in the work directory; no fsync");
        }
    }
    out.extend([rate, rss]);

    let (mut rate, mut rss) = pair("moto", "S3 (moto on 127.0.0.1)");
    match (&media, moto::python()) {
        (Err(e), _) => fail_both(&mut rate, &mut rss, e),
        (Ok(_), Err(why)) if moto::required() => fail_both(
            &mut rate,
            &mut rss,
            format!("moto is required here (WA_MEDIA_REQUIRE_MOTO / CI) but {why}"),
        ),
        (Ok(_), Err(why)) => {
            rate.skip(format!("no moto: {why}"));
            rss.skip(format!("no moto: {why}"));
        }
        (Ok(id), Ok(python)) => {
            if let Err(e) = s3(env, id, python, &mut rate, &mut rss) {
                fail_both(&mut rate, &mut rss, e);
            }
            rate.note("moto is a Python server: its pace, not S3's");
        }
    }
    out.extend([rate, rss]);

    if let Ok(id) = &media {
        env.delete(id);
    }
    out
}

fn fail_both(rate: &mut Row, rss: &mut Row, e: impl std::fmt::Display) {
    let e = e.to_string();
    rate.fail(&e);
    rss.fail(&e);
}

fn local(
    env: &Environment,
    id: &MediaId,
    dir: &Path,
    rate: &mut Row,
    rss: &mut Row,
) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let url = format!("file://{}", dir.display());
    measure(env, id, &url, None, rate, rss)?;
    let got = std::fs::metadata(dir.join(OBJECT)).map(|m| m.len()).ok();
    if got != Some(env.plan.big) {
        return Err(format!("the stored file has {got:?} bytes"));
    }
    Ok(())
}

fn s3(
    env: &Environment,
    id: &MediaId,
    python: std::path::PathBuf,
    rate: &mut Row,
    rss: &mut Row,
) -> Result<(), String> {
    let moto = Moto::start(python).map_err(|e| format!("moto did not start: {e}"))?;
    // The testkit's helpers assert (they are test code): a panic here is a failed row.
    let quiet = |f: &dyn Fn()| {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|p| {
            p.downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_else(|| "moto: request failed".into())
        })
    };
    quiet(&|| moto.create_bucket(BUCKET))?;
    measure(
        env,
        id,
        &format!("s3://{BUCKET}/bench"),
        Some(&moto.endpoint()),
        rate,
        rss,
    )?;
    quiet(&|| {
        let p = moto.pending_multipart_uploads(BUCKET);
        assert!(p.is_empty(), "multipart uploads left pending: {p:?}");
    })
}

/// Runs the child `runs` times (after one untimed warm-up in a full run) into `url`.
fn measure(
    env: &Environment,
    id: &MediaId,
    url: &str,
    endpoint: Option<&str>,
    rate: &mut Row,
    rss: &mut Row,
) -> Result<(), String> {
    let runs = if env.plan.quick { 1 } else { 3 };
    let warmup = usize::from(!env.plan.quick);
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    for run in 0..warmup + runs {
        let mut cmd = Command::new(&exe);
        cmd.arg(CHILD_ARG)
            .arg(url)
            .arg(endpoint.unwrap_or("-"))
            .arg(id.as_str())
            .arg(env.plan.big.to_string());
        // Only moto's test credentials reach the child's `from_env` builder.
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("AWS_") {
                cmd.env_remove(k);
            }
        }
        cmd.env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "us-east-1")
            .env(ENV_TOKEN, env.emu.token())
            .env(ENV_GRAPH, env.emu.graph_url())
            .env(ENV_LOOKASIDE, env.emu.lookaside_addr().to_string());
        let (mib, stdout) = peak_rss(&mut cmd)?;
        let secs: f64 = String::from_utf8_lossy(&stdout)
            .trim()
            .parse()
            .map_err(|e| format!("the child printed no seconds: {e}"))?;
        if run >= warmup {
            rate.samples.push(mb_per_s(
                env.plan.big,
                std::time::Duration::from_secs_f64(secs),
            ));
            rss.samples.push(mib);
        }
    }
    rate.note(format!(
        "child process, new client; parts of {} MiB, at most 2 in memory",
        DEFAULT_PART_SIZE / (1024 * 1024)
    ));
    rss.note("the child's VmHWM polled every 1 ms");
    Ok(())
}

/// The child: `CHILD_ARG URL ENDPOINT|- MEDIA_ID SIZE`, the emulator in its environment. Prints
/// the seconds `fetch_to_store` took.
pub fn child(args: &[String]) -> Result<(), String> {
    let [url, endpoint, id, size] = args else {
        return Err(format!("usage: {CHILD_ARG} URL ENDPOINT|- MEDIA_ID SIZE"));
    };
    let var = |name: &str| std::env::var(name).map_err(|_| format!("{name} is not set"));
    let client = client_to(&var(ENV_TOKEN)?, &var(ENV_GRAPH)?, &var(ENV_LOOKASIDE)?)?;
    let endpoint = (endpoint != "-").then_some(endpoint.as_str());
    let opened = open_store(url, endpoint).map_err(|e| format!("{url}: {e}"))?;
    let location = opened.prefix.clone().join(OBJECT);
    let id: MediaId = id.parse().map_err(|e| format!("media id: {e}"))?;
    let size: u64 = size.parse().map_err(|e| format!("size: {e}"))?;
    let rt = runtime("fetch-to-store", 2)?;
    let started = Instant::now();
    let stored = run_on(&rt, async move {
        fetch_to_store(
            &client,
            &id,
            opened.store.as_ref(),
            &location,
            StoreOptions::default(),
        )
        .await
    })?
    .map_err(|e| format!("fetch_to_store: {e}"))?;
    let took = started.elapsed();
    if stored.file_size != size {
        return Err(format!("stored {} bytes, not {size}", stored.file_size));
    }
    println!("{}", took.as_secs_f64());
    Ok(())
}
