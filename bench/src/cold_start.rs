//! Scenario 11: what a shell user feels. The `wa-media` CLI's cold start — one whole
//! `wa-media info ID` process against the loopback emulator (start, runtime, client, one
//! retrieve, output, exit) — against `curl` doing the same GET of the Graph retrieve endpoint
//! with the same Bearer token, run alternately (CLI, curl, CLI, curl…) so that both see the
//! same load. Also the CLI binary's size once stripped.
//!
//! Every run must succeed: exit status 0 and the media id in the output; one failed run fails
//! its row.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use wa_media_hyper::MediaId;
use wa_media_types::ApiVersion;

use crate::environment::{timed_command, Environment};
use crate::memory::cli;
use crate::report::{Report, Row, Status, Target};

/// The row ids this stage produces.
pub const ROWS: &[&str] = &["cold_start.cli", "cold_start.curl", "cold_start.size"];

/// The scenario number in the table.
const SCENARIO: u8 = 11;

/// The largest accepted ratio of the CLI's median to curl's.
const RATIO_LIMIT: f64 = 1.5;

/// This stage's rows.
pub fn rows(env: &Environment) -> Vec<Row> {
    let runs = if env.plan.quick { 3 } else { 20 };
    let mut cli_row = Row::new(
        "cold_start.cli",
        SCENARIO,
        "cold start: `wa-media info ID`, whole process",
        "wa-media CLI",
        "ms",
    );
    let mut curl_row = Row::new(
        "cold_start.curl",
        SCENARIO,
        "cold start: the same retrieve GET, whole process",
        "curl",
        "ms",
    );
    let size_row = size(env);
    let bin = env.tools.cli.clone();
    if bin.is_none() {
        cli_row.fail("the wa-media binary was not given (--cli)");
    }
    if env.tools.curl.is_none() {
        curl_row.skip("curl not installed");
    }
    let media = env
        .payload("cold-start.txt", 1024, 11)
        .and_then(|p| env.upload(&p));
    match media {
        Err(e) => {
            cli_row.fail(&e);
            curl_row.fail(&e);
        }
        Ok(id) => {
            measure(env, &id, bin.as_deref(), runs, &mut cli_row, &mut curl_row);
            env.delete(&id);
        }
    }
    if let (Some(a), Some(b)) = (cli_row.median(), curl_row.median()) {
        cli_row.ratio = Some(a / b);
    }
    vec![cli_row, curl_row, size_row]
}

/// One untimed warm-up of each (the binaries into the page cache), then `runs` alternating
/// timed runs. A row that failed is not run again.
fn measure(
    env: &Environment,
    id: &MediaId,
    bin: Option<&Path>,
    runs: usize,
    cli_row: &mut Row,
    curl_row: &mut Row,
) {
    let url = format!(
        "{}/{}/{}",
        env.emu.graph_url().trim_end_matches('/'),
        ApiVersion::DEFAULT,
        id.as_str()
    );
    let auth = format!("Authorization: Bearer {}", env.emu.token());
    let curl_cmd = |curl: &Path| {
        let mut c = Command::new(curl);
        c.args(["-s", "-S", "-f", "-H"]).arg(&auth).arg(&url);
        c
    };
    for run in 0..=runs {
        let timed = run > 0;
        if let Some(bin) = bin.filter(|_| cli_row.status == Status::Ok) {
            let mut c = cli(env, bin);
            c.arg("info").arg(id.as_str());
            match once(&mut c, "wa-media info", id) {
                Ok(t) if timed => cli_row.samples.push(ms(t)),
                Ok(_) => {}
                Err(e) => cli_row.fail(e),
            }
        }
        if let Some(curl) = env
            .tools
            .curl
            .as_deref()
            .filter(|_| curl_row.status == Status::Ok)
        {
            match once(&mut curl_cmd(curl), "curl", id) {
                Ok(t) if timed => curl_row.samples.push(ms(t)),
                Ok(_) => {}
                Err(e) => curl_row.fail(e),
            }
        }
    }
    cli_row.note(format!(
        "{runs} runs alternating with curl after one warm-up each; start to exit, one retrieve over loopback"
    ));
    curl_row.note(format!(
        "curl -s -f -H \"Authorization: Bearer …\" {}/ID",
        ApiVersion::DEFAULT
    ));
}

/// Runs `cmd` once: its wall time, or why it failed (non-zero exit, or the id not in stdout).
fn once(cmd: &mut Command, what: &str, id: &MediaId) -> Result<Duration, String> {
    let (took, out) = timed_command(cmd, what)?;
    if !String::from_utf8_lossy(&out).contains(id.as_str()) {
        return Err(format!(
            "{what}: the output does not mention {}: {:?}",
            id.as_str(),
            String::from_utf8_lossy(&out).trim()
        ));
    }
    Ok(took)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// The CLI binary's size once stripped: a copy in the work directory, `strip`ped.
fn size(env: &Environment) -> Row {
    let mut row = Row::new(
        "cold_start.size",
        SCENARIO,
        "CLI binary size, stripped",
        "wa-media CLI",
        "MB",
    );
    let Some(bin) = env.tools.cli.as_deref() else {
        row.fail("the wa-media binary was not given (--cli)");
        return row;
    };
    let Some(strip) = crate::environment::which("strip") else {
        row.skip("strip not installed");
        return row;
    };
    let copy = env.work.join("wa-media-stripped");
    let r = (|| {
        let unstripped = std::fs::metadata(bin)
            .map_err(|e| format!("{}: {e}", bin.display()))?
            .len();
        std::fs::copy(bin, &copy).map_err(|e| format!("copy to {}: {e}", copy.display()))?;
        timed_command(Command::new(&strip).arg(&copy), "strip")?;
        let stripped = std::fs::metadata(&copy)
            .map_err(|e| format!("{}: {e}", copy.display()))?
            .len();
        Ok::<_, String>((unstripped, stripped))
    })();
    let _ = std::fs::remove_file(&copy);
    match r {
        Ok((unstripped, stripped)) => {
            row.samples.push(stripped as f64 / 1e6);
            row.note(format!(
                "10^6 bytes; {:.1} MB as built ({}), `strip` on a copy",
                unstripped as f64 / 1e6,
                if cfg!(debug_assertions) {
                    "dev profile"
                } else {
                    "profiling profile: line tables, not stripped"
                }
            ));
        }
        Err(e) => row.fail(e),
    }
    row
}

/// The cold-start target: the CLI's median at most 1.5× curl's.
pub fn targets(report: &Report) -> Vec<Target> {
    let med = |id: &str| report.get(id).and_then(Row::median);
    let (cli, curl) = (med("cold_start.cli"), med("cold_start.curl"));
    vec![(
        format!("CLI cold start (`wa-media info`) ≤ {RATIO_LIMIT}× curl"),
        cli.zip(curl).map(|(a, b)| a / b <= RATIO_LIMIT),
        cli.zip(curl)
            .map(|(a, b)| format!("{a:.1} vs {b:.1} ms, {:.2}×", a / b))
            .unwrap_or_else(|| "no number".into()),
    )]
}
