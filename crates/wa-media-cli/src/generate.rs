//! `wa-media completions SHELL` and `wa-media man`: a shell completion script and the manual
//! page, both generated from the clap definitions in `cli.rs`, so they never drift from the
//! options the program accepts.

use std::io::Write;
use std::process::ExitCode;

use clap::CommandFactory;

use crate::cli::Cli;

/// Prints the completion script for `shell` on stdout.
pub fn completions(shell: clap_complete::Shell) -> ExitCode {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "wa-media", &mut out);
    if shell == clap_complete::Shell::Bash {
        out = fix_bash_hyphenated_name(&out);
    }
    write_stdout(&out)
}

/// Prints the manual page (roff, section 1) on stdout.
pub fn man() -> ExitCode {
    let mut out = Vec::new();
    // The footer names the version alone (the long version line does not fit there).
    let page = clap_mangen::Man::new(Cli::command())
        .source(concat!("wa-media ", env!("CARGO_PKG_VERSION")));
    if let Err(e) = page.render(&mut out) {
        eprintln!("wa-media: cannot render the manual page: {e}");
        return ExitCode::from(1);
    }
    write_stdout(&out)
}

/// clap_complete's bash script (4.6.12) spells the state of a subcommand of a hyphenated program
/// two ways: the loop that reads the words arrives at `wa__media__subcmd__serve`, the `case`
/// arms say `wa__subcmd__media__subcmd__serve`, so no subcommand's options ever complete
/// (clap-rs/clap#6421, open). The arms are respelled the way the loop spells them; the test
/// `bash_completes_commands_and_options` completes `wa-media serve --max-a` through them.
fn fix_bash_hyphenated_name(script: &[u8]) -> Vec<u8> {
    String::from_utf8_lossy(script)
        .replace("wa__subcmd__media", "wa__media")
        .into_bytes()
}

fn write_stdout(bytes: &[u8]) -> ExitCode {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wa-media: cannot write to stdout: {e}");
            ExitCode::from(1)
        }
    }
}
