//! Scenario 2: uploading the large document, the project's streaming multipart upload against
//! `curl -F` of the same form.

use std::path::Path;
use std::time::{Duration, Instant};

use wa_media_core::{MediaApi, Upload};
use wa_media_hyper::MediaId;

use crate::environment::{mb_per_s, run_on, text_plain, timed_command, Environment, Plan, PHONE};
use crate::report::Row;

/// One timed upload returning the new media id.
type UploadFn = fn(&Environment, &Path) -> Result<(Duration, MediaId), String>;

fn project_once(env: &Environment, path: &Path) -> Result<(Duration, MediaId), String> {
    let client = env.client.clone();
    let path = path.to_owned();
    run_on(&env.client_rt, async move {
        let started = Instant::now();
        let id = client
            .upload(Upload::from_path(path, text_plain()))
            .await
            .map_err(|e| format!("upload: {e}"))?;
        Ok((started.elapsed(), id))
    })?
}

fn curl_once(env: &Environment, path: &Path) -> Result<(Duration, MediaId), String> {
    let curl = env.tools.curl.as_ref().ok_or("curl not installed")?;
    let url = format!("{}/v27.0/{PHONE}/media", env.emu.graph_url());
    let mut c = crate::environment::curl_upload_command(curl, env.emu.token(), path, &url);
    let (took, out) = timed_command(&mut c, "curl -F")?;
    let v: serde_json::Value =
        serde_json::from_slice(&out).map_err(|e| format!("curl printed no JSON: {e}"))?;
    let id = v["id"]
        .as_str()
        .ok_or_else(|| format!("no id in {v}"))?
        .parse::<MediaId>()
        .map_err(|e| format!("bad id: {e}"))?;
    Ok((took, id))
}

/// The two rows of scenario 2.
pub fn rows(env: &Environment) -> Vec<Row> {
    let size = env.plan.big;
    let what = format!("upload {} document", Plan::size_label(size));
    let mut project = Row::new("upload.big.project", 2, &what, "wa-media upload", "MB/s");
    let mut curl = Row::new("upload.big.curl", 2, &what, "curl -F", "MB/s");
    let path = match env.payload("upload-big.txt", size, 3) {
        Ok(p) => p,
        Err(e) => {
            project.fail(&e);
            curl.fail(&e);
            return vec![project, curl];
        }
    };
    let curl_ready = env.tools.curl.is_some();
    if !curl_ready {
        curl.skip("curl not installed");
    }
    let one = |row: &mut Row, f: UploadFn, keep: bool| match f(env, &path) {
        Ok((took, id)) => {
            if keep {
                row.samples.push(mb_per_s(size, took));
            }
            env.delete(&id);
        }
        Err(e) => row.fail(e),
    };
    if !env.plan.quick {
        one(&mut project, project_once, false);
        if curl_ready {
            one(&mut curl, curl_once, false);
        }
    }
    for _ in 0..env.plan.runs {
        one(&mut project, project_once, true);
        if curl_ready {
            one(&mut curl, curl_once, true);
        }
    }
    project.note("validation + multipart stream from the file");
    curl.note("same form fields and part type");
    if let (Some(p), Some(c)) = (project.median(), curl.median()) {
        project.ratio = Some(p / c);
    }
    let mut rows = vec![project, curl];
    rows.extend(crate::resumable::rows(env, &path));
    rows
}
