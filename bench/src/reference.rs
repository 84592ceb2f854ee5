//! Scenario 10 (issue 18, parts 1 and 3): the achievable limit, measured in the same run.
//!
//! A minimal server (bare hyper, answers prepared in memory: [`server`]) and a minimal client
//! (one hyper connection, sha2 inline, `std::fs`: [`client`]) do the least a verified download
//! needs — the reference pipelines (a) http to a file, (b) http without a file, (c) TLS to a
//! file. The project's `fetch_to_file` / `fetch` then run against the same server, alternating
//! with their reference run by run, so the client is measured alone; each of those rows' ratio
//! is its median over its reference's. Uploads are measured alone too: the same server drains
//! `POST /<version>/<phone id>/media` and answers `{"id":…}`; the project's `upload` is compared
//! with `curl -F`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use wa_media_emulator::LocalPki;

use crate::environment::{mb_per_s, run_on, text_bytes, Environment, Plan};
use crate::report::{Report, Row, Status, Target};

mod client;
mod cpu;
mod project;
mod server;

use client::{RefClient, Sink};
use cpu::{Sample, Stopwatch};
// Also used by the experiment stage (the sink variants against the minimal server).
pub use project::{http_client, media_id};
pub use server::MinimalServer;

/// The scenario number of every row here.
const SCENARIO: u8 = 10;

/// The token the minimal server requires.
const TOKEN: &str = "reference-token";

/// The payload's seed (any: the bytes only need to be valid `text/plain`).
const SEED: u64 = 10;

/// The row ids this stage produces.
pub const ROWS: &[&str] = &[
    "reference.http.file",
    "alone.http.fetch_to_file",
    "reference.http.nofile",
    "alone.http.fetch",
    "reference.tls.file",
    "alone.tls.fetch_to_file",
    "alone.upload.project",
    "alone.upload.curl",
];

/// One row and how to take one sample of it (one timed transfer).
struct Contender<'a> {
    row: Row,
    run: Box<dyn FnMut() -> Result<Sample, String> + 'a>,
    /// CPU milliseconds of each timed run.
    cpu_ms: Vec<f64>,
}

impl<'a> Contender<'a> {
    fn new(row: Row, run: impl FnMut() -> Result<Sample, String> + 'a) -> Self {
        Self {
            row,
            run: Box::new(run),
            cpu_ms: Vec::new(),
        }
    }

    /// The row, with the median CPU time per run noted.
    fn finish(mut self) -> Row {
        if let Some(ms) = crate::report::median(&self.cpu_ms) {
            self.row.note(format!(
                "CPU {ms:.0} ms per run (whole process incl. server, + children; 10 ms ticks)"
            ));
        }
        self.row
    }
}

/// Timed rounds in a full run: each run takes a fraction of a second, and with 5 rounds the
/// medians of two contenders on this 2-core VM moved by ±15 % between identical runs.
const FULL_ROUNDS: usize = 15;

/// Runs every contender in turn, [`FULL_ROUNDS`] rounds (one with `--quick`) after one untimed
/// warm-up round in full mode; every other round runs them in reverse order, so that neither
/// always runs right after the other.
fn alternate(env: &Environment, size: u64, contenders: &mut [Contender<'_>]) {
    let live = |c: &Contender<'_>| c.row.status == Status::Ok;
    if !env.plan.quick {
        for c in contenders.iter_mut().filter(|c| live(c)) {
            if let Err(e) = (c.run)() {
                c.row.fail(format!("warm-up: {e}"));
            }
        }
    }
    let rounds = if env.plan.quick { 1 } else { FULL_ROUNDS };
    for round in 0..rounds {
        let mut order: Vec<&mut Contender<'_>> = contenders.iter_mut().collect();
        if round % 2 == 1 {
            order.reverse();
        }
        for c in order.into_iter().filter(|c| live(c)) {
            match (c.run)() {
                Ok(s) => {
                    c.row.samples.push(mb_per_s(size, s.took));
                    if let Some(cpu) = s.cpu {
                        c.cpu_ms.push(cpu.as_secs_f64() * 1e3);
                    }
                }
                Err(e) => c.row.fail(e),
            }
        }
    }
}

/// Sets `row.ratio` to its median over `base`'s.
fn ratio(row: &mut Row, base: &Row) {
    if let (Some(p), Some(b)) = (row.median(), base.median()) {
        row.ratio = Some(p / b);
    }
}

/// One timed run of the reference client.
fn reference_once(
    env: &Environment,
    client: &RefClient,
    sink: &Sink,
    size: u64,
) -> Result<Sample, String> {
    let client = client.clone();
    let sink_owned = sink.clone();
    let r = run_on(&env.client_rt, async move {
        let watch = Stopwatch::start();
        let got = client.fetch(&sink_owned).await?;
        Ok::<_, String>((watch.stop(), got))
    });
    if let Sink::File(dest) = sink {
        let _ = std::fs::remove_file(dest);
    }
    let (took, got) = r??;
    if got != size {
        return Err(format!("received {got} of {size} bytes"));
    }
    Ok(took)
}

/// Rows that all failed with `e` (the server or a client could not be set up).
fn failed(rows: Vec<Row>, e: &str) -> Vec<Row> {
    rows.into_iter()
        .map(|mut r| {
            r.fail(e);
            r
        })
        .collect()
}

fn download_what(label: &str, how: &str) -> String {
    format!("download+verify {label}, {how}, vs minimal server")
}

/// A row of this stage with its notes.
fn row(id: &str, what: &str, client: &str, notes: &[&str]) -> Row {
    let mut r = Row::new(id, SCENARIO, what, client, "MB/s");
    for n in notes {
        r.note(*n);
    }
    r
}

/// Pipelines (a) and (b) and the project's `fetch_to_file` and `fetch`, over plain HTTP.
fn http_rows(env: &Environment, server: &MinimalServer, work: &Path) -> Vec<Row> {
    let size = server.size;
    let label = Plan::size_label(size);
    let file_what = download_what(&label, "http");
    let nofile_what = download_what(&label, "http, no file");
    let ref_a = row(
        "reference.http.file",
        &file_what,
        "reference: hyper conn + sha2 + std::fs",
        &[
            "(a) retrieve + download on one kept-alive connection; sha2 per frame; \
           std::fs to a temp name, sync_all, rename, dir sync",
        ],
    );
    let alone_a = row(
        "alone.http.fetch_to_file",
        &file_what,
        "wa-media fetch_to_file",
        &[
            "\"vs\" = ratio to reference (a) reference.http.file, not curl",
            "reused client, retrieve included",
        ],
    );
    let ref_b = row(
        "reference.http.nofile",
        &nofile_what,
        "reference: hyper conn + sha2",
        &["(b) as (a), chunks hashed and dropped"],
    );
    let alone_b = row(
        "alone.http.fetch",
        &nofile_what,
        "wa-media fetch",
        &[
            "\"vs\" = ratio to reference (b) reference.http.nofile, not curl",
            "chunks dropped",
        ],
    );
    let project = match project::http_client(server, TOKEN) {
        Ok(c) => c,
        Err(e) => return failed(vec![ref_a, alone_a, ref_b, alone_b], &e),
    };
    let reference = RefClient::http(server.addr, TOKEN);
    let ref_file = Sink::File(work.join("reference-a.bin"));
    let alone_dest = work.join("alone-a.bin");
    let mut c = [
        Contender::new(ref_a, || reference_once(env, &reference, &ref_file, size)),
        Contender::new(alone_a, || {
            project::fetch_to_file(env, &project, &alone_dest, size)
        }),
        Contender::new(ref_b, || {
            reference_once(env, &reference, &Sink::Discard, size)
        }),
        Contender::new(alone_b, || project::fetch(env, &project, size)),
    ];
    alternate(env, size, &mut c);
    let [ref_a, mut alone_a, ref_b, mut alone_b] = c.map(Contender::finish);
    ratio(&mut alone_a, &ref_a);
    ratio(&mut alone_b, &ref_b);
    vec![ref_a, alone_a, ref_b, alone_b]
}

/// The TLS minimal server (a fresh CA, a certificate for the production names) and the two
/// clients of it.
fn tls_setup(
    env: &Environment,
    payload: Bytes,
) -> Result<(MinimalServer, RefClient, wa_media_hyper::MediaClient), String> {
    let names = [
        "graph.facebook.com".to_owned(),
        "lookaside.fbsbx.com".to_owned(),
    ];
    let pki = LocalPki::generate("wa-media-bench reference CA", "minimal server", &names)
        .map_err(|e| format!("reference PKI: {e}"))?;
    let config = pki
        .server_config(&[b"http/1.1"])
        .map_err(|e| format!("reference TLS server: {e}"))?;
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let server = MinimalServer::start(&env.server, TOKEN, payload, Some(acceptor))?;
    let reference = RefClient::tls(server.addr, TOKEN, &pki.ca_der)?;
    let project = project::tls_client(&server, TOKEN, &pki.ca_pem)?;
    Ok((server, reference, project))
}

/// Pipeline (c) and the project's `fetch_to_file`, over TLS (rustls with ring on both ends).
fn tls_rows(env: &Environment, payload: Bytes, work: &Path) -> Vec<Row> {
    let label = Plan::size_label(payload.len() as u64);
    let what = download_what(&label, "TLS");
    let ref_c = row(
        "reference.tls.file",
        &what,
        "reference: hyper conn + rustls + sha2 + std::fs",
        &["(c) as (a) over TLS 1.3, one connection for retrieve and download"],
    );
    let alone_c = row(
        "alone.tls.fetch_to_file",
        &what,
        "wa-media fetch_to_file",
        &[
            "\"vs\" = ratio to reference (c) reference.tls.file, not curl",
            "graph and lookaside names resolved to the server",
        ],
    );
    let (server, reference, project) = match tls_setup(env, payload) {
        Ok(s) => s,
        Err(e) => return failed(vec![ref_c, alone_c], &e),
    };
    let size = server.size;
    let ref_file = Sink::File(work.join("reference-c.bin"));
    let alone_dest = work.join("alone-c.bin");
    let mut c = [
        Contender::new(ref_c, || reference_once(env, &reference, &ref_file, size)),
        Contender::new(alone_c, || {
            project::fetch_to_file(env, &project, &alone_dest, size)
        }),
    ];
    alternate(env, size, &mut c);
    let [ref_c, mut alone_c] = c.map(Contender::finish);
    ratio(&mut alone_c, &ref_c);
    drop(server);
    vec![ref_c, alone_c]
}

/// The project's `upload` against `curl -F`, into the server's discarding endpoint.
fn upload_rows(env: &Environment, server: &MinimalServer, file: &Path) -> Vec<Row> {
    let size = server.size;
    let what = format!(
        "upload {} document, vs minimal discarding server",
        Plan::size_label(size)
    );
    let project_row = row(
        "alone.upload.project",
        &what,
        "wa-media upload",
        &["\"vs\" = ratio to curl -F; validation + multipart stream from the file"],
    );
    let mut curl_row = row(
        "alone.upload.curl",
        &what,
        "curl -F",
        &["same form fields, part type and token"],
    );
    if env.tools.curl.is_none() {
        curl_row.skip("curl not installed");
    }
    let project = match project::http_client(server, TOKEN) {
        Ok(c) => c,
        Err(e) => return failed(vec![project_row, curl_row], &e),
    };
    let mut c = [
        Contender::new(project_row, || {
            project::upload(env, server, &project, file, size)
        }),
        Contender::new(curl_row, || {
            project::curl_upload(env, server, TOKEN, file, size)
        }),
    ];
    alternate(env, size, &mut c);
    let [mut project_row, curl_row] = c.map(Contender::finish);
    ratio(&mut project_row, &curl_row);
    vec![project_row, curl_row]
}

/// This stage's rows: the pipelines, the project against the same server, the uploads.
pub fn rows(env: &Environment) -> Vec<Row> {
    let size = env.plan.big;
    let payload = Bytes::from(text_bytes(size as usize, SEED));
    let work: PathBuf = env.work.clone();
    let upload_file = work.join("reference-upload.txt");
    let mut rows = Vec::new();
    match MinimalServer::start(&env.server, TOKEN, payload.clone(), None) {
        Ok(server) => {
            rows.extend(http_rows(env, &server, &work));
            let upload = std::fs::write(&upload_file, &payload[..])
                .map_err(|e| format!("{}: {e}", upload_file.display()));
            let mut up = upload_rows(env, &server, &upload_file);
            if let Err(e) = upload {
                up = failed(up, &e);
            }
            let _ = std::fs::remove_file(&upload_file);
            rows.extend(up);
        }
        Err(e) => {
            for id in ROWS.iter().filter(|id| !id.contains("tls")) {
                let mut r = Row::new(*id, SCENARIO, "vs minimal server", "", "MB/s");
                r.fail(&e);
                rows.push(r);
            }
        }
    }
    rows.extend(tls_rows(env, payload, &work));
    rows
}

/// "project ≥ fraction of reference" from two rows' medians.
fn at_least(report: &Report, text: &str, project: &str, reference: &str, min: f64) -> Target {
    let med = |id: &str| report.get(id).and_then(Row::median);
    match (med(project), med(reference)) {
        (Some(p), Some(r)) => (
            text.to_owned(),
            Some(p >= min * r),
            format!(
                "{project} {p:.0} vs {reference} {r:.0} MB/s = {:.0} %",
                p / r * 100.0
            ),
        ),
        _ => (text.to_owned(), None, "no number".into()),
    }
}

/// This stage's targets (ratios within one run; reported, never enforced).
pub fn targets(report: &Report) -> Vec<Target> {
    let up = report.get("alone.upload.project").and_then(Row::median);
    let curl = report.get("alone.upload.curl").and_then(Row::median);
    vec![
        at_least(
            report,
            "fetch_to_file ≥ 90 % of reference (a), http to a file, minimal server",
            "alone.http.fetch_to_file",
            "reference.http.file",
            0.9,
        ),
        at_least(
            report,
            "fetch ≥ 95 % of reference (b), http without a file, minimal server",
            "alone.http.fetch",
            "reference.http.nofile",
            0.95,
        ),
        at_least(
            report,
            "TLS fetch_to_file ≥ 90 % of reference (c), TLS to a file, minimal server",
            "alone.tls.fetch_to_file",
            "reference.tls.file",
            0.9,
        ),
        match (up, curl) {
            (Some(p), Some(c)) => (
                "upload ≥ 1.2× curl -F, minimal discarding server".into(),
                Some(p >= 1.2 * c),
                format!("{p:.0} vs {c:.0} MB/s = {:.2}×", p / c),
            ),
            _ => (
                "upload ≥ 1.2× curl -F, minimal discarding server".into(),
                None,
                "no number".into(),
            ),
        },
    ]
}
