//! The suite adapted to the emulator's [`InProcessTransport`](wa_media_emulator::InProcessTransport), which has no sockets and serves
//! only the emulator's own origins (its docs: any other host is a `Connect` error; a body cut
//! short by the truncated-body fault or broken by the reset fault is `Interrupted`; an upload
//! reset while its body is received is a failed request).
//!
//! The emulator is the peer instead of a loopback server, so the rules are exercised through
//! its faults:
//!
//! | rule | how |
//! | --- | --- |
//! | sends_the_request_as_given | an upload with an extra header: the request log shows method, path, header and token; the stored bytes are the body sent |
//! | non_2xx_is_ok | an unknown media id and a missing token: 4xx responses, bodies readable |
//! | response_body_streams | the reset fault on a download: `send` returns and the first half is readable before the break (a collected body could not be) |
//! | request_body_streams | the reset fault on an upload whose body never finishes: the emulator reads half of it and resets, so `send` fails instead of waiting for the end |
//! | refused_connection_is_connect | a host the emulator does not serve |
//! | no_answer_is_request | the reset upload above fails as `Request` |
//! | broken_body_is_interrupted | the truncated-body and the reset faults on a download |
//! | errors_hold_no_secrets | none of those errors shows the token or the download URL's signature |
//! | redirects_are_returned_not_followed | not applicable: the emulator never answers a redirect and the transport reaches no other server |
//! | not_http_is_decode | not applicable: no bytes are parsed as HTTP in process |
//! | dropping_the_body_cancels | not applicable: there is no connection to close (dropping the body drops the emulator's body stream itself) |

/// The Graph version in the paths the suite builds (the emulator's default).
const V: &str = wa_media_types::DEFAULT_API_VERSION;

use std::io;

use bytes::Bytes;
use futures_util::StreamExt;
use http::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, USER_AGENT};
use http_body_util::BodyExt;
use wa_media_core::{RequestBody, Transport, TransportError, TransportErrorKind};
use wa_media_emulator::{EmulatorHandle, Endpoint, Fault};

use wa_media_conformance::suite::{ensure, Check};
use wa_media_conformance::transport::{read_all, step, Outcome, Report, Rule, STEP};

const PHONE: &str = "106540352242922";
/// The emulator's download host, like Meta's, wants a User-Agent.
const UA: &str = "wa-media-conformance/1";
const BOUNDARY: &str = "conformance-boundary-7MA4YWxkTrZu0gW";

/// Runs every rule that applies to `emu`'s in-process transport (see the module docs); the
/// others are reported as [`Outcome::NotApplicable`]. Queues faults on `emu` and uploads a
/// few media.
pub async fn run(emu: &EmulatorHandle) -> Report {
    run_on(emu, &emu.in_process_transport()).await
}

/// As [`run`], with the transport given (an `InProcessTransport` of `emu`, possibly wrapped).
pub async fn run_on<T: Transport + ?Sized>(emu: &EmulatorHandle, t: &T) -> Report {
    let mut report = Report::default();
    for rule in Rule::ALL {
        let result = match rule {
            Rule::SendsTheRequestAsGiven => sends_the_request_as_given(emu, t).await,
            Rule::Non2xxIsOk => non_2xx_is_ok(emu, t).await,
            Rule::ResponseBodyStreams => response_body_streams(emu, t).await,
            Rule::RequestBodyStreams | Rule::NoAnswerIsRequest => {
                upload_reset_is_request(emu, t).await.map(|_| ())
            }
            Rule::RefusedConnectionIsConnect => unknown_host(t).await.and_then(|e| {
                ensure(e.kind() == TransportErrorKind::Connect, || {
                    format!("an unknown host gave {:?}, not Connect: {e}", e.kind())
                })
            }),
            Rule::BrokenBodyIsInterrupted => broken_body_is_interrupted(emu, t).await,
            Rule::ErrorsHoldNoSecrets => errors_hold_no_secrets(emu, t).await,
            Rule::RedirectsAreReturnedNotFollowed => {
                report.outcomes.push((
                    rule,
                    Outcome::NotApplicable(
                        "the emulator never answers a redirect and the in-process transport \
                         reaches no other server",
                    ),
                ));
                continue;
            }
            Rule::NotHttpIsDecode => {
                report.outcomes.push((
                    rule,
                    Outcome::NotApplicable("no bytes are parsed as HTTP in process"),
                ));
                continue;
            }
            Rule::DroppingTheBodyCancels => {
                report.outcomes.push((
                    rule,
                    Outcome::NotApplicable(
                        "there is no connection to close: dropping the body drops the \
                         emulator's body stream itself",
                    ),
                ));
                continue;
            }
        };
        let outcome = match result {
            Ok(()) => Outcome::Passed,
            Err(why) => Outcome::Failed(why),
        };
        report.outcomes.push((rule, outcome));
    }
    report
}

/// A PNG-looking file of `len` bytes.
fn png(len: usize) -> Vec<u8> {
    let mut v = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    let head = v.len();
    v.extend((head..len).map(|i| (i % 251) as u8));
    v.truncate(len);
    v
}

/// The multipart upload body around `file`: (prefix before the file bytes, suffix after).
fn multipart_around() -> (Vec<u8>, Vec<u8>) {
    let prefix = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"messaging_product\"\r\n\r\nwhatsapp\r\n\
         --{BOUNDARY}\r\nContent-Disposition: form-data; name=\"type\"\r\n\r\nimage/png\r\n\
         --{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\n\
         Content-Type: image/png\r\n\r\n"
    );
    let suffix = format!("\r\n--{BOUNDARY}--\r\n");
    (prefix.into_bytes(), suffix.into_bytes())
}

fn upload_request(emu: &EmulatorHandle, body: RequestBody, len: u64) -> http::Request<RequestBody> {
    http::Request::post(format!("{}/{V}/{PHONE}/media", emu.graph_url()))
        .header(AUTHORIZATION, format!("Bearer {}", emu.token()))
        .header(
            CONTENT_TYPE,
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .header(CONTENT_LENGTH, len)
        .header(USER_AGENT, UA)
        .header("x-conformance", "kept")
        .body(body)
        .expect("a valid request")
}

fn get(emu: &EmulatorHandle, url: &str) -> http::Request<RequestBody> {
    http::Request::get(url)
        .header(AUTHORIZATION, format!("Bearer {}", emu.token()))
        .header(USER_AGENT, UA)
        .body(RequestBody::empty())
        .expect("a valid request")
}

async fn json<T: Transport + ?Sized>(
    t: &T,
    req: http::Request<RequestBody>,
) -> Result<(u16, serde_json::Value), String> {
    let resp = step("the response", t.send(req))
        .await?
        .map_err(|e| format!("send failed: {e}"))?;
    let status = resp.status().as_u16();
    let body = step("the body", read_all(resp.into_body()))
        .await?
        .map_err(|e| format!("reading the body failed: {e}"))?;
    let v =
        serde_json::from_slice(&body).map_err(|e| format!("a {status} body is not JSON ({e})"))?;
    Ok((status, v))
}

/// Uploads `file` in one piece; returns its download URL.
async fn upload<T: Transport + ?Sized>(
    emu: &EmulatorHandle,
    t: &T,
    file: &[u8],
) -> Result<String, String> {
    let (prefix, suffix) = multipart_around();
    let body = [prefix, file.to_vec(), suffix].concat();
    let len = body.len() as u64;
    let (status, v) = json(t, upload_request(emu, RequestBody::from_bytes(body), len)).await?;
    ensure(status == 200, || {
        format!("the upload was answered {status}: {v}")
    })?;
    let id = v["id"]
        .as_str()
        .ok_or("the upload answer has no id")?
        .to_owned();
    let (status, v) = json(t, get(emu, &format!("{}/{V}/{id}", emu.graph_url()))).await?;
    ensure(status == 200, || {
        format!("the retrieve was answered {status}: {v}")
    })?;
    Ok(v["url"]
        .as_str()
        .ok_or("the retrieve has no url")?
        .to_owned())
}

async fn sends_the_request_as_given<T: Transport + ?Sized>(emu: &EmulatorHandle, t: &T) -> Check {
    let file = png(5000);
    let url = upload(emu, t, &file).await?;
    let log = emu.request_log();
    let up = log
        .iter()
        .rev()
        .find(|r| r.method == "POST")
        .ok_or("the emulator logged no upload")?;
    ensure(
        up.path == format!("/{V}/{PHONE}/media") && up.authorized,
        || format!("the upload arrived as {up:?}"),
    )?;
    ensure(up.has_header("x-conformance"), || {
        format!("the extra header did not arrive: {:?}", up.headers)
    })?;
    let resp = step("the download", t.send(get(emu, &url)))
        .await?
        .map_err(|e| format!("the download failed: {e}"))?;
    let status = resp.status();
    ensure(status == 200, || {
        format!("the download was answered {status}")
    })?;
    let got = step("the download body", read_all(resp.into_body()))
        .await?
        .map_err(|e| format!("reading the download failed: {e}"))?;
    ensure(got == file, || {
        format!(
            "the stored media ({} bytes) is not the body sent",
            got.len()
        )
    })
}

async fn non_2xx_is_ok<T: Transport + ?Sized>(emu: &EmulatorHandle, t: &T) -> Check {
    let unknown = format!("{}/{V}/1234567890123456", emu.graph_url());
    let (status, v) = json(t, get(emu, &unknown)).await?;
    ensure(
        (400..500).contains(&status) && v["error"].is_object(),
        || format!("an unknown media id came back as {status}: {v}"),
    )?;
    let anonymous = http::Request::get(&unknown)
        .body(RequestBody::empty())
        .expect("a valid request");
    let (status, v) = json(t, anonymous).await?;
    ensure(status == 401 && v["error"].is_object(), || {
        format!("a missing token came back as {status}: {v}")
    })
}

/// Downloads `url` with `fault` queued; returns the data received before the error, and the
/// error (`None` when the body ended cleanly).
async fn broken_download<T: Transport + ?Sized>(
    emu: &EmulatorHandle,
    t: &T,
    url: &str,
    fault: Fault,
) -> Result<(usize, Option<TransportError>), String> {
    emu.faults().push(Endpoint::Download, fault, 1);
    let resp = step("the download", t.send(get(emu, url)))
        .await?
        .map_err(|e| format!("send failed for a body that breaks later: {e}"))?;
    let status = resp.status();
    ensure(status == 200, || {
        format!("the download was answered {status}")
    })?;
    let mut body = resp.into_body();
    let mut got = 0;
    loop {
        match step("a frame", body.frame()).await? {
            Some(Ok(f)) => got += f.data_ref().map_or(0, |d| d.len()),
            Some(Err(e)) => return Ok((got, Some(e))),
            None => return Ok((got, None)),
        }
    }
}

async fn response_body_streams<T: Transport + ?Sized>(emu: &EmulatorHandle, t: &T) -> Check {
    let url = upload(emu, t, &png(256 * 1024)).await?;
    let (got, err) = broken_download(emu, t, &url, Fault::ResetMidBody).await?;
    ensure(err.is_some(), || {
        "the reset download ended without an error".to_owned()
    })?;
    ensure(got > 0, || {
        "no byte of a body broken halfway was readable: the body was collected".to_owned()
    })
}

async fn broken_body_is_interrupted<T: Transport + ?Sized>(emu: &EmulatorHandle, t: &T) -> Check {
    let url = upload(emu, t, &png(64 * 1024)).await?;
    for fault in [Fault::TruncatedBody, Fault::ResetMidBody] {
        let what = fault.kind();
        let (_, err) = broken_download(emu, t, &url, fault).await?;
        let e = err.ok_or_else(|| format!("{what}: the body ended without an error"))?;
        ensure(e.kind() == TransportErrorKind::Interrupted, || {
            format!("{what} gave {:?}, not Interrupted: {e}", e.kind())
        })?;
    }
    Ok(())
}

/// An upload reset while its body is received, the body never finishing: `send` must fail
/// (kind `Request`) rather than wait for the end.
async fn upload_reset_is_request<T: Transport + ?Sized>(
    emu: &EmulatorHandle,
    t: &T,
) -> Result<TransportError, String> {
    let file = png(256 * 1024);
    let (prefix, suffix) = multipart_around();
    let len = (prefix.len() + file.len() + suffix.len()) as u64;
    let sent = [prefix, file[..file.len() * 3 / 4].to_vec()].concat();
    let stream = futures_util::stream::iter([Ok::<_, io::Error>(Bytes::from(sent))])
        .chain(futures_util::stream::pending());
    emu.faults().push(Endpoint::Upload, Fault::ResetMidBody, 1);
    let req = upload_request(emu, RequestBody::from_stream(stream, Some(len)), len);
    let result = tokio::time::timeout(STEP, t.send(req)).await.map_err(|_| {
        "the upload did not fail although the emulator reset it halfway: the request body \
         was being collected (it never finishes)"
            .to_owned()
    })?;
    let e = match result {
        Ok(resp) => return Err(format!("a reset upload was answered {}", resp.status())),
        Err(e) => e,
    };
    ensure(e.kind() == TransportErrorKind::Request, || {
        format!("a reset upload gave {:?}, not Request: {e}", e.kind())
    })?;
    Ok(e)
}

async fn unknown_host<T: Transport + ?Sized>(t: &T) -> Result<TransportError, String> {
    let req = http::Request::get(format!(
        "http://127.0.0.1:1/{V}/x?hash={}",
        super::CANARY_SIGNATURE
    ))
    .header(AUTHORIZATION, format!("Bearer {}", super::CANARY_TOKEN))
    .body(RequestBody::empty())
    .expect("a valid request");
    match step("the answer", t.send(req)).await? {
        Ok(resp) => Err(format!("an unknown host answered {}", resp.status())),
        Err(e) => Ok(e),
    }
}

async fn errors_hold_no_secrets<T: Transport + ?Sized>(emu: &EmulatorHandle, t: &T) -> Check {
    let url = upload(emu, t, &png(64 * 1024)).await?;
    let signature = url
        .split("hash=")
        .nth(1)
        .map(|s| s.split('&').next().unwrap_or(s).to_owned())
        .unwrap_or_default();
    let mut errors = vec![
        unknown_host(t).await?,
        upload_reset_is_request(emu, t).await?,
    ];
    for fault in [Fault::TruncatedBody, Fault::ResetMidBody] {
        if let (_, Some(e)) = broken_download(emu, t, &url, fault).await? {
            errors.push(e);
        }
    }
    let mut secrets = vec![
        emu.token().to_owned(),
        super::CANARY_TOKEN.to_owned(),
        super::CANARY_SIGNATURE.to_owned(),
    ];
    if !signature.is_empty() {
        secrets.push(signature);
    }
    for e in &errors {
        let text = crate::errors::error_text(e);
        for s in &secrets {
            ensure(!text.contains(s.as_str()), || {
                format!("an error shows a secret from the request: {text}")
            })?;
        }
    }
    Ok(())
}
