//! The Transport conformance suite (`wa_media_testkit::conformance`) on `HyperTransport`: every
//! rule of the `Transport` docs holds. And the suite itself is shown to catch broken
//! transports: `HyperTransport` wrapped so that it follows redirects, collects bodies, or turns
//! error statuses into errors fails exactly the rules it breaks.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::BodyExt;
use wa_media_core::{
    RequestBody, ResponseBody, Transport, TransportError, TransportErrorKind,
};
use wa_media_hyper::HyperTransport;
use wa_media_testkit::conformance::{self, Outcome, Rule};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hyper_transport_keeps_every_rule() {
    let t = HyperTransport::new().unwrap();
    let report = conformance::run(&t).await;
    println!("{report}");
    report.assert_conforms();
    assert_eq!(report.passed(), Rule::ALL, "every rule applies and passes");
}

/// Follows one redirect itself (what the rules forbid).
struct FollowsRedirects(HyperTransport);

#[async_trait::async_trait]
impl Transport for FollowsRedirects {
    async fn send(
        &self,
        request: http::Request<RequestBody>,
    ) -> Result<http::Response<ResponseBody>, TransportError> {
        let headers = request.headers().clone();
        let uri = request.uri().clone();
        let resp = self.0.send(request).await?;
        let Some(location) = resp
            .status()
            .is_redirection()
            .then(|| resp.headers().get(http::header::LOCATION).cloned())
            .flatten()
        else {
            return Ok(resp);
        };
        let target = location.to_str().unwrap_or("/").to_owned();
        let target = if target.starts_with('/') {
            format!("{}://{}{target}", uri.scheme_str().unwrap_or("http"), uri.authority().unwrap())
        } else {
            target
        };
        let mut next = http::Request::get(target).body(RequestBody::empty()).unwrap();
        *next.headers_mut() = headers;
        self.0.send(next).await
    }
}

/// Collects both bodies into memory (what the rules forbid).
struct CollectsBodies(HyperTransport);

#[async_trait::async_trait]
impl Transport for CollectsBodies {
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
        Ok(http::Response::from_parts(parts, ResponseBody::from_bytes(bytes)))
    }
}

/// Turns every non-2xx status into an error (what the rules forbid).
struct FailsOnErrorStatus(HyperTransport);

#[derive(Debug)]
struct BadStatus;
impl std::fmt::Display for BadStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an error status")
    }
}
impl std::error::Error for BadStatus {}

#[async_trait::async_trait]
impl Transport for FailsOnErrorStatus {
    async fn send(
        &self,
        request: http::Request<RequestBody>,
    ) -> Result<http::Response<ResponseBody>, TransportError> {
        let resp = self.0.send(request).await?;
        if resp.status().is_client_error() || resp.status().is_server_error() {
            return Err(TransportError::new(TransportErrorKind::Unknown, BadStatus));
        }
        Ok(resp)
    }
}

fn failed(report: &conformance::Report, rule: Rule) -> String {
    match report.outcome(rule) {
        Some(Outcome::Failed(why)) => why.clone(),
        other => panic!("{rule} should have failed, was {other:?}:\n{report}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transport_that_follows_redirects_fails_the_suite() {
    let t = FollowsRedirects(HyperTransport::new().unwrap());
    let report = conformance::run(&t).await;
    let why = failed(&report, Rule::RedirectsAreReturnedNotFollowed);
    assert!(why.contains("/elsewhere"), "{why}");
    assert_eq!(report.failed(), [Rule::RedirectsAreReturnedNotFollowed], "{report}");
    let panic = std::panic::catch_unwind(|| report.assert_conforms()).unwrap_err();
    let text = panic.downcast_ref::<String>().unwrap();
    assert!(text.contains("redirects_are_returned_not_followed"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transport_that_collects_bodies_fails_the_suite() {
    let t = Arc::new(CollectsBodies(HyperTransport::new().unwrap()));
    for rule in [Rule::ResponseBodyStreams, Rule::RequestBodyStreams] {
        let outcome = conformance::check(&t, rule).await;
        let Outcome::Failed(why) = outcome else {
            panic!("{rule} should have failed, was {outcome:?}");
        };
        assert!(why.contains("collected"), "{rule}: {why}");
    }
    // What it does not break still passes.
    for rule in [Rule::Non2xxIsOk, Rule::RedirectsAreReturnedNotFollowed] {
        assert_eq!(conformance::check(&t, rule).await, Outcome::Passed, "{rule}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transport_that_fails_on_error_statuses_fails_the_suite() {
    let t = FailsOnErrorStatus(HyperTransport::new().unwrap());
    let outcome = conformance::check(&t, Rule::Non2xxIsOk).await;
    let Outcome::Failed(why) = outcome else {
        panic!("non_2xx_is_ok should have failed, was {outcome:?}");
    };
    assert!(why.contains("became an error"), "{why}");
}
