//! Every file in `fixtures/webhooks/` parsed, its media references extracted and checked, and
//! every signature vector verified.

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde::Deserialize;
use wa_media_types::signature::{escape_non_ascii, signature_header, verify_signature};
use wa_media_types::webhook::{inbound_media, DeliveryStatus, InboundMedia, Notification, Status};
use wa_media_types::{MediaKind, Sha256Digest, SignatureError};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/webhooks")
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(dir().join(name)).unwrap_or_else(|e| panic!("fixtures/webhooks/{name}: {e}"))
}

fn parse(name: &str) -> Notification {
    Notification::from_slice(&read(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn only_media(name: &str) -> InboundMedia {
    let n = parse(name);
    assert_eq!(n.object, "whatsapp_business_account");
    let mut media = inbound_media(&n);
    assert_eq!(media.len(), 1, "{name}");
    let m = media.remove(0);
    assert_eq!(
        m.customer.as_ref().and_then(|c| c.phone.as_deref()),
        Some("16505551234"),
        "{name}"
    );
    assert_eq!(
        m.phone_number_id.as_deref(),
        Some("106540352242922"),
        "{name}"
    );
    assert!(m.message_id.starts_with("wamid."), "{name}");
    m
}

/// The fixtures' digests are SHA-256 of a short label, sent in base64 as Meta does.
fn digest_of(label: &str) -> Option<Sha256Digest> {
    Some(Sha256Digest::of(label.as_bytes()))
}

#[test]
fn image() {
    let m = only_media("image.json");
    assert_eq!(m.kind, MediaKind::Image);
    assert_eq!(m.media_id.as_str(), "1479537139650973");
    assert_eq!(m.mime_type, "image/jpeg");
    assert_eq!(m.sha256, digest_of("image"));
    assert_eq!(m.caption.as_deref(), Some("Receipt for order #1043"));
    assert_eq!((m.filename, m.voice, m.animated), (None, false, false));
}

#[test]
fn video() {
    let m = only_media("video.json");
    assert_eq!(m.kind, MediaKind::Video);
    assert_eq!(m.media_id.as_str(), "1184023543272645");
    assert_eq!(m.mime_type, "video/mp4");
    assert_eq!(m.sha256, digest_of("video"));
    assert_eq!(m.caption.as_deref(), Some("Unboxing"));
}

#[test]
fn audio_is_not_voice() {
    let m = only_media("audio.json");
    assert_eq!(m.kind, MediaKind::Audio);
    assert!(!m.voice);
    assert_eq!(m.media_id.as_str(), "2304917459829472");
    assert_eq!(m.mime_type, "audio/mpeg");
    assert_eq!(m.sha256, digest_of("audio"));
}

#[test]
fn voice_note_keeps_codec_parameter() {
    let m = only_media("voice.json");
    assert_eq!(m.kind, MediaKind::Voice);
    assert!(m.voice);
    assert_eq!(m.media_id.as_str(), "1003383421387256");
    assert_eq!(m.mime_type, "audio/ogg; codecs=opus");
    assert_eq!(m.sha256, digest_of("voice"));
}

#[test]
fn document_with_filename_and_caption() {
    let m = only_media("document.json");
    assert_eq!(m.kind, MediaKind::Document);
    assert_eq!(m.media_id.as_str(), "1214735546697282");
    assert_eq!(m.mime_type, "application/pdf");
    assert_eq!(m.filename.as_deref(), Some("invoice-2026-Q3.pdf"));
    assert_eq!(m.caption.as_deref(), Some("Q3 invoice"));
    assert_eq!(m.sha256, digest_of("document"));
}

#[test]
fn stickers_static_and_animated() {
    let s = only_media("sticker.json");
    assert_eq!((s.kind, s.animated), (MediaKind::Sticker, false));
    assert_eq!(s.media_id.as_str(), "1369582207419281");
    assert_eq!(s.mime_type, "image/webp");
    assert_eq!(s.sha256, digest_of("sticker"));
    let a = only_media("sticker-animated.json");
    assert_eq!((a.kind, a.animated), (MediaKind::Sticker, true));
    assert_eq!(a.media_id.as_str(), "1532719364210845");
    assert_eq!(a.sha256, digest_of("sticker-animated"));
}

#[test]
fn several_messages_across_entries() {
    let n = parse("several-messages.json");
    assert_eq!(n.entry.len(), 2);
    assert_eq!(n.entry[0].changes[0].value.messages.len(), 4);
    assert_eq!(n.entry[0].changes[0].value.contacts.len(), 2);
    let media = inbound_media(&n);
    let summary: Vec<(MediaKind, &str, Option<&str>, &str)> = media
        .iter()
        .map(|m| {
            (
                m.kind,
                m.media_id.as_str(),
                m.phone_number_id.as_deref(),
                m.customer
                    .as_ref()
                    .and_then(|c| c.phone.as_deref())
                    .unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (
                MediaKind::Image,
                "1111111111111111",
                Some("106540352242922"),
                "16505551234"
            ),
            (
                MediaKind::Document,
                "2222222222222222",
                Some("106540352242922"),
                "16505551234"
            ),
            (
                MediaKind::Voice,
                "3333333333333333",
                Some("106540352242922"),
                "447700900123"
            ),
            (
                MediaKind::Video,
                "4444444444444444",
                Some("112233445566778"),
                "15557654321"
            ),
        ]
    );
    // The image's digest is hex, the voice note's base64: both parse to bytes.
    assert_eq!(media[0].sha256, digest_of("png-hex"));
    assert_eq!(media[1].sha256, None, "absent sha256 tolerated");
    assert_eq!(media[1].filename.as_deref(), Some("notes.txt"));
    assert_eq!(media[2].sha256, digest_of("voice-2"));
    assert_eq!(media[3].mime_type, "video/3gpp");
    // The text message is there, just not media.
    let text = &n.entry[0].changes[0].value.messages[0];
    assert_eq!(text.message_type, "text");
    assert_eq!(text.extra["text"]["body"], "Here are the files");
    assert_eq!(text.media(), None);
}

#[test]
fn unknown_message_types_and_fields_are_tolerated() {
    let n = parse("unknown-type.json");
    let msgs = &n.entry[0].changes[0].value.messages;
    assert_eq!(msgs.len(), 3);
    assert_eq!(msgs[0].message_type, "hologram");
    assert_eq!(msgs[0].extra["hologram"]["projection"], "3d");
    assert_eq!(msgs[1].message_type, "unsupported");
    assert_eq!(msgs[1].errors[0].code, 131051);
    assert_eq!(msgs[2].extra["context"]["id"], "wamid.PREVIOUS");
    let media = inbound_media(&n);
    assert_eq!(media.len(), 1);
    assert_eq!(media[0].media_id.as_str(), "5555555555555555");
    assert_eq!(media[0].sha256, digest_of("image-2"));
    let image = msgs[2].image.as_ref().unwrap();
    assert_eq!(image.extra["new_field"]["nested"][2], 3);
}

#[test]
fn statuses_only_has_no_media() {
    let n = parse("statuses-only.json");
    let value = &n.entry[0].changes[0].value;
    assert!(value.messages.is_empty());
    assert_eq!(value.statuses.len(), 2);
    assert_eq!(value.statuses[0].status, DeliveryStatus::Delivered);
    assert_eq!(value.statuses[0].extra["pricing"]["billable"], true);
    assert_eq!(value.statuses[1].status, DeliveryStatus::Failed);
    let e = value.statuses[1]
        .media_error()
        .expect("131053 is a media error");
    assert_eq!(e.code, 131053);
    assert!(e
        .details()
        .unwrap()
        .starts_with("Unsupported Audio mime type"));
    assert_eq!(
        value.metadata.as_ref().unwrap().display_phone_number,
        "15550783881"
    );
    assert!(inbound_media(&n).is_empty());
}

fn only_status(name: &str) -> Status {
    let n = parse(name);
    assert!(inbound_media(&n).is_empty(), "{name}");
    let mut statuses = n.entry[0].changes[0].value.statuses.clone();
    assert_eq!(statuses.len(), 1, "{name}");
    let s = statuses.remove(0);
    assert!(s.id.starts_with("wamid."), "{name}");
    assert_eq!(s.recipient_id.as_deref(), Some("16505551234"), "{name}");
    assert_eq!(s.timestamp.as_deref(), Some("1749416400"), "{name}");
    s
}

#[test]
fn each_delivery_status() {
    for (name, want) in [
        ("status-sent.json", DeliveryStatus::Sent),
        ("status-delivered.json", DeliveryStatus::Delivered),
        ("status-read.json", DeliveryStatus::Read),
        ("status-played.json", DeliveryStatus::Played),
    ] {
        let s = only_status(name);
        assert_eq!(s.status, want, "{name}");
        assert!(s.errors.is_empty() && s.media_error().is_none(), "{name}");
    }
    let sent = only_status("status-sent.json");
    assert_eq!(sent.extra["biz_opaque_callback_data"], "order-1043");
    assert_eq!(sent.extra["conversation"]["origin"]["type"], "service");
}

#[test]
fn failed_with_an_asynchronous_media_error() {
    let s = only_status("status-failed-131053.json");
    assert_eq!(s.status, DeliveryStatus::Failed);
    let e = s.media_error().expect("131053 is a media error");
    assert_eq!(e.code, 131053);
    assert_eq!(e.title.as_deref(), Some("Media upload error"));
    assert!(e.details().unwrap().contains("http code 404"));
    assert!(e.extra["href"].as_str().unwrap().contains("error-codes"));
}

#[derive(Deserialize)]
struct Vectors {
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    secret: String,
    body: String,
    header: String,
    valid: bool,
    #[serde(default)]
    error: Option<String>,
}

#[test]
fn signature_vectors() {
    let v: Vectors = serde_json::from_slice(&read("signature-vectors.json")).unwrap();
    assert!(v.cases.len() >= 10);
    let mut saw_escaped = false;
    for c in &v.cases {
        let got = verify_signature(c.secret.as_bytes(), c.body.as_bytes(), &c.header);
        let want = match (c.valid, c.error.as_deref()) {
            (true, None) => Ok(()),
            (false, Some("mismatch")) => Err(SignatureError::Mismatch),
            (false, Some("bad_hex")) => Err(SignatureError::BadHex),
            (false, Some("missing_prefix")) => Err(SignatureError::MissingPrefix),
            other => panic!("{}: bad vector {other:?}", c.name),
        };
        assert_eq!(got, want, "{}", c.name);
        if c.valid
            && signature_header(c.secret.as_bytes(), c.body.as_bytes()) != c.header.to_lowercase()
        {
            // Only the escaped form matches: the fallback is what accepted it.
            let escaped = escape_non_ascii(c.body.as_bytes()).expect("non-ASCII body");
            assert_eq!(
                signature_header(c.secret.as_bytes(), &escaped),
                c.header,
                "{}",
                c.name
            );
            saw_escaped = true;
        }
    }
    assert!(saw_escaped, "a vector must exercise the \\uXXXX fallback");
}

#[test]
fn every_webhook_fixture_is_covered_here() {
    let covered: BTreeSet<&str> = [
        "image.json",
        "video.json",
        "audio.json",
        "voice.json",
        "document.json",
        "sticker.json",
        "sticker-animated.json",
        "several-messages.json",
        "unknown-type.json",
        "statuses-only.json",
        "status-sent.json",
        "status-delivered.json",
        "status-read.json",
        "status-played.json",
        "status-failed-131053.json",
        "signature-vectors.json",
        "bsuid-with-phone.json",
        "username-no-phone.json",
        "status-delivered-bsuid.json",
        "README.md",
        "smb-message-echo.json",
        "history.json",
        "unsupported.json",
        "errors.json",
    ]
    .into();
    let present: BTreeSet<String> = std::fs::read_dir(dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let present: BTreeSet<&str> = present.iter().map(String::as_str).collect();
    assert_eq!(present, covered, "add a test for each new fixture");
}

#[test]
fn a_customer_with_a_phone_a_bsuid_a_parent_and_a_username() {
    let n = parse("bsuid-with-phone.json");
    let m = inbound_media(&n).remove(0);
    let c = m.customer.expect("a customer");
    assert_eq!(c.phone.as_deref(), Some("16505551234"));
    assert_eq!(
        c.user_id.as_ref().map(|u| u.as_str()),
        Some("US.13491208655302741918")
    );
    assert_eq!(
        c.parent_user_id.as_ref().map(|u| u.as_str()),
        Some("US.ENT.11815799212886844830")
    );
    assert!(c.parent_user_id.unwrap().is_parent());
    assert_eq!(c.username.as_deref(), Some("pablomorales"));
    assert!(m.url.unwrap().starts_with("https://lookaside.fbsbx.com/"));
}

#[test]
fn a_username_customer_without_a_phone_number_is_still_identified() {
    let n = parse("username-no-phone.json");
    let m = inbound_media(&n).remove(0);
    let c = m
        .customer
        .expect("a customer without a phone is still a customer");
    assert_eq!(c.phone, None);
    assert_eq!(
        c.user_id.as_ref().map(|u| u.as_str()),
        Some("US.13491208655302741918")
    );
    assert_eq!(c.username.as_deref(), Some("pablomorales"));
    assert_eq!(c.recipient().to_string(), "US.13491208655302741918");
}

#[test]
fn a_status_of_a_message_sent_to_a_bsuid_names_the_customer() {
    let n = parse("status-delivered-bsuid.json");
    let s: &Status = &n.entry[0].changes[0].value.statuses[0];
    assert_eq!(s.recipient_id, None);
    let c = s.customer().expect("named by its BSUID");
    assert_eq!(
        c.user_id.as_ref().map(|u| u.as_str()),
        Some("US.13491208655302741918")
    );
    assert_eq!(
        c.parent_user_id.as_ref().map(|u| u.as_str()),
        Some("US.ENT.11815799212886844830")
    );
}

#[test]
fn the_sender_is_read_from_the_message_first_and_an_invalid_bsuid_is_left_out() {
    let n = Notification::from_slice(
        br#"{"entry":[{"changes":[{"value":{
        "contacts":[{"wa_id":"111","user_id":"US.1"},{"wa_id":"222","user_id":"US.2","profile":{"username":"two"}}],
        "messages":[
          {"id":"wamid.a","from":"222","type":"image","image":{"id":"5","mime_type":"image/jpeg"}},
          {"id":"wamid.b","from_user_id":"not a bsuid","type":"image","image":{"id":"6","mime_type":"image/jpeg"}}
        ]}}]}]}"#,
    )
    .unwrap();
    let media = inbound_media(&n);
    let a = media[0].customer.clone().unwrap();
    assert_eq!(
        (a.phone.as_deref(), a.username.as_deref()),
        (Some("222"), Some("two"))
    );
    assert_eq!(a.user_id.map(|u| u.to_string()).as_deref(), Some("US.2"));
    // Two contacts and no id of its own that is valid: no customer to name.
    assert_eq!(media[1].customer, None);
}

#[test]
fn media_in_echoes_and_history_is_found_with_its_source_and_customer() {
    use wa_media_types::webhook::MediaSource;
    let echo = inbound_media(&parse("smb-message-echo.json"));
    assert_eq!(echo.len(), 1);
    assert_eq!(echo[0].source, MediaSource::Echo);
    assert_eq!(echo[0].filename.as_deref(), Some("quote.pdf"));
    let c = echo[0].customer.clone().unwrap();
    assert_eq!(c.phone.as_deref(), Some("16505551234"));
    assert_eq!(c.user_id.unwrap().as_str(), "US.13491208655302741918");
    let history = inbound_media(&parse("history.json"));
    assert_eq!(history.len(), 1, "the text message has no media");
    assert_eq!(history[0].source, MediaSource::History);
    assert_eq!(
        history[0].customer.clone().unwrap().phone.as_deref(),
        Some("16505551234")
    );
    assert_eq!(
        history[0].phone_number_id.as_deref(),
        Some("106540352242922")
    );
}

#[test]
fn unsupported_messages_carry_metas_errors_and_are_not_media() {
    let n = parse("unsupported.json");
    assert!(inbound_media(&n).is_empty());
    let f = wa_media_types::webhook::meta_failures(&n);
    assert_eq!(f.len(), 2);
    assert_eq!(
        f[0].message_id.as_deref(),
        Some("wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFERjg0NDEzNDdFODU3MUMxMAA=")
    );
    assert_eq!(f[0].message_type.as_deref(), Some("unsupported"));
    assert_eq!(f[0].unsupported_type.as_deref(), Some("poll_update"));
    assert_eq!(f[0].timestamp, Some(1_739_321_024));
    assert_eq!(f[0].phone_number_id.as_deref(), Some("106540352242922"));
    let c = f[0].customer.as_ref().unwrap();
    assert_eq!(c.phone.as_deref(), Some("16505551234"));
    assert_eq!(
        c.user_id.as_ref().unwrap().as_str(),
        "US.13491208655302741918"
    );
    let e = &f[0].errors[0];
    assert_eq!(e.code, 131051);
    assert_eq!(e.title.as_deref(), Some("Message type unknown"));
    assert_eq!(e.message.as_deref(), Some("Message type unknown"));
    assert_eq!(
        e.details(),
        Some("Message type is currently not supported.")
    );
    assert_eq!(f[1].errors[0].code, 131060);
    assert_eq!(f[1].unsupported_type.as_deref(), Some("media_placeholder"));
}

#[test]
fn value_level_errors_are_a_failure_without_a_message() {
    let n = parse("errors.json");
    assert!(inbound_media(&n).is_empty());
    let f = wa_media_types::webhook::meta_failures(&n);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].message_id, None);
    assert_eq!(f[0].customer, None);
    let e = &f[0].errors[0];
    assert_eq!(e.code, 130429);
    assert_eq!(e.title.as_deref(), Some("Rate limit hit"));
    assert!(e.details().unwrap().starts_with("Message failed to send"));
    assert_eq!(
        e.extra["href"],
        "/documentation/business-messaging/whatsapp/support/error-codes"
    );
    // The unknown-type fixture's unsupported message (no `unsupported` object) counts too.
    let f = wa_media_types::webhook::meta_failures(&parse("unknown-type.json"));
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].errors[0].code, 131051);
    assert_eq!(f[0].unsupported_type, None);
}
