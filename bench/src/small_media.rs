//! Scenario 4: many small media (2,000 of 20 KiB) fetched and verified at concurrency 32 over
//! one client: retrieve + download + SHA-256 per media, bodies kept in memory.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use wa_media_core::MediaApiExt;
use wa_media_hyper::MediaId;

use crate::environment::{run_on, seed_text_media, Environment, Plan};
use crate::report::Row;

const CONCURRENCY: usize = 32;

fn fetch_all(env: &Environment, ids: Arc<Vec<MediaId>>, size: usize) -> Result<f64, String> {
    let client = env.client.clone();
    run_on(&env.client_rt, async move {
        let next = Arc::new(AtomicUsize::new(0));
        let started = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..CONCURRENCY {
            let client = client.clone();
            let next = next.clone();
            let ids = ids.clone();
            tasks.push(tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(id) = ids.get(i) else { break };
                    let body = client
                        .fetch(id)
                        .await
                        .map_err(|e| format!("fetch: {e}"))?
                        .bytes(size as u64)
                        .await
                        .map_err(|e| format!("fetch body: {e}"))?;
                    if body.len() != size {
                        return Err(format!("got {} of {size} bytes", body.len()));
                    }
                }
                Ok::<(), String>(())
            }));
        }
        for t in tasks {
            t.await.map_err(|e| e.to_string())??;
        }
        Ok(ids.len() as f64 / started.elapsed().as_secs_f64())
    })?
}

/// The row of scenario 4.
pub fn rows(env: &Environment) -> Vec<Row> {
    let (n, size) = (env.plan.small_media, env.plan.small_media_size);
    let mut row = Row::new(
        "small.fetch.c32",
        4,
        format!(
            "fetch+verify {n} media of {}, concurrency {CONCURRENCY}",
            Plan::size_label(size as u64)
        ),
        "wa-media fetch",
        "media/s",
    );
    let ids = match seed_text_media(&env.client_rt, &env.client, n, size, 1000) {
        Ok(ids) => Arc::new(ids),
        Err(e) => {
            row.fail(e);
            return vec![row];
        }
    };
    let runs = if env.plan.quick { 1 } else { 3 };
    for _ in 0..runs {
        match fetch_all(env, ids.clone(), size) {
            Ok(v) => row.samples.push(v),
            Err(e) => {
                row.fail(e);
                break;
            }
        }
    }
    if let Some(m) = row.median() {
        row.note(format!(
            "{:.0} MB/s of payload; retrieve + download each",
            m * size as f64 / 1e6
        ));
    }
    for id in ids.iter() {
        env.delete(id);
    }
    vec![row]
}
