//! `wa-media media ls` and `wa-media media show`, from the built binary, on both indexes: an
//! `index.jsonl` under -d and the PostgreSQL table of `serve --queue` holding the same records
//! list the same media for a customer (by phone, BSUID or username), since a date, by status.
//! The database half is skipped with a reason without PostgreSQL (WA_MEDIA_REQUIRE_POSTGRES=1
//! makes it fail).

use std::process::{Command, Output};

use wa_media_webhook::SavedRecord;

const BIN: &str = env!("CARGO_BIN_EXE_wa-media");

fn wa_media(args: &[&str]) -> Output {
    let mut cmd = Command::new(BIN);
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("WA_MEDIA_") {
            cmd.env_remove(k);
        }
    }
    cmd.args(args).output().expect("run wa-media")
}

fn stdout(args: &[&str]) -> String {
    let out = wa_media(args);
    assert!(
        out.status.success(),
        "wa-media {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Five records: three of one customer (phone 15551230001, one with a BSUID and one from a
/// username), one of another, and one message Meta could not take.
fn records() -> Vec<SavedRecord> {
    let lines = [
        r#"{"v":1,"status":"saved","media_id":"1001","message_id":"wamid.a","from":"15551230001","user_id":"US.1001","kind":"image","mime_type":"image/jpeg","file_size":10,"sha256":"aa","path":"2026-03-01/a.jpg","received_at":1772323300,"saved_at":1772323301}"#,
        r#"{"v":1,"status":"saved","media_id":"1002","message_id":"wamid.b","from":"15551230001","kind":"document","mime_type":"application/pdf","file_size":20,"sha256":"bb","filename":"invoice.pdf","path":"2026-03-02/invoice.pdf","received_at":1772409700,"saved_at":1772409701}"#,
        r#"{"v":1,"status":"saved","media_id":"1003","message_id":"wamid.c","user_id":"US.1001","username":"ana","kind":"audio","mime_type":"audio/ogg","file_size":30,"sha256":"cc","path":"2026-02-20/c.ogg","received_at":1771545600,"saved_at":1771545601}"#,
        r#"{"v":1,"status":"saved","media_id":"2001","message_id":"wamid.d","from":"15559990000","kind":"image","mime_type":"image/png","file_size":40,"sha256":"dd","path":"2026-03-03/d.png","received_at":1772496000,"saved_at":1772496001}"#,
        r#"{"v":1,"status":"failed","message_id":"wamid.e","from":"15551230001","received_at":1772409800,"error":{"code":131051,"title":"Message type unknown"},"unsupported_type":"poll_update"}"#,
    ];
    lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn ids(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let id = v["media_id"].as_str().or(v["message_id"].as_str());
            id.unwrap().to_owned()
        })
        .collect()
}

/// The checks, on the index that `source` (`["-d", DIR]` or `["--queue", URL]`) names.
fn check(source: &[&str]) {
    let ls = |extra: &[&str]| {
        let mut args = vec!["--json", "media", "ls"];
        args.extend_from_slice(source);
        args.extend_from_slice(extra);
        ids(&stdout(&args))
    };
    // One customer's, by phone, newest first; by BSUID (phone-less media included); by username.
    assert_eq!(ls(&["--from", "15551230001"]), ["wamid.e", "1002", "1001"]);
    assert_eq!(ls(&["--from", "US.1001"]), ["1001", "1003"]);
    assert_eq!(ls(&["--from", "ana"]), ["1003"]);
    assert_eq!(ls(&["--since", "2026-03-02"]), ["2001", "wamid.e", "1002"]);
    assert_eq!(ls(&["--status", "failed"]), ["wamid.e"]);
    assert_eq!(ls(&[]).len(), 5);
    // The text listing: one line per media, with its path.
    let mut args = vec!["media", "ls"];
    args.extend_from_slice(source);
    args.extend_from_slice(&["--from", "15551230001", "--status", "saved"]);
    let text = stdout(&args);
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(text.contains("2026-03-02/invoice.pdf"), "{text}");
    assert!(text.contains("2026-03-02T00:01:40Z"), "{text}");
    // show: the record, as written.
    let mut args = vec!["--json", "media", "show", "1002"];
    args.extend_from_slice(source);
    let shown: SavedRecord = serde_json::from_str(stdout(&args).trim()).unwrap();
    assert_eq!(shown, records()[1]);
    let mut args = vec!["media", "show", "1002"];
    args.extend_from_slice(source);
    assert!(stdout(&args).contains("filename:       invoice.pdf"));
    let mut args = vec!["media", "show", "999"];
    args.extend_from_slice(source);
    let out = wa_media(&args);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn media_ls_and_show_read_index_jsonl() {
    let dir = tempfile::tempdir().unwrap();
    let text: String = records()
        .iter()
        .map(|r| format!("{}\n", r.to_json()))
        .collect();
    // A partial last line left by a crash is skipped.
    std::fs::write(dir.path().join("index.jsonl"), text + "{\"v\":1,\"media_").unwrap();
    check(&["-d", dir.path().to_str().unwrap()]);
    // An empty directory lists nothing; no index named is a usage error.
    let empty = tempfile::tempdir().unwrap();
    assert_eq!(
        stdout(&["media", "ls", "-d", empty.path().to_str().unwrap()]),
        ""
    );
    assert_eq!(wa_media(&["media", "ls"]).status.code(), Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_ls_and_show_read_the_postgres_index() {
    let Some(db) = wa_media_testkit::postgres::TestDb::create().await else {
        return;
    };
    let pool = wa_media_postgres::connect(&db.url, 2).await.unwrap();
    let index = wa_media_postgres::PgIndex::new(pool);
    for r in records() {
        assert!(index.insert(&r).await.unwrap());
        assert!(!index.insert(&r).await.unwrap(), "a record written twice");
    }
    let url = db.url.clone();
    tokio::task::spawn_blocking(move || check(&["--queue", &url]))
        .await
        .unwrap();
}
