//! Scenario 5: the peak resident memory (VmHWM) of the `wa-media` CLI downloading and
//! uploading the small and the large file; the difference must stay under 16 MiB (memory does
//! not grow with the file).
//!
//! The peak is read from `/proc/<pid>/status` every millisecond while the child runs. VmHWM
//! only grows, so the last reading before the process exits is its peak up to that moment.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::environment::{Environment, Plan, PHONE};
use crate::report::Row;

/// The largest accepted difference between the large and the small transfer.
pub const FLAT_LIMIT_MIB: f64 = 16.0;

/// VmHWM in KiB from a `/proc/<pid>/status` text.
pub(crate) fn vm_hwm_kib(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

/// Runs `cmd` (the CLI, or this runner re-executed: `store.rs`) and returns its peak RSS in
/// MiB (and its stdout). A child that ended before its
/// status could be read once (a descheduled harness on a loaded machine) is run again, up to
/// three times in all.
pub(crate) fn peak_rss(cmd: &mut Command) -> Result<(f64, Vec<u8>), String> {
    let mut last = Err("not run".to_owned());
    for _ in 0..3 {
        last = peak_rss_once(cmd);
        match &last {
            Ok((mib, _)) if *mib == 0.0 => last = Err("could not read VmHWM from /proc".into()),
            Ok(_) => return last,
            Err(_) => return last,
        }
    }
    last
}

fn peak_rss_once(cmd: &mut Command) -> Result<(f64, Vec<u8>), String> {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {:?}: {e}", cmd.get_program()))?;
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak = 0u64;
    // Read stdout/stderr on threads so a full pipe never blocks the child.
    let mut out = child.stdout.take();
    let mut err = child.stderr.take();
    let out_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        if let Some(o) = out.as_mut() {
            let _ = std::io::Read::read_to_end(o, &mut v);
        }
        v
    });
    let err_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        if let Some(e) = err.as_mut() {
            let _ = std::io::Read::read_to_end(e, &mut v);
        }
        v
    });
    // Poll without reaping: a zombie's status has no VmHWM, which ends the loop.
    while let Some(kib) = std::fs::read_to_string(&status_path)
        .ok()
        .as_deref()
        .and_then(vm_hwm_kib)
    {
        peak = peak.max(kib);
        std::thread::sleep(Duration::from_millis(1));
    }
    let status = child.wait().map_err(|e| e.to_string())?;
    let stdout = out_t.join().unwrap_or_default();
    let stderr = err_t.join().unwrap_or_default();
    if !status.success() {
        return Err(format!(
            "{:?} failed ({status}): {}",
            cmd.get_program(),
            String::from_utf8_lossy(&stderr).trim()
        ));
    }
    Ok((peak as f64 / 1024.0, stdout))
}

pub(crate) fn cli(env: &Environment, bin: &Path) -> Command {
    let mut c = Command::new(bin);
    for var in [
        "WHATSAPP_TOKEN",
        "WHATSAPP_PHONE_NUMBER_ID",
        "WHATSAPP_API_VERSION",
        "WHATSAPP_GRAPH_URL",
        "WHATSAPP_TRUSTED_HOSTS",
        "RUST_LOG",
    ] {
        c.env_remove(var);
    }
    c.env("WHATSAPP_TOKEN", env.emu.token())
        .env("WHATSAPP_PHONE_NUMBER_ID", PHONE)
        .env("WHATSAPP_GRAPH_URL", env.emu.graph_url())
        .env(
            "WHATSAPP_TRUSTED_HOSTS",
            env.emu.lookaside_addr().to_string(),
        )
        .arg("--quiet");
    c
}

/// The rows of scenario 5: four measurements and two differences.
pub fn rows(env: &Environment) -> Vec<Row> {
    let sizes = [("small", env.plan.small), ("big", env.plan.big)];
    let mut rows = Vec::new();
    let runs = if env.plan.quick { 1 } else { 3 };
    for op in ["download", "upload"] {
        let mut pair = Vec::new();
        for (key, size) in sizes {
            let mut row = Row::new(
                format!("rss.{op}.{key}"),
                5,
                format!("CLI {op} {}, peak RSS", Plan::size_label(size)),
                "wa-media CLI",
                "MiB",
            );
            let Some(bin) = env.tools.cli.clone() else {
                row.fail("the wa-media binary was not given (--cli)");
                rows.push(row);
                pair.push(None);
                continue;
            };
            let r = measure(env, &bin, op, key, size, runs, &mut row);
            if let Err(e) = r {
                row.fail(e);
            }
            pair.push(row.samples.iter().copied().reduce(f64::max));
            rows.push(row);
        }
        let mut diff = Row::new(
            format!("rss.{op}.difference"),
            5,
            format!("CLI {op}: large minus small, peak RSS"),
            "wa-media CLI",
            "MiB",
        );
        match (
            pair.first().copied().flatten(),
            pair.get(1).copied().flatten(),
        ) {
            (Some(a), Some(b)) => {
                diff.samples.push(b - a);
                diff.note(format!(
                    "max of runs each; must be < {FLAT_LIMIT_MIB} MiB: {}",
                    if b - a < FLAT_LIMIT_MIB { "yes" } else { "NO" }
                ));
            }
            _ => diff.fail("a measurement above failed"),
        }
        rows.push(diff);
    }
    rows
}

fn measure(
    env: &Environment,
    bin: &Path,
    op: &str,
    key: &str,
    size: u64,
    runs: usize,
    row: &mut Row,
) -> Result<(), String> {
    let path = env.payload(&format!("rss-{key}.txt"), size, 5 + size)?;
    if op == "download" {
        let id = env.upload(&path)?;
        let dest = env.work.join(format!("rss-download-{key}.bin"));
        for _ in 0..runs {
            let r = peak_rss(
                cli(env, bin)
                    .arg("download")
                    .arg(id.as_str())
                    .arg("-o")
                    .arg(&dest),
            );
            let _ = std::fs::remove_file(&dest);
            row.samples.push(r?.0);
        }
        env.delete(&id);
    } else {
        for _ in 0..runs {
            let (mib, out) = peak_rss(
                cli(env, bin)
                    .arg("upload")
                    .arg(&path)
                    .args(["--mime", "text/plain"]),
            )?;
            row.samples.push(mib);
            let id = String::from_utf8_lossy(&out).trim().to_owned();
            if let Ok(id) = id.parse() {
                env.delete(&id);
            }
        }
    }
    row.note("VmHWM polled every 1 ms");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vm_hwm_is_read_from_a_status_text() {
        let s = "Name:\tx\nVmPeak:\t  1000 kB\nVmHWM:\t    5120 kB\nVmRSS:\t 4000 kB\n";
        assert_eq!(vm_hwm_kib(s), Some(5120));
        assert_eq!(vm_hwm_kib("Name:\tzombie\nState:\tZ (zombie)\n"), None);
    }
}
