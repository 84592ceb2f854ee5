//! `wa-media upload` of a file whose extension contradicts its contents (a PNG named `x.jpg`),
//! through the built binary against an emulator: exit 3 (validation), a message naming the
//! file and both types, and nothing uploaded.

#[allow(dead_code)]
mod common;

use common::{code, fixture, stderr, Env};

#[test]
fn a_png_named_jpg_exits_3_with_a_clear_message_and_uploads_nothing() {
    let env = Env::start();
    let fake = env.dir.path().join("x.jpg");
    std::fs::copy(fixture("image.png"), &fake).unwrap();
    let before = env.emu().request_log().len();

    // The type is sniffed from the contents (image/png): the name is what contradicts it.
    let out = env.run(&["upload", fake.to_str().unwrap()]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("\"x.jpg\" says image/jpeg")
            && err.contains("look like image/png")
            && err.contains("rename it to end in .png"),
        "{err}"
    );
    // Declared explicitly, the same.
    let out = env.run(&["upload", fake.to_str().unwrap(), "--mime", "image/png"]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));

    assert_eq!(
        env.emu().request_log().len(),
        before,
        "a refused upload reached the server"
    );
    assert!(env.emu().media().is_empty(), "nothing was stored");

    // Renamed to match, the same bytes upload.
    let good = env.dir.path().join("x.png");
    std::fs::rename(&fake, &good).unwrap();
    let out = env.run(&["upload", good.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let stored = env.emu().media();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].filename.as_deref(), Some("x.png"));
}
