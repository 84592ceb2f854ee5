//! Property tests: serde round-trips of every model, digest encodings, the validator's limits
//! and robustness, webhook parsing and signatures on arbitrary input.
//!
//! Each property has fixed, pinned cases beside it, so a broken strategy cannot make the
//! generated cases pass vacuously.

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use serde_json::{json, Value};
use wa_media_types::signature::{signature_header, verify_signature};
use wa_media_types::webhook::{inbound_media, InboundMedia, Notification};
use wa_media_types::{
    sniff, validate_upload, ApiVersion, DeleteResponse, ErrorBody, ErrorData, GraphError, MediaId,
    MediaKind, MediaType, MediaUrlResponse, PhoneNumberId, Problem, Sha256Digest, SignatureError,
    UploadCandidate, UploadResponse, KB, MB,
};

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        // Integration tests have no lib.rs beside them to persist failures next to.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// ------------------------------------------------------------------ strategies

fn media_id() -> impl Strategy<Value = MediaId> {
    "[0-9]{1,32}".prop_map(|s| MediaId::new(s).expect("strategy yields valid ids"))
}

fn phone_number_id() -> impl Strategy<Value = PhoneNumberId> {
    "[0-9]{1,20}".prop_map(|s| PhoneNumberId::new(s).expect("digits"))
}

fn digest() -> impl Strategy<Value = Sha256Digest> {
    any::<[u8; 32]>().prop_map(Sha256Digest::from_bytes)
}

fn kind() -> impl Strategy<Value = MediaKind> {
    prop::sample::select(MediaKind::ALL.to_vec())
}

fn token() -> impl Strategy<Value = String> {
    "[a-z0-9][a-z0-9.+-]{0,15}"
}

fn media_type() -> impl Strategy<Value = MediaType> {
    (
        token(),
        token(),
        prop::collection::vec((token(), "[^\\p{Cc}]{0,12}"), 0..3),
    )
        .prop_map(|(t, s, params)| {
            let mut text = format!("{t}/{s}");
            for (n, v) in params {
                let v = v.replace('\\', "\\\\").replace('"', "\\\"");
                text.push_str(&format!("; {n}=\"{v}\""));
            }
            MediaType::parse(&text).expect("strategy yields valid MIME types")
        })
}

fn opt_text() -> impl Strategy<Value = Option<String>> {
    prop::option::of(".{0,24}")
}

fn media_url_response() -> impl Strategy<Value = MediaUrlResponse> {
    (
        ".{0,40}",
        ".{0,20}",
        digest(),
        any::<u64>(),
        media_id(),
        opt_text(),
    )
        .prop_map(
            |(url, mime_type, sha256, file_size, id, messaging_product)| {
                let mut r = MediaUrlResponse::new(url.into(), mime_type, sha256, file_size, id);
                r.messaging_product = messaging_product;
                r
            },
        )
}

fn graph_error() -> impl Strategy<Value = GraphError> {
    (
        ".{0,40}",
        opt_text(),
        any::<i64>(),
        prop::option::of(any::<i64>()),
        (opt_text(), opt_text()),
        prop::option::of((opt_text(), opt_text())),
        opt_text(),
        prop::option::of(any::<bool>()),
    )
        .prop_map(
            |(
                message,
                error_type,
                code,
                error_subcode,
                (title, msg),
                data,
                fbtrace_id,
                is_transient,
            )| {
                GraphError {
                    message,
                    error_type,
                    code,
                    error_subcode,
                    error_user_title: title,
                    error_user_msg: msg,
                    error_data: data.map(|(messaging_product, details)| ErrorData {
                        messaging_product,
                        details,
                    }),
                    fbtrace_id,
                    is_transient,
                }
            },
        )
}

fn inbound() -> impl Strategy<Value = InboundMedia> {
    (
        ".{0,20}",
        opt_text(),
        kind(),
        media_id(),
        ".{0,20}",
        prop::option::of(digest()),
        (opt_text(), opt_text()),
        (any::<bool>(), any::<bool>()),
        opt_text(),
    )
        .prop_map(
            |(
                message_id,
                from,
                kind,
                media_id,
                mime_type,
                sha256,
                (caption, filename),
                (voice, animated),
                phone_number_id,
            )| {
                let mut m = InboundMedia::new(message_id, kind, media_id, mime_type);
                m.customer = wa_media_types::Customer::new(from, None, None, None);
                m.sha256 = sha256;
                m.caption = caption;
                m.filename = filename;
                m.voice = voice;
                m.animated = animated;
                m.phone_number_id = phone_number_id;
                m
            },
        )
}

/// Any JSON value, nested a few levels.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        // Quarters print and parse back exactly (serde_json's default float parsing is not
        // correctly rounded for every f64).
        any::<i32>().prop_map(|i| Value::from(f64::from(i) / 4.0)),
        ".{0,12}".prop_map(Value::from),
        prop::sample::select(vec!["image", "audio", "id", "sha256", "1234567890"])
            .prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            prop::collection::btree_map(field_name(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn field_name() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "object",
            "entry",
            "changes",
            "value",
            "messages",
            "metadata",
            "id",
            "type",
            "image",
            "audio",
            "video",
            "document",
            "sticker",
            "mime_type",
            "sha256",
            "voice",
            "animated",
            "caption",
            "filename",
            "from",
            "phone_number_id",
            "statuses",
            "contacts",
        ])
        .prop_map(String::from),
        "[a-z_]{1,8}",
    ]
}

/// A media object that is sometimes well formed and sometimes not.
fn media_object() -> impl Strategy<Value = Value> {
    prop_oneof![
        3 => (
            "[0-9]{1,17}",
            prop::sample::select(vec!["image/jpeg", "audio/ogg; codecs=opus", "image/webp", ""]),
            prop::option::of(digest()),
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(|(id, mime, sha, voice, animated)| {
                let mut o = json!({"id": id, "mime_type": mime, "voice": voice, "animated": animated});
                if let Some(d) = sha {
                    o["sha256"] = Value::from(d.to_base64());
                }
                o
            }),
        1 => json_value(),
    ]
}

/// A notification-shaped value whose messages have random types and objects.
fn notification_value() -> impl Strategy<Value = Value> {
    let message = (
        prop::sample::select(vec![
            "image", "video", "audio", "document", "sticker", "text", "hologram", "",
        ]),
        media_object(),
        prop::option::of(json_value()),
    )
        .prop_map(|(t, obj, extra)| {
            let mut m = json!({"id": "wamid.X", "from": "1", "type": t});
            m[t] = obj;
            if let Some(extra) = extra {
                m["unknown"] = extra;
            }
            m
        });
    let metadata = prop_oneof![
        3 => "[0-9]{1,15}".prop_map(|id| json!({"phone_number_id": id, "display_phone_number": "1"})),
        1 => json_value(),
    ];
    (prop::collection::vec(message, 0..5), metadata).prop_map(|(messages, meta)| {
        json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{
            "field": "messages",
            "value": {"metadata": meta, "messages": messages}}]}]})
    })
}

/// A (kind, MIME type, head) triple that validates for any length within the kind's limit.
fn valid_upload() -> impl Strategy<Value = (MediaKind, &'static str, Vec<u8>)> {
    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
    const OPUS: &[u8] = b"OggS\0\x02\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01\x13OpusHead\x01";
    const WEBP: &[u8] = b"RIFF\0\0\0\0WEBPVP8L\x0a\0\0\0\x2f";
    const WEBP_ANIM: &[u8] = b"RIFF\0\0\0\0WEBPVP8X\x0a\0\0\0\x02\0\0\0\0\0\0\0\0\0";
    prop::sample::select(vec![
        (MediaKind::Image, "image/png", PNG),
        (MediaKind::Image, "image/jpeg", &b"\xFF\xD8\xFF\xE0"[..]),
        (MediaKind::Document, "application/pdf", &b"%PDF-1.7\n"[..]),
        (
            MediaKind::Document,
            "text/plain; charset=utf-8",
            &b"hello\n"[..],
        ),
        (MediaKind::Audio, "audio/mpeg", &b"ID3\x04\0\0\0\0\0\0"[..]),
        (MediaKind::Audio, "audio/ogg", OPUS),
        (
            MediaKind::Video,
            "video/mp4",
            &b"\0\0\0\x18ftypisom\0\0\0\0"[..],
        ),
        (
            MediaKind::Video,
            "video/3gp",
            &b"\0\0\0\x18ftyp3gp5\0\0\0\0"[..],
        ),
        (MediaKind::Sticker, "image/webp", WEBP),
        (MediaKind::Sticker, "image/webp", WEBP_ANIM),
        (MediaKind::Voice, "audio/ogg; codecs=opus", OPUS),
    ])
    .prop_map(|(k, m, h)| (k, m, h.to_vec()))
}

fn mime_text() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "image/jpeg",
            "image/png",
            "image/webp",
            "audio/ogg",
            "audio/ogg; codecs=opus",
            "audio/ogg; codecs=vorbis",
            "audio/opus",
            "audio/mpeg",
            "video/3gpp",
            "application/pdf",
            "application/vnd.ms-excel",
            "text/plain",
            "application/octet-stream",
        ])
        .prop_map(String::from),
        ".{0,40}",
    ]
}

fn head_bytes() -> impl Strategy<Value = Vec<u8>> {
    let magic = prop::sample::select(vec![
        &b""[..],
        b"\xFF\xD8\xFF",
        b"\x89PNG\r\n\x1a\n",
        b"RIFF\0\0\0\0WEBPVP8X",
        b"OggS",
        b"\0\0\0\x18ftyp",
        b"ID3\x04",
        b"\xFF\xF1",
        b"#!AMR\n",
        b"%PDF-",
    ]);
    (magic, prop::collection::vec(any::<u8>(), 0..300)).prop_map(|(m, tail)| [m, &tail].concat())
}

// ------------------------------------------------------------------ round trips

fn round_trip<T>(v: &T) -> T
where
    T: serde::Serialize + serde::de::DeserializeOwned,
{
    let text = serde_json::to_string(v).expect("serialize");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn ids_round_trip(id in media_id(), phone in phone_number_id(), major: u16, minor: u16) {
        prop_assert_eq!(round_trip(&id), id.clone());
        prop_assert_eq!(id.as_str().parse::<MediaId>().unwrap(), id);
        prop_assert_eq!(round_trip(&phone), phone);
        let v = ApiVersion::new(major, minor);
        prop_assert_eq!(round_trip(&v), v);
        prop_assert_eq!(v.to_string().parse::<ApiVersion>().unwrap(), v);
    }

    #[test]
    fn any_string_is_a_safe_media_id_or_refused(s in ".{0,140}") {
        if let Ok(id) = MediaId::new(s.as_str()) {
            prop_assert!(!id.as_str().contains(['/', '?', '#', '%']));
            prop_assert!(id.as_str().chars().count() <= 128);
        }
    }

    /// Media ids are ASCII digits only, 1 to MAX_MEDIA_ID_LEN of them: `me`, `..`, paths and
    /// anything with another character are refused, so the token never addresses another
    /// Graph object.
    #[test]
    fn a_media_id_is_accepted_exactly_when_it_is_1_to_32_ascii_digits(s in "[0-9a-zA-Z./ _-]{0,40}|[0-9]{0,40}") {
        let want = !s.is_empty() && s.len() <= wa_media_types::MAX_MEDIA_ID_LEN && s.bytes().all(|b| b.is_ascii_digit());
        prop_assert_eq!(MediaId::new(s.as_str()).is_ok(), want, "{:?}", s);
    }

    #[test]
    fn mime_and_kind_round_trip(m in media_type(), k in kind()) {
        prop_assert_eq!(round_trip(&m), m.clone());
        prop_assert_eq!(MediaType::parse(&m.to_string()).unwrap(), m);
        prop_assert_eq!(round_trip(&k), k);
        prop_assert_eq!(k.to_string().parse::<MediaKind>().unwrap(), k);
    }

    #[test]
    fn responses_round_trip(r in media_url_response(), id in media_id(), success: bool) {
        prop_assert_eq!(round_trip(&r), r.clone());
        let as_string_size = serde_json::to_value(&r).map(|mut v| {
            v["file_size"] = Value::from(r.file_size.to_string());
            v
        }).unwrap();
        prop_assert_eq!(serde_json::from_value::<MediaUrlResponse>(as_string_size).unwrap(), r);
        let u = UploadResponse::new(id);
        prop_assert_eq!(round_trip(&u), u);
        let d = DeleteResponse::new(success);
        prop_assert_eq!(round_trip(&d), d);
    }

    #[test]
    fn graph_errors_round_trip(e in graph_error()) {
        prop_assert_eq!(round_trip(&e), e.clone());
        let body = serde_json::to_vec(&json!({"error": e})).unwrap();
        prop_assert_eq!(ErrorBody::parse(&body), ErrorBody::Graph(e));
    }

    #[test]
    fn webhook_models_round_trip(m in inbound(), n in notification_value()) {
        prop_assert_eq!(round_trip(&m), m);
        if let Ok(parsed) = serde_json::from_value::<Notification>(n) {
            prop_assert_eq!(round_trip(&parsed), parsed.clone());
            prop_assert_eq!(inbound_media(&round_trip(&parsed)), inbound_media(&parsed));
        }
    }

    #[test]
    fn hex_and_base64_digests_are_the_same_digest(d in digest()) {
        use base64::Engine as _;
        let b = d.as_bytes();
        let forms = [
            d.to_hex(),
            d.to_hex().to_uppercase(),
            d.to_base64(),
            d.to_base64().trim_end_matches('=').to_owned(),
            base64::engine::general_purpose::URL_SAFE.encode(b),
        ];
        for f in forms {
            prop_assert_eq!(f.parse::<Sha256Digest>().unwrap(), d);
        }
        prop_assert_eq!(round_trip(&d), d);
    }

    #[test]
    fn digest_parsing_never_panics(s in ".{0,80}") {
        let _ = s.parse::<Sha256Digest>();
    }
}

// ------------------------------------------------------------------ validation

fn check(kind: Option<MediaKind>, mime: &str, len: u64, head: &[u8]) -> Result<(), Vec<Problem>> {
    let mime: MediaType = mime.parse().expect("test MIME type");
    validate_upload(&UploadCandidate {
        kind,
        mime: &mime,
        len,
        head,
    })
    .map(|_| ())
    .map_err(|e| e.problems)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn validation_never_panics_and_is_coherent(
        kind in prop::option::of(kind()),
        mime in mime_text(),
        len in prop_oneof![any::<u64>(), 0u64..1_000_000],
        head in head_bytes(),
    ) {
        let _ = sniff(&head);
        let Ok(mime) = MediaType::parse(&mime) else { return Ok(()) };
        match validate_upload(&UploadCandidate { kind, mime: &mime, len, head: &head }) {
            Ok(v) => {
                prop_assert!(len > 0 && len <= v.max_bytes);
                prop_assert!(kind.is_none_or(|k| k == v.kind));
                prop_assert!(v.kind.allows(&mime));
            }
            Err(e) => {
                prop_assert!(!e.problems.is_empty());
                for p in &e.problems {
                    prop_assert!(!p.to_string().is_empty());
                }
                prop_assert!(e.to_string().starts_with("the file cannot be uploaded"));
            }
        }
    }

    #[test]
    fn limit_is_accepted_and_one_byte_more_refused((kind, mime, head) in valid_upload()) {
        let animated = sniff(&head).is_some_and(|s| s.animated);
        let max = kind.max_bytes(animated);
        prop_assert_eq!(check(Some(kind), mime, max, &head), Ok(()));
        prop_assert_eq!(check(Some(kind), mime, 1, &head), Ok(()));
        let refused = check(Some(kind), mime, max + 1, &head).unwrap_err();
        prop_assert_eq!(refused.len(), 1);
        let is_too_large = matches!(refused[0], Problem::TooLarge { len, max: m, .. } if len == max + 1 && m == max);
        prop_assert!(is_too_large, "{:?}", refused);
    }

    #[test]
    fn webhook_parsing_never_panics(v in json_value(), shaped in notification_value(), bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        for value in [v, shaped] {
            if let Ok(n) = serde_json::from_value::<Notification>(value.clone()) {
                for m in inbound_media(&n) {
                    prop_assert_eq!(m.voice, m.kind == MediaKind::Voice);
                    prop_assert!(!m.animated || m.kind == MediaKind::Sticker);
                }
            }
            let _ = Notification::from_slice(&serde_json::to_vec(&value).unwrap());
        }
        let _ = Notification::from_slice(&bytes);
    }

    #[test]
    fn signatures_verify_and_any_change_is_refused(
        secret in prop::collection::vec(any::<u8>(), 0..80),
        body in prop::collection::vec(any::<u8>(), 0..300),
        flip in any::<prop::sample::Index>(),
        header in ".{0,80}",
    ) {
        let good = signature_header(&secret, &body);
        prop_assert_eq!(verify_signature(&secret, &body, &good), Ok(()));
        if !body.is_empty() {
            let mut changed = body.clone();
            changed[flip.index(body.len())] ^= 0x01;
            prop_assert_eq!(verify_signature(&secret, &changed, &good), Err(SignatureError::Mismatch));
        }
        let _ = verify_signature(&secret, &body, &header);
    }
}

#[test]
fn pinned_limits() {
    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n";
    const WEBP: &[u8] = b"RIFF\0\0\0\0WEBPVP8L\x0a\0\0\0\x2f";
    const WEBP_ANIM: &[u8] = b"RIFF\0\0\0\0WEBPVP8X\x0a\0\0\0\x02\0\0\0\0\0\0\0\0\0";
    const OPUS: &[u8] = b"OggS\0\x02\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01\x13OpusHead\x01";
    for (kind, mime, head, max) in [
        (MediaKind::Image, "image/png", PNG, 5_242_880u64),
        (
            MediaKind::Document,
            "application/pdf",
            &b"%PDF-1.4"[..],
            104_857_600,
        ),
        (MediaKind::Audio, "audio/ogg", OPUS, 16_777_216),
        (
            MediaKind::Video,
            "video/mp4",
            &b"\0\0\0\x18ftypmp42\0\0\0\0"[..],
            16_777_216,
        ),
        (MediaKind::Voice, "audio/ogg; codecs=opus", OPUS, 16_777_216),
        (MediaKind::Sticker, "image/webp", WEBP, 102_400),
        (MediaKind::Sticker, "image/webp", WEBP_ANIM, 512_000),
    ] {
        assert_eq!(
            check(Some(kind), mime, max, head),
            Ok(()),
            "{kind} at {max}"
        );
        let refused = check(Some(kind), mime, max + 1, head).unwrap_err();
        assert!(
            matches!(refused.as_slice(), [Problem::TooLarge { max: m, .. }] if *m == max),
            "{kind} at {max} + 1: {refused:?}"
        );
    }
    assert_eq!(5 * MB, 5_242_880);
    assert_eq!(100 * KB, 102_400);
}

#[test]
fn pinned_strategies_produce_what_they_claim() {
    // The harness itself: a broken strategy must not make the properties pass vacuously.
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let mut shaped_with_media = 0;
    for _ in 0..64 {
        let v = notification_value()
            .new_tree(&mut runner)
            .unwrap()
            .current();
        if let Ok(n) = serde_json::from_value::<Notification>(v) {
            shaped_with_media += usize::from(!inbound_media(&n).is_empty());
        }
    }
    assert!(
        shaped_with_media > 16,
        "notification strategy rarely yields media: {shaped_with_media}"
    );
    let mut kinds = std::collections::BTreeSet::new();
    for _ in 0..64 {
        kinds.insert(valid_upload().new_tree(&mut runner).unwrap().current().0);
    }
    assert_eq!(
        kinds.len(),
        MediaKind::ALL.len(),
        "every kind's limit is exercised"
    );
}

#[test]
fn pinned_regressions_found_by_the_properties() {
    // ApiVersion::new accepted five-digit numbers that parsing refused.
    let v = ApiVersion::new(33180, 5138);
    assert_eq!(round_trip(&v), v);
    // A `voice` or `animated` flag on the wrong media type does not leak into InboundMedia.
    let n: Notification = serde_json::from_value(json!({"entry": [{"changes": [{"value": {
        "messages": [{"id": "m", "type": "image",
                      "image": {"id": "0", "mime_type": "image/jpeg", "voice": true, "animated": true}}]}}]}]}))
    .unwrap();
    let m = &inbound_media(&n)[0];
    assert_eq!(
        (m.kind, m.voice, m.animated),
        (MediaKind::Image, false, false)
    );
}

// ------------------------------------------------------------------ outbound messages

/// A message with arbitrary options, some allowed for its kind and some not.
fn message() -> impl Strategy<Value = wa_media_types::SendMedia> {
    (
        "[0-9]{7,15}",
        kind(),
        prop_oneof![
            media_id().prop_map(wa_media_types::MediaRef::Id),
            "https://[a-z]{1,10}\\.example/[a-z0-9/]{0,20}"
                .prop_map(wa_media_types::MediaRef::Link),
        ],
        proptest::option::of(".{0,1100}"),
        proptest::option::of(".{0,20}"),
        any::<bool>(),
        proptest::option::of(".{0,20}"),
        proptest::option::of(".{0,600}"),
    )
        .prop_map(|(to, kind, media, caption, filename, voice, reply, data)| {
            let mut m = match media {
                wa_media_types::MediaRef::Id(id) => {
                    wa_media_types::SendMedia::by_id(&to, kind, id).unwrap()
                }
                wa_media_types::MediaRef::Link(l) => {
                    wa_media_types::SendMedia::by_link(&to, kind, &l).unwrap()
                }
                _ => unreachable!(),
            }
            .voice(voice);
            m.caption = caption;
            m.filename = filename;
            m.reply_to = reply;
            m.biz_opaque_callback_data = data;
            m
        })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn recipients_normalise_to_7_to_15_digits_or_are_refused(s in "[0-9 +()\\-a-z]{0,24}") {
        match wa_media_types::message::normalize_recipient(&s) {
            Ok(d) => {
                prop_assert!((7..=15).contains(&d.len()), "{}", d);
                prop_assert!(d.bytes().all(|b| b.is_ascii_digit()));
                prop_assert_eq!(d, s.chars().filter(char::is_ascii_digit).collect::<String>());
            }
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }

    #[test]
    fn a_message_that_validates_has_the_graph_shape(m in message()) {
        let body = m.to_json();
        let wire = body["type"].as_str().unwrap().to_owned();
        prop_assert_eq!(wire.as_str(), m.wire_type());
        prop_assert_eq!(&body["messaging_product"], "whatsapp");
        prop_assert_eq!(&body["to"], m.to.as_str());
        let media = body[wire.as_str()].as_object().unwrap();
        prop_assert!(media.contains_key("id") ^ media.contains_key("link"));
        if m.validate().is_ok() {
            // Every option the message holds is in the body, none is dropped silently.
            prop_assert_eq!(media.contains_key("caption"), m.caption.is_some());
            prop_assert_eq!(media.contains_key("filename"), m.filename.is_some());
            prop_assert_eq!(media.get("voice") == Some(&json!(true)), m.is_voice());
            prop_assert_eq!(body.get("context").is_some(), m.reply_to.is_some());
            prop_assert_eq!(
                body.get("biz_opaque_callback_data").is_some(),
                m.biz_opaque_callback_data.is_some()
            );
            prop_assert!(wire != "audio" || !media.contains_key("caption"));
        }
    }
}

#[test]
fn message_strategy_yields_valid_and_invalid_messages() {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let (mut ok, mut bad) = (0, 0);
    for _ in 0..256 {
        let m = message().new_tree(&mut runner).unwrap().current();
        if m.validate().is_ok() {
            ok += 1;
        } else {
            bad += 1;
        }
    }
    assert!(ok > 10 && bad > 10, "ok {ok}, bad {bad}");
}
