//! Scenario 8: the inbound service. Notifications of 10 media of 20 KiB each (held by the
//! emulator) are POSTed, signed, to `wa-media serve` over loopback; every media is saved and
//! verified. Reports media saved per second (first POST to last save), the POST → 200 latency
//! (the spool's fsyncs included) at p50 and p99, and `serve`'s peak RSS.

use std::io::BufRead;
use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use wa_media_emulator::InboundMessage;

use crate::environment::{run_on, text_bytes, Environment};
use crate::memory::{cli, vm_hwm_kib};
use crate::report::{percentile, Row};

const MEDIA_PER_NOTIFICATION: usize = 10;
const MEDIA_SIZE: usize = 20 * 1024;
const POST_CONCURRENCY: usize = 4;
const SECRET: &str = "bench-app-secret";

pub(crate) struct Measured {
    on_disk: bool,
    pending_peak: u64,
    pub(crate) media_per_s: f64,
    ack_ms: Vec<f64>,
    peak_mib: f64,
    media: usize,
}

/// The rows of scenario 8.
pub fn rows(env: &Environment) -> Vec<Row> {
    let mut rate = Row::new(
        "inbound.media_per_s",
        8,
        "inbound: media saved + verified per second (10 × 20 KiB per notification)",
        "wa-media serve",
        "media/s",
    );
    let mut p50 = Row::new(
        "inbound.ack_p50",
        8,
        "inbound: POST → 200, p50 (spool fsyncs included)",
        "wa-media serve",
        "ms",
    );
    let mut p99 = Row::new(
        "inbound.ack_p99",
        8,
        "inbound: POST → 200, p99 (spool fsyncs included)",
        "wa-media serve",
        "ms",
    );
    let mut rss = Row::new(
        "inbound.rss",
        8,
        "inbound: serve's peak RSS",
        "wa-media serve",
        "MiB",
    );
    let Some(bin) = env.tools.cli.clone() else {
        for r in [&mut rate, &mut p50, &mut p99, &mut rss] {
            r.skip("no wa-media binary (--cli)");
        }
        return vec![rate, p50, p99, rss];
    };
    let notifications = if env.plan.quick { 5 } else { 200 };
    match measure(env, &bin, notifications, &[]) {
        Ok(m) => {
            rate.samples.push(m.media_per_s);
            rate.note(format!(
                "{} media, {} notifications, {}; {} media pending when the last POST was answered",
                m.media,
                notifications,
                if m.on_disk {
                    "spool and files on disk"
                } else {
                    "spool and files in the work directory"
                },
                m.pending_peak
            ));
            let mut sorted = m.ack_ms.clone();
            sorted.sort_by(f64::total_cmp);
            p50.samples.extend(percentile(&sorted, 50.0));
            p99.samples.extend(percentile(&sorted, 99.0));
            rss.samples.push(m.peak_mib);
        }
        Err(e) => {
            for r in [&mut rate, &mut p50, &mut p99, &mut rss] {
                r.fail(&e);
            }
        }
    }
    vec![rate, p50, p99, rss]
}

/// Scenario 8's run, with `extra` arguments to `serve` (scenario 14 adds `--forward`).
pub(crate) fn measure(
    env: &Environment,
    bin: &Path,
    notifications: usize,
    extra: &[String],
) -> Result<Measured, String> {
    // The notifications: each message's media is held by the emulator.
    let emu_notes: Vec<String> = {
        let emu = &env.emu;
        env.server.block_on(async {
            let mut out = Vec::new();
            for n in 0..notifications {
                let mut merged: Option<serde_json::Value> = None;
                for k in 0..MEDIA_PER_NOTIFICATION {
                    let bytes = text_bytes(MEDIA_SIZE, (n * MEDIA_PER_NOTIFICATION + k) as u64);
                    let sim = emu
                        .simulate_inbound(InboundMessage::new(bytes, "text/plain"))
                        .await
                        .map_err(|e| format!("simulate: {e}"))?;
                    let msg =
                        sim.notification["entry"][0]["changes"][0]["value"]["messages"][0].clone();
                    match &mut merged {
                        None => merged = Some(sim.notification.clone()),
                        Some(m) => {
                            if let Some(a) =
                                m["entry"][0]["changes"][0]["value"]["messages"].as_array_mut()
                            {
                                a.push(msg)
                            }
                        }
                    }
                }
                out.push(merged.map(|m| m.to_string()).unwrap_or_default());
            }
            Ok::<_, String>(out)
        })?
    };
    let total = notifications * MEDIA_PER_NOTIFICATION;
    // On disk when there is one, so the spool's fsyncs are real (the work directory is usually
    // /dev/shm, where fsync costs nothing).
    let inbox = env.disk.as_ref().unwrap_or(&env.work).join("inbound-bench");
    let _ = std::fs::remove_dir_all(&inbox);
    let mut child = cli(env, bin)
        .args([
            "--json",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--app-secret",
            SECRET,
            "-d",
        ])
        .arg(&inbox)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start serve: {e}"))?;
    let pid = child.id();
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut lines = std::io::BufReader::new(stdout).lines();
    let first = lines
        .next()
        .and_then(Result::ok)
        .ok_or("serve printed nothing")?;
    let url = serde_json::from_str::<serde_json::Value>(&first)
        .ok()
        .and_then(|v| v["url"].as_str().map(str::to_owned))
        .ok_or_else(|| format!("unexpected first line: {first}"))?;
    let saved = Arc::new(AtomicU64::new(0));
    let s2 = saved.clone();
    let reader = std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            if line.contains("\"saved\"") || line.contains("\"already_saved\"") {
                s2.fetch_add(1, Ordering::SeqCst);
            }
        }
    });
    let peak = Arc::new(AtomicU64::new(0));
    let p2 = peak.clone();
    let status_path = format!("/proc/{pid}/status");
    let watcher = std::thread::spawn(move || {
        while let Some(kib) = std::fs::read_to_string(&status_path)
            .ok()
            .as_deref()
            .and_then(vm_hwm_kib)
        {
            p2.fetch_max(kib, Ordering::Relaxed);
            std::thread::sleep(Duration::from_millis(5));
        }
    });

    let bodies = Arc::new(emu_notes);
    let started = Instant::now();
    let posted = run_on(&env.client_rt, post_all(url, bodies))?;
    // Media admitted (all POSTs answered) minus media saved so far: the backlog.
    let pending_peak = total as u64 - saved.load(Ordering::SeqCst).min(total as u64);
    let result = posted.and_then(|ack_ms| {
        let deadline = Instant::now() + Duration::from_secs(300);
        while saved.load(Ordering::SeqCst) < total as u64 {
            if Instant::now() > deadline {
                return Err(format!(
                    "only {} of {total} media saved after 5 minutes",
                    saved.load(Ordering::SeqCst)
                ));
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        Ok(ack_ms)
    });
    let took = started.elapsed();
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let _ = child.wait();
    let _ = reader.join();
    let _ = watcher.join();
    let _ = std::fs::remove_dir_all(&inbox);
    let ack_ms = result?;
    Ok(Measured {
        on_disk: env.disk.is_some(),
        pending_peak,
        media_per_s: total as f64 / took.as_secs_f64(),
        ack_ms,
        peak_mib: peak.load(Ordering::Relaxed) as f64 / 1024.0,
        media: total,
    })
}

async fn post_all(url: String, bodies: Arc<Vec<String>>) -> Result<Vec<f64>, String> {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Full<Bytes>>();
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..POST_CONCURRENCY {
        let (client, url, bodies, next) =
            (client.clone(), url.clone(), bodies.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut acks = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                let Some(body) = bodies.get(i) else { break };
                let sig = wa_media_types::signature_header(SECRET.as_bytes(), body.as_bytes());
                let req = http::Request::post(&url)
                    .header("content-type", "application/json")
                    .header("x-hub-signature-256", sig)
                    .body(Full::new(Bytes::from(body.clone())))
                    .map_err(|e| e.to_string())?;
                let t = Instant::now();
                let resp = client
                    .request(req)
                    .await
                    .map_err(|e| format!("POST: {e}"))?;
                let status = resp.status();
                let _ = resp.into_body().collect().await;
                acks.push(t.elapsed().as_secs_f64() * 1000.0);
                if status != http::StatusCode::OK {
                    return Err(format!("POST answered {status}"));
                }
            }
            Ok::<_, String>(acks)
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.map_err(|e| e.to_string())??);
    }
    Ok(all)
}
