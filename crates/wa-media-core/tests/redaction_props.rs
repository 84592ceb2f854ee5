//! Properties where fuzzing does not fit (the secret must be known to check for it): whatever a
//! server answers, the signature in a download URL's query never reaches an error's Display or
//! Debug — a retrieve response that cannot be understood (plain or JSON-escaped URL, any
//! missing field), a redirect's `Location`, or a URL shown by `redact_url`.

use bytes::Bytes;
use proptest::prelude::*;
use wa_media_core::protocol;

/// A signature-like secret: long enough to be unambiguous when searched for.
fn secret() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_-]{16,43}"
}

fn text_of(e: &wa_media_core::Error) -> String {
    format!("{e}\n{e:?}")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn unparseable_retrieve_responses_never_show_the_signature(
        sig in secret(),
        escaped in any::<bool>(),
        drop_field in 0usize..5,
        status in prop::sample::select(vec![200u16, 201]),
        prefix in "[ a-z{\":,]{0,20}",
    ) {
        let url = format!("https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1&ext=2&hash={sig}");
        let url = if escaped { url.replace('/', "\\/") } else { url };
        let mut fields = vec![
            format!("\"url\":\"{url}\""),
            "\"mime_type\":\"image/jpeg\"".to_owned(),
            format!("\"sha256\":\"{}\"", "ab".repeat(32)),
            "\"file_size\":12".to_owned(),
            "\"id\":\"1\"".to_owned(),
        ];
        // Drop any field but the URL so parsing fails with the URL still in the body.
        fields.remove(1 + drop_field % 4);
        let body = format!("{prefix}{{{}}}", fields.join(","));
        let resp = http::Response::builder()
            .status(status)
            .body(Bytes::from(body))
            .unwrap();
        let err = protocol::parse_retrieve_response(&resp).unwrap_err();
        prop_assert!(!text_of(&err).contains(&sig), "{}", text_of(&err));
    }

    #[test]
    fn redirects_never_show_the_target_query(
        sig in secret(),
        status in prop::sample::select(vec![301u16, 302, 303, 307, 308]),
        host in "[a-z]{1,12}\\.example",
    ) {
        let resp = http::Response::builder()
            .status(status)
            .header("location", format!("https://{host}/steal?hash={sig}&x=1#frag{sig}"))
            .body(Bytes::new())
            .unwrap();
        let err = protocol::parse_error_response("download", &resp);
        let is_redirect = matches!(err, wa_media_core::Error::Redirect { .. });
        prop_assert!(is_redirect, "{}", text_of(&err));
        prop_assert!(!text_of(&err).contains(&sig), "{}", text_of(&err));
    }

    #[test]
    fn redact_url_drops_query_fragment_and_credentials(
        sig in secret(),
        path in "(/[a-z0-9]{0,8}){0,4}",
    ) {
        let url = url::Url::parse(&format!("https://user:{sig}@h.example{path}?hash={sig}#{sig}")).unwrap();
        let shown = protocol::redact_url(&url);
        prop_assert!(!shown.contains(&sig), "{shown}");
    }
}
