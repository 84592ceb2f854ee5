//! Deliberately wrong transports, each wrapping a good one and breaking one rule, so a test can
//! show that the suite catches what it claims to (a check that passes a broken transport checks
//! nothing).

use bytes::Bytes;
use http_body_util::BodyExt;
use wa_media_core::{RequestBody, ResponseBody, Transport, TransportError, TransportErrorKind};

/// Follows one redirect itself, with the original headers (the token included), instead of
/// returning the 3xx. Breaks [`super::Rule::RedirectsAreReturnedNotFollowed`].
#[derive(Debug)]
pub struct FollowsRedirects<T>(pub T);

#[async_trait::async_trait]
impl<T: Transport> Transport for FollowsRedirects<T> {
    async fn send(
        &self,
        request: http::Request<RequestBody>,
    ) -> Result<http::Response<ResponseBody>, TransportError> {
        let headers = request.headers().clone();
        let uri = request.uri().clone();
        let resp = self.0.send(request).await?;
        let location = resp
            .status()
            .is_redirection()
            .then(|| resp.headers().get(http::header::LOCATION).cloned())
            .flatten();
        let Some(location) = location else {
            return Ok(resp);
        };
        let target = location.to_str().unwrap_or("/").to_owned();
        let target = match (target.starts_with('/'), uri.authority()) {
            (true, Some(authority)) => {
                format!(
                    "{}://{authority}{target}",
                    uri.scheme_str().unwrap_or("http")
                )
            }
            _ => target,
        };
        let mut next = http::Request::get(target)
            .body(RequestBody::empty())
            .map_err(|e| TransportError::new(TransportErrorKind::Request, e))?;
        *next.headers_mut() = headers;
        self.0.send(next).await
    }
}

/// Reads the whole request body before sending and the whole response body before returning.
/// Breaks [`super::Rule::RequestBodyStreams`] and [`super::Rule::ResponseBodyStreams`].
#[derive(Debug)]
pub struct CollectsBodies<T>(pub T);

#[async_trait::async_trait]
impl<T: Transport> Transport for CollectsBodies<T> {
    async fn send(
        &self,
        request: http::Request<RequestBody>,
    ) -> Result<http::Response<ResponseBody>, TransportError> {
        let (parts, body) = request.into_parts();
        let bytes = body
            .collect()
            .await
            .map_err(|e| TransportError::new(TransportErrorKind::Request, e))?
            .to_bytes();
        let request = http::Request::from_parts(parts, RequestBody::from_bytes(bytes));
        let (parts, body) = self.0.send(request).await?.into_parts();
        let bytes: Bytes = body.collect().await?.to_bytes();
        Ok(http::Response::from_parts(
            parts,
            ResponseBody::from_bytes(bytes),
        ))
    }
}

/// Turns every 4xx and 5xx answer into an error. Breaks [`super::Rule::Non2xxIsOk`].
#[derive(Debug)]
pub struct FailsOnErrorStatus<T>(pub T);

/// The error [`FailsOnErrorStatus`] returns.
#[derive(Debug)]
struct ErrorStatus(http::StatusCode);

impl std::fmt::Display for ErrorStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the server answered {}", self.0)
    }
}

impl std::error::Error for ErrorStatus {}

#[async_trait::async_trait]
impl<T: Transport> Transport for FailsOnErrorStatus<T> {
    async fn send(
        &self,
        request: http::Request<RequestBody>,
    ) -> Result<http::Response<ResponseBody>, TransportError> {
        let resp = self.0.send(request).await?;
        let status = resp.status();
        if status.is_client_error() || status.is_server_error() {
            return Err(TransportError::new(
                TransportErrorKind::Unknown,
                ErrorStatus(status),
            ));
        }
        Ok(resp)
    }
}
