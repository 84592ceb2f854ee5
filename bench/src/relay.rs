//! Scenario 14: `wa-media serve --forward` (issue 26). A receiving application (a bare hyper
//! server in this process, answering 200) stands behind `serve`:
//! - `relay.forward_p50` / `relay.forward_p99`: a text notification POSTed to `serve` until it
//!   reaches the application, one at a time (the spool's and the outbox's fsyncs included);
//! - `relay.ack_p99_1000`: the POST → 200 latency at p99 while 1,000 text notifications per
//!   second are offered (open loop), forwarding on;
//! - `relay.media_per_s`: scenario 8's media run with forwarding on, next to
//!   `inbound.media_per_s` without it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use tokio::sync::mpsc;

use crate::environment::{run_on, Environment};
use crate::memory::cli;
use crate::report::{percentile, Row};

/// Every row id of the scenario.
pub const ROWS: &[&str] = &[
    "relay.forward_p50",
    "relay.forward_p99",
    "relay.ack_p99_1000",
    "relay.media_per_s",
];

const SCENARIO: u8 = 14;
const SECRET: &str = "bench-app-secret";

/// The rows of scenario 14.
pub fn rows(env: &Environment) -> Vec<Row> {
    let mut p50 = Row::new(
        ROWS[0],
        SCENARIO,
        "relay: text notification, POST to serve → the application has it, p50",
        "wa-media serve --forward",
        "ms",
    );
    let mut p99 = Row::new(
        ROWS[1],
        SCENARIO,
        "relay: text notification, POST to serve → the application has it, p99 (goal < 20 ms)",
        "wa-media serve --forward",
        "ms",
    );
    let mut ack = Row::new(
        ROWS[2],
        SCENARIO,
        "relay: POST → 200 p99 at 1,000 text notifications/s offered, forwarding on",
        "wa-media serve --forward",
        "ms",
    );
    let mut media = Row::new(
        ROWS[3],
        SCENARIO,
        "relay: media saved + verified per second with forwarding on (goal: within 10 % of inbound.media_per_s)",
        "wa-media serve --forward",
        "media/s",
    );
    let Some(bin) = env.tools.cli.clone() else {
        let mut rows = vec![p50, p99, ack, media];
        rows.iter_mut()
            .for_each(|r| r.skip("no wa-media binary (--cli)"));
        return rows;
    };
    let quick = env.plan.quick;
    match latency(env, &bin, if quick { 5 } else { 300 }) {
        Ok(ms) => {
            let mut s = ms.clone();
            s.sort_by(f64::total_cmp);
            p50.samples.extend(percentile(&s, 50.0));
            p99.samples.extend(percentile(&s, 99.0));
            p99.note(format!("{} notifications, one at a time", ms.len()));
        }
        Err(e) => {
            p50.fail(&e);
            p99.fail(&e);
        }
    }
    match offered_load(env, &bin, if quick { 50 } else { 3_000 }) {
        Ok((ms, forwarded, rate)) => {
            let mut s = ms.clone();
            s.sort_by(f64::total_cmp);
            ack.samples.extend(percentile(&s, 99.0));
            ack.note(format!(
                "{} notifications offered at {rate:.0}/s achieved; {forwarded} forwarded",
                ms.len()
            ));
        }
        Err(e) => ack.fail(&e),
    }
    let notifications = if quick { 5 } else { 200 };
    match media_rate(env, &bin, notifications) {
        Ok((with, without, forwarded)) => {
            media.samples.push(with);
            media.note(format!(
                "without forwarding in the same stage: {without:.0} media/s ({:+.1} %); {forwarded} of {notifications} notifications forwarded when the last media was saved (serve is stopped then; the rest wait in the outbox)",
                (with / without - 1.0) * 100.0
            ));
        }
        Err(e) => media.fail(&e),
    }
    vec![p50, p99, ack, media]
}

/// The receiving application: answers 200 to every POST and reports when each arrived.
struct App {
    url: String,
    arrived: mpsc::UnboundedReceiver<(Instant, Bytes)>,
    count: Arc<AtomicU64>,
}

fn start_app(env: &Environment) -> Result<App, String> {
    let (tx, arrived) = mpsc::unbounded_channel();
    let count = Arc::new(AtomicU64::new(0));
    let c2 = count.clone();
    let listener = env
        .client_rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .map_err(|e| format!("app: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    env.client_rt.spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let (tx, c2) = (tx.clone(), c2.clone());
            tokio::spawn(async move {
                let svc =
                    hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                        let (tx, c2) = (tx.clone(), c2.clone());
                        async move {
                            let body = req
                                .into_body()
                                .collect()
                                .await
                                .map(|b| b.to_bytes())
                                .unwrap_or_default();
                            c2.fetch_add(1, Ordering::SeqCst);
                            let _ = tx.send((Instant::now(), body));
                            Ok::<_, std::convert::Infallible>(http::Response::new(Full::new(
                                Bytes::from_static(b"ok"),
                            )))
                        }
                    });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(tcp), svc)
                    .await;
            });
        }
    });
    Ok(App {
        url: format!("http://{addr}/hook"),
        arrived,
        count,
    })
}

/// A running `serve --forward`, and its webhook URL.
struct Running {
    child: std::process::Child,
    url: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

fn start_serve(
    env: &Environment,
    bin: &std::path::Path,
    app: &App,
    dir: &str,
) -> Result<Running, String> {
    use std::io::BufRead;
    let inbox = env.disk.as_ref().unwrap_or(&env.work).join(dir);
    let _ = std::fs::remove_dir_all(&inbox);
    let mut child = cli(env, bin)
        .args([
            "--json",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--app-secret",
            SECRET,
            "--forward",
            &app.url,
            "-d",
        ])
        .arg(&inbox)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start serve: {e}"))?;
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
    std::thread::spawn(move || lines.for_each(drop));
    Ok(Running { child, url })
}

fn text_notification(i: usize) -> String {
    serde_json::json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
            "contacts": [{"profile": {"name": "Bench"}, "wa_id": "16505551234", "user_id": "US.13491208655302741918"}],
            "messages": [{"from": "16505551234", "id": format!("wamid.BENCH{i}"), "timestamp": "1749416383",
                          "type": "text", "text": {"body": format!("message {i}")}}]
        }}]}]
    })
    .to_string()
}

fn post(
    client: &hyper_util::client::legacy::Client<
        hyper_util::client::legacy::connect::HttpConnector,
        Full<Bytes>,
    >,
    url: &str,
    body: String,
) -> impl std::future::Future<Output = Result<f64, String>> + Send + 'static {
    let sig = wa_media_types::signature_header(SECRET.as_bytes(), body.as_bytes());
    let req = http::Request::post(url)
        .header("content-type", "application/json")
        .header("x-hub-signature-256", sig)
        .body(Full::new(Bytes::from(body)));
    let client = client.clone();
    async move {
        let req = req.map_err(|e| e.to_string())?;
        let t = Instant::now();
        let resp = client
            .request(req)
            .await
            .map_err(|e| format!("POST: {e}"))?;
        let status = resp.status();
        let _ = resp.into_body().collect().await;
        if status != http::StatusCode::OK {
            return Err(format!("POST answered {status}"));
        }
        Ok(t.elapsed().as_secs_f64() * 1000.0)
    }
}

fn http_client() -> hyper_util::client::legacy::Client<
    hyper_util::client::legacy::connect::HttpConnector,
    Full<Bytes>,
> {
    hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build_http()
}

fn latency(env: &Environment, bin: &std::path::Path, n: usize) -> Result<Vec<f64>, String> {
    let mut app = start_app(env)?;
    let serve = start_serve(env, bin, &app, "relay-latency")?;
    let client = http_client();
    let mut out = Vec::new();
    for i in 0..n + 3 {
        let started = Instant::now();
        run_on(
            &env.client_rt,
            post(&client, &serve.url, text_notification(i)),
        )??;
        let (at, _) = env
            .client_rt
            .block_on(async {
                tokio::time::timeout(Duration::from_secs(10), app.arrived.recv()).await
            })
            .map_err(|_| "a forward did not arrive within 10 s".to_string())?
            .ok_or("the application stopped")?;
        // The first three warm the connections up.
        if i >= 3 {
            out.push(at.duration_since(started).as_secs_f64() * 1000.0);
        }
    }
    drop(serve);
    Ok(out)
}

fn offered_load(
    env: &Environment,
    bin: &std::path::Path,
    n: usize,
) -> Result<(Vec<f64>, u64, f64), String> {
    let app = start_app(env)?;
    let serve = start_serve(env, bin, &app, "relay-load")?;
    let client = http_client();
    let url = serve.url.clone();
    let started = Instant::now();
    let acks = run_on(&env.client_rt, async move {
        let start = tokio::time::Instant::now();
        let mut tasks = Vec::with_capacity(n);
        for i in 0..n {
            // Open loop: notification i is offered at i ms, whatever the answers do.
            tokio::time::sleep_until(start + Duration::from_millis(i as u64)).await;
            tasks.push(tokio::spawn(post(
                &client,
                &url,
                text_notification(100_000 + i),
            )));
        }
        let mut acks = Vec::with_capacity(n);
        for t in tasks {
            acks.push(t.await.map_err(|e| e.to_string())??);
        }
        Ok::<_, String>(acks)
    })??;
    let offered_for = started.elapsed().as_secs_f64();
    let deadline = Instant::now() + Duration::from_secs(60);
    while app.count.load(Ordering::SeqCst) < n as u64 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    drop(serve);
    Ok((
        acks,
        app.count.load(Ordering::SeqCst),
        n as f64 / offered_for,
    ))
}

/// Media/s with forwarding on, and without it in the same stage (alternated, best of two each):
/// (with, without, forwards delivered by the time the last media was saved, notifications).
fn media_rate(
    env: &Environment,
    bin: &std::path::Path,
    notifications: usize,
) -> Result<(f64, f64, u64), String> {
    let app = start_app(env)?;
    let extra = ["--forward".to_string(), app.url.clone()];
    let (mut with, mut without, mut forwarded) = (0f64, 0f64, 0);
    for _ in 0..2 {
        without = without.max(crate::inbound::measure(env, bin, notifications, &[])?.media_per_s);
        let before = app.count.load(Ordering::SeqCst);
        let m = crate::inbound::measure(env, bin, notifications, &extra)?;
        if m.media_per_s > with {
            with = m.media_per_s;
            forwarded = app.count.load(Ordering::SeqCst) - before;
        }
    }
    Ok((with, without, forwarded))
}
