//! The suite every store backend runs (as object_store's own `integration.rs` does): the same
//! functions on InMemory, LocalFileSystem and S3 (moto).
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use object_store::path::Path;
use object_store::{Attribute, ObjectStore, ObjectStoreExt};
use sha2::{Digest, Sha256};
use wa_media_core::{Download, Error, FetchOptions, IntegrityError, MediaApi, RetryPolicy, Upload};
use wa_media_emulator::{Emulator, EmulatorHandle, Endpoint, Fault};
use wa_media_hyper::MediaClient;
use wa_media_store::{
    fetch_to_store, PendingAborts, StoreError, StoreOptions, StoredObject, META_MEDIA_ID,
    META_MESSAGE_ID, META_SHA256,
};
use wa_media_testkit::net::within;
use wa_media_types::{MediaId, MediaUrlResponse, Sha256Digest};

pub const PHONE: &str = "106540352242922";
pub const LIMIT: Duration = Duration::from_secs(60);
pub const MIB: usize = 1024 * 1024;

/// What a backend must say about itself for the suite.
pub struct Backend {
    pub name: &'static str,
    pub store: Arc<dyn ObjectStore>,
    /// Whether it keeps content type and metadata.
    pub attributes: bool,
    /// What an interrupted upload may have left: pending multipart uploads (S3) or staging
    /// files (a directory). Must be empty after every test.
    pub leftovers: Box<dyn Fn() -> Vec<String> + Send + Sync>,
    /// Whether `leftovers` can see a pending upload (not InMemory's).
    pub lists_pending: bool,
}

pub struct Env {
    pub emu: EmulatorHandle,
    pub client: MediaClient,
}

pub async fn env() -> Env {
    let emu = Emulator::builder().start().await.unwrap();
    let client = wa_media_testkit::client::emulator_builder(&emu)
        .build()
        .unwrap();
    Env { emu, client }
}

/// A PDF-looking document of `len` bytes, different for each `seed`.
pub fn document(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut v = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n".to_vec();
    v.resize(len, 0);
    rng.fill(&mut v[16..]);
    v
}

pub async fn upload(env: &Env, bytes: &[u8]) -> MediaId {
    env.client
        .upload(
            Upload::from_bytes(bytes.to_vec(), "application/pdf".parse().unwrap())
                .filename("doc.pdf"),
        )
        .await
        .unwrap()
}

pub fn sha256(bytes: &[u8]) -> Sha256Digest {
    Sha256Digest::of(bytes)
}

fn no_restart() -> FetchOptions {
    FetchOptions::default().restart(RetryPolicy::none())
}

/// The object is absent and nothing is pending, waiting (bounded) for a spawned abort.
pub async fn assert_nothing_left(b: &Backend, location: &Path, what: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let head = b.store.head(location).await;
        let left = (b.leftovers)();
        let absent = matches!(head, Err(object_store::Error::NotFound { .. }));
        if absent && left.is_empty() {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} / {what}: object present: {}, leftovers: {left:?}",
            b.name,
            !absent
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `fetch_to_store` of `id` from the emulator into `location` of the backend, within [`LIMIT`].
pub async fn fetch_into(
    env: &Env,
    b: &Backend,
    id: &MediaId,
    location: &Path,
    options: StoreOptions,
) -> Result<StoredObject, StoreError> {
    within(
        "fetch_to_store",
        LIMIT,
        fetch_to_store(&env.client, id, b.store.as_ref(), location, options),
    )
    .await
}

/// Puts `fault` on the next download and fetches without restarts: the fetch must fail.
async fn fails_with(
    env: &Env,
    b: &Backend,
    id: &MediaId,
    location: &Path,
    fault: Fault,
) -> StoreError {
    env.emu.faults().push(Endpoint::Download, fault.clone(), 1);
    let options = StoreOptions::default().fetch(no_restart());
    fetch_into(env, b, id, location, options)
        .await
        .map(|_| ())
        .expect_err(&format!("{}: a fetch with {fault:?} must fail", b.name))
}

/// A 20 MiB media arrives byte-identical, with its content type and metadata where kept.
pub async fn round_trip(env: &Env, b: &Backend) {
    let bytes = document(20 * MIB, 1);
    let id = upload(env, &bytes).await;
    let location = Path::from(format!("{}/round-trip/doc.pdf", b.name));
    let stored = fetch_into(
        env,
        b,
        &id,
        &location,
        StoreOptions::default()
            .fetch(
                FetchOptions::default()
                    .expect_sha256(sha256(&bytes))
                    .expect_size(bytes.len() as u64),
            )
            .message_id("wamid.round-trip"),
    )
    .await
    .unwrap_or_else(|e| panic!("{}: {e}", b.name));
    assert_eq!(stored.file_size, bytes.len() as u64);
    assert_eq!(stored.sha256, sha256(&bytes));
    assert_eq!(stored.mime_type, "application/pdf");
    assert_eq!(stored.attributes_stored, b.attributes, "{}", b.name);

    let got = b.store.get(&location).await.unwrap();
    assert_eq!(got.meta.size, bytes.len() as u64);
    let attrs = got.attributes.clone();
    let mut hasher = Sha256::new();
    let mut n = 0usize;
    let mut body = got.into_stream();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.unwrap();
        assert_eq!(
            &chunk[..],
            &bytes[n..n + chunk.len()],
            "{}: bytes at {n}",
            b.name
        );
        n += chunk.len();
        hasher.update(&chunk);
    }
    assert_eq!(n, bytes.len());
    if b.attributes {
        let get = |a: Attribute| attrs.get(&a).map(|v| v.as_ref().to_owned());
        assert_eq!(
            get(Attribute::ContentType).as_deref(),
            Some("application/pdf"),
            "{}: {attrs:?}",
            b.name
        );
        assert_eq!(
            get(Attribute::Metadata(META_SHA256.into())),
            Some(sha256(&bytes).to_hex()),
            "{}: {attrs:?}",
            b.name
        );
        assert_eq!(
            get(Attribute::Metadata(META_MEDIA_ID.into())),
            Some(id.to_string())
        );
        assert_eq!(
            get(Attribute::Metadata(META_MESSAGE_ID.into())).as_deref(),
            Some("wamid.round-trip")
        );
    }
    assert!(
        (b.leftovers)().is_empty(),
        "{}: {:?}",
        b.name,
        (b.leftovers)()
    );
}

/// A corrupt byte (the emulator's fault) fails verification: no object, nothing pending. A
/// webhook digest that disagrees is refused before anything is created.
pub async fn digest_mismatch(env: &Env, b: &Backend) {
    let bytes = document(12 * MIB, 2);
    let id = upload(env, &bytes).await;
    let location = Path::from(format!("{}/mismatch/doc.pdf", b.name));
    let err = fails_with(env, b, &id, &location, Fault::CorruptByte).await;
    assert!(
        matches!(
            err,
            StoreError::Media(Error::Integrity(IntegrityError::Digest { .. }))
        ),
        "{}: {err}",
        b.name
    );
    assert_nothing_left(b, &location, "corrupt byte").await;

    let wrong = sha256(b"another media");
    let err = fetch_into(
        env,
        b,
        &id,
        &location,
        StoreOptions::default().fetch(no_restart().expect_sha256(wrong)),
    )
    .await
    .expect_err("a webhook digest that disagrees must fail");
    assert!(
        matches!(
            err,
            StoreError::Media(Error::Integrity(IntegrityError::Announced { .. }))
        ),
        "{}: {err}",
        b.name
    );
    assert_nothing_left(b, &location, "webhook digest").await;
}

/// A body cut short fails without restarts and leaves nothing; with restarts the next attempt
/// (a new multipart upload) succeeds and the broken one was aborted.
pub async fn truncated(env: &Env, b: &Backend) {
    let bytes = document(12 * MIB, 3);
    let id = upload(env, &bytes).await;
    let location = Path::from(format!("{}/truncated/doc.pdf", b.name));
    let err = fails_with(env, b, &id, &location, Fault::TruncatedBody).await;
    assert!(matches!(err, StoreError::Media(_)), "{}: {err}", b.name);
    assert_nothing_left(b, &location, "truncated").await;

    env.emu
        .faults()
        .push(Endpoint::Download, Fault::ResetMidBody, 1);
    let stored = fetch_into(env, b, &id, &location, StoreOptions::default())
        .await
        .unwrap_or_else(|e| panic!("{}: restarted fetch: {e}", b.name));
    assert_eq!(stored.sha256, sha256(&bytes));
    let got = b.store.get(&location).await.unwrap().bytes().await.unwrap();
    assert_eq!(got, Bytes::from(bytes));
    assert!(
        (b.leftovers)().is_empty(),
        "{}: {:?}",
        b.name,
        (b.leftovers)()
    );
    b.store.delete(&location).await.unwrap();
}

/// A `MediaApi` whose downloads stop (pend forever) after `after` bytes and say so.
struct Stalling<'a> {
    inner: &'a MediaClient,
    after: usize,
    reached: Arc<tokio::sync::Notify>,
}

#[async_trait::async_trait]
impl MediaApi for Stalling<'_> {
    async fn upload(&self, upload: Upload) -> Result<MediaId, Error> {
        self.inner.upload(upload).await
    }
    async fn retrieve(&self, id: &MediaId) -> Result<MediaUrlResponse, Error> {
        self.inner.retrieve(id).await
    }
    async fn download(&self, media: &MediaUrlResponse) -> Result<Download, Error> {
        let dl = self.inner.download(media).await?;
        let len = dl.content_length();
        let after = self.after;
        let reached = self.reached.clone();
        let mut seen = 0usize;
        let stream = dl
            .take_while(move |c| {
                let go = seen < after;
                if let Ok(c) = c {
                    seen += c.len();
                }
                if !go {
                    reached.notify_one();
                }
                futures_util::future::ready(go)
            })
            .chain(futures_util::stream::pending());
        Ok(Download::from_stream(stream, len))
    }
    async fn delete(&self, id: &MediaId) -> Result<(), Error> {
        self.inner.delete(id).await
    }
}

/// The future dropped mid-stream (after two parts went up): the guard aborts the upload.
pub async fn dropped(env: &Env, b: &Backend) {
    let location = Path::from(format!("{}/dropped/doc.pdf", b.name));
    drop_mid_stream(env, b, &location, StoreOptions::default()).await;
    assert_nothing_left(b, &location, "dropped").await;
}

/// The same with the abort counted in a [`PendingAborts`]: once `wait` says none is running,
/// nothing is left, without polling the store (what a process checks before it exits).
pub async fn dropped_abort_is_awaited(env: &Env, b: &Backend) {
    let location = Path::from(format!("{}/dropped-tracked/doc.pdf", b.name));
    let aborts = PendingAborts::new();
    drop_mid_stream(
        env,
        b,
        &location,
        StoreOptions::default().track_aborts(&aborts),
    )
    .await;
    assert!(
        aborts.wait(LIMIT).await,
        "{}: the abort did not finish: {} pending",
        b.name,
        aborts.len()
    );
    let head = b.store.head(&location).await;
    assert!(
        matches!(head, Err(object_store::Error::NotFound { .. })),
        "{}: an object appeared: {head:?}",
        b.name
    );
    assert_eq!((b.leftovers)(), Vec::<String>::new(), "{}", b.name);
}

/// Starts a fetch into `location` whose download stalls after 12 MiB (two parts of 5 MiB went
/// up), then drops it.
async fn drop_mid_stream(env: &Env, b: &Backend, location: &Path, options: StoreOptions) {
    let bytes = document(20 * MIB, 4);
    let id = upload(env, &bytes).await;
    let reached = Arc::new(tokio::sync::Notify::new());
    let api = Stalling {
        inner: &env.client,
        after: 12 * MIB,
        reached: reached.clone(),
    };
    let fetch = fetch_to_store(
        &api,
        &id,
        b.store.as_ref(),
        location,
        options.part_size(5 * MIB),
    );
    let mut fetch = Box::pin(fetch);
    tokio::select! {
        r = &mut fetch => panic!("{}: the stalled fetch finished: {r:?}", b.name),
        _ = reached.notified() => {}
        _ = tokio::time::sleep(LIMIT) => panic!("{}: the stall was never reached", b.name),
    }
    let pending = if b.lists_pending {
        (b.leftovers)()
    } else {
        Vec::new()
    };
    drop(fetch);
    // The fetch future is dropped here, mid-stream, with parts uploaded: a pending multipart
    // upload (or a staging file) exists where the backend can list it.
    if b.lists_pending {
        assert!(!pending.is_empty(), "{}: an upload was pending", b.name);
    }
}

/// An object uploaded to WhatsApp straight from the store arrives at the emulator intact; an
/// object its declared type contradicts is refused before anything is sent.
pub async fn upload_from_store_arrives_intact(env: &Env, b: &Backend) {
    let bytes = document(6 * MIB + 123, 5);
    let location = Path::from(format!("{}/outbound/report.pdf", b.name));
    b.store
        .put(&location, Bytes::from(bytes.clone()).into())
        .await
        .unwrap();
    let upload = wa_media_store::upload_from_store(
        b.store.clone(),
        &location,
        "application/pdf".parse().unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(upload.effective_filename(), "report.pdf");
    let id = within("upload from the store", LIMIT, env.client.upload(upload))
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", b.name));
    let at_emulator =
        std::fs::read(env.emu.media_path(&id).expect("the emulator holds it")).unwrap();
    assert!(
        at_emulator == bytes,
        "{}: the bytes at the emulator differ",
        b.name
    );

    // A PDF declared as a PNG: refused locally, from the ranged read of its first bytes.
    let before = env.emu.media().len();
    let upload =
        wa_media_store::upload_from_store(b.store.clone(), &location, "image/png".parse().unwrap())
            .await
            .unwrap();
    let err = env
        .client
        .upload(upload)
        .await
        .expect_err("a PDF is not a PNG");
    assert!(matches!(err, Error::Validation(_)), "{}: {err}", b.name);
    assert_eq!(
        env.emu.media().len(),
        before,
        "nothing reached the emulator"
    );
    b.store.delete(&location).await.unwrap();
}
