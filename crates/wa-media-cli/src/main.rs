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
mod generate;
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
    // Generated from the clap definitions: no runtime, no logging.
    match &cli.command {
        Command::Completions { shell } => return generate::completions(*shell),
        Command::Man => return generate::man(),
        _ => {}
    }
    init_tracing(
        cli.global.quiet,
        matches!(cli.command, Command::Emulator(_) | Command::Serve(_)),
        cli.global.log_format,
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
fn init_tracing(quiet: bool, emulator: bool, format: cli::LogFormat) {
    use tracing_subscriber::EnvFilter;
    let default = match (quiet, emulator) {
        (true, _) => "error",
        // `wa-media emulator` logs each request it serves; `serve` its warnings.
        (false, true) => "warn,wa_media_emulator=info",
        // Errors reach the user as the command's message; library warnings are opt-in.
        (false, false) => "error",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        // One JSON object per line; the same events and fields, so the same redaction.
        cli::LogFormat::Json => builder.json().with_ansi(false).try_init(),
        cli::LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .try_init(),
    };
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
        Command::Template(args) => {
            interruptible("template", commands::template::run(g, args)).await
        }
        #[cfg(feature = "emulator")]
        Command::Emulator(args) => commands::emulator::run(g, args).await,
        #[cfg(not(feature = "emulator"))]
        Command::Emulator(_) => Err(failure::not_in_this_build(
            "the `emulator` command",
            "emulator",
        )),
        Command::Media(args) => interruptible("media", commands::media::run(g, args)).await,
        // `serve` drains on the first signal and exits on the second, by itself.
        Command::Serve(args) => commands::serve::run(g, args).await,
        #[cfg(feature = "emulator")]
        Command::Demo => interruptible("the demo", commands::demo::run(g)).await,
        #[cfg(not(feature = "emulator"))]
        Command::Demo => Err(failure::not_in_this_build("the `demo` command", "emulator")),
        // Handled in `main`, before the runtime starts.
        Command::Completions { .. } | Command::Man => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    //! What a build without the optional features does with their commands. Run on the slim
    //! build by `cargo xtask test` (`cargo test -p wa-media-cli --no-default-features --bin
    //! wa-media`); with the default features only the parsing test runs.
    use super::*;

    /// Parses `args` and runs them, as `main` does.
    #[allow(dead_code)] // Unused with every feature on.
    fn run_args(args: &[&str]) -> Result<(), Failure> {
        let cli = Cli::try_parse_from(args).expect("parses");
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(run(cli))
    }

    #[test]
    fn feature_gated_commands_stay_in_the_syntax() {
        // Visible in --help and accepted by the parser in every build, so that a build without
        // their feature refuses them by name instead of calling them unknown.
        for args in [
            &["wa-media", "demo"][..],
            &[
                "wa-media",
                "emulator",
                "--graph-listen",
                "127.0.0.1:0",
                "--tls",
            ],
            &[
                "wa-media",
                "serve",
                "-d",
                "x",
                "--store",
                "s3://bucket/prefix",
            ],
        ] {
            Cli::try_parse_from(args).unwrap_or_else(|e| panic!("{args:?}: {e}"));
        }
    }

    #[cfg(not(feature = "emulator"))]
    #[test]
    fn emulator_and_demo_are_refused_naming_their_feature() {
        for args in [
            &[
                "wa-media",
                "emulator",
                "--graph-listen",
                "127.0.0.1:0",
                "--tls",
            ][..],
            &["wa-media", "emulator"],
            &["wa-media", "demo"],
        ] {
            let failure = run_args(args).unwrap_err();
            assert_eq!(failure.exit, failure::Exit::Usage, "{args:?}");
            assert!(
                failure.message.contains("needs the `emulator` feature")
                    && failure.message.contains("--features emulator"),
                "{args:?}: {}",
                failure.message
            );
        }
    }

    #[cfg(not(feature = "store"))]
    #[test]
    fn serve_store_is_refused_naming_its_feature() {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path().to_str().unwrap();
        let args = [
            "wa-media",
            "serve",
            "--insecure-skip-signature",
            "-d",
            dir,
            "--store",
            "s3://bucket/prefix",
        ];
        let failure = run_args(&args).unwrap_err();
        assert_eq!(failure.exit, failure::Exit::Usage);
        assert!(
            failure
                .message
                .contains("`serve --store` is not in this build")
                && failure.message.contains("needs the `store` feature"),
            "{}",
            failure.message
        );
        // Refused before anything was created.
        assert_eq!(std::fs::read_dir(dir).unwrap().count(), 0);
    }
}
