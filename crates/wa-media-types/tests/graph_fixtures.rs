//! Every file in `fixtures/graph/` parsed into its model, with real values asserted.

use std::collections::BTreeSet;
use std::path::PathBuf;

use wa_media_types::{
    DeleteResponse, ErrorBody, ErrorClass, GraphError, MediaUrlResponse, Sha256Digest,
    UploadResponse,
};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/graph")
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(dir().join(name)).unwrap_or_else(|e| panic!("fixtures/graph/{name}: {e}"))
}

fn graph_error(name: &str) -> GraphError {
    match ErrorBody::parse(&read(name)) {
        ErrorBody::Graph(e) => e,
        other => panic!("{name} is not a Graph error: {other:?}"),
    }
}

#[test]
fn upload() {
    let r: UploadResponse = serde_json::from_slice(&read("upload.json")).unwrap();
    assert_eq!(r.id.as_str(), "1037543291543636");
}

#[test]
fn retrieve() {
    let r: MediaUrlResponse = serde_json::from_slice(&read("retrieve.json")).unwrap();
    assert!(r
        .url
        .expose()
        .starts_with("https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid="));
    assert_eq!(r.mime_type, "image/jpeg");
    assert_eq!(r.sha256, Sha256Digest::of(b"hello"));
    assert_eq!(r.file_size, 303_833);
    assert_eq!(r.id.as_str(), "1037543291543636");
    assert_eq!(r.messaging_product.as_deref(), Some("whatsapp"));
}

#[test]
fn retrieve_with_size_as_string_uppercase_hex_and_unknown_fields() {
    let r: MediaUrlResponse = serde_json::from_slice(&read("retrieve-size-string.json")).unwrap();
    assert_eq!(r.file_size, 5982);
    assert_eq!(r.mime_type, "audio/ogg; codecs=opus");
    assert_eq!(
        r.sha256.to_hex(),
        "afe94f08f6d2f0cbcd9106f81434d54ba7669aa535b1aeb6750d21f2d7d0f05c"
    );
    assert_eq!(r.id.as_str(), "1003383421387256");
}

#[test]
fn delete() {
    let r: DeleteResponse = serde_json::from_slice(&read("delete.json")).unwrap();
    assert!(r.success);
}

#[test]
fn error_envelopes_are_parsed_and_classified() {
    for (file, code, subcode, class, retryable) in [
        (
            "error-190-expired-token.json",
            190,
            Some(463),
            ErrorClass::Authentication,
            false,
        ),
        (
            "error-100-invalid-param.json",
            100,
            None,
            ErrorClass::InvalidRequest,
            false,
        ),
        (
            "error-100-unknown-object.json",
            100,
            Some(33),
            ErrorClass::InvalidRequest,
            false,
        ),
        (
            "error-131053-upload.json",
            131053,
            None,
            ErrorClass::InvalidRequest,
            false,
        ),
        ("error-4-rate.json", 4, None, ErrorClass::RateLimited, true),
        (
            "error-80007-rate.json",
            80007,
            None,
            ErrorClass::RateLimited,
            true,
        ),
        (
            "error-130429-rate.json",
            130429,
            None,
            ErrorClass::RateLimited,
            true,
        ),
        (
            "error-2-transient.json",
            2,
            None,
            ErrorClass::Transient,
            true,
        ),
    ] {
        let e = graph_error(file);
        assert_eq!(e.code, code, "{file}");
        assert_eq!(e.error_subcode, subcode, "{file}");
        assert_eq!(e.class(), class, "{file}");
        assert_eq!(e.class().is_retryable(), retryable, "{file}");
        assert!(!e.message.is_empty(), "{file}");
        assert!(
            e.fbtrace_id.is_some(),
            "{file}: fbtrace_id kept for support"
        );
        assert!(e.to_string().contains(&format!("code {code}")), "{file}");
    }
}

#[test]
fn error_details_and_types_are_kept() {
    let e = graph_error("error-190-expired-token.json");
    assert_eq!(e.error_type.as_deref(), Some("OAuthException"));
    assert!(e.message.starts_with("Error validating access token"));

    let e = graph_error("error-131053-upload.json");
    let details = e
        .error_data
        .as_ref()
        .and_then(|d| d.details.as_deref())
        .unwrap();
    assert!(details.contains("audio/ogg; codecs=opus"));
    assert_eq!(e.error_user_title.as_deref(), Some("Media upload error"));
    assert!(e.to_string().ends_with(details), "{e}");

    let e = graph_error("error-100-invalid-param.json");
    assert!(e
        .message
        .contains("Received file of type 'application/octet-stream'"));

    let e = graph_error("error-100-unknown-object.json");
    assert_eq!(e.error_type.as_deref(), Some("GraphMethodException"));
    assert!(e.to_string().contains("subcode 33"));

    assert_eq!(graph_error("error-4-rate.json").is_transient, Some(true));
}

#[test]
fn html_error_body_is_kept_as_a_snippet() {
    let body = read("not-json-error.html");
    match ErrorBody::parse(&body) {
        ErrorBody::Unrecognized { snippet, len } => {
            assert_eq!(len, body.len());
            assert!(snippet.starts_with("<!DOCTYPE html>"));
            assert!(snippet.contains("this content isn't available"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(GraphError::from_body(&body), None);
    let shown = ErrorBody::parse(&body).to_string();
    assert!(
        shown.starts_with(&format!("non-Graph body of {} bytes", body.len())),
        "{shown}"
    );
    assert!(!shown.contains('\n'));
}

#[test]
fn every_graph_fixture_is_covered_here() {
    let covered: BTreeSet<&str> = [
        "upload.json",
        "retrieve.json",
        "retrieve-size-string.json",
        "delete.json",
        "error-190-expired-token.json",
        "error-100-invalid-param.json",
        "error-100-unknown-object.json",
        "error-131053-upload.json",
        "error-4-rate.json",
        "error-80007-rate.json",
        "error-130429-rate.json",
        "error-2-transient.json",
        "not-json-error.html",
    ]
    .into();
    let present: BTreeSet<String> = std::fs::read_dir(dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let present: BTreeSet<&str> = present.iter().map(String::as_str).collect();
    assert_eq!(present, covered, "add a test for each new fixture");
}
