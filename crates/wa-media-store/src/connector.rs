//! [`HyperConnector`]: object_store's HTTP seam carried by wa-media-hyper's transport, so the
//! cloud stores connect exactly as the media client does (proxies, roots, crypto provider) and
//! need neither reqwest nor aws-lc-rs.

use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use object_store::client::{
    HttpClient, HttpConnector, HttpError, HttpErrorKind, HttpRequest, HttpResponse,
    HttpResponseBody, HttpService,
};
use object_store::{ClientConfigKey, ClientOptions};
use wa_media_hyper::{
    HyperError, HyperTransport, RequestBody, ResponseBody, Transport, TransportError,
    TransportErrorKind,
};

/// An [`HttpConnector`] for object_store's cloud builders (`AmazonS3Builder`,
/// `GoogleCloudStorageBuilder`, `MicrosoftAzureBuilder`) on
/// [`wa_media_hyper::HyperTransport`]: the same connector as the media client's, so an S3
/// request connects the way a Graph request does.
///
/// - **Proxies:** `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY` and `NO_PROXY` from the environment,
///   read as curl reads them (`wa_media_hyper::PROXY_VARIABLES`); https through a `CONNECT`
///   tunnel with TLS end to end. object_store's own `proxy_url` and `proxy_excludes` options,
///   when set, replace the environment's proxy and add to its exceptions.
/// - **TLS:** rustls with wa-media-hyper's crypto provider (`ring` by default, `aws-lc-rs` by
///   its feature) and its roots (`webpki-roots` by default, `native-roots` by its feature).
/// - From [`ClientOptions`]: `allow_http` (plain `http://` is refused otherwise),
///   `connect_timeout` (default 5 s) and `timeout` (default 30 s), which here bounds the time to
///   the response's headers; object_store's retry policy handles the rest.
///
/// Requests are sent as object_store built them (no `User-Agent` is added).
///
/// ```no_run
/// # fn main() -> Result<(), object_store::Error> {
/// use object_store::aws::AmazonS3Builder;
/// let s3 = AmazonS3Builder::from_env()
///     .with_bucket_name("media")
///     .with_http_connector(wa_media_store::HyperConnector::default())
///     .build()?;
/// # drop(s3); Ok(()) }
/// ```
#[derive(Default, Clone)]
pub struct HyperConnector {
    /// Where the proxy variables are read (`None`: the process environment).
    env: Option<Lookup>,
}

/// A lookup of environment variables by name.
type Lookup = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

impl std::fmt::Debug for HyperConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HyperConnector")
            .field(
                "proxy_variables",
                &if self.env.is_some() {
                    "lookup"
                } else {
                    "process environment"
                },
            )
            .finish()
    }
}

impl HyperConnector {
    /// Reads the proxy variables through `lookup` instead of the process environment (a
    /// configuration kept elsewhere, or a test that must not change its process's environment);
    /// see `wa_media_hyper::HyperTransportBuilder::proxy_env_with`.
    pub fn proxy_env_with(lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'static) -> Self {
        Self {
            env: Some(Arc::new(lookup)),
        }
    }

    /// The transport for one store, as `options` configure it.
    fn transport(&self, options: &ClientOptions) -> object_store::Result<HyperTransport> {
        let value = |key| options.get_config_value(&key);
        let connect_timeout = value(ClientConfigKey::ConnectTimeout)
            .and_then(|v| parse_duration(&v))
            .unwrap_or(Duration::from_secs(5));
        let mut builder = HyperTransport::builder().connect_timeout(connect_timeout);
        let excludes = value(ClientConfigKey::ProxyExcludes);
        if self.env.is_some() || excludes.is_some() {
            let env = self.env.clone();
            let read = move |name: &str| match &env {
                Some(lookup) => lookup(name),
                None => std::env::var(name).ok(),
            };
            // object_store's exceptions join the environment's (`no_proxy` is read first).
            let no_proxy = ["no_proxy", "NO_PROXY"]
                .iter()
                .find_map(|n| read(n))
                .into_iter()
                .chain(excludes)
                .filter(|v| !v.trim().is_empty())
                .collect::<Vec<_>>()
                .join(",");
            builder = builder.proxy_env_with(move |name| match name {
                "no_proxy" | "NO_PROXY" if !no_proxy.is_empty() => Some(no_proxy.clone()),
                "no_proxy" | "NO_PROXY" => None,
                other => read(other),
            });
        }
        if let Some(url) = value(ClientConfigKey::ProxyUrl) {
            builder = builder.proxy(url);
        }
        builder.build().map_err(|e| object_store::Error::Generic {
            store: "HTTP",
            source: Box::new(e),
        })
    }
}

impl HttpConnector for HyperConnector {
    fn connect(&self, options: &ClientOptions) -> object_store::Result<HttpClient> {
        let allow_http = options
            .get_config_value(&ClientConfigKey::AllowHttp)
            .is_some_and(|v| v == "true");
        let timeout = options
            .get_config_value(&ClientConfigKey::Timeout)
            .and_then(|v| parse_duration(&v))
            .unwrap_or(Duration::from_secs(30));
        Ok(HttpClient::new(HyperService {
            transport: self.transport(options)?,
            allow_http,
            timeout,
        }))
    }
}

/// One transport (one connection pool) per store.
#[derive(Debug)]
struct HyperService {
    transport: HyperTransport,
    allow_http: bool,
    timeout: Duration,
}

#[async_trait::async_trait]
impl HttpService for HyperService {
    async fn call(&self, req: HttpRequest) -> Result<HttpResponse, HttpError> {
        if req.uri().scheme_str() != Some("https") && !self.allow_http {
            return Err(HttpError::new(
                HttpErrorKind::Unknown,
                std::io::Error::other(
                    "refusing a plain http:// request to an object store (set allow_http for a local S3-compatible server)",
                ),
            ));
        }
        let req = req.map(|body| match body.content_length() {
            0 => RequestBody::empty(),
            len => RequestBody::from_body(body.map_err(std::io::Error::other), Some(len as u64)),
        });
        let response = match tokio::time::timeout(self.timeout, self.transport.send(req)).await {
            Err(_) => {
                return Err(HttpError::new(
                    HttpErrorKind::Timeout,
                    std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        format!("no response within {:?}", self.timeout),
                    ),
                ))
            }
            Ok(Err(e)) => return Err(http_error(e)),
            Ok(Ok(r)) => r,
        };
        Ok(response.map(|body| HttpResponseBody::new(SyncBody(Mutex::new(body)))))
    }
}

/// object_store's error for a transport error: the kind its retry policy reads, and, when the
/// socket said why (connection refused, timed out, …), that reason as an `io::Error` of its kind
/// in the source chain, where object_store's users look for it (`StoreError` names a refused
/// connection from it).
fn http_error(e: TransportError) -> HttpError {
    let kind = match e.kind() {
        // Never connected: nothing was sent.
        TransportErrorKind::Connect | TransportErrorKind::ConnectTimeout => HttpErrorKind::Connect,
        TransportErrorKind::Request => HttpErrorKind::Request,
        TransportErrorKind::Interrupted => HttpErrorKind::Interrupted,
        TransportErrorKind::Decode => HttpErrorKind::Decode,
        _ => HttpErrorKind::Unknown,
    };
    let io_kind = match e.kind() {
        TransportErrorKind::ConnectTimeout => Some(std::io::ErrorKind::TimedOut),
        _ => std::error::Error::source(&e)
            .and_then(|s| s.downcast_ref::<HyperError>())
            .and_then(HyperError::io_error_kind),
    };
    match io_kind {
        Some(io_kind) => HttpError::new(kind, std::io::Error::new(io_kind, e)),
        None => HttpError::new(kind, e),
    }
}

/// A response body object_store can hold (it asks for `Sync`): the transport's body behind a
/// mutex that is never contended (polling has `&mut` access; only `size_hint` locks).
struct SyncBody(Mutex<ResponseBody>);

impl Body for SyncBody {
    type Data = Bytes;
    type Error = HttpError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, HttpError>>> {
        let body = self
            .get_mut()
            .0
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        Pin::new(body)
            .poll_frame(cx)
            .map(|frame| frame.map(|r| r.map_err(http_error)))
    }

    fn size_hint(&self) -> SizeHint {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .size_hint()
    }
}

/// A duration as object_store formats it (humantime: `30s`, `1m 30s`, `500ms`).
fn parse_duration(s: &str) -> Option<Duration> {
    let mut total = Duration::ZERO;
    for token in s.split_whitespace() {
        let split = token.find(|c: char| !c.is_ascii_digit())?;
        let (n, unit) = token.split_at(split);
        let n: u64 = n.parse().ok()?;
        total += match unit {
            "ns" => Duration::from_nanos(n),
            "us" | "µs" => Duration::from_micros(n),
            "ms" => Duration::from_millis(n),
            "s" | "sec" => Duration::from_secs(n),
            "m" | "min" => Duration::from_secs(n * 60),
            "h" => Duration::from_secs(n * 3600),
            _ => return None,
        };
    }
    (!s.trim().is_empty()).then_some(total)
}

#[cfg(test)]
mod tests {
    use super::{parse_duration, HyperConnector};
    use std::io::{Read, Write};
    use std::time::Duration;

    /// A proxy that takes one connection, keeps its request head and answers 502 (it never
    /// connects anywhere).
    fn one_shot_proxy() -> (String, std::thread::JoinHandle<String>) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = std::thread::spawn(move || {
            // Bounded: a client that never comes is a failure, not a hang.
            listener.set_nonblocking(true).unwrap();
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            let mut conn = loop {
                match listener.accept() {
                    Ok((conn, _)) => break conn,
                    Err(_) if std::time::Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(5))
                    }
                    Err(_) => return "(no connection to the proxy)".to_owned(),
                }
            };
            conn.set_nonblocking(false).unwrap();
            conn.set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && conn.read(&mut byte).unwrap_or(0) == 1 {
                head.push(byte[0]);
            }
            let _ = conn.write_all(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n");
            String::from_utf8_lossy(&head).into_owned()
        });
        (url, seen)
    }

    /// An S3 store at an https endpoint that does not exist, through `connector`, one attempt.
    fn s3(connector: HyperConnector, proxy_url: Option<&str>) -> object_store::aws::AmazonS3 {
        let mut b = object_store::aws::AmazonS3Builder::new()
            .with_bucket_name("media")
            .with_region("us-east-1")
            .with_endpoint("https://s3.example.test")
            .with_access_key_id("test")
            .with_secret_access_key("test")
            .with_retry(object_store::RetryConfig {
                max_retries: 0,
                retry_timeout: Duration::from_secs(5),
                ..Default::default()
            })
            .with_http_connector(connector);
        if let Some(url) = proxy_url {
            b = b.with_proxy_url(url);
        }
        b.build().unwrap()
    }

    fn get_through(store: object_store::aws::AmazonS3) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let got = rt.block_on(object_store::ObjectStoreExt::get(
            &store,
            &object_store::path::Path::from("x"),
        ));
        assert!(got.is_err(), "the proxy answered 502: no object");
    }

    #[test]
    fn s3_requests_go_through_the_proxy_of_the_environment_or_the_options() {
        // HTTPS_PROXY (read through a lookup: this process's environment is left alone).
        let (url, seen) = one_shot_proxy();
        let env = HyperConnector::proxy_env_with(move |name| {
            (name == "HTTPS_PROXY").then(|| url.clone())
        });
        get_through(s3(env, None));
        let head = seen.join().unwrap();
        assert!(
            head.starts_with("CONNECT s3.example.test:443 HTTP/1.1\r\n"),
            "{head}"
        );
        assert!(
            !head.to_ascii_lowercase().contains("authorization"),
            "{head}"
        );

        // object_store's own proxy_url option, with no proxy in the environment.
        let (url, seen) = one_shot_proxy();
        get_through(s3(HyperConnector::proxy_env_with(|_| None), Some(&url)));
        let head = seen.join().unwrap();
        assert!(
            head.starts_with("CONNECT s3.example.test:443 HTTP/1.1\r\n"),
            "{head}"
        );
    }

    #[test]
    fn durations_as_object_store_formats_them() {
        assert_eq!(parse_duration("30s"), Some(Duration::from_secs(30)));
        assert_eq!(parse_duration("1m 30s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("soon"), None);
        assert_eq!(parse_duration(""), None);
    }
}
