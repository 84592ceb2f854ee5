//! Scenario 3 (retrieve URL over one pooled client at concurrency 1 and 64: requests/s and
//! latency percentiles) and scenario 7's retrieve half (the emulator's own rate, driven by raw
//! requests without the client's parsing).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::BodyExt;
use wa_media_core::{MediaApi, RequestBody, Transport};
use wa_media_hyper::MediaId;

use crate::environment::{run_on, Environment};
use crate::report::{percentile, Row};

/// What one load run produced.
struct Load {
    took: Duration,
    latencies_us: Vec<f64>,
}

/// `total` calls of `call` spread over `concurrency` tasks on the client runtime.
fn load<F, Fut>(
    env: &Environment,
    total: usize,
    concurrency: usize,
    call: F,
) -> Result<Load, String>
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<(), String>> + Send + 'static,
{
    let call = Arc::new(call);
    run_on(&env.client_rt, async move {
        let next = Arc::new(AtomicUsize::new(0));
        let started = Instant::now();
        let mut tasks = Vec::with_capacity(concurrency);
        for _ in 0..concurrency {
            let next = next.clone();
            let call = call.clone();
            tasks.push(tokio::spawn(async move {
                let mut lat = Vec::new();
                while next.fetch_add(1, Ordering::Relaxed) < total {
                    let t = Instant::now();
                    call().await?;
                    lat.push(t.elapsed().as_secs_f64() * 1e6);
                }
                Ok::<_, String>(lat)
            }));
        }
        let mut latencies_us = Vec::with_capacity(total);
        for t in tasks {
            latencies_us.extend(t.await.map_err(|e| e.to_string())??);
        }
        Ok(Load {
            took: started.elapsed(),
            latencies_us,
        })
    })?
}

fn retrieve_rows(env: &Environment, id: &MediaId) -> Vec<Row> {
    let mut rows = Vec::new();
    let total = env.plan.retrieves;
    for c in [1usize, 64] {
        let mut row = Row::new(
            format!("retrieve.c{c}"),
            3,
            format!("retrieve URL, concurrency {c}"),
            "wa-media retrieve",
            "req/s",
        );
        let runs = if env.plan.quick { 1 } else { 3 };
        let mut all = Vec::new();
        let client = env.client.clone();
        let id = id.clone();
        let call = move || {
            let client = client.clone();
            let id = id.clone();
            async move {
                client
                    .retrieve(&id)
                    .await
                    .map(drop)
                    .map_err(|e| format!("retrieve: {e}"))
            }
        };
        let call = Arc::new(call);
        // Warm-up: open the connections of the pool.
        let warm = call.clone();
        if let Err(e) = load(env, c * 4, c, move || warm()) {
            row.fail(e);
        }
        for _ in 0..runs {
            let f = call.clone();
            match load(env, total, c, move || f()) {
                Ok(l) => {
                    row.samples.push(total as f64 / l.took.as_secs_f64());
                    all.extend(l.latencies_us);
                }
                Err(e) => {
                    row.fail(e);
                    break;
                }
            }
        }
        all.sort_by(f64::total_cmp);
        if let (Some(p50), Some(p99)) = (percentile(&all, 50.0), percentile(&all, 99.0)) {
            row.note(format!("p50 {p50:.0} µs, p99 {p99:.0} µs"));
        }
        row.note(format!("{total} requests per run, one client"));
        rows.push(row);
    }
    rows
}

/// Scenario 7: the emulator's retrieve rate at concurrency 64, raw GETs on the same transport
/// (no JSON parsing or URL checks on the client side).
fn emulator_row(env: &Environment, id: &MediaId) -> Row {
    let mut row = Row::new(
        "emulator.retrieve",
        7,
        "emulator retrieve, concurrency 64",
        "raw hyper GET",
        "req/s",
    );
    let url = format!("{}/v27.0/{}", env.emu.graph_url(), id.as_str());
    let auth = format!("Bearer {}", env.emu.token());
    let transport = env.client.transport().clone();
    let call = Arc::new(move || {
        let transport = transport.clone();
        let req = http::Request::get(url.as_str())
            .header("authorization", auth.as_str())
            .body(RequestBody::empty());
        async move {
            let req = req.map_err(|e| e.to_string())?;
            let resp = transport.send(req).await.map_err(|e| e.to_string())?;
            let ok = resp.status().is_success();
            let body = resp
                .into_body()
                .collect()
                .await
                .map_err(|e| e.to_string())?;
            if !ok || body.to_bytes().is_empty() {
                return Err("retrieve failed".into());
            }
            Ok(())
        }
    });
    let total = env.plan.retrieves;
    let runs = if env.plan.quick { 1 } else { 3 };
    let warm = call.clone();
    let _ = load(env, 256, 64, move || warm());
    for _ in 0..runs {
        let f = call.clone();
        match load(env, total, 64, move || f()) {
            Ok(l) => row.samples.push(total as f64 / l.took.as_secs_f64()),
            Err(e) => {
                row.fail(e);
                break;
            }
        }
    }
    row.note("same process and cores as the client");
    row
}

/// The rows of scenario 3 and the retrieve half of scenario 7.
pub fn rows(env: &Environment) -> Vec<Row> {
    let id = env
        .payload("retrieve.txt", 1024, 4)
        .and_then(|p| env.upload(&p));
    match id {
        Ok(id) => {
            let mut rows = retrieve_rows(env, &id);
            rows.push(emulator_row(env, &id));
            env.delete(&id);
            rows
        }
        Err(e) => ["retrieve.c1", "retrieve.c64", "emulator.retrieve"]
            .iter()
            .map(|k| {
                let mut r = Row::new(*k, 3, *k, "wa-media", "req/s");
                r.fail(&e);
                r
            })
            .collect(),
    }
}
