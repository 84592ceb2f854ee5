//! Scenario 12: many media at once. 10,000 fetches (500 with `--quick`) of 20 KiB media at
//! concurrency 256 on one client — each a retrieve (a fresh URL), a download and the SHA-256
//! and size check, the body drained chunk by chunk and dropped: media per second, and how much
//! the client's resident memory grows per fetch in flight.
//!
//! The fetches run in a child process (this runner re-executed with [`CHILD_ARG`], the
//! emulator's coordinates in its environment, as in `store.rs`), so that its memory is the
//! client's alone: the emulator and the parent's own client stay outside it. The child builds
//! a client, warms it with a few fetches, resets its peak RSS to the current RSS (`5` written
//! to `/proc/self/clear_refs`), reads VmRSS (the baseline), runs the fetches, and reads VmHWM:
//! the growth is VmHWM − baseline, and per in-flight fetch that divided by 256.
//!
//! The media (1,000 distinct, 50 with `--quick`, each fetched 10 times) are uploaded by the
//! parent beforehand; their ids reach the child in a file in the work directory.

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use futures_util::StreamExt;
use wa_media_core::{MediaApi, MediaApiExt, Upload};
use wa_media_hyper::MediaId;

use crate::environment::{client_to, run_on, runtime, text_bytes, text_plain, timed_command};
use crate::environment::{Environment, Plan};
use crate::report::{Report, Row, Target};

/// The row ids this stage produces.
pub const ROWS: &[&str] = &["many.fetch.c256", "many.rss_per_fetch", "many.rss"];

/// The first argument that makes `wa-media-bench` the child of this stage.
pub const CHILD_ARG: &str = "--many-media-child";

/// The scenario number in the table.
const SCENARIO: u8 = 12;
/// Fetches in flight.
const CONCURRENCY: usize = 256;
/// The size of each media.
const SIZE: usize = 20 * 1024;
/// How many times each distinct media is fetched.
const REPEAT: usize = 10;
/// Fetches made to warm the child's client before the baseline is read.
const WARM_FETCHES: usize = 8;
/// The target: RSS growth per in-flight fetch, in KiB.
const LIMIT_KIB: f64 = 64.0;
/// The emulator's coordinates, given to the child in its environment.
const ENV_TOKEN: &str = "WA_MEDIA_BENCH_TOKEN";
const ENV_GRAPH: &str = "WA_MEDIA_BENCH_GRAPH_URL";
const ENV_LOOKASIDE: &str = "WA_MEDIA_BENCH_LOOKASIDE";

/// What one child run reported.
#[derive(Debug)]
struct Measured {
    media_per_s: f64,
    baseline_kib: u64,
    hwm_kib: u64,
    /// Whether the peak could be reset after the warm-up (else VmHWM includes start-up).
    reset: bool,
    /// Open file descriptors (mostly the pool's sockets) before and after the load.
    fds: (usize, usize),
    /// Baseline and peak of the second pass (the pool's connections already open), KiB.
    second: (u64, u64),
}

/// This stage's rows.
pub fn rows(env: &Environment) -> Vec<Row> {
    let total = if env.plan.quick { 500 } else { 10_000 };
    let distinct = total / REPEAT;
    let label = Plan::size_label(SIZE as u64);
    let mut rate = Row::new(
        "many.fetch.c256",
        SCENARIO,
        format!("{total} fetches of {label} media, concurrency {CONCURRENCY}, one client"),
        "wa-media fetch",
        "media/s",
    );
    let mut per = Row::new(
        "many.rss_per_fetch",
        SCENARIO,
        format!("RSS growth per in-flight fetch (concurrency {CONCURRENCY})"),
        "wa-media fetch",
        "KiB",
    );
    let mut peak = Row::new(
        "many.rss",
        SCENARIO,
        format!("peak RSS, {total} fetches at concurrency {CONCURRENCY}"),
        "wa-media fetch",
        "MiB",
    );
    let ids = match seed(env, distinct) {
        Ok(ids) => ids,
        Err(e) => {
            for r in [&mut rate, &mut per, &mut peak] {
                r.fail(&e);
            }
            return vec![rate, per, peak];
        }
    };
    let runs = if env.plan.quick { 1 } else { 3 };
    let mut resets = true;
    let mut growth = Vec::new();
    let mut fds = Vec::new();
    let mut second = Vec::new();
    match write_ids(env, &ids) {
        Err(e) => {
            for r in [&mut rate, &mut per, &mut peak] {
                r.fail(&e);
            }
        }
        Ok(file) => {
            for _ in 0..runs {
                match run_child(env, &file, total) {
                    Ok(m) => {
                        let grown = m.hwm_kib.saturating_sub(m.baseline_kib);
                        rate.samples.push(m.media_per_s);
                        per.samples.push(grown as f64 / CONCURRENCY as f64);
                        peak.samples.push(m.hwm_kib as f64 / 1024.0);
                        growth.push(format!(
                            "{:.1}→{:.1}",
                            m.baseline_kib as f64 / 1024.0,
                            m.hwm_kib as f64 / 1024.0
                        ));
                        resets &= m.reset;
                        fds.push(format!("{}→{}", m.fds.0, m.fds.1));
                        second.push(
                            m.second.1.saturating_sub(m.second.0) as f64 / CONCURRENCY as f64,
                        );
                    }
                    Err(e) => {
                        for r in [&mut rate, &mut per, &mut peak] {
                            r.fail(&e);
                        }
                        break;
                    }
                }
            }
            let _ = std::fs::remove_file(&file);
        }
    }
    rate.note(format!(
        "{distinct} distinct media, each fetched {REPEAT} times; retrieve + download + verify \
         each, body drained and dropped; child process, new client per run"
    ));
    per.note(format!(
        "(peak − baseline) / {CONCURRENCY}; baseline after {WARM_FETCHES} warm-up fetches, so \
         the growth includes the connections opened for the load; must be < {LIMIT_KIB} KiB"
    ));
    per.note(format!("MiB baseline→peak per run: {}", growth.join(", ")));
    per.note(format!(
        "open descriptors (the pool's sockets) before→after: {}",
        fds.join(", ")
    ));
    second.sort_by(f64::total_cmp);
    if let Some(m) = crate::report::median(&second) {
        per.note(format!(
            "a second pass with the pool's connections already open grows {m:.1} KiB per \
             in-flight fetch (median): the rest is held by the connections"
        ));
    }
    if !resets {
        per.note("VmHWM could not be reset after the warm-up: the peak may include start-up");
    }
    peak.note("the child's VmHWM (the client alone; the emulator runs in the parent)");
    for id in &ids {
        env.delete(id);
    }
    vec![rate, per, peak]
}

/// Uploads `n` distinct media of [`SIZE`] bytes, 8 at a time.
fn seed(env: &Environment, n: usize) -> Result<Vec<MediaId>, String> {
    let client = env.client.clone();
    run_on(&env.client_rt, async move {
        let next = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let client = client.clone();
            let next = next.clone();
            tasks.push(tokio::spawn(async move {
                let mut ids = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        break;
                    }
                    let bytes = text_bytes(SIZE, 12_000 + i as u64);
                    let id = client
                        .upload(Upload::from_bytes(bytes, text_plain()))
                        .await
                        .map_err(|e| format!("upload: {e}"))?;
                    ids.push(id);
                }
                Ok::<_, String>(ids)
            }));
        }
        let mut ids = Vec::with_capacity(n);
        for t in tasks {
            ids.extend(t.await.map_err(|e| e.to_string())??);
        }
        Ok(ids)
    })?
}

fn write_ids(env: &Environment, ids: &[MediaId]) -> Result<std::path::PathBuf, String> {
    let path = env.work.join("many-media-ids.txt");
    let text: String = ids.iter().map(|id| format!("{}\n", id.as_str())).collect();
    std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path)
}

fn run_child(env: &Environment, ids: &std::path::Path, total: usize) -> Result<Measured, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let mut cmd = Command::new(exe);
    cmd.arg(CHILD_ARG)
        .arg(ids)
        .arg(total.to_string())
        .env(ENV_TOKEN, env.emu.token())
        .env(ENV_GRAPH, env.emu.graph_url())
        .env(ENV_LOOKASIDE, env.emu.lookaside_addr().to_string());
    let (_, stdout) = timed_command(&mut cmd, "the many-media child")?;
    parse(&String::from_utf8_lossy(&stdout))
}

/// Reads the child's line:
/// `MEDIA_PER_S BASELINE_KIB HWM_KIB RESET FDS_BEFORE FDS_AFTER BASELINE2_KIB HWM2_KIB`.
fn parse(line: &str) -> Result<Measured, String> {
    let bad = || format!("the child printed {:?}", line.trim());
    let f: Vec<&str> = line.split_whitespace().collect();
    let [rate, base, hwm, reset, fd0, fd1, base2, hwm2] = f.as_slice() else {
        return Err(bad());
    };
    Ok(Measured {
        media_per_s: rate.parse().map_err(|_| bad())?,
        baseline_kib: base.parse().map_err(|_| bad())?,
        hwm_kib: hwm.parse().map_err(|_| bad())?,
        reset: *reset == "reset",
        fds: (
            fd0.parse().map_err(|_| bad())?,
            fd1.parse().map_err(|_| bad())?,
        ),
        second: (
            base2.parse().map_err(|_| bad())?,
            hwm2.parse().map_err(|_| bad())?,
        ),
    })
}

/// How many file descriptors this process has open.
fn open_fds() -> Result<usize, String> {
    Ok(std::fs::read_dir("/proc/self/fd")
        .map_err(|e| format!("/proc/self/fd: {e}"))?
        .count())
}

/// A `kB` field of `/proc/self/status`.
fn status_kib(field: &str) -> Result<u64, String> {
    let status = std::fs::read_to_string("/proc/self/status")
        .map_err(|e| format!("/proc/self/status: {e}"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim_start_matches(':').split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("no {field} in /proc/self/status"))
}

/// `total` fetches spread over `concurrency` tasks, ids taken in turn; every body drained to
/// the end (its chunks dropped) and its length checked.
async fn fetch_all(
    client: wa_media_hyper::HyperMediaClient,
    ids: Arc<Vec<MediaId>>,
    total: usize,
    concurrency: usize,
) -> Result<(), String> {
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        let client = client.clone();
        let ids = ids.clone();
        let next = next.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    break;
                }
                let id = &ids[i % ids.len()];
                let mut body = client.fetch(id).await.map_err(|e| format!("fetch: {e}"))?;
                let mut got = 0usize;
                while let Some(chunk) = body.next().await {
                    got += chunk.map_err(|e| format!("fetch body: {e}"))?.len();
                }
                if got != SIZE {
                    return Err(format!("got {got} of {SIZE} bytes"));
                }
            }
            Ok::<(), String>(())
        }));
    }
    for t in tasks {
        t.await.map_err(|e| e.to_string())??;
    }
    Ok(())
}

/// The child: `CHILD_ARG IDS_FILE TOTAL`, the emulator in its environment. Prints media/s,
/// the baseline VmRSS and the VmHWM (KiB), and whether the peak was reset after the warm-up.
pub fn child(args: &[String]) -> Result<(), String> {
    let [ids, total] = args else {
        return Err(format!("usage: {CHILD_ARG} IDS_FILE TOTAL"));
    };
    let total: usize = total.parse().map_err(|e| format!("total: {e}"))?;
    let ids: Vec<MediaId> = std::fs::read_to_string(ids)
        .map_err(|e| format!("{ids}: {e}"))?
        .lines()
        .map(|l| l.parse().map_err(|e| format!("media id {l:?}: {e}")))
        .collect::<Result<_, String>>()?;
    if ids.is_empty() {
        return Err("no media ids".into());
    }
    let ids = Arc::new(ids);
    let var = |name: &str| std::env::var(name).map_err(|_| format!("{name} is not set"));
    let client = client_to(&var(ENV_TOKEN)?, &var(ENV_GRAPH)?, &var(ENV_LOOKASIDE)?)?;
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let rt = runtime("many-media", cores)?;
    run_on(&rt, fetch_all(client.clone(), ids.clone(), WARM_FETCHES, 1))??;
    // Linux ≥ 4.0: "5" resets VmHWM to the current RSS.
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let baseline = status_kib("VmRSS")?;
    let fds_before = open_fds()?;
    let started = Instant::now();
    run_on(
        &rt,
        fetch_all(client.clone(), ids.clone(), total, CONCURRENCY),
    )??;
    let took = started.elapsed();
    let hwm = status_kib("VmHWM")?;
    let fds_after = open_fds()?;
    // A second pass with the pool's connections already open: what a fetch in flight costs
    // beyond its connections.
    let reset2 = reset && std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let baseline2 = status_kib("VmRSS")?;
    run_on(&rt, fetch_all(client, ids, total, CONCURRENCY))??;
    let hwm2 = status_kib("VmHWM")?;
    println!(
        "{} {baseline} {hwm} {} {fds_before} {fds_after} {baseline2} {hwm2}",
        total as f64 / took.as_secs_f64(),
        if reset2 { "reset" } else { "no-reset" }
    );
    Ok(())
}

/// The many-media target: RSS growth per in-flight fetch under 64 KiB.
pub fn targets(report: &Report) -> Vec<Target> {
    let per = report.get("many.rss_per_fetch").and_then(Row::median);
    vec![(
        format!(
            "many media: RSS grows < {LIMIT_KIB:.0} KiB per in-flight fetch (concurrency {CONCURRENCY})"
        ),
        per.map(|v| v < LIMIT_KIB),
        per.map(|v| format!("{v:.1} KiB"))
            .unwrap_or_else(|| "no number".into()),
    )]
}
