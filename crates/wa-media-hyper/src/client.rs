//! The ready client: [`builder`] is core's [`ClientBuilder`] with [`HyperTransportBuilder`] in
//! its transport slot and tokio's timer, so it builds core's [`MediaClient`] on
//! [`HyperTransport`](crate::HyperTransport).

use wa_media_core::{ClientBuilder, MediaClient};

use crate::timer::TokioTimer;
use crate::transport::{HyperTransport, HyperTransportBuilder};

/// Starts a client with production defaults: Graph at `https://graph.facebook.com`, the token
/// sent only there and to `lookaside.fbsbx.com`, retries with backoff, core's default
/// timeouts, and the hyper transport (a 10 s connect timeout, built-in roots, HTTP/2 by ALPN,
/// proxies from the environment) on tokio's timer ([`TokioTimer`]).
///
/// It returns core's one [`ClientBuilder`]: the client settings (token, phone number id, Graph
/// URL, trusted hosts, retry policy, timeouts, …) are its methods, and the transport's own
/// settings (roots, address overrides, proxies, HTTP versions, the connect timeout) are
/// [`HyperTransportBuilder`]'s, reached with [`ClientBuilder::map_transport`]. `build` gives
/// core's [`MediaClient`], the type every client is; it fails with [`crate::BuildError`] (a
/// [`wa_media_core::ConfigError`] inside [`crate::BuildError::Config`]).
///
/// ```no_run
/// use std::time::Duration;
/// use wa_media_hyper::{MediaApiExt, MediaId};
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let client = wa_media_hyper::builder()
///     .token(std::env::var("WA_TOKEN")?)
///     .phone_number_id("106540352242922")
///     .map_transport(|t| t.connect_timeout(Duration::from_secs(5)))
///     .build()?;
/// let id: MediaId = "1037543291543636".parse()?;
/// let file = client.fetch_to_file(&id, "photo.jpg").await?;
/// println!("{} bytes, sha256 {}", file.file_size, file.sha256);
/// # Ok(()) }
/// ```
///
/// To share one connection pool between clients, give a clone of a built
/// [`HyperTransport`] to [`ClientBuilder::transport`] (or take clones of one client with
/// [`MediaClient::with_phone_number_id`]).
pub fn builder() -> ClientBuilder<HyperTransportBuilder> {
    MediaClient::builder(HyperTransport::builder()).timer(TokioTimer)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::BuildError;

    #[test]
    fn a_missing_token_is_a_config_error_and_debug_hides_the_token() {
        let err = builder()
            .phone_number_id("106540352242922")
            .build()
            .unwrap_err();
        assert!(matches!(err, BuildError::Config(_)), "{err}");

        let b = builder()
            .token("EAAG-SECRET-TOKEN")
            .map_transport(|t| t.connect_timeout(Duration::from_secs(3)));
        assert!(!format!("{b:?}").contains("SECRET"));
        // The connect timeout is the transport's setting.
        assert!(
            format!("{b:?}").contains("connect_timeout: Some(3s)"),
            "{b:?}"
        );
        let client = b.build().unwrap();
        assert!(!format!("{client:?}").contains("SECRET"));
    }

    #[test]
    fn transport_errors_surface_from_the_client_builder() {
        let err = builder()
            .token("t")
            .map_transport(|t| t.built_in_roots(false))
            .build()
            .unwrap_err();
        assert!(matches!(err, BuildError::NoRootCertificates), "{err}");
    }
}
