//! Errors from starting or driving an emulator (never from serving a request: those become
//! HTTP answers).

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Why the emulator could not start or could not do what was asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmulatorError {
    /// A listener could not be bound (address in use, permission denied).
    #[error("could not listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The operating system's reason.
        #[source]
        source: io::Error,
    },
    /// Reading or writing the data directory failed.
    #[error("emulator storage error at {path}: {source}")]
    Storage {
        /// The file or directory involved.
        path: PathBuf,
        /// The operating system's reason.
        #[source]
        source: io::Error,
    },
    /// The index file in the data directory could not be parsed.
    #[error("the index file {path} is not valid: {reason}")]
    Index {
        /// The index file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// Generating the local CA or the server certificate, or configuring TLS, failed.
    #[error("TLS setup failed: {0}")]
    Tls(String),
    /// The configuration is inconsistent (for example a public URL that is not a URL).
    #[error("invalid emulator configuration: {0}")]
    Config(String),
    /// A simulated inbound media was refused (unknown MIME type, empty file, over the limit).
    #[error("inbound media refused: {0}")]
    Inbound(String),
    /// A fault that cannot be applied as given (a `server_error` status outside 500–599, an
    /// absurd delay or `Retry-After`, a full queue); nothing was queued.
    #[error("invalid fault: {0}")]
    InvalidFault(String),
    /// The operating system's random number generator failed (the URL-signing key comes from
    /// it).
    #[error("the operating system's random number generator failed: {0}")]
    Random(String),
    /// The clock cannot move that far: the emulator's clock moves at most
    /// [`MAX_CLOCK_ADVANCE`](crate::MAX_CLOCK_ADVANCE) in total.
    #[error(
        "the emulator's clock cannot move forward {requested_secs} s more: it has moved \
         {moved_secs} s and may move at most {max_secs} s in total"
    )]
    ClockRange {
        /// The advance asked for, in seconds.
        requested_secs: u64,
        /// How far the clock has already moved, in seconds.
        moved_secs: u64,
        /// The most it may move in total, in seconds.
        max_secs: u64,
    },
}
