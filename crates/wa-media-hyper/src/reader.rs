//! A download as a tokio [`AsyncRead`]: [`DownloadExt::into_async_read`] and [`DownloadReader`].

use std::fmt;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::{Buf, Bytes};
use futures_core::Stream;
use tokio::io::{AsyncBufRead, AsyncRead, ReadBuf};
use wa_media_core::Download;

/// Turns a [`Download`] into a tokio reader.
///
/// Core's [`Download`] is a runtime-free [`Stream`] of verified chunks; this trait, for tokio
/// users, makes it an [`AsyncRead`] + [`AsyncBufRead`] so it plugs into `tokio::io::copy`,
/// decoders and anything else that reads.
pub trait DownloadExt {
    /// The download as a tokio reader (see [`DownloadReader`] for how errors read).
    ///
    /// ```no_run
    /// # async fn run(client: wa_media_hyper::MediaClient, id: wa_media_hyper::MediaId) -> std::io::Result<()> {
    /// use wa_media_hyper::{DownloadExt, MediaApiExt};
    /// let download = client.fetch(&id).await?;
    /// let mut file = tokio::fs::File::create("media.bin").await?;
    /// // Fails with `InvalidData` (and nothing is reported complete) if the SHA-256 is wrong.
    /// tokio::io::copy(&mut download.into_async_read(), &mut file).await?;
    /// # Ok(()) }
    /// ```
    fn into_async_read(self) -> DownloadReader;
}

impl DownloadExt for Download {
    fn into_async_read(self) -> DownloadReader {
        DownloadReader {
            download: self,
            chunk: Bytes::new(),
            failed: None,
            done: false,
        }
    }
}

/// A [`Download`] read through tokio's [`AsyncRead`] and [`AsyncBufRead`]; made by
/// [`DownloadExt::into_async_read`].
///
/// Bytes arrive as the download yields them (at most one chunk is held). A failing download
/// — a short body, a wrong SHA-256, a broken connection, a timeout — fails the read with the
/// [`wa_media_core::Error`] converted to an [`io::Error`] (an integrity failure is
/// [`io::ErrorKind::InvalidData`]; the core error comes back with
/// `e.get_ref().and_then(|e| e.downcast_ref::<wa_media_core::Error>())`). The reader never
/// reports end of file unless the download completed (verified, when it verifies): every
/// read after a failure fails again with the same kind.
///
/// As with the stream, bytes before a failure have already been read: a consumer that must
/// not act on unverified data writes them somewhere temporary first
/// ([`wa_media_core::MediaApiExt::fetch_to_file`] does that for files).
pub struct DownloadReader {
    download: Download,
    /// What is left of the current chunk.
    chunk: Bytes,
    /// The kind and message of the failure, once the download failed.
    failed: Option<(io::ErrorKind, String)>,
    /// Whether the download ended cleanly.
    done: bool,
}

impl fmt::Debug for DownloadReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DownloadReader")
            .field("download", &self.download)
            .field("buffered", &self.chunk.len())
            .field("failed", &self.failed)
            .field("done", &self.done)
            .finish()
    }
}

impl DownloadReader {
    /// The download being read (its length, MIME type, bytes received so far).
    pub fn get_ref(&self) -> &Download {
        &self.download
    }
}

impl AsyncBufRead for DownloadReader {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        let this = self.get_mut();
        while this.chunk.is_empty() {
            if let Some((kind, message)) = &this.failed {
                return Poll::Ready(Err(io::Error::new(
                    *kind,
                    format!("the download already failed: {message}"),
                )));
            }
            if this.done {
                return Poll::Ready(Ok(&[]));
            }
            match ready!(Pin::new(&mut this.download).poll_next(cx)) {
                Some(Ok(chunk)) => this.chunk = chunk,
                Some(Err(e)) => {
                    let e = io::Error::from(e);
                    this.failed = Some((e.kind(), e.to_string()));
                    return Poll::Ready(Err(e));
                }
                None => this.done = true,
            }
        }
        Poll::Ready(Ok(&this.chunk))
    }

    fn consume(self: Pin<&mut Self>, amt: usize) {
        let this = self.get_mut();
        this.chunk.advance(amt.min(this.chunk.len()));
    }
}

impl AsyncRead for DownloadReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        let available = ready!(self.as_mut().poll_fill_buf(cx))?;
        let n = available.len().min(buf.remaining());
        buf.put_slice(&available[..n]);
        self.consume(n);
        Poll::Ready(Ok(()))
    }
}
