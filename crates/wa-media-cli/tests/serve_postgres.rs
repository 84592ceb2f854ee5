//! `serve --queue postgres://…` through the binary: 3 instances on one database and one -d take
//! 2,000 media while one instance is killed with -9 every few seconds (and started again) and
//! PostgreSQL is restarted once. It ends with every media saved once and verified, one index
//! row per media, nothing pending and nothing failed. Bounded (the whole run well under 2
//! minutes); skipped with a reason without PostgreSQL (WA_MEDIA_REQUIRE_POSTGRES=1 fails).

#[allow(dead_code)]
mod common;

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use common::serve::{deliver, serve_command, Serve};
use common::Env;
use wa_media_emulator::InboundMessage;
use wa_media_types::Sha256Digest;

const MEDIA: usize = 2_000;
const INSTANCES: usize = 3;

fn media_bytes(i: usize) -> Vec<u8> {
    let mut b = vec![
        0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0,
    ];
    b.extend((0..300 + i % 500).map(|k| ((k * 31 + i * 7) % 251) as u8));
    b.extend_from_slice(&(i as u64).to_be_bytes());
    b.extend_from_slice(&[0xFF, 0xD9]);
    b
}

fn start(env: &Env, dir: &Path, url: &str) -> Serve {
    Serve::spawn(serve_command(
        env,
        dir,
        &["--queue", url, "--queue-lease", "2", "--concurrency", "8"],
    ))
}

#[test]
fn three_instances_on_postgres_survive_kill_9_and_a_database_restart() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let Some(db) = rt.block_on(wa_media_testkit::postgres::TestDb::create()) else {
        return;
    };
    let began = Instant::now();
    let env = Env::start();
    let dir = env.dir.path().join("inbox");
    let mut bodies = Vec::with_capacity(MEDIA);
    let mut expected: HashMap<String, Vec<u8>> = HashMap::new();
    for i in 0..MEDIA {
        let bytes = media_bytes(i);
        let sim = env.simulate(InboundMessage::new(bytes.clone(), "image/jpeg"));
        expected.insert(sim.media_id.as_str().to_owned(), bytes);
        bodies.push(sim.body);
    }
    eprintln!("{MEDIA} media made in {:?}", began.elapsed());
    let mut servers: Vec<Option<Serve>> = (0..INSTANCES)
        .map(|_| Some(start(&env, &dir, &db.url)))
        .collect();
    let fed = Instant::now();
    let mut last_kill = Instant::now();
    let mut kills = 0;
    let mut restarted_db = false;
    let mut answered_503 = 0;
    for (n, body) in bodies.iter().enumerate() {
        // Every 3 s, one instance dies (-9) and is started again.
        if last_kill.elapsed() > Duration::from_secs(3) {
            let k = kills % INSTANCES;
            servers[k].take().unwrap().kill9();
            servers[k] = Some(start(&env, &dir, &db.url));
            kills += 1;
            last_kill = Instant::now();
        }
        if !restarted_db && n == MEDIA / 2 {
            let restarted = wa_media_testkit::postgres::ctl("restart");
            if !restarted {
                wa_media_testkit::postgres::ctl("start");
            }
            assert!(restarted, "pg_ctlcluster restart failed");
            restarted_db = true;
        }
        // The load balancer: the next instance, and the one after it when a delivery fails
        // (Meta redelivers anything not answered 200). One in ten is delivered twice.
        let mut tries = 0;
        let mut delivered = 0;
        let want = if n % 10 == 0 { 2 } else { 1 };
        while delivered < want {
            let s = servers[(n + tries) % INSTANCES].as_ref().unwrap();
            match deliver(s.addr, body) {
                Ok(r) if r.status == 200 => delivered += 1,
                Ok(r) => {
                    assert!(r.status >= 500, "a delivery got {}", r.status);
                    if r.status == 503 {
                        answered_503 += 1;
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
            tries += 1;
            assert!(tries < 2_000, "media {n} could not be delivered");
        }
    }
    eprintln!(
        "{MEDIA} delivered in {:?}: {kills} kill -9, PostgreSQL restarted once, {answered_503} answers 503",
        fed.elapsed()
    );
    // Everything settles without a restart.
    let pool = rt.block_on(async { wa_media_postgres::connect(&db.url, 2).await.unwrap() });
    let index = wa_media_postgres::PgIndex::new(pool.clone());
    let deadline = Instant::now() + Duration::from_secs(60);
    let (mut counts, mut rows) = ((0, 0, 0), 0);
    while Instant::now() < deadline {
        (counts, rows) = rt.block_on(async {
            let conn = pool.get().await.unwrap();
            let r = conn
                .query_one(
                    "SELECT count(*) FILTER (WHERE state = 'pending'), count(*) FILTER (WHERE state = 'taken'),
                            count(*) FILTER (WHERE state = 'failed') FROM wa_media_queue",
                    &[],
                )
                .await
                .unwrap();
            let counts: (i64, i64, i64) = (r.get(0), r.get(1), r.get(2));
            (counts, index.count().await.unwrap())
        });
        if counts == (0, 0, 0) && rows == MEDIA as i64 {
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    eprintln!("settled {:?} after the feeding began", fed.elapsed());
    assert_eq!(counts, (0, 0, 0), "(pending, taken, failed) in the queue");
    assert_eq!(rows, MEDIA as i64, "one index row per media");
    // Every media saved once, verified: one file each, its bytes the media's.
    let records = rt
        .block_on(index.list(&wa_media_postgres::IndexQuery::default()))
        .unwrap();
    assert_eq!(records.len(), MEDIA);
    for r in &records {
        let bytes = std::fs::read(dir.join(&r.path)).unwrap();
        assert_eq!(&bytes, &expected[&r.media_id], "{}", r.media_id);
        assert_eq!(Sha256Digest::of(&bytes).to_hex(), r.sha256);
    }
    // A download cut by kill -9 may leave its temporary `.NAME.XXXXXXXX.wa-part` beside the
    // media (with a shared -d no instance can tell a dead one's from a live one's at start):
    // never under a media's name, and counted apart.
    let (parts, files): (Vec<_>, Vec<_>) = wa_media_testkit::fs::walk(&dir)
        .into_iter()
        .filter(|p| !p.ends_with("index.jsonl"))
        .partition(|p| p.to_string_lossy().ends_with(".wa-part"));
    eprintln!("{} temporary files left by killed downloads", parts.len());
    assert_eq!(files.len(), MEDIA, "a media saved twice: {files:?}");
    for s in servers.into_iter().flatten() {
        s.signal("TERM");
        let exited = s.wait_exit(Duration::from_secs(30));
        assert_eq!(exited.code(), 0, "{}", exited.stderr);
    }
    eprintln!("whole run {:?}", began.elapsed());
}
