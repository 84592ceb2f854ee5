//! The Transport conformance suite on `ReqwestTransport`, taken from the published
//! `wa-media-conformance` crate exactly as docs/custom-transport.md tells a user to take it:
//! every rule applies and passes, on the transport's own client and on a client of the
//! user's, and the suite still catches a broken wrapper around it.

use wa_media_conformance::transport::broken::FollowsRedirects;
use wa_media_conformance::transport::{self, Outcome, Rule};
use wa_media_reqwest::ReqwestTransport;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reqwest_transport_keeps_every_rule() {
    let t = ReqwestTransport::new().unwrap();
    let report = transport::run(&t).await;
    println!("{report}");
    report.assert_conforms();
    assert_eq!(report.passed(), Rule::ALL, "every rule applies and passes");
}

/// A client as a user builds it. This crate turns on reqwest's `rustls-no-provider` only; a
/// service whose own reqwest has its default `rustls` feature brings aws-lc-rs with it. Here,
/// ring is installed as the process's default provider, as such a service would.
fn users_builder() -> reqwest::ClientBuilder {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_users_client_without_redirects_keeps_every_rule() {
    let client = users_builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .unwrap();
    let report = transport::run(&ReqwestTransport::from_client(client)).await;
    println!("{report}");
    report.assert_conforms();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_users_client_that_follows_redirects_is_caught() {
    // reqwest's default policy follows up to 10 redirects: from_client cannot see that, the
    // suite does.
    let client = users_builder().no_proxy().build().unwrap();
    let t = ReqwestTransport::from_client(client);
    let outcome = transport::check(&t, Rule::RedirectsAreReturnedNotFollowed).await;
    assert!(matches!(outcome, Outcome::Failed(_)), "{outcome:?}");
    // And the suite's own broken wrapper fails on this transport too.
    let outcome = transport::check(
        &FollowsRedirects(ReqwestTransport::new().unwrap()),
        Rule::RedirectsAreReturnedNotFollowed,
    )
    .await;
    assert!(matches!(outcome, Outcome::Failed(_)), "{outcome:?}");
}
