//! Ctrl-C and SIGTERM, listened for in one place ([`Listener`]) by every command: the client
//! commands race their future against the signal and drop it when it arrives
//! ([`interruptible`]), so the library's cleanup runs (a download's temporary file is removed,
//! an upload's request is cancelled) before the process exits with 130 (SIGINT) or 143
//! (SIGTERM); `serve` drains on the first and exits on the second; the emulator stops.

use std::future::Future;

use crate::failure::{Exit, Failure};

/// Which signal arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGINT (Ctrl-C).
    Interrupt,
    /// SIGTERM (`kill`, `systemctl stop`, `docker stop`).
    Terminate,
}

impl Signal {
    /// The exit code of a process it stopped: 130 or 143.
    pub fn exit(self) -> Exit {
        match self {
            Signal::Interrupt => Exit::Interrupted,
            Signal::Terminate => Exit::Terminated,
        }
    }

    /// `SIGINT` or `SIGTERM`.
    pub fn name(self) -> &'static str {
        match self {
            Signal::Interrupt => "SIGINT",
            Signal::Terminate => "SIGTERM",
        }
    }
}

/// Listens for SIGINT and SIGTERM from the moment it is created (so a signal sent as soon as
/// the command has announced itself never meets the default action).
pub struct Listener {
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
}

impl Listener {
    /// Starts listening.
    pub fn new() -> Result<Self, Failure> {
        Self::start()
            .map_err(|e| Failure::other(format!("cannot listen for Ctrl-C and SIGTERM: {e}")))
    }

    fn start() -> std::io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(Self {
                int: signal(SignalKind::interrupt())?,
                term: signal(SignalKind::terminate())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Self {})
    }

    /// Waits for the next signal.
    pub async fn next(&mut self) -> Signal {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.int.recv() => Signal::Interrupt,
                _ = self.term.recv() => Signal::Terminate,
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            Signal::Interrupt
        }
    }
}

/// Runs `work` (a command doing `what`, such as "download 123 to x.bin") until it finishes or
/// a signal arrives. On a signal the work is dropped — its cleanup runs — and the result is a
/// failure with exit 130 or 143 and one line saying what was interrupted.
pub async fn interruptible<T>(
    what: &str,
    work: impl Future<Output = Result<T, Failure>>,
) -> Result<T, Failure> {
    let mut listener = Listener::new()?;
    let signal = {
        tokio::pin!(work);
        tokio::select! {
            result = &mut work => return result,
            signal = listener.next() => signal,
        }
        // `work` is dropped here, before anything else happens.
    };
    // Cleanup has run (drops are synchronous); a second signal from now on exits at once
    // rather than waiting for the runtime to wind down.
    tokio::spawn(async move {
        let second = listener.next().await;
        std::process::exit(second.exit() as i32);
    });
    Err(Failure::new(
        signal.exit(),
        format!(
            "interrupted by {} during {what}; partial files were removed",
            signal.name()
        ),
    ))
}
