//! Errors from starting or driving an emulator (never from serving a request: those become
//! HTTP answers).

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Why the emulator could not start or could not do what was asked.
///
/// The message is complete: it names the cause (the operating system's reason included) and
/// what to do, so [`source`](std::error::Error::source) is `None` and a reporter that walks the
/// chain prints each cause once.
#[derive(Debug)]
#[non_exhaustive]
pub enum EmulatorError {
    /// A listener could not be bound (address in use, permission denied).
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The operating system's reason (shown in the message).
        source: io::Error,
    },
    /// Reading or writing the data directory failed.
    Storage {
        /// The file or directory involved.
        path: PathBuf,
        /// The operating system's reason (shown in the message).
        source: io::Error,
    },
    /// The index file in the data directory could not be parsed.
    Index {
        /// The index file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// Generating the local CA or the server certificate, or configuring TLS, failed.
    Tls(String),
    /// The configuration is inconsistent (for example a public URL that is not a URL).
    Config(String),
    /// A simulated inbound media was refused (unknown MIME type, empty file, over the limit).
    Inbound(String),
    /// A fault that cannot be applied as given (a `server_error` status outside 500–599, an
    /// absurd delay or `Retry-After`, a full queue); nothing was queued.
    InvalidFault(String),
    /// The operating system's random number generator failed (the URL-signing key comes from
    /// it).
    Random(String),
    /// The clock cannot move that far: the emulator's clock moves at most
    /// [`MAX_CLOCK_ADVANCE`](crate::MAX_CLOCK_ADVANCE) in total.
    ClockRange {
        /// The advance asked for, in seconds.
        requested_secs: u64,
        /// How far the clock has already moved, in seconds.
        moved_secs: u64,
        /// The most it may move in total, in seconds.
        max_secs: u64,
    },
}

impl fmt::Display for EmulatorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EmulatorError::Bind { addr, source } => write!(
                f,
                "cannot listen on {addr}: {source}; choose another address (port 0 takes any \
                 free one)"
            ),
            EmulatorError::Storage { path, source } => write!(
                f,
                "emulator storage failed at {}: {source}; check that the data directory is \
                 writable and not full",
                path.display()
            ),
            EmulatorError::Index { path, reason } => write!(
                f,
                "the index file {} is not valid ({reason}); repair it, or remove it to start \
                 with no stored media",
                path.display()
            ),
            EmulatorError::Tls(reason) => write!(f, "TLS setup failed: {reason}"),
            EmulatorError::Config(reason) => write!(f, "invalid emulator configuration: {reason}"),
            EmulatorError::Inbound(reason) => write!(f, "inbound media refused: {reason}"),
            EmulatorError::InvalidFault(reason) => write!(f, "invalid fault: {reason}"),
            EmulatorError::Random(reason) => write!(
                f,
                "the operating system's random number generator failed: {reason}"
            ),
            EmulatorError::ClockRange {
                requested_secs,
                moved_secs,
                max_secs,
            } => write!(
                f,
                "the emulator's clock cannot move {requested_secs} s more: it has moved \
                 {moved_secs} s of at most {max_secs} s"
            ),
        }
    }
}

/// Every cause is in the message: no [`source`](std::error::Error::source).
impl std::error::Error for EmulatorError {}

#[cfg(test)]
mod tests {
    use std::error::Error as _;
    use std::net::{Ipv4Addr, SocketAddr};

    use super::*;

    fn io_error(kind: io::ErrorKind, message: &str) -> io::Error {
        io::Error::new(kind, message)
    }

    /// Each message names its cause once, in `Display`, and says what to do.
    #[test]
    fn every_message() {
        let bind = EmulatorError::Bind {
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 8080)),
            source: io_error(io::ErrorKind::AddrInUse, "Address already in use"),
        };
        insta::assert_snapshot!(bind.to_string(), @"cannot listen on 127.0.0.1:8080: Address already in use; choose another address (port 0 takes any free one)");

        let storage = EmulatorError::Storage {
            path: PathBuf::from("/data/emulator/media"),
            source: io_error(io::ErrorKind::PermissionDenied, "Permission denied"),
        };
        insta::assert_snapshot!(storage.to_string(), @"emulator storage failed at /data/emulator/media: Permission denied; check that the data directory is writable and not full");

        let index = EmulatorError::Index {
            path: PathBuf::from("/data/emulator/index.json"),
            reason: "expected value at line 1 column 1".to_owned(),
        };
        insta::assert_snapshot!(index.to_string(), @"the index file /data/emulator/index.json is not valid (expected value at line 1 column 1); repair it, or remove it to start with no stored media");

        let tls = EmulatorError::Tls("the key could not be generated".to_owned());
        insta::assert_snapshot!(tls.to_string(), @"TLS setup failed: the key could not be generated");

        let config = EmulatorError::Config("max_connections must be at least 1".to_owned());
        insta::assert_snapshot!(config.to_string(), @"invalid emulator configuration: max_connections must be at least 1");

        let inbound = EmulatorError::Inbound("the file is empty".to_owned());
        insta::assert_snapshot!(inbound.to_string(), @"inbound media refused: the file is empty");

        let fault = EmulatorError::InvalidFault(
            "server_error status 200 is not a server error status (500-599)".to_owned(),
        );
        insta::assert_snapshot!(fault.to_string(), @"invalid fault: server_error status 200 is not a server error status (500-599)");

        let random = EmulatorError::Random("errno: did not return a value".to_owned());
        insta::assert_snapshot!(random.to_string(), @"the operating system's random number generator failed: errno: did not return a value");

        let clock = EmulatorError::ClockRange {
            requested_secs: 10,
            moved_secs: 3_153_600_000,
            max_secs: 3_153_600_000,
        };
        insta::assert_snapshot!(clock.to_string(), @"the emulator's clock cannot move 10 s more: it has moved 3153600000 s of at most 3153600000 s");

        for e in [
            bind, storage, index, tls, config, inbound, fault, random, clock,
        ] {
            assert!(
                e.source().is_none(),
                "{e}: the cause is in the message only"
            );
        }
    }
}
