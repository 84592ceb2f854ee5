//! Fuzz harness: the emulator's streaming multipart upload parser (multer, field rules, the
//! spooler and its limits) fed an arbitrary body through the emulator's in-process transport,
//! so the exact request handler of `POST /{version}/{phone_number_id}/media` runs. The input's
//! first line is the boundary announced in `Content-Type`, the rest is the body. Shared by the
//! `multipart` fuzz target and the corpus replay test; must never panic or hang, and never
//! answer 5xx.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE};
use http_body_util::BodyExt;
use wa_media_core::{RequestBody, Transport};
use wa_media_emulator::{Emulator, EmulatorHandle, InProcessTransport};

const TOKEN: &str = "fuzz-token";

struct Fixture {
    rt: tokio::runtime::Runtime,
    emu: EmulatorHandle,
    transport: InProcessTransport,
}

/// The emulator shared by every input of this process (started on first use).
static FIXTURE: Mutex<Option<Fixture>> = Mutex::new(None);

fn start() -> Fixture {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let emu = rt
        .block_on(Emulator::builder().token(TOKEN).start())
        .expect("emulator");
    let transport = emu.in_process_transport();
    Fixture { rt, emu, transport }
}

/// Stops the shared emulator and removes its storage (the replay test calls this at the end;
/// a fuzzing process simply exits).
pub fn shutdown() {
    let taken = FIXTURE
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take();
    if let Some(Fixture { rt, emu, transport }) = taken {
        drop(transport);
        rt.block_on(emu.shutdown());
    }
}

/// Runs one input; returns the HTTP status the emulator answered.
pub fn run(data: &[u8]) -> u16 {
    let mut guard = FIXTURE.lock().unwrap_or_else(PoisonError::into_inner);
    let f = guard.get_or_insert_with(start);
    let (boundary, body) = match data.iter().position(|&b| b == b'\n') {
        Some(i) if i <= 100 => (&data[..i], &data[i + 1..]),
        _ => (&b"fuzz"[..], data),
    };
    let content_type = format!(
        "multipart/form-data; boundary={}",
        String::from_utf8_lossy(boundary).trim_end_matches('\r')
    );
    let content_type = http::HeaderValue::from_str(&content_type)
        .unwrap_or_else(|_| http::HeaderValue::from_static("multipart/form-data; boundary=fuzz"));
    let req = http::Request::builder()
        .method("POST")
        .uri(format!(
            "{}/{}/106540352242922/media",
            f.emu.graph_url(),
            wa_media_types::DEFAULT_API_VERSION
        ))
        .header(AUTHORIZATION, format!("Bearer {TOKEN}"))
        .header(CONTENT_TYPE, content_type)
        .header(CONTENT_LENGTH, body.len())
        .body(RequestBody::from_bytes(Bytes::copy_from_slice(body)))
        .expect("request");
    let status = f.rt.block_on(async {
        let exchange = async {
            let resp = f
                .transport
                .send(req)
                .await
                .expect("the in-process transport answers");
            let status = resp.status().as_u16();
            let _ = resp.into_body().collect().await;
            status
        };
        tokio::time::timeout(Duration::from_secs(20), exchange)
            .await
            .expect("the emulator answers an upload within 20 s")
    });
    assert!(
        status < 500,
        "the emulator answered {status} to a malformed upload"
    );
    status
}
