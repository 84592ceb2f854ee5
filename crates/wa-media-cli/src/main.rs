#![doc = include_str!("../README.md")]
//!
//! # This file
//!
//! Parses the command line, sets up logging and the async runtime, and runs one of the
//! commands in `commands/`.
#![forbid(unsafe_code)]

mod cli;
mod client;
mod commands;
mod failure;
mod output;
mod progress;
mod signals;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::failure::Failure;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            // clap prints help/version to stdout (exit 0) and usage errors to stderr (exit 2).
            let _ = e.print();
            return ExitCode::from(e.exit_code().clamp(0, 255) as u8);
        }
    };
    init_tracing(
        cli.global.quiet,
        matches!(cli.command, Command::Emulator(_) | Command::Serve(_)),
    );
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("wa-media: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(run(cli));
    // Do not wait on blocking work left behind by an interrupted command (a DNS lookup, say).
    runtime.shutdown_timeout(std::time::Duration::from_millis(500));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("wa-media: {}", f.message);
            ExitCode::from(f.exit as u8)
        }
    }
}

/// Logs go to stderr, filtered by `RUST_LOG` (default: warnings only). The library never logs the
/// token or a signed URL's query, so any level is safe.
fn init_tracing(quiet: bool, emulator: bool) {
    use tracing_subscriber::EnvFilter;
    let default = match (quiet, emulator) {
        (true, _) => "error",
        // `wa-media emulator` logs each request it serves; `serve` its warnings.
        (false, true) => "warn,wa_media_emulator=info",
        // Errors reach the user as the command's message; library warnings are opt-in.
        (false, false) => "error",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .try_init();
}

/// Runs the command. Every client command is raced against SIGINT and SIGTERM
/// ([`signals::interruptible`]); the emulator handles them itself, to shut down cleanly.
async fn run(cli: Cli) -> Result<(), Failure> {
    use signals::interruptible;
    let g = &cli.global;
    match cli.command {
        Command::Upload(args) => {
            let what = format!("the upload of {}", args.file.display());
            interruptible(&what, commands::upload::run(g, args)).await
        }
        Command::Send(args) => {
            let what = format!("the send to {}", args.to);
            interruptible(&what, commands::send::run(g, args)).await
        }
        Command::Info { media_id } => {
            interruptible("info", commands::info::run(g, &media_id)).await
        }
        Command::Download { media_id, output } => {
            let what = format!("the download of {media_id} to {}", output.display());
            interruptible(&what, commands::download::run(g, &media_id, &output)).await
        }
        Command::Delete { media_id } => {
            interruptible("delete", commands::delete::run(g, &media_id)).await
        }
        Command::Inbound(args) => {
            let what = format!("the inbound downloads into {}", args.dir.display());
            interruptible(&what, commands::inbound::run(g, args)).await
        }
        Command::Emulator(args) => commands::emulator::run(g, args).await,
        // `serve` drains on the first signal and exits on the second, by itself.
        Command::Serve(args) => commands::serve::run(g, args).await,
        Command::Demo => interruptible("the demo", commands::demo::run(g)).await,
    }
}
