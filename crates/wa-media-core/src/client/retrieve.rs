//! Retrieve and delete: a small JSON exchange with Graph, retried whenever the failure is
//! retryable (both requests can be sent again).

use bytes::Bytes;
use http::Response;
use tracing::{field, Instrument};
use wa_media_types::{MediaId, MediaUrlResponse};

use super::MediaClient;
use crate::deadline::Limits;
use crate::error::{scrubbed, Error};
use crate::protocol;
use crate::retry::Failed;
use crate::token::AccessToken;
use crate::transport::RequestBody;

impl MediaClient {
    /// One JSON exchange per attempt: `prepare` builds the request with the attempt's token,
    /// `parse` interprets the answer (also given the token); a retryable failure is tried
    /// again.
    async fn json_operation<R>(
        &self,
        prepare: impl Fn(&AccessToken) -> Result<http::Request<RequestBody>, Error>,
        parse: impl Fn(&Response<Bytes>, &AccessToken) -> Result<R, Error>,
    ) -> Result<R, Error> {
        let timeouts = &self.config().timeouts;
        let (prepare, parse) = (&prepare, &parse);
        self.retrying(|token| async move {
            let resp = self
                .exchange(prepare(&token)?, Limits::request(timeouts))
                .await;
            resp.and_then(|r| parse(&r, &token)).map_err(|e| {
                let retry = e.is_retryable();
                Failed::retry_if(e, retry)
            })
        })
        .await
    }

    /// [`crate::MediaApi::retrieve`], also returning the response body exactly as the API
    /// sent it, with any occurrence of the access token replaced by `***` (a server that echoes
    /// the token must not make a tool print it). Same request, checks and retries as
    /// `retrieve`; for tools that show the API's own JSON, such as `wa-media info --json`.
    pub async fn retrieve_with_body(
        &self,
        id: &MediaId,
    ) -> Result<(MediaUrlResponse, Bytes), Error> {
        let span = tracing::info_span!("wa_media.retrieve", media_id = %id, attempt = field::Empty, size = field::Empty);
        let cfg = self.config();
        let (info, body, host) = self
            .json_operation(
                |token| protocol::build_retrieve_request(cfg, token, id),
                |resp, token| {
                    let info = protocol::parse_retrieve_response(resp)?;
                    let token = token.expose_secret();
                    let host = url::Url::parse(info.url.expose())
                        .ok()
                        .and_then(|u| u.host_str().map(|h| scrubbed(h, token)))
                        .unwrap_or_default();
                    // JSON that parsed is UTF-8; scrubbing leaves it byte for byte when the
                    // token is absent.
                    let body = resp.body().clone();
                    let body = match std::str::from_utf8(&body) {
                        Ok(text) => Bytes::from(scrubbed(text, token)),
                        Err(_) => body,
                    };
                    Ok((info, body, host))
                },
            )
            .instrument(span.clone())
            .await?;
        span.record("size", info.file_size);
        span.in_scope(|| tracing::debug!(mime = %info.mime_type, %host, "media URL retrieved"));
        Ok((info, body))
    }

    pub(super) async fn delete_inner(&self, id: &MediaId) -> Result<(), Error> {
        let cfg = self.config();
        self.json_operation(
            |token| protocol::build_delete_request(cfg, token, id),
            |resp, _| protocol::parse_delete_response(resp),
        )
        .await
    }
}
