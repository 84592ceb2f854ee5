//! Experiments behind `--only experiment` (never part of a normal run): variants of the
//! download path measured side by side, recorded in docs/performance.md.

use std::io::Write;
use std::sync::mpsc::sync_channel;
use std::time::Instant;

use futures_util::StreamExt;
use wa_media_core::MediaApiExt;

use crate::environment::{mb_per_s, run_on, Environment, Plan};
use crate::report::Row;

/// Where the chunks of a verified download go.
#[derive(Debug, Clone, Copy)]
enum Sink {
    /// Written to the file on the task that hashes (what `fetch_to_file` does).
    Inline,
    /// Handed to a writer thread through a bounded channel.
    Thread,
    /// Written inline and hashed a second time (what `fetch_to_file` did before 6a9c8d2).
    InlineSecondDigest,
    /// Copied into a buffer of this many bytes, written inline when full.
    Coalesced(usize),
    /// The file's length set to the announced size first (`File::set_len`), then inline.
    SetLen,
    /// `fetch_to_file` itself (temporary name, fsync, rename).
    FetchToFile,
}

fn once(
    env: &Environment,
    client: &wa_media_hyper::MediaClient,
    id: &wa_media_hyper::MediaId,
    sink: Sink,
) -> Result<f64, String> {
    let client = client.clone();
    let id = id.clone();
    let path = env.work.join("experiment.bin");
    let size = env.plan.big;
    let r = run_on(&env.client_rt, async move {
        let started = Instant::now();
        if let Sink::FetchToFile = sink {
            client
                .fetch_to_file(&id, &path)
                .await
                .map_err(|e| e.to_string())?;
            let took = started.elapsed();
            let _ = std::fs::remove_file(&path);
            return Ok(took);
        }
        let mut file = std::fs::File::create(&path).map_err(|e| e.to_string())?;
        let mut dl = client.fetch(&id).await.map_err(|e| e.to_string())?;
        match sink {
            Sink::Inline => {
                while let Some(c) = dl.next().await {
                    file.write_all(&c.map_err(|e| e.to_string())?)
                        .map_err(|e| e.to_string())?;
                }
            }
            Sink::InlineSecondDigest => {
                let mut second = wa_media_types::StreamingDigest::new();
                while let Some(c) = dl.next().await {
                    let c = c.map_err(|e| e.to_string())?;
                    file.write_all(&c).map_err(|e| e.to_string())?;
                    second.update(&c);
                }
                std::hint::black_box(second.finish());
            }
            Sink::Coalesced(cap) => {
                let mut buf = Vec::with_capacity(cap);
                while let Some(c) = dl.next().await {
                    let c = c.map_err(|e| e.to_string())?;
                    if buf.len() + c.len() > cap && !buf.is_empty() {
                        file.write_all(&buf).map_err(|e| e.to_string())?;
                        buf.clear();
                    }
                    buf.extend_from_slice(&c);
                }
                file.write_all(&buf).map_err(|e| e.to_string())?;
            }
            Sink::SetLen => {
                file.set_len(size).map_err(|e| e.to_string())?;
                while let Some(c) = dl.next().await {
                    file.write_all(&c.map_err(|e| e.to_string())?)
                        .map_err(|e| e.to_string())?;
                }
            }
            Sink::FetchToFile => unreachable!("handled above"),
            Sink::Thread => {
                let (tx, rx) = sync_channel::<bytes::Bytes>(8);
                let writer = std::thread::spawn(move || {
                    for c in rx {
                        file.write_all(&c)?;
                    }
                    Ok::<_, std::io::Error>(file)
                });
                while let Some(c) = dl.next().await {
                    tx.send(c.map_err(|e| e.to_string())?)
                        .map_err(|e| e.to_string())?;
                }
                drop(tx);
                file = writer
                    .join()
                    .map_err(|_| "writer panicked")?
                    .map_err(|e| e.to_string())?;
            }
        }
        drop(file);
        let took = started.elapsed();
        let _ = std::fs::remove_file(&path);
        Ok::<_, String>(took)
    })??;
    Ok(mb_per_s(size, r))
}

/// `fetch` with chunks dropped, driven from a tokio worker (`spawn`) or from a thread outside
/// the runtime (`block_on`, as the CLI does).
fn stream_once(
    env: &Environment,
    id: &wa_media_hyper::MediaId,
    on_worker: bool,
) -> Result<f64, String> {
    let client = env.client.clone();
    let id = id.clone();
    let size = env.plan.big;
    let fut = async move {
        let started = Instant::now();
        let mut dl = client.fetch(&id).await.map_err(|e| e.to_string())?;
        while let Some(c) = dl.next().await {
            c.map_err(|e| e.to_string())?;
        }
        Ok::<_, String>(started.elapsed())
    };
    let took = if on_worker {
        run_on(&env.client_rt, fut)??
    } else {
        env.client_rt.block_on(fut)?
    };
    Ok(mb_per_s(size, took))
}

/// The download URL fetched on the bare transport and hashed inline with sha2, frame by frame:
/// the same work as `fetch` without core's stream stack (timers, verification wrapper).
fn raw_hash_once(env: &Environment, id: &wa_media_hyper::MediaId) -> Result<f64, String> {
    use http_body_util::BodyExt;
    use sha2::Digest;
    use wa_media_core::Transport;
    let (url, hex) = env.fresh_url(id)?;
    let transport = env.client.transport().clone();
    let token = env.emu.token().to_owned();
    let size = env.plan.big;
    let took = run_on(&env.client_rt, async move {
        let req = http::Request::get(url)
            .header("authorization", format!("Bearer {token}"))
            .header("user-agent", "wa-media-bench")
            .body(wa_media_core::RequestBody::empty())
            .map_err(|e| e.to_string())?;
        let started = Instant::now();
        let resp = transport.send(req).await.map_err(|e| e.to_string())?;
        let mut body = resp.into_body();
        let mut hasher = sha2::Sha256::new();
        while let Some(frame) = body.frame().await {
            if let Some(d) = frame.map_err(|e| e.to_string())?.data_ref() {
                hasher.update(d);
            }
        }
        let got: String = hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        if got != hex {
            return Err("digest mismatch".to_owned());
        }
        Ok(started.elapsed())
    })??;
    Ok(mb_per_s(size, took))
}

/// The file-write variants against the emulator and against the minimal server, then where
/// the verifying stream is driven from and the bare transport, each alternating run by run.
pub fn rows(env: &Environment) -> Vec<Row> {
    let label = Plan::size_label(env.plan.big);
    let id = match env
        .payload("download-big.txt", env.plan.big, 1)
        .and_then(|p| env.upload(&p))
    {
        Ok(id) => id,
        Err(e) => {
            let mut r = Row::new("exp.upload", 1, "experiment media", "experiment", "MB/s");
            r.fail(e);
            return vec![r];
        }
    };
    let mut worker = Row::new(
        "exp.worker",
        1,
        format!("fetch {label} on a worker"),
        "experiment",
        "MB/s",
    );
    let mut outside = Row::new(
        "exp.outside",
        1,
        format!("fetch {label} from block_on"),
        "experiment",
        "MB/s",
    );
    let mut raw = Row::new(
        "exp.raw_hash",
        1,
        format!("bare transport + sha2 inline, {label}"),
        "experiment",
        "MB/s",
    );
    let _ = stream_once(env, &id, true);
    for _ in 0..env.plan.runs + 2 {
        for (row, w) in [(&mut worker, true), (&mut outside, false)] {
            match stream_once(env, &id, w) {
                Ok(v) => row.samples.push(v),
                Err(e) => row.fail(e),
            }
        }
        match raw_hash_once(env, &id) {
            Ok(v) => raw.samples.push(v),
            Err(e) => raw.fail(e),
        }
    }
    let mut rows = sink_rows(env, &env.client.clone(), &id, "emulator");
    env.delete(&id);
    let payload = bytes::Bytes::from(crate::environment::text_bytes(env.plan.big as usize, 7));
    match crate::reference::MinimalServer::start(&env.server, "experiment-token", payload, None)
        .and_then(|server| {
            let client = crate::reference::http_client(&server, "experiment-token")?;
            let id = crate::reference::media_id()?;
            Ok(sink_rows(env, &client, &id, "minimal server"))
        }) {
        Ok(r) => rows.extend(r),
        Err(e) => {
            let mut r = Row::new("exp.minimal", 1, "minimal server", "experiment", "MB/s");
            r.fail(e);
            rows.push(r);
        }
    }
    rows.extend([worker, outside, raw]);
    rows
}

/// Every [`Sink`], alternating run by run, against the server `client` talks to.
fn sink_rows(
    env: &Environment,
    client: &wa_media_hyper::MediaClient,
    id: &wa_media_hyper::MediaId,
    server: &str,
) -> Vec<Row> {
    let label = Plan::size_label(env.plan.big);
    let sinks = [
        ("inline", "write inline", Sink::Inline),
        (
            "second_digest",
            "write inline, second digest",
            Sink::InlineSecondDigest,
        ),
        ("thread", "writer thread", Sink::Thread),
        ("coalesced_1m", "1 MiB writes", Sink::Coalesced(1 << 20)),
        ("coalesced_4m", "4 MiB writes", Sink::Coalesced(4 << 20)),
        ("set_len", "set_len first", Sink::SetLen),
        ("fetch_to_file", "fetch_to_file itself", Sink::FetchToFile),
    ];
    let mut rows: Vec<Row> = sinks
        .iter()
        .map(|(key, what, _)| {
            Row::new(
                format!("exp.{}.{key}", server.replace(' ', "_")),
                1,
                format!("fetch {label} from the {server}, {what}"),
                "experiment",
                "MB/s",
            )
        })
        .collect();
    let _ = once(env, client, id, Sink::Inline);
    for _ in 0..env.plan.runs + 2 {
        for (row, (_, _, sink)) in rows.iter_mut().zip(sinks) {
            match once(env, client, id, sink) {
                Ok(v) => row.samples.push(v),
                Err(e) => row.fail(e),
            }
        }
    }
    rows
}
