//! The `wa-media` command-line program.
#![forbid(unsafe_code)]

fn main() {
    eprintln!("wa-media: not built yet");
    std::process::exit(2);
}
