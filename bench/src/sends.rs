//! Scenario 13: sending. One uploaded media (20 KiB of `text/plain`, a document) sent to a
//! customer by id (`send_media`: `POST /{version}/{phone}/messages`) 10,000 times (200 with
//! `--quick`) spread over 64 tasks on one client: sends per second, and the latency of each
//! send at p50 and p99 over all runs. Every send must come back with a message id (`wamid.…`);
//! one that does not fails the row. The issue gives no target: the figure is reported.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use wa_media_hyper::{MediaId, MediaKind, MessagingApi, SendMedia};

use crate::environment::{run_on, Environment};
use crate::report::{percentile, Report, Row, Target};

/// The row ids this stage produces.
pub const ROWS: &[&str] = &["sends.c64"];

/// The scenario number in the table.
const SCENARIO: u8 = 13;
/// Sends in flight.
const CONCURRENCY: usize = 64;
/// The customer the messages go to.
const TO: &str = "15551234567";

/// What one load run produced.
struct Load {
    took: Duration,
    latencies_us: Vec<f64>,
}

/// This stage's rows.
pub fn rows(env: &Environment) -> Vec<Row> {
    let total = if env.plan.quick { 200 } else { 10_000 };
    let mut row = Row::new(
        "sends.c64",
        SCENARIO,
        format!("send a media message by id, concurrency {CONCURRENCY}"),
        "wa-media send_media",
        "sends/s",
    );
    let id = env
        .payload("sends.txt", 20 * 1024, 13)
        .and_then(|p| env.upload(&p));
    let id = match id {
        Ok(id) => id,
        Err(e) => {
            row.fail(e);
            return vec![row];
        }
    };
    if let Err(e) = measure(env, &id, total, &mut row) {
        row.fail(e);
    }
    env.delete(&id);
    vec![row]
}

fn measure(env: &Environment, id: &MediaId, total: usize, row: &mut Row) -> Result<(), String> {
    let msg = SendMedia::by_id(TO, MediaKind::Document, id.clone())
        .map_err(|e| format!("message: {e}"))?
        .filename("bench.txt");
    let msg = Arc::new(msg);
    // Warm-up: open the pool's connections.
    load(env, msg.clone(), CONCURRENCY * 4)?;
    let runs = if env.plan.quick { 1 } else { 3 };
    let mut all = Vec::with_capacity(total * runs);
    for _ in 0..runs {
        let l = load(env, msg.clone(), total)?;
        row.samples.push(total as f64 / l.took.as_secs_f64());
        all.extend(l.latencies_us);
    }
    all.sort_by(f64::total_cmp);
    if let (Some(p50), Some(p99)) = (percentile(&all, 50.0), percentile(&all, 99.0)) {
        row.note(format!("p50 {:.2} ms, p99 {:.2} ms", p50 / 1e3, p99 / 1e3));
    }
    row.note(format!(
        "{total} sends per run of one 20 KiB document to one recipient, one client; a message id checked for each"
    ));
    Ok(())
}

/// `total` sends of `msg` spread over [`CONCURRENCY`] tasks on the client runtime.
fn load(env: &Environment, msg: Arc<SendMedia>, total: usize) -> Result<Load, String> {
    let client = env.client.clone();
    run_on(&env.client_rt, async move {
        let next = Arc::new(AtomicUsize::new(0));
        let started = Instant::now();
        let mut tasks = Vec::with_capacity(CONCURRENCY);
        for _ in 0..CONCURRENCY {
            let next = next.clone();
            let client = client.clone();
            let msg = msg.clone();
            tasks.push(tokio::spawn(async move {
                let mut lat = Vec::new();
                while next.fetch_add(1, Ordering::Relaxed) < total {
                    let t = Instant::now();
                    let sent = client
                        .send_media(&msg)
                        .await
                        .map_err(|e| format!("send: {e}"))?;
                    lat.push(t.elapsed().as_secs_f64() * 1e6);
                    if !sent.wamid.starts_with("wamid.") {
                        return Err(format!("send: no message id ({:?})", sent.wamid));
                    }
                }
                Ok::<_, String>(lat)
            }));
        }
        let mut latencies_us = Vec::with_capacity(total);
        for t in tasks {
            latencies_us.extend(t.await.map_err(|e| e.to_string())??);
        }
        if latencies_us.len() != total {
            return Err(format!("{} of {total} sends made", latencies_us.len()));
        }
        Ok(Load {
            took: started.elapsed(),
            latencies_us,
        })
    })?
}

/// No target is given for sends: nothing to decide.
pub fn targets(_report: &Report) -> Vec<Target> {
    Vec::new()
}
