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
//!
//! It runs twice: against the plain-HTTP emulator (HTTP/1.1: each fetch in flight holds a
//! connection to Graph and one to the download host, 512 in all), and against a TLS emulator
//! (HTTP/2 by ALPN, as the production hosts speak: the fetches are streams on one connection
//! per host). Where the HTTP/1.1 memory goes, from a massif profile of the child
//! (`WA_MEDIA_BENCH_CHILD_PREFIX`), is in docs/performance.md.

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use futures_util::StreamExt;
use wa_media_core::{MediaApi, MediaApiExt};
use wa_media_emulator::EmulatorHandle;
use wa_media_hyper::{MediaClient, MediaId};

use crate::environment::{client_to, run_on, runtime, seed_text_media, timed_command};
use crate::environment::{Environment, Plan};
use crate::report::{Report, Row, Target};

/// The row ids this stage produces.
pub const ROWS: &[&str] = &[
    "many.fetch.c256",
    "many.rss_per_fetch",
    "many.rss",
    "many.tls.fetch.c256",
    "many.tls.rss_per_fetch",
    "many.tls.rss",
];

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
/// A command line to run the child under (a profiler); unset: the child runs alone.
const CHILD_PREFIX: &str = "WA_MEDIA_BENCH_CHILD_PREFIX";
/// The emulator's coordinates, given to the child in its environment.
const ENV_TOKEN: &str = "WA_MEDIA_BENCH_TOKEN";
const ENV_GRAPH: &str = "WA_MEDIA_BENCH_GRAPH_URL";
const ENV_LOOKASIDE: &str = "WA_MEDIA_BENCH_LOOKASIDE";
/// Over TLS: the emulator's CA certificate (a PEM file) and its Graph address, given to the
/// child, which then resolves the production names to the emulator as `tls_setup` does.
const ENV_CA: &str = "WA_MEDIA_BENCH_CA";
const ENV_GRAPH_ADDR: &str = "WA_MEDIA_BENCH_GRAPH_ADDR";

/// Which emulator the fetches go to, and how.
struct Server<'a> {
    /// Row id prefix: `many` (plain HTTP/1.1) or `many.tls` (TLS, HTTP/2 by ALPN).
    key: &'static str,
    /// How the rows say it.
    how: &'static str,
    emu: &'a EmulatorHandle,
    /// Uploads the media (a client of `emu`).
    client: &'a MediaClient,
    /// The CA file when `emu` serves TLS.
    ca: Option<std::path::PathBuf>,
}

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

/// This stage's rows: over plain HTTP/1.1 (two connections per fetch in flight: Graph and the
/// download host), then over TLS with HTTP/2 (what the production hosts speak: one connection
/// each, the fetches multiplexed).
pub fn rows(env: &Environment) -> Vec<Row> {
    let mut rows = measure(
        env,
        &Server {
            key: "many",
            how: "http/1.1",
            emu: &env.emu,
            client: &env.client,
            ca: None,
        },
    );
    match crate::download::tls_setup(env) {
        Ok((emu, client, _)) => {
            let ca = emu.ca_certificate_path().map(ToOwned::to_owned);
            rows.extend(measure(
                env,
                &Server {
                    key: "many.tls",
                    how: "TLS, h2",
                    emu: &emu,
                    client: &client,
                    ca,
                },
            ));
            env.server.block_on(emu.shutdown());
        }
        Err(e) => {
            for id in ROWS.iter().filter(|id| id.starts_with("many.tls.")) {
                let mut r = Row::new(*id, SCENARIO, "TLS", "wa-media fetch", "");
                r.fail(&e);
                rows.push(r);
            }
        }
    }
    rows
}

/// The three rows against one server.
fn measure(env: &Environment, server: &Server<'_>) -> Vec<Row> {
    let total = if env.plan.quick { 500 } else { 10_000 };
    let distinct = total / REPEAT;
    let label = Plan::size_label(SIZE as u64);
    let (key, how) = (server.key, server.how);
    let mut rate = Row::new(
        format!("{key}.fetch.c256"),
        SCENARIO,
        format!("{total} fetches of {label} media, concurrency {CONCURRENCY}, one client, {how}"),
        "wa-media fetch",
        "media/s",
    );
    let mut per = Row::new(
        format!("{key}.rss_per_fetch"),
        SCENARIO,
        format!("RSS growth per in-flight fetch (concurrency {CONCURRENCY}), {how}"),
        "wa-media fetch",
        "KiB",
    );
    let mut peak = Row::new(
        format!("{key}.rss"),
        SCENARIO,
        format!("peak RSS, {total} fetches at concurrency {CONCURRENCY}, {how}"),
        "wa-media fetch",
        "MiB",
    );
    let ids = match seed_text_media(&env.client_rt, server.client, distinct, SIZE, 12_000) {
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
                match run_child(server, &file, total) {
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
             in-flight fetch (median); the rest of the first pass's growth is what the connections opened for it hold"
        ));
    }
    if !resets {
        per.note("VmHWM could not be reset after the warm-up: the peak may include start-up");
    }
    peak.note("the child's VmHWM (the client alone; the emulator runs in the parent)");
    let client = server.client.clone();
    let _ = run_on(&env.client_rt, async move {
        for id in &ids {
            let _ = client.delete(id).await;
        }
    });
    vec![rate, per, peak]
}

fn write_ids(env: &Environment, ids: &[MediaId]) -> Result<std::path::PathBuf, String> {
    let path = env.work.join("many-media-ids.txt");
    let text: String = ids.iter().map(|id| format!("{}\n", id.as_str())).collect();
    std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path)
}

fn run_child(server: &Server<'_>, ids: &std::path::Path, total: usize) -> Result<Measured, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    // A profiler to run the child under, e.g. `valgrind --tool=massif` (how the figures in
    // docs/performance.md were attributed); the emulator stays at full speed in the parent.
    let prefix = std::env::var(CHILD_PREFIX).unwrap_or_default();
    let mut words = prefix.split_whitespace();
    let mut cmd = match words.next() {
        Some(program) => {
            let mut c = Command::new(program);
            c.args(words).arg(exe);
            c
        }
        None => Command::new(exe),
    };
    cmd.arg(CHILD_ARG)
        .arg(ids)
        .arg(total.to_string())
        .env(ENV_TOKEN, server.emu.token())
        .env(ENV_GRAPH, server.emu.graph_url())
        .env(ENV_LOOKASIDE, server.emu.lookaside_addr().to_string());
    if let Some(ca) = &server.ca {
        cmd.env(ENV_CA, ca)
            .env(ENV_GRAPH_ADDR, server.emu.graph_addr().to_string());
    }
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
    client: wa_media_hyper::MediaClient,
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
    let client = match std::env::var_os(ENV_CA) {
        None => client_to(&var(ENV_TOKEN)?, &var(ENV_GRAPH)?, &var(ENV_LOOKASIDE)?)?,
        Some(ca) => tls_client(
            &var(ENV_TOKEN)?,
            &ca,
            &var(ENV_GRAPH_ADDR)?,
            &var(ENV_LOOKASIDE)?,
        )?,
    };
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

/// The child's client of a TLS emulator: only its CA trusted, the production names resolved
/// to it (as `download::tls_setup` builds the parent's).
fn tls_client(
    token: &str,
    ca: &std::ffi::OsStr,
    graph: &str,
    lookaside: &str,
) -> Result<MediaClient, String> {
    let pem = std::fs::read_to_string(ca).map_err(|e| format!("{}: {e}", ca.to_string_lossy()))?;
    let addr = |a: &str| {
        a.parse::<std::net::SocketAddr>()
            .map_err(|e| format!("address {a:?}: {e}"))
    };
    let (graph, lookaside) = (addr(graph)?, addr(lookaside)?);
    wa_media_hyper::builder()
        .transport(
            crate::environment::transport_builder()
                .add_root_certificate_pem(pem)
                .built_in_roots(false)
                .resolve("graph.facebook.com", graph)
                .resolve("lookaside.fbsbx.com", lookaside),
        )
        .token(token)
        .phone_number_id(crate::environment::PHONE)
        .retry_policy(wa_media_core::RetryPolicy::none())
        .build()
        .map_err(|e| format!("TLS client: {e}"))
}

/// The many-media target, over HTTP/1.1 and over TLS (HTTP/2): RSS growth per in-flight
/// fetch under 64 KiB.
pub fn targets(report: &Report) -> Vec<Target> {
    [("many", "http/1.1"), ("many.tls", "TLS, h2")]
        .into_iter()
        .map(|(key, how)| {
            let per = report
                .get(&format!("{key}.rss_per_fetch"))
                .and_then(Row::median);
            (
                format!(
                    "many media, {how}: RSS grows < {LIMIT_KIB:.0} KiB per in-flight fetch (concurrency {CONCURRENCY})"
                ),
                per.map(|v| v < LIMIT_KIB),
                per.map(|v| format!("{v:.1} KiB"))
                    .unwrap_or_else(|| "no number".into()),
            )
        })
        .collect()
}
