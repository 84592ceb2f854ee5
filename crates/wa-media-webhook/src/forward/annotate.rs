//! What a forward carries: its stable id, and the notification with each media's outcome.

use serde_json::{json, Map, Value};
use wa_media_types::Sha256Digest;

use crate::sink::Location;
use crate::spool::MediaOutcome;

/// The `webhook-id` of a notification: `msg_` and 32 hex characters of the SHA-256 of its JSON
/// in canonical form (keys sorted, no spaces), so Meta's redelivery of the same notification
/// gets the same id even if it is spelled differently.
pub(crate) fn forward_id(raw: &[u8]) -> String {
    let canonical = serde_json::from_slice::<Value>(raw)
        .ok()
        .and_then(|v| serde_json::to_vec(&v).ok());
    let digest = Sha256Digest::of(canonical.as_deref().unwrap_or(raw));
    format!("msg_{}", &digest.to_hex()[..32])
}

/// The `wa_media` object of one media.
pub(crate) fn wa_media(outcome: &MediaOutcome, locate: impl Fn(&str) -> Location) -> Value {
    match outcome {
        MediaOutcome::Saved(s) => {
            let mut o = Map::new();
            o.insert("status".into(), "saved".into());
            if !s.location.is_empty() {
                match locate(&s.location) {
                    Location::Path(p) => o.insert("path".into(), p.into()),
                    Location::Key(k) => o.insert("key".into(), k.into()),
                };
            }
            if let Some(h) = &s.sha256 {
                o.insert("sha256".into(), h.clone().into());
            }
            if let Some(n) = s.file_size {
                o.insert("file_size".into(), n.into());
            }
            if let Some(m) = &s.mime_type {
                o.insert("mime_type".into(), m.clone().into());
            }
            Value::Object(o)
        }
        MediaOutcome::Failed(reason) => json!({ "status": "failed", "reason": reason }),
        _ => json!({ "status": "failed", "reason": "the media is not in the spool" }),
    }
}

/// `raw` with a `wa_media` object added to every media object (an object with an `id` that is
/// one of `outcomes`' and a `mime_type`), wherever it is in the notification (messages, echoes,
/// history). `None` when `raw` is not JSON.
pub(crate) fn annotate(raw: &str, outcomes: &[(String, Value)]) -> Option<String> {
    let mut v: Value = serde_json::from_str(raw).ok()?;
    walk(&mut v, outcomes);
    serde_json::to_string(&v).ok()
}

fn walk(v: &mut Value, outcomes: &[(String, Value)]) {
    match v {
        Value::Object(o) => {
            let hit = (o.contains_key("mime_type"))
                .then(|| o.get("id").and_then(Value::as_str))
                .flatten()
                .and_then(|id| outcomes.iter().find(|(m, _)| m == id))
                .map(|(_, w)| w.clone());
            if let Some(w) = hit {
                o.insert("wa_media".into(), w);
            }
            for child in o.values_mut() {
                walk(child, outcomes);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|c| walk(c, outcomes)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spool::SavedOutcome;

    #[test]
    fn the_id_ignores_spelling_and_the_media_get_their_outcome() {
        let a = br#"{"object":"whatsapp_business_account","entry":[]}"#;
        let b = b"{ \"entry\": [], \"object\": \"whatsapp_business_account\" }";
        assert_eq!(forward_id(a), forward_id(b));
        assert_ne!(forward_id(a), forward_id(br#"{"object":"x"}"#));
        assert_eq!(forward_id(a).len(), 36);

        let raw = r#"{"entry":[{"changes":[{"value":{"messages":[{"id":"wamid.1","type":"image","image":{"id":"111","mime_type":"image/jpeg"}},{"id":"wamid.2","type":"document","document":{"id":"222","mime_type":"application/pdf"}}]}}]}]}"#;
        let saved = SavedOutcome {
            media_id: "111".into(),
            location: "inbox/2026-12-08/a.jpg".into(),
            file_size: Some(3),
            sha256: Some("ab".into()),
            mime_type: Some("image/jpeg".into()),
            saved_at_ms: 1,
        };
        let locate = |l: &str| Location::Path(l.trim_start_matches("inbox/").into());
        let outcomes = vec![
            (
                "111".to_string(),
                wa_media(&MediaOutcome::Saved(saved), locate),
            ),
            (
                "222".to_string(),
                wa_media(&MediaOutcome::Failed("expired".into()), locate),
            ),
        ];
        let out: Value = serde_json::from_str(&annotate(raw, &outcomes).unwrap()).unwrap();
        let msgs = &out["entry"][0]["changes"][0]["value"]["messages"];
        assert_eq!(
            msgs[0]["image"]["wa_media"],
            json!({"status":"saved","path":"2026-12-08/a.jpg","sha256":"ab","file_size":3,"mime_type":"image/jpeg"})
        );
        assert_eq!(
            msgs[1]["document"]["wa_media"],
            json!({"status":"failed","reason":"expired"})
        );
        assert!(msgs[0].get("wa_media").is_none());
    }
}
