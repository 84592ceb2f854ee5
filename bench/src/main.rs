//! `wa-media-bench`: the benchmark runner started by `cargo xtask bench [--quick]`.
//!
//! It starts the emulator in-process (plain HTTP on 127.0.0.1, and once over TLS), measures the
//! machine's ceilings, the project's transfers against `curl` (+ `sha256sum`), the reference
//! pipelines (a minimal server and client doing only what a verified download needs, and the
//! project's client against the same server), retrieve throughput and latency, many small
//! media, many media at once, the CLI's peak memory and cold start, sends, the inbound
//! service, the emulator's own rates and `fetch_to_store` into S3 (moto) and a local directory,
//! then prints one table and writes the same as JSON (`--out DIR`, `latest.json`).
//!
//! ```text
//! wa-media-bench [--quick] [--cli PATH/TO/wa-media] [--out DIR] [--work DIR]
//! ```
//!
//! `--quick` is a smoke test of the harness (small sizes, one run each): it fails only when a
//! row is missing or a measurement errors, never because a number is low. The full run reports
//! the issue's targets but never fails on them either.

use std::path::PathBuf;
use std::process::ExitCode;

mod ceiling;
mod cold_start;
mod download;
mod environment;
mod experiment;
mod inbound;
mod many_media;
mod memory;
mod reference;
mod relay;
mod report;
mod resumable;
mod retrieve;
mod sends;
mod small_media;
mod store;
mod upload;

use environment::{Environment, Plan};
use report::{Report, Row};

/// Command-line options.
#[derive(Debug, Default)]
struct Options {
    quick: bool,
    cli: Option<PathBuf>,
    out: Option<PathBuf>,
    work: Option<PathBuf>,
    /// Run only the stages whose name contains this (experiments; never with `--quick`).
    only: Option<String>,
}

fn parse_args() -> Result<Options, String> {
    let mut o = Options::default();
    let mut args = std::env::args().skip(1);
    let value = |name: &str, args: &mut dyn Iterator<Item = String>| {
        args.next().ok_or_else(|| format!("{name} needs a value"))
    };
    while let Some(a) = args.next() {
        match a.as_str() {
            "--quick" => o.quick = true,
            "--cli" => o.cli = Some(value("--cli", &mut args)?.into()),
            "--out" => o.out = Some(value("--out", &mut args)?.into()),
            "--work" => o.work = Some(value("--work", &mut args)?.into()),
            "--h1-max-buf" => {
                let n = value("--h1-max-buf", &mut args)?
                    .parse::<usize>()
                    .map_err(|e| format!("--h1-max-buf: {e}"))?;
                let _ = environment::H1_MAX_BUF.set(n);
            }
            "--only" => o.only = Some(value("--only", &mut args)?),
            "-h" | "--help" => {
                return Err("usage: wa-media-bench [--quick] [--cli PATH] [--out DIR] \
                     [--work DIR] [--h1-max-buf BYTES] [--only STAGE]"
                    .into())
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(o)
}

/// Every row id a complete run produces (the smoke test checks them all).
fn expected_rows() -> Vec<String> {
    [
        "ceiling.sha256",
        "ceiling.tcp",
        "download.big.http.project",
        "download.big.http.curl",
        "download.small.http.project",
        "download.small.http.curl",
        "download.big.tls.project",
        "download.big.tls.curl",
        "download.big.disk.project",
        "download.big.stream.project",
        "emulator.download",
        "upload.big.project",
        "upload.big.curl",
        "retrieve.c1",
        "retrieve.c64",
        "emulator.retrieve",
        "small.fetch.c32",
        "rss.download.small",
        "rss.download.big",
        "rss.download.difference",
        "rss.upload.small",
        "rss.upload.big",
        "rss.upload.difference",
        "inbound.media_per_s",
        "inbound.ack_p50",
        "inbound.ack_p99",
        "inbound.rss",
        "store.local",
        "store.local.rss",
        "store.moto",
        "store.moto.rss",
    ]
    .into_iter()
    .chain(reference::ROWS.iter().copied())
    .chain(cold_start::ROWS.iter().copied())
    .chain(many_media::ROWS.iter().copied())
    .chain(sends::ROWS.iter().copied())
    .chain(relay::ROWS.iter().copied())
    .map(str::to_owned)
    .collect()
}

/// Cores, CPU model, SHA extensions, kernel, memory, tool versions.
fn machine(env: &Environment) -> Vec<(String, String)> {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let field = |name: &str| {
        cpuinfo
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_owned())
            .unwrap_or_else(|| "unknown".into())
    };
    let sha_ni = field("flags").split_whitespace().any(|f| f == "sha_ni");
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .next()
                .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        })
        .unwrap_or_default();
    let version = |tool: &Option<PathBuf>, arg: &str| {
        tool.as_ref()
            .and_then(|t| std::process::Command::new(t).arg(arg).output().ok())
            .map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .next()
                    .unwrap_or("")
                    .to_owned()
            })
            .unwrap_or_else(|| "not installed".into())
    };
    vec![
        (
            "cores".into(),
            std::thread::available_parallelism()
                .map(|n| n.get().to_string())
                .unwrap_or_default(),
        ),
        ("cpu".into(), field("model name")),
        ("sha_ni".into(), sha_ni.to_string()),
        (
            "kernel".into(),
            std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .unwrap_or_default()
                .trim()
                .to_owned(),
        ),
        ("memory".into(), mem),
        ("curl".into(), version(&env.tools.curl, "-V")),
        (
            "sha256sum".into(),
            version(&env.tools.sha256sum, "--version"),
        ),
    ]
}

/// Fills `of_ceiling` of every MB/s row and decides the targets.
fn finish(report: &mut Report) {
    let sha = report.get("ceiling.sha256").and_then(Row::median);
    let tcp = report.get("ceiling.tcp").and_then(Row::median);
    let lower = match (sha, tcp) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    if let Some(lower) = lower {
        for r in report
            .rows
            .iter_mut()
            // moto's pace is not the client's: no fraction of the ceiling for it.
            .filter(|r| r.unit == "MB/s" && r.scenario != 6 && r.id != "store.moto")
        {
            r.of_ceiling = r.median().map(|m| m / lower);
        }
        let which = if sha <= tcp { "SHA-256" } else { "TCP" };
        report
            .settings
            .push(("lower_ceiling".into(), format!("{which}, {lower:.0} MB/s")));
    }
    let med = |id: &str| report.get(id).and_then(Row::median);
    // Issue 18 replaced two targets here. "download+verify ≥ 80 % of the lower ceiling" assumed
    // that hashing on one core is a verified download's only cost; on 2 shared cores the
    // server, the loopback copies and the file write take as much CPU again, so no client can
    // reach it. "upload ≥ curl" against the emulator measured the emulator's multipart parsing,
    // which costs both alike. Both are now measured against the minimal server of scenario 10,
    // in the same run (reference::targets): docs/performance.md, "Targets".
    let mut targets = Vec::new();
    let flat: Vec<f64> = ["rss.download.difference", "rss.upload.difference"]
        .iter()
        .filter_map(|id| med(id))
        .collect();
    targets.push((
        format!(
            "flat memory (large − small < {} MiB)",
            memory::FLAT_LIMIT_MIB
        ),
        (flat.len() == 2).then(|| flat.iter().all(|d| *d < memory::FLAT_LIMIT_MIB)),
        flat.iter()
            .map(|d| format!("{d:.1} MiB"))
            .collect::<Vec<_>>()
            .join(", "),
    ));
    let c64 = med("retrieve.c64");
    targets.push((
        "retrieve at concurrency 64 ≥ 10,000 req/s".into(),
        c64.map(|v| v >= 10_000.0),
        c64.map(|v| format!("{v:.0} req/s"))
            .unwrap_or_else(|| "no number".into()),
    ));
    let inbound = med("inbound.media_per_s");
    targets.push((
        "inbound: ≥ 1,000 media/s saved and verified".into(),
        inbound.map(|v| v >= 1000.0),
        inbound
            .map(|v| format!("{v:.0} media/s"))
            .unwrap_or_else(|| "no number".into()),
    ));
    let ack = med("inbound.ack_p99");
    targets.push((
        "inbound: ack p99 < 25 ms".into(),
        ack.map(|v| v < 25.0),
        ack.map(|v| format!("{v:.1} ms"))
            .unwrap_or_else(|| "no number".into()),
    ));
    let rss = med("inbound.rss");
    targets.push((
        "inbound: serve's peak RSS < 64 MiB".into(),
        rss.map(|v| v < 64.0),
        rss.map(|v| format!("{v:.1} MiB"))
            .unwrap_or_else(|| "no number".into()),
    ));
    let (emu, client) = (med("emulator.download"), med("download.big.http.project"));
    targets.push((
        "the emulator serves faster than the client takes".into(),
        emu.zip(client).map(|(e, c)| e > c),
        emu.zip(client)
            .map(|(e, c)| format!("{e:.0} vs {c:.0} MB/s"))
            .unwrap_or_else(|| "no number".into()),
    ));
    for module_targets in [
        reference::targets,
        cold_start::targets,
        many_media::targets,
        sends::targets,
    ] {
        targets.extend(module_targets(report));
    }
    report.targets = targets;
}

fn default_work_dir() -> PathBuf {
    let shm = PathBuf::from("/dev/shm");
    let base = if shm.is_dir() {
        shm
    } else {
        std::env::temp_dir()
    };
    base.join(format!("wa-media-bench-{}", std::process::id()))
}

fn run(o: Options) -> Result<Report, String> {
    let plan = Plan::new(o.quick);
    let work = o.work.clone().unwrap_or_else(default_work_dir);
    std::fs::create_dir_all(&work).map_err(|e| format!("{}: {e}", work.display()))?;
    let env = Environment::start(plan.clone(), work.clone(), o.out.clone(), o.cli.clone())?;
    let mut settings = vec![
        (
            "profile".to_owned(),
            if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            }
            .to_owned(),
        ),
        ("quick".into(), plan.quick.to_string()),
        ("large".into(), Plan::size_label(plan.big)),
        ("small".into(), Plan::size_label(plan.small)),
        ("runs".into(), plan.runs.to_string()),
        ("work_dir".into(), work.display().to_string()),
    ];
    settings.push(("MB".into(), "10^6 bytes; sizes in MiB".into()));
    let mut rows = Vec::new();
    type Stage = fn(&Environment) -> Vec<Row>;
    let stages: [(&str, Stage); 14] = [
        ("ceilings", ceiling::rows),
        ("downloads", download::rows),
        ("reference pipelines", reference::rows),
        ("uploads", upload::rows),
        ("retrieve", retrieve::rows),
        ("small media", small_media::rows),
        ("memory", memory::rows),
        ("inbound", inbound::rows),
        ("sends", sends::rows),
        ("relay", relay::rows),
        ("many media", many_media::rows),
        ("cold start", cold_start::rows),
        ("object store", store::rows),
        ("experiment", experiment::rows),
    ];
    for (name, stage) in stages {
        let wanted = match &o.only {
            Some(only) => name.contains(only.as_str()),
            None => name != "experiment",
        };
        if !wanted {
            continue;
        }
        eprintln!("wa-media-bench: {name}…");
        rows.extend(stage(&env));
    }
    rows.sort_by_key(|r| r.scenario);
    let mut report = Report {
        rows,
        machine: machine(&env),
        settings,
        targets: Vec::new(),
    };
    finish(&mut report);
    let Environment {
        server,
        client_rt,
        emu,
        ..
    } = env;
    drop(client_rt);
    server.block_on(emu.shutdown());
    let _ = std::fs::remove_dir_all(&work);
    Ok(report)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    type Child = fn(&[String]) -> Result<(), String>;
    let children: [(&str, Child); 2] = [
        (store::CHILD_ARG, store::child),
        (many_media::CHILD_ARG, many_media::child),
    ];
    if let Some((_, child)) = children
        .iter()
        .find(|(arg, _)| args.first().map(String::as_str) == Some(*arg))
    {
        return match child(&args[1..]) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("{e}");
                ExitCode::FAILURE
            }
        };
    }
    let o = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let out = o.out.clone();
    let quick = o.quick;
    let only = o.only.is_some();
    let report = match run(o) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("wa-media-bench: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!();
    for (k, v) in &report.machine {
        println!("{k}: {v}");
    }
    for (k, v) in &report.settings {
        println!("{k}: {v}");
    }
    println!();
    print!("{}", report.table());
    println!();
    if quick {
        println!("(--quick: a smoke test of the harness; the numbers mean nothing)");
    } else {
        println!("Targets (reported, never enforced):");
        print!("{}", report.targets_text());
    }
    if let Some(n) = environment::H1_MAX_BUF.get() {
        println!("(experiment: hyper http1_max_buf_size = {n})");
    }
    if let Some(dir) = out {
        match report.write_json(&dir) {
            Ok(p) => println!("\nJSON: {}", p.display()),
            Err(e) => {
                eprintln!(
                    "wa-media-bench: cannot write JSON into {}: {e}",
                    dir.display()
                );
                return ExitCode::FAILURE;
            }
        }
    }
    let expected = if only { Vec::new() } else { expected_rows() };
    let problems = report.problems(&expected);
    if problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        eprintln!(
            "wa-media-bench: {} row(s) missing or failed:",
            problems.len()
        );
        for p in problems {
            eprintln!("  {p}");
        }
        ExitCode::FAILURE
    }
}
