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
}
