//! [`HyperConnector`]: object_store's HTTP seam carried by hyper and rustls (ring), so the
//! cloud stores need neither reqwest nor aws-lc-rs.

use std::sync::Arc;
use std::time::Duration;

use http_body_util::BodyExt;
use hyper_util::client::legacy::connect::HttpConnector as TcpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use object_store::client::{
    HttpClient, HttpConnector, HttpError, HttpErrorKind, HttpRequest, HttpRequestBody,
    HttpResponse, HttpResponseBody, HttpService,
};
use object_store::{ClientConfigKey, ClientOptions};

/// An [`HttpConnector`] for object_store's cloud builders (`AmazonS3Builder`,
/// `GoogleCloudStorageBuilder`, `MicrosoftAzureBuilder`) on hyper with rustls (the ring
/// provider, Mozilla's roots from `webpki-roots`).
///
/// From [`ClientOptions`] it honours `allow_http` (plain `http://` is refused otherwise),
/// `connect_timeout` (default 5 s) and `timeout` (default 30 s), which here bounds the time
/// to the response's headers; object_store's retry policy handles the rest.
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
#[derive(Debug, Default, Clone)]
pub struct HyperConnector {
    _private: (),
}

impl HttpConnector for HyperConnector {
    fn connect(&self, options: &ClientOptions) -> object_store::Result<HttpClient> {
        let allow_http = options
            .get_config_value(&ClientConfigKey::AllowHttp)
            .is_some_and(|v| v == "true");
        let connect_timeout = options
            .get_config_value(&ClientConfigKey::ConnectTimeout)
            .and_then(|v| parse_duration(&v))
            .unwrap_or(Duration::from_secs(5));
        let timeout = options
            .get_config_value(&ClientConfigKey::Timeout)
            .and_then(|v| parse_duration(&v))
            .unwrap_or(Duration::from_secs(30));

        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| object_store::Error::Generic {
                store: "HTTP",
                source: Box::new(e),
            })?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let mut tcp = TcpConnector::new();
        tcp.enforce_http(false);
        tcp.set_connect_timeout(Some(connect_timeout));
        tcp.set_nodelay(true);
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .wrap_connector(tcp);
        let client = Client::builder(TokioExecutor::new()).build(https);
        Ok(HttpClient::new(HyperService {
            client,
            allow_http,
            timeout,
        }))
    }
}

/// One client per store.
#[derive(Debug)]
struct HyperService {
    client: Client<hyper_rustls::HttpsConnector<TcpConnector>, HttpRequestBody>,
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
        let response = match tokio::time::timeout(self.timeout, self.client.request(req)).await {
            Err(_) => {
                return Err(HttpError::new(
                    HttpErrorKind::Timeout,
                    std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        format!("no response within {:?}", self.timeout),
                    ),
                ))
            }
            Ok(Err(e)) => {
                let kind = if e.is_connect() {
                    HttpErrorKind::Connect
                } else {
                    HttpErrorKind::Request
                };
                return Err(HttpError::new(kind, e));
            }
            Ok(Ok(r)) => r,
        };
        Ok(response.map(|body| {
            HttpResponseBody::new(body.map_err(|e| {
                let kind = if e.is_timeout() {
                    HttpErrorKind::Timeout
                } else {
                    HttpErrorKind::Interrupted
                };
                HttpError::new(kind, e)
            }))
        }))
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
    use super::parse_duration;
    use std::time::Duration;

    #[test]
    fn durations_as_object_store_formats_them() {
        assert_eq!(parse_duration("30s"), Some(Duration::from_secs(30)));
        assert_eq!(parse_duration("1m 30s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("soon"), None);
        assert_eq!(parse_duration(""), None);
    }
}
