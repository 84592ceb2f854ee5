//! `wa-media completions`, `wa-media man` and `wa-media --version`, from the built binary: bash
//! loads the completion script and completes `wa-media se` to `send` and `serve`, every shell's
//! script is generated, and `man` renders the page without a warning.
//!
//! bash and man are skipped with a note when missing, unless `WA_MEDIA_REQUIRE_MAN=1` (set by
//! `.ci/run`, which installs them).

use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_wa-media");

fn wa_media(args: &[&str]) -> Output {
    let out = Command::new(BIN).args(args).output().expect("run wa-media");
    assert!(
        out.status.success(),
        "wa-media {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Whether `tool` runs; panics when it is missing and `WA_MEDIA_REQUIRE_MAN=1`.
fn have(tool: &str) -> bool {
    let found = Command::new(tool).arg("--version").output().is_ok();
    if !found {
        assert!(
            std::env::var_os("WA_MEDIA_REQUIRE_MAN").is_none(),
            "{tool} is required (WA_MEDIA_REQUIRE_MAN is set) but not installed"
        );
        eprintln!("skipped: {tool} is not installed");
    }
    found
}

/// Completes `words` (the last one being completed) with the bash completion function, as
/// bash's programmable completion calls it, and returns the candidates.
fn bash_complete(script: &Path, words: &[&str]) -> Vec<String> {
    let words_q: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let line = words.join(" ");
    let program = format!(
        "source '{script}'\n\
         COMP_WORDS=({words})\n\
         COMP_CWORD={cword}\n\
         COMP_LINE='{line}'\n\
         COMP_POINT={point}\n\
         _wa__media wa-media '{cur}' '{prev}'\n\
         printf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        script = script.display(),
        words = words_q.join(" "),
        cword = words.len() - 1,
        point = line.len(),
        cur = words[words.len() - 1],
        prev = words[words.len() - 2],
    );
    let out = Command::new("bash")
        .args(["--norc", "--noprofile", "-c", &program])
        .output()
        .expect("run bash");
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "bash: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn bash_completes_commands_and_options() {
    if !have("bash") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("wa-media.bash");
    std::fs::write(&script, wa_media(&["completions", "bash"]).stdout).unwrap();

    let mut got = bash_complete(&script, &["wa-media", "se"]);
    got.sort();
    assert_eq!(got, ["send", "serve"]);
    // A subcommand's own options, from the same definitions.
    let got = bash_complete(&script, &["wa-media", "serve", "--max-a"]);
    assert_eq!(got, ["--max-attempts"]);
    let got = bash_complete(&script, &["wa-media", "completions", "po"]);
    assert_eq!(got, ["powershell"]);
}

#[test]
fn every_shell_gets_a_script_naming_every_command() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let script = String::from_utf8(wa_media(&["completions", shell]).stdout).unwrap();
        for command in ["upload", "send", "download", "serve", "emulator", "man"] {
            assert!(script.contains(command), "{shell}: no {command}");
        }
    }
    let out = Command::new(BIN)
        .args(["completions", "tcsh"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "an unknown shell is a usage error"
    );
}

#[test]
fn man_renders_without_warnings() {
    let page = wa_media(&["man"]).stdout;
    let text = String::from_utf8(page.clone()).unwrap();
    assert!(
        text.starts_with(".ie") || text.contains(".TH wa-media 1"),
        "{text:.200}"
    );
    for command in ["upload", "send", "serve", "completions"] {
        assert!(text.contains(command), "the page lists {command}");
    }
    if !have("man") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("wa-media.1");
    std::fs::write(&file, &page).unwrap();
    // `--warnings` turns on groff's warnings; any of them (or man's own) go to stderr.
    let out = Command::new("man")
        .args(["--warnings", "-E", "UTF-8", "-l"])
        .arg(&file)
        .env("MANWIDTH", "80")
        .env("MANPAGER", "cat")
        .env("PAGER", "cat")
        .output()
        .expect("run man");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "man: {stderr}");
    assert!(stderr.is_empty(), "man warned: {stderr}");
    let rendered = String::from_utf8_lossy(&out.stdout);
    assert!(rendered.contains("SUBCOMMANDS"), "{rendered}");
    assert!(rendered.contains("wa-media-serve"), "{rendered}");
}

#[test]
fn version_names_the_commit_and_the_features() {
    let line = String::from_utf8(wa_media(&["--version"]).stdout).unwrap();
    let version = env!("CARGO_PKG_VERSION");
    assert!(
        line.starts_with(&format!("wa-media {version} (commit ")),
        "{line}"
    );
    let commit = line
        .split("(commit ")
        .nth(1)
        .and_then(|rest| rest.split(';').next())
        .unwrap();
    assert!(
        commit == "unknown"
            || (commit.len() >= 12 && commit[..12].chars().all(|c| c.is_ascii_hexdigit())),
        "{line}"
    );
    let mut features = Vec::new();
    if cfg!(feature = "emulator") {
        features.push("emulator");
    }
    if cfg!(feature = "store") {
        features.push("store");
    }
    let features = if features.is_empty() {
        "none".to_string()
    } else {
        features.join(", ")
    };
    assert!(
        line.trim_end()
            .ends_with(&format!("; features: {features})")),
        "{line}"
    );
}
