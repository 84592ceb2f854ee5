//! insta snapshots of the parsed form of every JSON fixture, one snapshot per file (and per
//! view), so any change in how a payload is understood shows up in review.

use std::path::Path;

use wa_media_types::signature::verify_signature;
use wa_media_types::webhook::{inbound_media, Notification};
use wa_media_types::{DeleteResponse, ErrorBody, ErrorClass, MediaUrlResponse, UploadResponse};

fn name(path: &Path) -> &str {
    path.file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
}

#[test]
fn webhook_fixtures() {
    insta::glob!("../../../fixtures", "webhooks/*.json", |path| {
        let body = std::fs::read(path).unwrap();
        if name(path) == "signature-vectors.json" {
            let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
            let results: Vec<(String, String)> = v["cases"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| {
                    let s = |k: &str| c[k].as_str().unwrap_or_default();
                    let r =
                        verify_signature(s("secret").as_bytes(), s("body").as_bytes(), s("header"));
                    (s("name").to_owned(), format!("{r:?}"))
                })
                .collect();
            insta::assert_debug_snapshot!("verified", results);
            return;
        }
        let n = Notification::from_slice(&body).unwrap();
        insta::assert_debug_snapshot!("inbound", inbound_media(&n));
        insta::assert_json_snapshot!("notification", n);
    });
}

#[derive(Debug)]
#[allow(dead_code)] // read through Debug by the snapshot
enum Graph {
    Upload(UploadResponse),
    Retrieve(MediaUrlResponse),
    Delete(DeleteResponse),
    Error {
        class: ErrorClass,
        retryable: bool,
        display: String,
        body: ErrorBody,
    },
}

#[test]
fn graph_fixtures() {
    insta::glob!("../../../fixtures", "graph/*", |path| {
        let body = std::fs::read(path).unwrap();
        let file = name(path);
        let parsed = if file == "upload.json" {
            Graph::Upload(serde_json::from_slice(&body).unwrap())
        } else if file.starts_with("retrieve") {
            Graph::Retrieve(serde_json::from_slice(&body).unwrap())
        } else if file == "delete.json" {
            Graph::Delete(serde_json::from_slice(&body).unwrap())
        } else {
            let body = ErrorBody::parse(&body);
            let class = body.graph().map_or(ErrorClass::Other, |e| e.class());
            Graph::Error {
                class,
                retryable: class.is_retryable(),
                display: body.to_string(),
                body,
            }
        };
        insta::assert_debug_snapshot!("graph", parsed);
    });
}
