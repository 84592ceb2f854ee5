//! Many numbers and rotating tokens against the emulator over real sockets: one client for 500
//! business numbers (one transport, one small pool, each upload on its own number), and a
//! token source that follows a rotation (one rejected request, one with the fresh token).

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use wa_media_emulator::{Emulator, EmulatorHandle, Endpoint};
use wa_media_hyper::{
    AccessToken, ClientBuilder, Error, HyperTransportBuilder, MediaApi, MediaApiExt, MediaType,
    PhoneNumberId, RetryPolicy, TokenSource, Upload,
};
use wa_media_testkit::net::within;

const LIMIT: Duration = Duration::from_secs(60);
const OLD: &str = "EAAG-many-numbers-old-0123456789";
const NEW: &str = "EAAG-many-numbers-new-9876543210";

fn builder(emu: &EmulatorHandle) -> ClientBuilder<HyperTransportBuilder> {
    wa_media_hyper::builder()
        .graph_url(emu.graph_url())
        .trust_host(format!("127.0.0.1:{}", emu.lookaside_addr().port()))
        .retry_policy(RetryPolicy::none())
}

fn png() -> Vec<u8> {
    std::fs::read(wa_media_testkit::paths::fixtures("media").join("image.png")).unwrap()
}

/// A business solution provider serving 500 numbers builds one client: every clone shares its
/// transport (the same object, so the same pool), the emulator sees a handful of connections,
/// not 500, and each media belongs to the number whose clone uploaded it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_numbers_one_client_one_pool() {
    let emu = Emulator::builder().token(OLD).start().await.unwrap();
    let client = builder(&emu).token(OLD).build().unwrap();
    let numbers: Vec<PhoneNumberId> = wa_media_testkit::ids::phone_number_ids(500)
        .iter()
        .map(|n| n.parse().unwrap())
        .collect();
    let clones: Vec<_> = numbers
        .iter()
        .map(|n| client.with_phone_number_id(n.clone()))
        .collect();
    for c in &clones {
        assert!(Arc::ptr_eq(c.transport(), client.transport()));
    }
    let png = bytes::Bytes::from(png());
    let mime = MediaType::parse("image/png").unwrap();
    const CONCURRENCY: usize = 8;
    let ids: Vec<_> = within(
        "500 uploads",
        LIMIT,
        futures_util::stream::iter(clones.iter().map(|c| {
            let upload = Upload::from_bytes(png.clone(), mime.clone());
            async move { c.upload(upload).await.unwrap() }
        }))
        .buffered(CONCURRENCY)
        .collect::<Vec<_>>(),
    )
    .await;
    assert_eq!(ids.len(), 500);
    // A pool per clone would hold one idle connection per number (500); the shared pool holds
    // about one per concurrent upload (a few more when a checkout races a return).
    assert!(
        emu.open_connections() <= 4 * CONCURRENCY,
        "500 clones share one pool: {} connections open",
        emu.open_connections()
    );
    let stored = emu.media();
    for (id, number) in ids.iter().zip(&numbers) {
        let m = stored.iter().find(|m| &m.id == id).expect("stored");
        assert_eq!(&m.phone_number_id, number, "media {id}");
    }
    let uploads: Vec<String> = emu
        .request_log()
        .into_iter()
        .filter(|r| r.endpoint == Some(Endpoint::Upload))
        .map(|r| r.path)
        .collect();
    assert_eq!(uploads.len(), 500);
    for n in &numbers {
        assert!(
            uploads.iter().any(|p| p.ends_with(&format!("/{n}/media"))),
            "no upload to {n}"
        );
    }
    // A per-call number on the original client.
    let id = client
        .upload(Upload::from_bytes(png.clone(), mime.clone()).phone_number_id(numbers[7].clone()))
        .await
        .unwrap();
    let m = emu.media().into_iter().find(|m| m.id == id).unwrap();
    assert_eq!(m.phone_number_id, numbers[7]);
    emu.shutdown().await;
}

/// The token in a file that a secret manager re-writes, kept in memory and read again only
/// when Graph rejects it.
struct TokenFile {
    path: PathBuf,
    cached: std::sync::Mutex<Option<AccessToken>>,
    reads: AtomicUsize,
}

impl TokenFile {
    fn read(&self) -> Result<AccessToken, wa_media_hyper::BoxError> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        let token = AccessToken::new(std::fs::read_to_string(&self.path)?);
        *self.cached.lock().unwrap() = Some(token.clone());
        Ok(token)
    }
}

#[async_trait::async_trait]
impl TokenSource for TokenFile {
    async fn token(&self) -> Result<AccessToken, wa_media_hyper::BoxError> {
        let cached = self.cached.lock().unwrap().clone();
        match cached {
            Some(t) => Ok(t),
            None => self.read(),
        }
    }
    async fn refresh(
        &self,
        _rejected: &AccessToken,
    ) -> Result<Option<AccessToken>, wa_media_hyper::BoxError> {
        self.read().map(Some)
    }
}

/// The emulator rotates its token: while the file still holds the old one, an operation makes
/// exactly two requests and returns the 190; once the secret manager re-wrote the file, the
/// next operation sends the cached old token once, reads the file and succeeds with the new.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_file_follows_a_rotation() {
    let emu = Emulator::builder().token(OLD).start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("token");
    std::fs::write(&path, format!("{OLD}\n")).unwrap();
    let source = Arc::new(TokenFile {
        path: path.clone(),
        cached: Default::default(),
        reads: AtomicUsize::new(0),
    });
    let client = builder(&emu)
        .token_source(source.clone())
        .phone_number_id("106540352242922")
        .build()
        .unwrap();
    assert!(!format!("{client:?}").contains("EAAG"));
    let id = client
        .upload(Upload::from_bytes(
            png(),
            MediaType::parse("image/png").unwrap(),
        ))
        .await
        .unwrap();
    assert_eq!(source.reads.load(Ordering::SeqCst), 1);

    // Rotated at Graph, the file not yet re-written: two requests, then the 190.
    emu.rotate_token(NEW);
    assert_eq!(emu.accepted_token(), NEW);
    assert!(
        !format!("{emu:?}").contains(NEW),
        "the handle's Debug hides the new token"
    );
    emu.clear_request_log();
    let e = client.retrieve(&id).await.unwrap_err();
    assert!(matches!(&e, Error::Api(a) if a.status == 401), "{e}");
    assert_eq!(emu.request_log().len(), 2);
    assert_eq!(source.reads.load(Ordering::SeqCst), 2);
    let text = format!("{e} {e:?}");
    assert!(!text.contains(OLD) && !text.contains(NEW), "{text}");

    // The secret manager re-writes the file: one rejected request, then the new token.
    std::fs::write(&path, format!("{NEW}\n")).unwrap();
    emu.clear_request_log();
    let dl = within("the fetch", LIMIT, client.fetch(&id)).await.unwrap();
    assert_eq!(dl.bytes(1 << 20).await.unwrap().len(), png().len());
    let log = emu.request_log();
    let authorized: Vec<bool> = log.iter().map(|r| r.authorized).collect();
    assert_eq!(
        authorized,
        [false, true, true],
        "retrieve refused, retrieve, download"
    );
    assert_eq!(source.reads.load(Ordering::SeqCst), 3);

    // Later operations use the cached new token: no more reads, nothing refused.
    emu.clear_request_log();
    client.retrieve(&id).await.unwrap();
    assert_eq!(emu.request_log().len(), 1);
    assert_eq!(source.reads.load(Ordering::SeqCst), 3);

    // A clone with a stale static token gets no second chance (it has nothing fresher).
    let stale = client.with_token(OLD);
    emu.clear_request_log();
    stale.retrieve(&id).await.unwrap_err();
    assert_eq!(emu.request_log().len(), 1);
    emu.shutdown().await;
}
