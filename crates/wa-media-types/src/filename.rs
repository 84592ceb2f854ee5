//! File names for inbound media: built from untrusted webhook data, so made safe before use.
//! The one set of rules for every consumer (the CLI's `inbound`, the webhook service's sinks).
//!
//! A name never contains a path separator, never starts with a dot or a dash, is never a Windows device
//! name, is never empty, and stays under 200 bytes: whatever a webhook says, the file lands
//! directly inside the directory the user chose.

/// Windows device names that must not be used as a file's stem on any platform.
const DEVICE_NAMES: [&str; 22] = [
    "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8",
    "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
];

/// Longest name produced, in bytes.
pub const MAX_NAME_BYTES: usize = 200;

/// Makes `raw` (a document's filename from a webhook, say) safe to use as one path component.
/// Returns `None` when nothing usable is left.
///
/// ```
/// use wa_media_types::filename::sanitize;
/// assert_eq!(sanitize("../../etc/passwd").as_deref(), Some("passwd"));
/// assert_eq!(sanitize("-rf").as_deref(), Some("rf"));
/// assert_eq!(sanitize("..").as_deref(), None);
/// ```
pub fn sanitize(raw: &str) -> Option<String> {
    // Only the last component of whatever path-like thing was sent.
    let last = raw.rsplit(['/', '\\']).next().unwrap_or("");
    let mut out = String::with_capacity(last.len());
    for c in last.chars() {
        let ok = c.is_alphanumeric() || matches!(c, '.' | '-' | '_' | ' ' | '(' | ')' | '+' | ',');
        out.push(if ok && !c.is_control() { c } else { '_' });
    }
    // Never a leading `-` either: `-rf` must not read as an option to the next tool.
    let trimmed = out
        .trim_start_matches(['.', ' ', '_', '-'])
        .trim_end_matches(['.', ' ', '_']);
    if trimmed.is_empty() {
        return None;
    }
    let mut name = trimmed.to_string();
    let stem = name
        .split('.')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_uppercase();
    if DEVICE_NAMES.contains(&stem.as_str()) {
        name.insert(0, '_');
    }
    if name.len() > MAX_NAME_BYTES {
        // Keep the extension when there is a short one.
        let ext = name
            .rsplit_once('.')
            .map(|(_, e)| e.to_string())
            .filter(|e| e.len() <= 10);
        let budget = MAX_NAME_BYTES - ext.as_ref().map_or(0, |e| e.len() + 1);
        let mut cut = budget;
        while !name.is_char_boundary(cut) {
            cut -= 1;
        }
        name.truncate(cut);
        if let Some(e) = ext {
            name.push('.');
            name.push_str(&e);
        }
    }
    Some(name)
}

/// The usual file extension for a MIME type (parameters ignored), or `bin`: the table of
/// [`usual_extension`](crate::usual_extension), for a MIME type given as a string.
pub fn extension_for(mime: &str) -> &'static str {
    crate::MediaType::parse(mime)
        .ok()
        .and_then(|m| crate::usual_extension(&m))
        .unwrap_or("bin")
}

/// The file name for one inbound media: the document's own name made safe when there is one,
/// otherwise `<message id>.<extension of the MIME type>`.
pub fn inbound_file_name(message_id: &str, mime: &str, filename: Option<&str>) -> String {
    if let Some(name) = filename.and_then(sanitize) {
        return name;
    }
    let base = sanitize(message_id).unwrap_or_else(|| "media".to_string());
    format!("{base}.{}", extension_for(mime))
}

/// The `n`-th candidate for a name already taken: `stem-n.ext` (`name-n` when there is no
/// extension; a leading dot does not start one), and `name` itself for `n` = 0. Every sink
/// claims free names in this order: the file sinks, the object store sink and `inbound`.
pub fn numbered(name: &str, n: u32) -> String {
    if n == 0 {
        return name.to_owned();
    }
    match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => format!("{stem}-{n}.{ext}"),
        _ => format!("{name}-{n}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered_names_put_the_number_before_the_extension() {
        assert_eq!(numbered("invoice.pdf", 0), "invoice.pdf");
        assert_eq!(numbered("invoice.pdf", 2), "invoice-2.pdf");
        assert_eq!(numbered("README", 1), "README-1");
        assert_eq!(numbered("a.tar.gz", 1), "a.tar-1.gz");
        assert_eq!(numbered(".profile", 3), ".profile-3");
    }

    #[test]
    fn hostile_names_stay_inside_the_directory() {
        for raw in [
            "../../etc/passwd",
            "/etc/passwd",
            "..\\..\\windows\\system32\\cmd.exe",
            "C:\\boot.ini",
            "..",
            ".",
            "...",
            "a/../../b",
            "\u{0}evil",
            "name\nwith\rnewlines",
        ] {
            if let Some(n) = sanitize(raw) {
                assert!(!n.contains('/') && !n.contains('\\'), "{raw:?} -> {n:?}");
                assert!(!n.starts_with('.'), "{raw:?} -> {n:?}");
                assert!(n.chars().all(|c| !c.is_control()), "{raw:?} -> {n:?}");
                assert_ne!(n, "..");
            }
        }
        assert_eq!(sanitize("../../etc/passwd").as_deref(), Some("passwd"));
        assert_eq!(sanitize(".."), None);
    }

    #[test]
    fn names_never_start_with_a_dash() {
        assert_eq!(sanitize("-rf").as_deref(), Some("rf"));
        assert_eq!(sanitize("--help.pdf").as_deref(), Some("help.pdf"));
        assert_eq!(sanitize("-.-x").as_deref(), Some("x"));
        assert_eq!(sanitize("a-b-").as_deref(), Some("a-b-"));
        assert_eq!(sanitize("---"), None);
    }

    #[test]
    fn windows_device_names_are_defused() {
        for raw in ["CON", "con.txt", "NUL", "com1.pdf", "LPT9"] {
            let n = sanitize(raw).unwrap();
            assert!(n.starts_with('_'), "{raw:?} -> {n:?}");
        }
        assert_eq!(sanitize("console.txt").as_deref(), Some("console.txt"));
    }

    #[test]
    fn long_names_are_cut_keeping_the_extension() {
        let n = sanitize(&format!("{}.pdf", "é".repeat(300))).unwrap();
        assert!(n.len() <= MAX_NAME_BYTES);
        assert!(n.ends_with(".pdf"));
    }

    #[test]
    fn inbound_names() {
        assert_eq!(
            inbound_file_name("wamid.ABC=", "audio/ogg; codecs=opus", None),
            "wamid.ABC.ogg"
        );
        assert_eq!(
            inbound_file_name("m1", "application/pdf", Some("../Invoice 7.pdf")),
            "Invoice 7.pdf"
        );
        assert_eq!(inbound_file_name("m1", "image/jpeg", Some("..")), "m1.jpg");
    }
}
