//! The streaming multipart/form-data encoder for uploads, with an exact `Content-Length`.
//!
//! The body is `messaging_product=whatsapp`, `type=<mime>`, `ttl_minutes=<n>` when the upload
//! asks for a media TTL ([`MultipartBody::ttl_minutes`]), and the `file` part. Only the small
//! head and tail live in memory; the file's bytes stream through untouched.
//!
//! Not a stable API: public only with the `test-util` feature, for this workspace's tests,
//! fuzzing and benches.
#![cfg_attr(not(feature = "test-util"), allow(dead_code, unreachable_pub))]

use std::io;

use bytes::Bytes;
use futures_core::Stream;
use futures_util::StreamExt;
use wa_media_types::MediaType;

use crate::transport::RequestBody;

/// Characters used for random boundaries.
const BOUNDARY_ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A multipart/form-data upload body: head (fields and the file part's header), the file's
/// bytes, tail (closing boundary). The length is exact before a byte is sent.
///
/// ```
/// use wa_media_core::multipart::MultipartBody;
/// let m = MultipartBody::new(&"image/png".parse().unwrap(), "a.png", 3);
/// assert!(m.content_type().starts_with("multipart/form-data; boundary="));
/// let body = m.to_bytes(bytes::Bytes::from_static(b"PNG"));
/// assert_eq!(body.len() as u64, m.len());
/// ```
#[derive(Debug, Clone)]
pub struct MultipartBody {
    boundary: String,
    head: Bytes,
    /// Where the `file` part's header starts in `head` (fields go before it).
    file_part_at: usize,
    tail: Bytes,
    file_len: u64,
}

impl MultipartBody {
    /// A body for a file of `file_len` bytes with a fresh random boundary.
    pub fn new(mime: &MediaType, filename: &str, file_len: u64) -> Self {
        Self::with_boundary(random_boundary(), mime, filename, file_len)
    }

    /// A body with a given boundary (tests pin it for stable snapshots). The boundary must be
    /// 1–70 characters from `[0-9A-Za-z'()+_,-./:=?]` and must not occur in the file.
    pub fn with_boundary(
        boundary: String,
        mime: &MediaType,
        filename: &str,
        file_len: u64,
    ) -> Self {
        let mime = mime.to_string();
        let mut head = String::with_capacity(400);
        for (name, value) in [("messaging_product", "whatsapp"), ("type", mime.as_str())] {
            push_field(&mut head, &boundary, name, value);
        }
        let file_part_at = head.len();
        head.push_str("--");
        head.push_str(&boundary);
        head.push_str("\r\nContent-Disposition: form-data; name=\"file\"; filename=\"");
        head.push_str(&escape_filename(filename));
        head.push_str("\"\r\nContent-Type: ");
        head.push_str(&mime);
        head.push_str("\r\n\r\n");
        let tail = format!("\r\n--{boundary}--\r\n");
        Self {
            boundary,
            head: Bytes::from(head),
            file_part_at,
            tail: Bytes::from(tail),
            file_len,
        }
    }

    /// Adds the `ttl_minutes` field (before the file part, after `type`): how long the media
    /// lives on a "No Storage" number (the range, 60 to 43,200, is checked by the upload's
    /// validation, [`wa_media_types::validate_ttl_minutes`], not here). The length stays exact.
    ///
    /// ```
    /// use wa_media_core::multipart::MultipartBody;
    /// let m = MultipartBody::with_boundary("B".into(), &"image/png".parse().unwrap(), "a.png", 3)
    ///     .ttl_minutes(120);
    /// let body = m.to_bytes(bytes::Bytes::from_static(b"PNG"));
    /// let text = String::from_utf8(body.clone()).unwrap();
    /// assert!(text.contains("name=\"ttl_minutes\"\r\n\r\n120\r\n--B\r\nContent-Disposition: form-data; name=\"file\""));
    /// assert_eq!(body.len() as u64, m.len());
    /// ```
    pub fn ttl_minutes(mut self, minutes: u32) -> Self {
        let mut field = String::with_capacity(100);
        push_field(
            &mut field,
            &self.boundary,
            "ttl_minutes",
            &minutes.to_string(),
        );
        let (fields, file_part) = self.head.split_at(self.file_part_at);
        let mut head = Vec::with_capacity(self.head.len() + field.len());
        head.extend_from_slice(fields);
        head.extend_from_slice(field.as_bytes());
        let file_part_at = head.len();
        head.extend_from_slice(file_part);
        self.head = Bytes::from(head);
        self.file_part_at = file_part_at;
        self
    }

    /// The boundary.
    pub fn boundary(&self) -> &str {
        &self.boundary
    }

    /// The request's `Content-Type` header value.
    pub fn content_type(&self) -> String {
        format!("multipart/form-data; boundary={}", self.boundary)
    }

    /// The exact body length: head + file + tail.
    pub fn len(&self) -> u64 {
        self.head.len() as u64 + self.file_len + self.tail.len() as u64
    }

    /// Never true: the fields alone are non-empty.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The length of the file part's content.
    pub fn file_len(&self) -> u64 {
        self.file_len
    }

    /// The whole body in memory (small files and tests).
    pub fn to_bytes(&self, file: Bytes) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.head.len() + file.len() + self.tail.len());
        v.extend_from_slice(&self.head);
        v.extend_from_slice(&file);
        v.extend_from_slice(&self.tail);
        v
    }

    /// The head, file chunks and tail as one stream.
    pub fn stream<S>(&self, file: S) -> impl Stream<Item = io::Result<Bytes>> + Send + 'static
    where
        S: Stream<Item = io::Result<Bytes>> + Send + 'static,
    {
        let head = futures_util::stream::once(futures_util::future::ready(Ok(self.head.clone())));
        let tail = futures_util::stream::once(futures_util::future::ready(Ok(self.tail.clone())));
        head.chain(file).chain(tail)
    }

    /// A streamed [`RequestBody`] with the exact length.
    pub fn into_request_body<S>(self, file: S) -> RequestBody
    where
        S: Stream<Item = io::Result<Bytes>> + Send + 'static,
    {
        let len = self.len();
        RequestBody::from_stream(self.stream(file), Some(len))
    }
}

/// Appends one text field to a multipart head.
fn push_field(head: &mut String, boundary: &str, name: &str, value: &str) {
    head.push_str("--");
    head.push_str(boundary);
    head.push_str("\r\nContent-Disposition: form-data; name=\"");
    head.push_str(name);
    head.push_str("\"\r\n\r\n");
    head.push_str(value);
    head.push_str("\r\n");
}

/// A fresh boundary: `wa-media-` and 32 random alphanumerics (about 190 bits), so it cannot
/// plausibly occur in the file.
pub fn random_boundary() -> String {
    let mut s = String::from("wa-media-");
    for _ in 0..32 {
        s.push(BOUNDARY_ALPHABET[fastrand::usize(..BOUNDARY_ALPHABET.len())] as char);
    }
    s
}

/// Escapes a filename for the `filename="…"` parameter the way browsers do (WHATWG HTML):
/// `"` → `%22`, CR → `%0D`, LF → `%0A`. Other control characters become `_` and path
/// separators are dropped with everything before them, so a header can never be broken and
/// no directory is sent. An empty result becomes `file`.
pub fn escape_filename(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let mut out = String::with_capacity(base.len());
    for c in base.chars() {
        match c {
            '"' => out.push_str("%22"),
            '\r' => out.push_str("%0D"),
            '\n' => out.push_str("%0A"),
            c if c.is_control() => out.push('_'),
            c => out.push(c),
        }
    }
    if out.is_empty() || out == "." || out == ".." {
        return "file".to_owned();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filenames_cannot_break_the_header() {
        assert_eq!(escape_filename("a\"b\r\nc.txt"), "a%22b%0D%0Ac.txt");
        assert_eq!(escape_filename("../../etc/passwd"), "passwd");
        assert_eq!(escape_filename("C:\\x\\y.pdf"), "y.pdf");
        assert_eq!(escape_filename("tab\there"), "tab_here");
        assert_eq!(escape_filename(""), "file");
        assert_eq!(escape_filename("dir/"), "file");
        assert_eq!(escape_filename("été.pdf"), "été.pdf");
    }

    #[test]
    fn boundaries_are_random_and_valid() {
        let a = random_boundary();
        let b = random_boundary();
        assert_ne!(a, b);
        assert!(a.len() <= 70);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-'));
    }
}
