//! Many numbers and rotating tokens: `with_phone_number_id` / `with_token` clones share the
//! transport, per-call phone numbers on uploads and sends, and the `TokenSource` rules (asked
//! once per operation; after a Graph 190 asked once for a fresh token and the request sent
//! again once, never in a loop; no token in errors or Debug).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use wa_media_core::test_util::*;
use wa_media_core::{
    AccessToken, BoxError, Error, MediaApi, MediaClient, MessagingApi, RetryPolicy, SendOptions,
    TokenSource, Upload,
};
use wa_media_types::{ErrorClass, MediaKind, MediaType, PhoneNumberId, SendMedia};

const OLD: &str = "EAAG-old-rotated-away-0123456789";
const NEW: &str = "EAAG-new-after-rotation-9876543210";

/// Graph's answer to an expired or invalid token.
fn expired() -> Reply {
    json(
        401,
        r#"{"error":{"message":"Error validating access token: Session has expired","type":"OAuthException","code":190,"error_subcode":463,"fbtrace_id":"AbC"}}"#,
    )
}

/// The Bearer token of a request.
fn bearer(r: &Recorded) -> String {
    r.headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default()
        .to_owned()
}

/// A Graph that accepts only `accepted` and answers every operation it knows.
fn graph_accepting(accepted: &'static str) -> Scripted {
    Scripted::new(move |r, _| {
        if bearer(r) != accepted {
            return expired();
        }
        if r.uri.ends_with("/media") {
            json(200, r#"{"id":"1037543291543636"}"#)
        } else if r.uri.ends_with("/messages") {
            json(
                200,
                r#"{"messaging_product":"whatsapp","contacts":[{"input":"15551234567","wa_id":"15551234567"}],"messages":[{"id":"wamid.X"}]}"#,
            )
        } else if r.method == http::Method::DELETE {
            json(200, r#"{"success":true}"#)
        } else {
            json(200, retrieve_json(DL_URL, b"hello"))
        }
    })
}

/// A source that gives `first` until asked for a fresh one, then `fresh`; counts both calls.
#[derive(Default)]
struct Rotating {
    first: &'static str,
    fresh: &'static str,
    tokens: AtomicUsize,
    refreshes: AtomicUsize,
    rotated: std::sync::atomic::AtomicBool,
}

impl Rotating {
    fn new(first: &'static str, fresh: &'static str) -> Arc<Self> {
        Arc::new(Self {
            first,
            fresh,
            ..Self::default()
        })
    }
}

#[async_trait::async_trait]
impl TokenSource for Rotating {
    async fn token(&self) -> Result<AccessToken, BoxError> {
        self.tokens.fetch_add(1, Ordering::SeqCst);
        Ok(AccessToken::new(if self.rotated.load(Ordering::SeqCst) {
            self.fresh
        } else {
            self.first
        }))
    }
    async fn refresh(&self, rejected: &AccessToken) -> Result<Option<AccessToken>, BoxError> {
        self.refreshes.fetch_add(1, Ordering::SeqCst);
        assert_eq!(rejected.expose_secret(), self.first, "the rejected token");
        self.rotated.store(true, Ordering::SeqCst);
        Ok(Some(AccessToken::new(self.fresh)))
    }
}

fn client_with_source(t: &Scripted, source: impl TokenSource, retry: RetryPolicy) -> MediaClient {
    MediaClient::builder(t.clone())
        .token_source(source)
        .phone_number_id(PHONE)
        .retry_policy(retry)
        .timer(TokioTimer)
        .build()
        .unwrap()
}

fn assert_hides(e: &Error, secrets: &[&str]) {
    let text = format!("{e} | {e:?} | {:?}", std::error::Error::source(e));
    for s in secrets {
        assert!(!text.contains(s), "a token leaked: {text}");
    }
}

#[tokio::test]
async fn a_rejected_token_is_replaced_once_and_the_request_sent_again() {
    let t = graph_accepting(NEW);
    let source = Rotating::new(OLD, NEW);
    // No retries at all: the fresh-token resend is not a retry of the policy.
    let client = client_with_source(&t, source.clone(), RetryPolicy::none());

    let info = client.retrieve(&media_id()).await.unwrap();
    assert_eq!(info.file_size, 5);
    let tokens: Vec<_> = t.requests().iter().map(bearer).collect();
    assert_eq!(
        tokens,
        [OLD, NEW],
        "one rejected request, one with the fresh token"
    );
    assert_eq!(source.refreshes.load(Ordering::SeqCst), 1);

    // Later operations ask the source, which now gives the fresh token: one request each.
    let jpeg = MediaType::parse("image/jpeg").unwrap();
    let jpg = std::fs::read(fixtures("media/image.jpg")).unwrap();
    client
        .upload(Upload::from_bytes(jpg, jpeg).kind(MediaKind::Image))
        .await
        .unwrap();
    client.delete(&media_id()).await.unwrap();
    let msg = SendMedia::by_id("15551234567", MediaKind::Image, media_id()).unwrap();
    client.send_media(&msg).await.unwrap();
    assert_eq!(t.requests().len(), 5);
    assert!(t.requests()[2..].iter().all(|r| bearer(r) == NEW));
    assert_eq!(source.refreshes.load(Ordering::SeqCst), 1);
    assert!(!format!("{client:?}").contains("EAAG"), "{client:?}");
}

#[tokio::test]
async fn every_operation_recovers_from_a_rotation() {
    let jpeg = MediaType::parse("image/jpeg").unwrap();
    let jpg = std::fs::read(fixtures("media/image.jpg")).unwrap();
    let msg = SendMedia::by_id("15551234567", MediaKind::Image, media_id()).unwrap();
    for op in ["upload", "delete", "send"] {
        let t = graph_accepting(NEW);
        let client = client_with_source(&t, Rotating::new(OLD, NEW), RetryPolicy::none());
        let r = match op {
            "upload" => client
                .upload(Upload::from_bytes(jpg.clone(), jpeg.clone()))
                .await
                .map(|_| ()),
            "delete" => client.delete(&media_id()).await,
            _ => client.send_media(&msg).await.map(|_| ()),
        };
        r.unwrap_or_else(|e| panic!("{op}: {e}"));
        let tokens: Vec<_> = t.requests().iter().map(bearer).collect();
        assert_eq!(tokens, [OLD, NEW], "{op}");
    }
}

/// A source whose token is always the stale one: two requests, then the 190 — never a loop.
#[tokio::test]
async fn a_source_that_stays_stale_gives_exactly_two_requests_then_the_auth_error() {
    struct Stale(AtomicUsize);
    #[async_trait::async_trait]
    impl TokenSource for Stale {
        async fn token(&self) -> Result<AccessToken, BoxError> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok(AccessToken::new(OLD))
        }
    }
    for retry in [RetryPolicy::none(), fast_retry(4)] {
        let t = graph_accepting(NEW);
        let stale = Arc::new(Stale(AtomicUsize::new(0)));
        let client = client_with_source(&t, stale.clone(), retry.clone());
        let e = client.retrieve(&media_id()).await.unwrap_err();
        assert_eq!(t.requests().len(), 2, "{retry:?}");
        assert_eq!(e.class(), Some(ErrorClass::Authentication), "{e}");
        assert_eq!(e.status(), Some(http::StatusCode::UNAUTHORIZED));
        // Asked once for the operation, once (through the default `refresh`) after the 190.
        assert_eq!(stale.0.load(Ordering::SeqCst), 2);
        assert_hides(&e, &[OLD, NEW]);
    }
}

#[tokio::test]
async fn a_static_token_is_not_sent_again_after_a_190() {
    let t = graph_accepting(NEW);
    let client = client_with(&t, fast_retry(4), Default::default());
    let e = client.retrieve(&media_id()).await.unwrap_err();
    assert_eq!(e.class(), Some(ErrorClass::Authentication));
    assert_eq!(t.requests().len(), 1);
    assert_no_secret(&e);

    // A source with nothing fresher (refresh gives None) behaves the same.
    let t = graph_accepting(NEW);
    let client = client_with_source(&t, AccessToken::new(OLD), RetryPolicy::none());
    client.retrieve(&media_id()).await.unwrap_err();
    assert_eq!(t.requests().len(), 1);
}

#[tokio::test]
async fn a_stream_upload_already_sent_is_not_sent_again_with_a_fresh_token() {
    let t = graph_accepting(NEW);
    let source = Rotating::new(OLD, NEW);
    let client = client_with_source(&t, source.clone(), RetryPolicy::none());
    let jpg = Bytes::from(std::fs::read(fixtures("media/image.jpg")).unwrap());
    let len = jpg.len() as u64;
    let stream = futures_util::stream::iter([Ok::<_, std::io::Error>(jpg)]);
    let e = client
        .upload(Upload::from_stream(
            stream,
            len,
            MediaType::parse("image/jpeg").unwrap(),
        ))
        .await
        .unwrap_err();
    assert_eq!(e.class(), Some(ErrorClass::Authentication), "{e}");
    assert_eq!(t.requests().len(), 1);
    assert_eq!(source.refreshes.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_failing_source_sends_nothing() {
    struct Broken;
    #[async_trait::async_trait]
    impl TokenSource for Broken {
        async fn token(&self) -> Result<AccessToken, BoxError> {
            Err("the token file /run/secrets/wa is missing".into())
        }
    }
    struct Malformed;
    #[async_trait::async_trait]
    impl TokenSource for Malformed {
        async fn token(&self) -> Result<AccessToken, BoxError> {
            Ok(AccessToken::new("two\nlines"))
        }
    }
    let t = graph_accepting(NEW);
    let e = client_with_source(&t, Broken, RetryPolicy::none())
        .retrieve(&media_id())
        .await
        .unwrap_err();
    assert!(matches!(e, Error::TokenSource(_)), "{e:?}");
    assert!(e.request_not_sent());
    let e = client_with_source(&t, Malformed, RetryPolicy::none())
        .retrieve(&media_id())
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Config(_)), "{e:?}");
    assert!(t.requests().is_empty());
}

/// A server echoing the rejected token in its 190: neither the old nor the fresh token shows.
#[tokio::test]
async fn tokens_echoed_by_the_server_are_scrubbed_from_errors() {
    let t = Scripted::new(|r, _| {
        let echoed = bearer(r);
        json(
            401,
            format!(
                r#"{{"error":{{"message":"bad token {echoed}","type":"OAuthException","code":190,"fbtrace_id":"{echoed}"}}}}"#
            ),
        )
    });
    let client = client_with_source(&t, Rotating::new(OLD, NEW), RetryPolicy::none());
    let (logs, _guard) = LogCapture::install();
    let e = client.retrieve(&media_id()).await.unwrap_err();
    assert_eq!(t.requests().len(), 2);
    assert_hides(&e, &[OLD, NEW]);
    let text = logs.text();
    assert!(!text.contains(OLD) && !text.contains(NEW), "{text}");
}

/// One client for 500 numbers: every clone shares the one transport, and each uploads and
/// sends to its own number's path.
#[tokio::test]
async fn five_hundred_numbers_share_one_transport() {
    let t = graph_accepting(TOKEN);
    let client = client(&t);
    let jpeg = MediaType::parse("image/jpeg").unwrap();
    let jpg = Bytes::from(std::fs::read(fixtures("media/image.jpg")).unwrap());
    let numbers: Vec<PhoneNumberId> = wa_media_testkit::ids::phone_number_ids(500)
        .iter()
        .map(|n| n.parse().unwrap())
        .collect();
    let clones: Vec<_> = numbers
        .iter()
        .map(|n| client.with_phone_number_id(n.clone()))
        .collect();
    for (n, c) in numbers.iter().zip(&clones) {
        assert!(std::sync::Arc::ptr_eq(c.transport(), client.transport()));
        assert_eq!(c.config().phone_number_id.as_ref(), Some(n));
        c.upload(Upload::from_bytes(jpg.clone(), jpeg.clone()))
            .await
            .unwrap();
    }
    let paths: Vec<String> = t.requests().iter().map(|r| r.uri.clone()).collect();
    assert_eq!(paths.len(), 500);
    for (n, uri) in numbers.iter().zip(&paths) {
        assert!(uri.ends_with(&format!("/{n}/media")), "{uri}");
    }
    // The original is untouched.
    assert_eq!(
        client.config().phone_number_id.as_ref().unwrap().as_str(),
        PHONE
    );
}

#[tokio::test]
async fn per_call_numbers_on_uploads_and_sends() {
    let t = graph_accepting(TOKEN);
    let client = client(&t);
    let other: PhoneNumberId = "209876543210987".parse().unwrap();
    let jpeg = MediaType::parse("image/jpeg").unwrap();
    let jpg = std::fs::read(fixtures("media/image.jpg")).unwrap();

    client
        .upload(Upload::from_bytes(jpg.clone(), jpeg.clone()).phone_number_id(other.clone()))
        .await
        .unwrap();
    client
        .upload(Upload::from_bytes(jpg.clone(), jpeg.clone()))
        .await
        .unwrap();
    let msg = SendMedia::by_id("15551234567", MediaKind::Image, media_id()).unwrap();
    client
        .with_phone_number_id(other.clone())
        .send_media(&msg)
        .await
        .unwrap();
    client
        .send_file(
            fixtures("media/image.jpg"),
            "15551234567",
            SendOptions::default().phone_number_id(other.clone()),
        )
        .await
        .unwrap();
    let paths: Vec<String> = t
        .requests()
        .iter()
        .map(|r| url::Url::parse(&r.uri).unwrap().path().to_owned())
        .collect();
    let v = wa_media_types::ApiVersion::DEFAULT;
    assert_eq!(
        paths,
        [
            format!("/{v}/{other}/media"),
            format!("/{v}/{PHONE}/media"),
            format!("/{v}/{other}/messages"),
            format!("/{v}/{other}/media"),
            format!("/{v}/{other}/messages"),
        ]
    );
}

#[tokio::test]
async fn with_token_clones_send_their_own_token_on_the_same_transport() {
    let t = graph_accepting(NEW);
    let client = client(&t);
    let rotated = client.with_token(NEW);
    assert!(std::sync::Arc::ptr_eq(
        rotated.transport(),
        client.transport()
    ));
    rotated.retrieve(&media_id()).await.unwrap();
    client.retrieve(&media_id()).await.unwrap_err();
    let tokens: Vec<_> = t.requests().iter().map(bearer).collect();
    assert_eq!(tokens, [NEW, TOKEN]);
    assert!(!format!("{rotated:?}").contains(NEW));
    assert_eq!(
        rotated.config().static_token().unwrap().expose_secret(),
        NEW
    );
    // A malformed token fails each request locally, nothing sent.
    let e = client
        .with_token("bad token")
        .retrieve(&media_id())
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Config(_)), "{e:?}");
    assert_eq!(t.requests().len(), 2);
}
