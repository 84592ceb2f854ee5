//! Scenario 2, continued (issue 27): the Resumable Upload API. The large payload uploaded
//! through `upload_resumable` (a template example's path: session, one streamed POST, the
//! handle), next to the multipart upload's rows; and the bytes sent again after a connection
//! reset at 60 % of the file: the goal is at most what the server had not kept, never the whole
//! file (a multipart upload starts over and sends all of it again).

use std::path::Path;
use std::time::{Duration, Instant};

use wa_media_core::{MediaClient, ResumableUpload, RetryPolicy, Upload};
use wa_media_emulator::{Endpoint, Fault};

use crate::environment::{mb_per_s, run_on, Environment, Plan};
use crate::report::Row;

/// The app id the sessions are opened for (any numeric id).
const APP_ID: &str = "1234567890123";

fn once(
    env: &Environment,
    client: &MediaClient,
    path: &Path,
) -> Result<(Duration, ResumableUpload), String> {
    let client = client.clone();
    let path = path.to_owned();
    run_on(&env.client_rt, async move {
        // The text payload declared as a PDF: the API takes PDF, JPEG, PNG and MP4, and the
        // emulator does not look inside; local content validation is skipped for it.
        let pdf = "application/pdf".parse().map_err(|e| format!("{e}"))?;
        let started = Instant::now();
        let up = client
            .upload_resumable(APP_ID, Upload::from_path(path, pdf).skip_validation())
            .await
            .map_err(|e| format!("resumable upload: {e}"))?;
        Ok((started.elapsed(), up))
    })?
}

/// The resumable rows: MB/s, and MiB sent again after a reset at 60 %.
pub fn rows(env: &Environment, path: &Path) -> Vec<Row> {
    let size = env.plan.big;
    let what = format!("upload {} document", Plan::size_label(size));
    let mut speed = Row::new(
        "upload.big.resumable",
        2,
        &what,
        "wa-media upload --resumable",
        "MB/s",
    );
    let mut resent = Row::new(
        "upload.resumable.resent_after_reset",
        2,
        format!("{what}, connection reset at 60 %"),
        "wa-media upload --resumable",
        "MiB",
    );
    if !env.plan.quick {
        let _ = once(env, &env.client, path);
    }
    for _ in 0..env.plan.runs {
        match once(env, &env.client, path) {
            Ok((took, _)) => speed.samples.push(mb_per_s(size, took)),
            Err(e) => speed.fail(e),
        }
    }
    speed.note("session + one streamed POST upload:<SESSION> (OAuth), from the file");
    env.emu
        .faults()
        .push(Endpoint::ResumableUpload, Fault::ResetAt { percent: 60 }, 1);
    // The shared client never retries (a timing is one attempt); resuming needs a budget.
    let resuming = wa_media_hyper::builder()
        .token(env.emu.token())
        .graph_url(env.emu.graph_url())
        .retry_policy(RetryPolicy::default().with_max_attempts(3))
        .map_transport(|t| t.no_proxy())
        .build()
        .map_err(|e| format!("client: {e}"));
    match resuming.and_then(|c| once(env, &c, path)) {
        Ok((_, up)) => {
            let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
            let again = up.bytes_sent.saturating_sub(up.file_length);
            resent.samples.push(mib(again));
            let server = env
                .emu
                .upload_sessions()
                .into_iter()
                .find(|s| s.id == up.session)
                .map_or(0, |s| s.bytes_received.saturating_sub(s.file_length));
            let unacked = up.file_length - up.resumed_from.first().copied().unwrap_or(0);
            resent.note(format!(
                "sent again by the client: {:.1} MiB; the server had not kept {:.1} MiB (goal: at most that); received twice by the server: {:.1} MiB; a multipart upload sends all {:.1} MiB again",
                mib(again),
                mib(unacked),
                mib(server),
                mib(up.file_length)
            ));
        }
        Err(e) => resent.fail(e),
    }
    vec![speed, resent]
}
