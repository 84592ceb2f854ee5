//! Async waits and reads on tokio: a bound on anything that could hang, collecting a stream,
//! and raw-socket reads of HTTP/1.1.

use std::future::Future;
use std::time::Duration;

use futures_util::{Stream, StreamExt};
use tokio::io::{AsyncRead, AsyncReadExt};

/// A multi-threaded tokio runtime with two workers and every driver on: what a test that runs
/// blocking code (a child process, a CLI binary, proptest) next to async servers needs.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// Awaits `fut`, failing the test (naming `what`) if it takes longer than `limit`: a broken
/// build must fail, never stall the suite.
pub async fn within<T>(what: &str, limit: Duration, fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(limit, fut)
        .await
        .unwrap_or_else(|_| panic!("{what} did not finish within {limit:?}"))
}

/// Every chunk of a stream of byte chunks (a `Download`, a body stream), concatenated; the first
/// error ends it.
pub async fn collect<S, B, E>(stream: S) -> Result<Vec<u8>, E>
where
    S: Stream<Item = Result<B, E>>,
    B: AsRef<[u8]>,
{
    let mut out = Vec::new();
    let mut stream = std::pin::pin!(stream);
    while let Some(chunk) = stream.next().await {
        out.extend_from_slice(chunk?.as_ref());
    }
    Ok(out)
}

/// Reads from `s` until the peer closes (EOF or reset): true, or `within` passes: false.
pub async fn closed_by_peer_within<R: AsyncRead + Unpin>(s: &mut R, within: Duration) -> bool {
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

/// Reads one HTTP/1.1 response (head and a `Content-Length` body) from a raw socket:
/// `(status, head, body)`, or `None` when it did not arrive whole within `within`.
pub async fn read_http1_response<R: AsyncRead + Unpin>(
    s: &mut R,
    within: Duration,
) -> Option<(u16, String, Vec<u8>)> {
    let deadline = tokio::time::Instant::now() + within;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match tokio::time::timeout_at(deadline, s.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => buf.extend_from_slice(&chunk[..n]),
            _ => return None,
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    let len: usize = crate::http1::header(&head, "content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + len {
        match tokio::time::timeout_at(deadline, s.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => buf.extend_from_slice(&chunk[..n]),
            _ => return None,
        }
    }
    Some((status, head, buf[head_end..head_end + len].to_vec()))
}

/// Raw-socket request reads, shared with the published conformance suite.
pub use wa_media_conformance::net::{drain, read_request_head};

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn collect_concatenates_and_stops_at_an_error() {
        let ok = futures_util::stream::iter([Ok::<_, ()>(&b"ab"[..]), Ok(&b"c"[..])]);
        assert_eq!(collect(ok).await.unwrap(), b"abc");
        let bad = futures_util::stream::iter([Ok(&b"ab"[..]), Err("broken")]);
        assert_eq!(collect(bad).await.unwrap_err(), "broken");
        assert_eq!(
            within("a ready future", Duration::from_secs(1), async { 7 }).await,
            7
        );
    }
}
