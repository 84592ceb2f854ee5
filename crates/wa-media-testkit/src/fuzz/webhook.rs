//! Fuzz harness: a webhook notification as an attacker could POST it — parsing, media
//! extraction (ids, kinds, filenames, digests) and the `X-Hub-Signature-256` check. Shared by
//! the `webhook` fuzz target and the corpus replay test; must never panic.

/// Runs one input.
pub fn run(data: &[u8]) {
    if let Ok(n) = wa_media_types::Notification::from_slice(data) {
        let _ = format!("{n:?}");
        for m in wa_media_types::inbound_media(&n) {
            let _ = (m.media_id.as_str(), m.kind.as_str(), m.mime_type.len());
            let _ = (
                m.filename.as_deref(),
                m.caption.as_deref(),
                m.sha256.map(|d| d.to_hex()),
            );
        }
    }
    // The signature header is attacker-controlled text too.
    let header = String::from_utf8_lossy(&data[..data.len().min(80)]);
    let _ = wa_media_types::verify_signature(b"app-secret", data, &header);
    let good = wa_media_types::signature_header(b"app-secret", data);
    assert!(wa_media_types::verify_signature(b"app-secret", data, &good).is_ok());
}
