//! Exit codes and the one failure type every command returns.

use std::fmt;

use wa_media_core::Error;

/// The documented exit codes (see `wa-media --help`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Exit {
    /// Any other failure (local I/O, a bad webhook signature, ...).
    Other = 1,
    /// Usage error: bad or missing arguments.
    Usage = 2,
    /// Refused by local validation; nothing was sent.
    Validation = 3,
    /// The API answered with an error.
    Api = 4,
    /// SHA-256 or size mismatch.
    Integrity = 5,
    /// Network error or timeout.
    Network = 6,
    /// Refused for the token's safety.
    TokenSafety = 7,
    /// A message may have been sent: the connection failed after the request went out, so it
    /// was not retried (a retry could deliver it twice).
    MaybeSent = 8,
    /// Stopped by SIGINT (Ctrl-C), after cleaning up: 128 + 2.
    Interrupted = 130,
    /// Stopped by SIGTERM, after cleaning up: 128 + 15.
    Terminated = 143,
}

impl Exit {
    /// The exit code for a core error.
    pub fn of(err: &Error) -> Exit {
        match err {
            Error::Validation(_) | Error::InvalidMessage(_) | Error::SourceChanged { .. } => {
                Exit::Validation
            }
            Error::Api(_) | Error::UrlExpired { .. } | Error::InvalidResponse { .. } => Exit::Api,
            Error::Integrity(_) => Exit::Integrity,
            Error::Timeout { .. } | Error::Transport(_) => Exit::Network,
            Error::UntrustedHost { .. }
            | Error::InsecureUrl { .. }
            | Error::InvalidUrl { .. }
            | Error::Redirect { .. } => Exit::TokenSafety,
            Error::Config(_) => Exit::Usage,
            Error::MaybeSent { .. } => Exit::MaybeSent,
            _ => Exit::Other,
        }
    }
}

/// A failed command: what to print and which exit code to use.
#[derive(Debug)]
pub struct Failure {
    /// The exit code.
    pub exit: Exit,
    /// The message for stderr (never holds the token).
    pub message: String,
}

impl Failure {
    /// A failure with an explicit exit code.
    pub fn new(exit: Exit, message: impl Into<String>) -> Self {
        Self {
            exit,
            message: message.into(),
        }
    }

    /// A usage error.
    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(Exit::Usage, message)
    }

    /// A local I/O or other failure.
    pub fn other(message: impl Into<String>) -> Self {
        Self::new(Exit::Other, message)
    }
}

/// A command or option whose Cargo feature this binary was built without (exit 2), naming the
/// feature and how to build a binary that has it.
#[allow(dead_code)] // Used only when a feature is off.
pub fn not_in_this_build(what: &str, feature: &str) -> Failure {
    Failure::usage(format!(
        "{what} is not in this build: it needs the `{feature}` feature, which this binary was \
         built without. Build one with it: cargo install --path crates/wa-media-cli --locked \
         --features {feature} (or without --no-default-features)"
    ))
}

impl From<Error> for Failure {
    fn from(err: Error) -> Self {
        Failure::new(Exit::of(&err), chain(&err))
    }
}

/// An error's message followed by each of its causes (core's [`wa_media_core::error_chain`]).
pub use wa_media_core::error_chain as chain;

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}
