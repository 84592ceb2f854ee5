//! The Transport conformance suite (`wa_media_testkit::conformance`) on `HyperTransport`: every
//! rule of the `Transport` docs holds. And the suite itself is shown to catch broken
//! transports: `HyperTransport` wrapped so that it follows redirects, collects bodies, or turns
//! error statuses into errors fails exactly the rules it breaks.

use wa_media_hyper::HyperTransport;
use wa_media_testkit::conformance::broken::{CollectsBodies, FailsOnErrorStatus, FollowsRedirects};
use wa_media_testkit::conformance::{self, Outcome, Rule};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hyper_transport_keeps_every_rule() {
    let t = HyperTransport::new().unwrap();
    let report = conformance::run(&t).await;
    println!("{report}");
    report.assert_conforms();
    assert_eq!(report.passed(), Rule::ALL, "every rule applies and passes");
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
    assert_eq!(
        report.failed(),
        [Rule::RedirectsAreReturnedNotFollowed],
        "{report}"
    );
    let panic = std::panic::catch_unwind(|| report.assert_conforms()).unwrap_err();
    let text = panic.downcast_ref::<String>().unwrap();
    assert!(
        text.contains("redirects_are_returned_not_followed"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transport_that_collects_bodies_fails_the_suite() {
    let t = CollectsBodies(HyperTransport::new().unwrap());
    for rule in [Rule::ResponseBodyStreams, Rule::RequestBodyStreams] {
        let outcome = conformance::check(&t, rule).await;
        let Outcome::Failed(why) = outcome else {
            panic!("{rule} should have failed, was {outcome:?}");
        };
        assert!(why.contains("collected"), "{rule}: {why}");
    }
    // What it does not break still passes.
    for rule in [Rule::Non2xxIsOk, Rule::RedirectsAreReturnedNotFollowed] {
        assert_eq!(
            conformance::check(&t, rule).await,
            Outcome::Passed,
            "{rule}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transport_that_fails_on_error_statuses_fails_the_suite() {
    let t = FailsOnErrorStatus(HyperTransport::new().unwrap());
    let outcome = conformance::check(&t, Rule::Non2xxIsOk).await;
    let Outcome::Failed(why) = outcome else {
        panic!("non_2xx_is_ok should have failed, was {outcome:?}");
    };
    assert!(
        why.contains("became an error") && why.contains("answered 400"),
        "{why}"
    );
}
