//! Scenario 1 (download + verify: the project's `fetch_to_file` against `curl -o` then
//! `sha256sum`, over plain HTTP and once over TLS) and scenario 7's download half (how fast the
//! emulator serves a file to a client that neither hashes nor writes).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use http_body_util::BodyExt;
use wa_media_core::{MediaApi, MediaApiExt, RequestBody, Transport};
use wa_media_emulator::{Emulator, EmulatorHandle};
use wa_media_hyper::{MediaClient, MediaId};

use crate::environment::{mb_per_s, run_on, timed_command, Environment, Plan, PHONE};
use crate::report::Row;

/// How curl reaches the emulator in TLS mode.
#[derive(Debug, Clone)]
pub(crate) struct CurlTls {
    ca: PathBuf,
    connect_to: String,
}

/// One `fetch_to_file` into `dest`; checks the reported digest; returns the elapsed time.
fn project_once(
    env: &Environment,
    client: &MediaClient,
    id: &MediaId,
    dest: &Path,
) -> Result<Duration, String> {
    let client = client.clone();
    let id = id.clone();
    let dest_owned = dest.to_owned();
    let r = run_on(&env.client_rt, async move {
        let started = Instant::now();
        let file = client
            .fetch_to_file(&id, &dest_owned)
            .await
            .map_err(|e| format!("fetch_to_file: {e}"))?;
        Ok::<_, String>((started.elapsed(), file.file_size))
    })?;
    let _ = std::fs::remove_file(dest);
    r.map(|(took, _)| took)
}

/// `curl -o dest URL` with the token, then `sha256sum dest`, compared with the expected digest.
fn curl_once(
    env: &Environment,
    url: &str,
    token: &str,
    expected_hex: &str,
    dest: &Path,
    tls: Option<&CurlTls>,
) -> Result<Duration, String> {
    let (Some(curl), Some(sum)) = (&env.tools.curl, &env.tools.sha256sum) else {
        return Err("curl or sha256sum missing".into());
    };
    let started = Instant::now();
    let mut c = Command::new(curl);
    c.args(["-s", "-S", "-f", "-o"])
        .arg(dest)
        .arg("-H")
        .arg(format!("Authorization: Bearer {token}"));
    if let Some(t) = tls {
        c.arg("--cacert")
            .arg(&t.ca)
            .arg("--connect-to")
            .arg(&t.connect_to);
    }
    c.arg(url);
    timed_command(&mut c, "curl")?;
    let (_, out) = timed_command(Command::new(sum).arg(dest), "sha256sum")?;
    let took = started.elapsed();
    let _ = std::fs::remove_file(dest);
    let got = String::from_utf8_lossy(&out);
    let got = got.split_whitespace().next().unwrap_or("");
    if got != expected_hex {
        return Err(format!("sha256sum printed {got}, expected {expected_hex}"));
    }
    Ok(took)
}

/// Runs project and curl alternately `runs` times (after one warm-up each in full mode).
#[allow(clippy::too_many_arguments)]
fn compare(
    env: &Environment,
    client: &MediaClient,
    token: &str,
    id: &MediaId,
    size: u64,
    dest_dir: &Path,
    tls: Option<&CurlTls>,
    key: &str,
    what: &str,
) -> (Row, Row) {
    let mut project = Row::new(
        format!("{key}.project"),
        1,
        what,
        "wa-media fetch_to_file",
        "MB/s",
    );
    let mut curl = Row::new(format!("{key}.curl"), 1, what, "curl + sha256sum", "MB/s");
    let dest = dest_dir.join(format!("download-{key}.bin"));
    let curl_ready = match (&env.tools.curl, &env.tools.sha256sum) {
        (Some(_), Some(_)) => true,
        (None, _) => {
            curl.skip("curl not installed");
            false
        }
        (_, None) => {
            curl.skip("sha256sum not installed");
            false
        }
    };
    let curl_run = |curl: &mut Row| -> Option<f64> {
        let r = env
            .fresh_url_with(client, id)
            .and_then(|(url, hex)| curl_once(env, &url, token, &hex, &dest, tls));
        match r {
            Ok(took) => Some(mb_per_s(size, took)),
            Err(e) => {
                curl.fail(e);
                None
            }
        }
    };
    if !env.plan.quick {
        let _ = project_once(env, client, id, &dest);
        if curl_ready {
            let _ = curl_run(&mut curl);
        }
    }
    for _ in 0..env.plan.runs {
        match project_once(env, client, id, &dest) {
            Ok(took) => project.samples.push(mb_per_s(size, took)),
            Err(e) => project.fail(e),
        }
        if curl_ready {
            if let Some(v) = curl_run(&mut curl) {
                curl.samples.push(v);
            }
        }
    }
    project.note("reused client, retrieve included");
    curl.note("fresh URL retrieved untimed");
    if let (Some(p), Some(c)) = (project.median(), curl.median()) {
        project.ratio = Some(p / c);
    }
    (project, curl)
}

impl Environment {
    /// A fresh URL and the expected hex digest, through `client`.
    fn fresh_url_with(
        &self,
        client: &MediaClient,
        id: &MediaId,
    ) -> Result<(String, String), String> {
        let client = client.clone();
        let id = id.clone();
        run_on(&self.client_rt, async move {
            client
                .retrieve(&id)
                .await
                .map(|r| (r.url.into_exposed(), r.sha256.to_hex()))
                .map_err(|e| format!("retrieve: {e}"))
        })?
    }
}

/// Scenario 7: GET the download URL with the client's transport and drop every frame (no hash,
/// no file): what the emulator can serve, measured with the lightest client there is.
fn serve_rate(env: &Environment, id: &MediaId, size: u64) -> Row {
    let mut row = Row::new(
        "emulator.download",
        7,
        format!(
            "emulator serves {} (client discards)",
            Plan::size_label(size)
        ),
        "hyper, no hash",
        "MB/s",
    );
    let runs = if env.plan.quick { 1 } else { env.plan.runs + 1 };
    for i in 0..runs {
        let r = env.fresh_url(id).and_then(|(url, _)| {
            let transport = env.client.transport().clone();
            let token = env.emu.token().to_owned();
            run_on(&env.client_rt, async move {
                let req = http::Request::get(url)
                    .header("authorization", format!("Bearer {token}"))
                    .header("user-agent", "wa-media-bench")
                    .body(RequestBody::empty())
                    .map_err(|e| e.to_string())?;
                let started = Instant::now();
                let resp = transport.send(req).await.map_err(|e| e.to_string())?;
                if !resp.status().is_success() {
                    return Err(format!("status {}", resp.status()));
                }
                let mut body = resp.into_body();
                let mut got = 0u64;
                while let Some(frame) = body.frame().await {
                    let frame = frame.map_err(|e| e.to_string())?;
                    if let Some(d) = frame.data_ref() {
                        got += d.len() as u64;
                    }
                }
                Ok((got, started.elapsed()))
            })?
        });
        match r {
            Ok((got, _)) if got != size => {
                row.fail(format!("received {got} of {size} bytes"));
                break;
            }
            // The first full-mode run warms the connection up.
            Ok((_, took)) if i > 0 || env.plan.quick => row.samples.push(mb_per_s(size, took)),
            Ok(_) => {}
            Err(e) => {
                row.fail(e);
                break;
            }
        }
    }
    row.note("headers to last byte");
    row
}

/// Scenario 1 without the file: `fetch` (retrieve, download, SHA-256 and size verified while
/// streaming) with every chunk dropped, to separate the cost of writing the file.
fn stream_rate(env: &Environment, id: &MediaId, size: u64) -> Row {
    let mut row = Row::new(
        "download.big.stream.project",
        1,
        format!(
            "download+verify {}, http, no file (chunks dropped)",
            Plan::size_label(size)
        ),
        "wa-media fetch",
        "MB/s",
    );
    let runs = if env.plan.quick { 1 } else { env.plan.runs + 1 };
    let mut frames = Vec::new();
    for i in 0..runs {
        let client = env.client.clone();
        let id = id.clone();
        let fut = async move {
            use futures_util::StreamExt;
            let started = Instant::now();
            let mut dl = client.fetch(&id).await.map_err(|e| format!("fetch: {e}"))?;
            let (mut got, mut frames) = (0u64, 0u64);
            while let Some(chunk) = dl.next().await {
                got += chunk.map_err(|e| format!("fetch body: {e}"))?.len() as u64;
                frames += 1;
            }
            Ok::<_, String>((got, started.elapsed(), frames))
        };
        let r = run_on(&env.client_rt, fut).and_then(|r| r);
        match r {
            Ok((got, ..)) if got != size => {
                row.fail(format!("received {got} of {size} bytes"));
                break;
            }
            Ok((_, took, n)) if i > 0 || env.plan.quick => {
                row.samples.push(mb_per_s(size, took));
                frames.push(n);
            }
            Ok(_) => {}
            Err(e) => {
                row.fail(e);
                break;
            }
        }
    }
    if let Some(n) = frames.iter().copied().max() {
        row.note(format!(
            "{} KiB per chunk on average",
            size / n.max(1) / 1024
        ));
    }
    row.note("shows what writing the file costs");
    row
}

/// Starts a TLS emulator and a client for it (the emulator's CA and resolve overrides only).
pub(crate) fn tls_setup(
    env: &Environment,
) -> Result<(EmulatorHandle, MediaClient, CurlTls), String> {
    let data = env.work.join("emulator-tls-data");
    let emu = env
        .server
        .block_on(Emulator::builder().tls(true).data_dir(&data).start())
        .map_err(|e| format!("TLS emulator: {e}"))?;
    let ca = emu
        .ca_certificate_pem()
        .ok_or("TLS emulator has no CA certificate")?;
    let ca_path = emu
        .ca_certificate_path()
        .ok_or("TLS emulator has no CA file")?
        .to_owned();
    let client = wa_media_hyper::builder()
        .transport(
            crate::environment::transport_builder()
                .add_root_certificate_pem(ca)
                .built_in_roots(false)
                .resolve("graph.facebook.com", emu.graph_addr())
                .resolve("lookaside.fbsbx.com", emu.lookaside_addr()),
        )
        .token(emu.token())
        .phone_number_id(PHONE)
        .retry_policy(wa_media_core::RetryPolicy::none())
        .build()
        .map_err(|e| format!("TLS client: {e}"))?;
    let connect_to = format!("lookaside.fbsbx.com:443:{}", emu.lookaside_addr());
    Ok((
        emu,
        client,
        CurlTls {
            ca: ca_path,
            connect_to,
        },
    ))
}

/// All rows of scenario 1 and the download half of scenario 7.
pub fn rows(env: &Environment) -> Vec<Row> {
    let plan = env.plan.clone();
    let mut rows = Vec::new();
    let token = env.emu.token().to_owned();
    let big_label = Plan::size_label(plan.big);
    let small_label = Plan::size_label(plan.small);
    let big_row_key = "download.big.http";

    let ids = env
        .payload("download-big.txt", plan.big, 1)
        .and_then(|p| env.upload(&p))
        .and_then(|big| {
            env.payload("download-small.txt", plan.small, 2)
                .and_then(|p| env.upload(&p))
                .map(|small| (big, small))
        });
    let (big, small) = match ids {
        Ok(ids) => ids,
        Err(e) => {
            for (key, what) in [
                (big_row_key, big_label.clone()),
                ("download.small.http", small_label.clone()),
            ] {
                for who in ["project", "curl"] {
                    let mut r = Row::new(format!("{key}.{who}"), 1, what.clone(), who, "MB/s");
                    r.fail(&e);
                    rows.push(r);
                }
            }
            return rows;
        }
    };
    let work = env.work.clone();
    let (p, c) = compare(
        env,
        &env.client,
        &token,
        &big,
        plan.big,
        &work,
        None,
        big_row_key,
        &format!("download+verify {big_label}, http"),
    );
    rows.extend([p, c]);
    let (p, c) = compare(
        env,
        &env.client,
        &token,
        &small,
        plan.small,
        &work,
        None,
        "download.small.http",
        &format!("download+verify {small_label}, http"),
    );
    rows.extend([p, c]);

    // The same large download over TLS 1.3 (production hostnames mapped to the emulator).
    let tls_key = "download.big.tls";
    let tls_what = format!("download+verify {big_label}, TLS");
    match tls_setup(env).and_then(|(emu, client, curl_tls)| {
        let path = env.payload("download-big.txt", plan.big, 1)?;
        let client2 = client.clone();
        let id = run_on(&env.client_rt, async move {
            client2
                .upload(wa_media_core::Upload::from_path(
                    path,
                    crate::environment::text_plain(),
                ))
                .await
                .map_err(|e| format!("TLS upload: {e}"))
        })??;
        let out = compare(
            env,
            &client,
            emu.token(),
            &id,
            plan.big,
            &work,
            Some(&curl_tls),
            tls_key,
            &tls_what,
        );
        env.server.block_on(emu.shutdown());
        Ok(out)
    }) {
        Ok((p, c)) => rows.extend([p, c]),
        Err(e) => {
            for who in ["project", "curl"] {
                let mut r = Row::new(format!("{tls_key}.{who}"), 1, tls_what.clone(), who, "MB/s");
                r.fail(&e);
                rows.push(r);
            }
        }
    }

    // To a directory on disk: fetch_to_file fsyncs before the rename, curl does not.
    if let Some(disk) = disk_dir(env) {
        let mut row = Row::new(
            "download.big.disk.project",
            1,
            format!("download+verify {big_label}, http, to disk (fsync)"),
            "wa-media fetch_to_file",
            "MB/s",
        );
        let dest = disk.join("download-disk.bin");
        for _ in 0..plan.runs {
            match project_once(env, &env.client, &big, &dest) {
                Ok(took) => row.samples.push(mb_per_s(plan.big, took)),
                Err(e) => row.fail(e),
            }
        }
        row.note(format!("into {}", disk.display()));
        let _ = std::fs::remove_dir_all(&disk);
        rows.push(row);
    }

    rows.push(stream_rate(env, &big, plan.big));
    rows.push(serve_rate(env, &big, plan.big));
    env.delete(&big);
    env.delete(&small);
    rows
}

/// A scratch directory on a disk file system (under the `--out` directory), used to show the
/// cost of the final fsync that a tmpfs work directory hides.
fn disk_dir(env: &Environment) -> Option<PathBuf> {
    let dir = env.disk.as_ref()?.join("disk-scratch");
    std::fs::create_dir_all(&dir).ok()?;
    Some(dir)
}
