//! The README's third quick start, exactly as documented, through the built binary and over
//! real sockets: `wa-media emulator --webhook-url … --app-secret s`, `wa-media serve …`, and a
//! photo POSTed to the emulator's `/__emulator/inbound` end as a verified file under the inbox
//! with its line in `index.jsonl` — offline, with no token of the user's.

#[allow(dead_code)]
mod common;

use common::running::Running;
use common::serve::{index_lines, media_files, part_files, Serve};
use serde_json::Value;

/// A free port on 127.0.0.1 (the emulator must know where `serve` will listen before `serve`
/// starts, and `serve` must know the emulator's URL: one of the two is fixed up front).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn the_offline_loop_of_the_readme_saves_a_verified_photo_once() {
    let dir = tempfile::tempdir().unwrap();
    let inbox = dir.path().join("inbox");
    let port = free_port();
    let webhook = format!("http://127.0.0.1:{port}/webhook");

    // 1. wa-media emulator --webhook-url … --app-secret s
    let mut emu = Running::spawn(common::clean_command().args([
        "--json",
        "emulator",
        "--webhook-url",
        &webhook,
        "--app-secret",
        "s",
    ]));
    let first = emu.first_stdout_line();
    let info: Value = serde_json::from_str(&first).unwrap_or_else(|e| panic!("{e}: {first:?}"));
    assert_eq!(info["webhook_url"], webhook.as_str());
    let graph = info["graph_url"].as_str().unwrap().to_owned();
    let graph_addr: std::net::SocketAddr = info["graph_addr"].as_str().unwrap().parse().unwrap();

    // 2. wa-media serve --app-secret s --verify-token t -d inbox --graph-url … --token …
    let mut cmd = common::clean_command();
    cmd.args([
        "--json",
        "serve",
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--app-secret",
        "s",
        "--verify-token",
        "t",
        "-d",
        inbox.to_str().unwrap(),
        "--graph-url",
        &graph,
        "--token",
        info["token"].as_str().unwrap(),
        "--trust-host",
        info["lookaside_addr"].as_str().unwrap(),
    ]);
    let mut serve = Serve::spawn(cmd);

    // 3. curl …/__emulator/inbound --data-binary @photo.jpg
    let photo = std::fs::read(common::fixture("photo.jpg")).unwrap();
    let reply = common::http::request(
        graph_addr,
        "POST",
        "/__emulator/inbound?caption=quick%20start",
        &[("Content-Type", "image/jpeg")],
        &photo,
    )
    .unwrap();
    assert_eq!(reply.status, 200, "{}", reply.text());
    let sim: Value = serde_json::from_str(&reply.text()).unwrap();
    let media_id = sim["media_id"].as_str().unwrap().to_owned();

    let saved = serve.wait_saved(&media_id);
    let path = std::path::PathBuf::from(saved["path"].as_str().unwrap());
    assert_eq!(
        std::fs::read(&path).unwrap(),
        photo,
        "not the photo that was sent"
    );
    assert!(path.starts_with(&inbox), "{}", path.display());
    let lines = index_lines(&inbox);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["media_id"], media_id.as_str());
    assert_eq!(lines[0]["caption"], "quick start");
    assert_eq!(media_files(&inbox).len(), 1);
    assert!(part_files(&inbox).is_empty());
    drop(serve);
    drop(emu);
}
