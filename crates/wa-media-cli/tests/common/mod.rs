//! Shared by the CLI's integration tests: the built binary with a clean environment, an emulator
//! with the binary configured for it ([`Env`]), background processes ([`running`]) and servers
//! that stop mid-transfer ([`raw_http`]), `wa-media serve` in the background ([`serve`]) and a
//! raw HTTP/1.1 client for it ([`http`]).
//!
//! Each test file uses a subset, so each includes this module with `#[allow(dead_code)]`.

pub mod env;
pub mod http;
pub mod raw_http;
pub mod running;
pub mod serve;

// Each test file uses a subset of these.
#[allow(unused_imports)]
pub use env::{
    assert_no_leak, code, fixture, json, stderr, stdout, Env, StdinBytes, CANARY_TOKEN, PHONE,
};

use std::process::Command;

use wa_media_hyper::PROXY_VARIABLES;

/// The `wa-media` binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_wa-media");

/// Every environment variable the program reads itself; tests set the ones they mean to.
/// wa-media-hyper also reads [`PROXY_VARIABLES`] (as curl does).
pub const PROGRAM_ENV: [&str; 11] = [
    "WHATSAPP_TOKEN",
    "WHATSAPP_PHONE_NUMBER_ID",
    "WHATSAPP_API_VERSION",
    "WHATSAPP_GRAPH_URL",
    "WHATSAPP_TRUSTED_HOSTS",
    "WHATSAPP_APP_SECRET",
    "WHATSAPP_VERIFY_TOKEN",
    "WA_MEDIA_EMULATOR_ADMIN_TOKEN",
    "WHATSAPP_APP_ID",
    "WHATSAPP_BUSINESS_ACCOUNT_ID",
    "RUST_LOG",
];

/// `wa-media` with none of [`PROGRAM_ENV`], [`PROXY_VARIABLES`] and the `WA_MEDIA_*` variables
/// (`serve`'s flags, `--log-format`) inherited from the test's environment.
pub fn clean_command() -> Command {
    let mut c = Command::new(BIN);
    for var in PROGRAM_ENV.iter().chain(&PROXY_VARIABLES) {
        c.env_remove(var);
    }
    for (var, _) in std::env::vars_os() {
        if var.to_string_lossy().starts_with("WA_MEDIA_") {
            c.env_remove(var);
        }
    }
    c
}
