//! The token and the download URL's signature never appear in errors (Display or Debug) or in
//! log lines at TRACE level, even when a hostile server echoes them back.

use std::io::Write;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures_util::StreamExt;
use wa_media_core::test_util::*;
use wa_media_core::{
    MediaApi, MediaApiExt, MediaClient, Timeouts, TransportError, TransportErrorKind, Upload,
};

/// Echoes the request's Authorization header into wherever a server can put text.
fn echo(r: &Recorded) -> String {
    r.headers
        .get("authorization")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// One hostile server behaviour.
type Hostile = Box<dyn Fn(&Recorded) -> Reply + Send + Sync>;

fn hostile_replies() -> Vec<Hostile> {
    vec![
        Box::new(|r| {
            json(
                400,
                format!(
                    r#"{{"error":{{"message":"bad token {}","code":190,"fbtrace_id":"{}","error_data":{{"details":"{}"}}}}}}"#,
                    echo(r),
                    echo(r),
                    echo(r)
                ),
            )
        }),
        Box::new(|r| json(500, format!("<html>{}</html>", echo(r)))),
        Box::new(|r| json(200, format!(r#"{{"unexpected":"{}"}}"#, echo(r)))),
        Box::new(|r| {
            with_header(
                with_header(json(503, ""), "x-fb-debug", &echo(r)),
                "x-fb-trace-id",
                &echo(r).replace(' ', "-"),
            )
        }),
        Box::new(|r| {
            with_header(
                status(301, ""),
                "location",
                &format!(
                    "https://evil.example/{}?q={}",
                    echo(r).replace(' ', "/"),
                    echo(r).replace(' ', "+")
                ),
            )
        }),
        Box::new(|_| Reply::Error(TransportError::new(TransportErrorKind::Connect, "refused"))),
        Box::new(|r| {
            json(
                200,
                retrieve_json(
                    &format!(
                        "https://{}.evil.example/x?hash=SIGNATURE-SECRET",
                        TOKEN.to_lowercase()
                    ),
                    echo(r).as_bytes(),
                ),
            )
        }),
        Box::new(|_| {
            json(
                200,
                retrieve_json("http://lookaside.fbsbx.com/x?hash=SIGNATURE-SECRET", b"x"),
            )
        }),
    ]
}

#[test]
fn no_secret_in_errors_or_trace_logs() {
    let capture = Capture::default();
    let c2 = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || c2.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut errors = 0;
        for reply in hostile_replies() {
            let reply = Arc::new(reply);
            let r2 = reply.clone();
            let t = Scripted::new(move |r, _| r2(r));
            let c = client_with(&t, fast_retry(2), Timeouts::default());
            let dir = tempfile::tempdir().unwrap();
            let results = vec![
                c.upload(Upload::from_bytes(
                    &b"hi"[..],
                    "text/plain".parse().unwrap(),
                ))
                .await
                .map(|_| ()),
                c.retrieve(&media_id()).await.map(|_| ()),
                c.delete(&media_id()).await.map(|_| ()),
                c.fetch_to_file(&media_id(), dir.path().join("f"))
                    .await
                    .map(|_| ()),
                c.download(&media_info(DL_URL, b"x")).await.map(|_| ()),
            ];
            for r in results {
                if let Err(e) = r {
                    assert_no_secret(&e);
                    errors += 1;
                }
            }
        }
        assert!(
            errors > 20,
            "the hostile servers must actually cause errors ({errors})"
        );
        // A successful fetch logs too.
        let t = Scripted::new(|r, _| {
            if r.is_download() {
                chunked(200, vec![Bytes::from_static(b"data")], None, false)
            } else {
                json(200, retrieve_json(DL_URL, b"data"))
            }
        });
        let c = MediaClient::builder(t.clone())
            .token(TOKEN)
            .build()
            .unwrap();
        let mut dl = c.fetch(&media_id()).await.unwrap();
        while let Some(x) = dl.next().await {
            x.unwrap();
        }
    });
    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("wa_media.retrieve"),
        "spans are logged: {logs}"
    );
    assert!(logs.contains("attempt=2"), "attempts are logged");
    assert!(!logs.contains(TOKEN), "token in logs");
    if let Some(i) = logs.to_lowercase().find(&TOKEN.to_lowercase()) {
        panic!(
            "token (any case) in logs: {}",
            &logs[logs[..i].rfind('\n').unwrap_or(0)..(i + 200).min(logs.len())]
        );
    }
    assert!(!logs.contains("SIGNATURE-SECRET"), "URL signature in logs");
}
