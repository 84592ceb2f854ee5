//! `MediaClient::retrieve_with_body` returns the API's JSON as it came (unknown fields and
//! formatting kept), with the token masked when a server echoes it.

use wa_media_core::test_util::*;

#[tokio::test]
async fn body_is_returned_as_received_with_unknown_fields() {
    let data = b"hello";
    let raw = format!(
        "{{ \"future_field\": {{\"a\": [1, 2]}},\n  {} }}",
        retrieve_json(DL_URL, data)
            .trim_start_matches('{')
            .trim_end_matches('}')
    );
    let body = raw.clone();
    let t = Scripted::new(move |_, _| json(200, body.clone()));
    let (info, got) = client(&t).retrieve_with_body(&media_id()).await.unwrap();
    assert_eq!(
        got,
        raw.as_bytes(),
        "the body must be byte for byte what the API sent"
    );
    assert_eq!(info, media_info(DL_URL, data));
}

#[tokio::test]
async fn an_echoed_token_is_masked_in_the_body() {
    let data = b"hello";
    let raw =
        retrieve_json(DL_URL, data).replacen('{', &format!("{{\"debug\":\"Bearer {TOKEN}\","), 1);
    let t = Scripted::new(move |_, _| json(200, raw.clone()));
    let (_, got) = client(&t).retrieve_with_body(&media_id()).await.unwrap();
    let text = String::from_utf8(got.to_vec()).unwrap();
    assert!(!text.contains(TOKEN), "{text}");
    assert!(text.contains("Bearer ***"), "{text}");
}
