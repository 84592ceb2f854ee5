//! The Transport conformance suite on the in-process transport
//! (`wa_media_testkit::conformance::in_process`): the rules that apply without sockets, through
//! the emulator's faults; the suite's module docs list which apply and why the others do not.
//! A wrapper that collects bodies is shown to fail it.

use wa_media_emulator::Emulator;
use wa_media_testkit::conformance::broken::CollectsBodies;
use wa_media_testkit::conformance::{in_process, Outcome, Rule};

#[tokio::test]
async fn the_in_process_transport_keeps_every_rule_that_applies() {
    let emu = Emulator::builder().start().await.unwrap();
    let report = in_process::run(&emu).await;
    println!("{report}");
    report.assert_conforms();
    let not_applicable: Vec<Rule> = report
        .outcomes
        .iter()
        .filter(|(_, o)| matches!(o, Outcome::NotApplicable(_)))
        .map(|(r, _)| *r)
        .collect();
    assert_eq!(
        not_applicable,
        [
            Rule::RedirectsAreReturnedNotFollowed,
            Rule::NotHttpIsDecode,
            Rule::DroppingTheBodyCancels
        ]
    );
    assert_eq!(report.passed().len(), Rule::ALL.len() - 3, "{report}");
    emu.shutdown().await;
}

#[tokio::test]
async fn a_wrapper_that_collects_bodies_fails_it() {
    let emu = Emulator::builder().start().await.unwrap();
    let t = CollectsBodies(emu.in_process_transport());
    let report = in_process::run_on(&emu, &t).await;
    for rule in [Rule::ResponseBodyStreams, Rule::RequestBodyStreams] {
        assert!(
            matches!(report.outcome(rule), Some(Outcome::Failed(_))),
            "{rule} should have failed:\n{report}"
        );
    }
    assert_eq!(
        report.outcome(Rule::Non2xxIsOk),
        Some(&Outcome::Passed),
        "{report}"
    );
    emu.shutdown().await;
}
