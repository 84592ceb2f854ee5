//! A database of the test's own on the machine's PostgreSQL: [`TestDb::create`] makes one with
//! a random name and drops it (with its connections) when the value goes.
//!
//! The server is found at `WA_MEDIA_TEST_POSTGRES` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`, trust authentication). Without a server the
//! tests skip with a printed reason; with `WA_MEDIA_REQUIRE_POSTGRES=1` (set by `.ci/run`) they
//! fail instead. [`restart`] restarts the server (`pg_ctlcluster`, as root) for the tests of a
//! database that goes away.

use std::time::Duration;

/// The server's administrative URL.
pub fn admin_url() -> String {
    std::env::var("WA_MEDIA_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// Whether PostgreSQL must be there (`WA_MEDIA_REQUIRE_POSTGRES=1`).
pub fn required() -> bool {
    std::env::var("WA_MEDIA_REQUIRE_POSTGRES").is_ok_and(|v| v == "1")
}

/// A database of its own, dropped with the value.
#[derive(Debug)]
pub struct TestDb {
    /// Its URL (`postgres://postgres@127.0.0.1:5432/wa_media_test_…`).
    pub url: String,
    /// Its name.
    pub name: String,
}

async fn admin() -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let mut config: tokio_postgres::Config = admin_url().parse()?;
    config.connect_timeout(Duration::from_secs(5));
    let (client, conn) = config.connect(tokio_postgres::NoTls).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(client)
}

impl TestDb {
    /// Creates a database of its own. `None` (after printing why) when no server answers,
    /// unless [`required`], which panics instead.
    pub async fn create() -> Option<Self> {
        let client = match admin().await {
            Ok(c) => c,
            Err(e) => {
                let why = format!(
                    "no PostgreSQL at {} ({e}); start it (pg_ctlcluster 15 main start) or set WA_MEDIA_TEST_POSTGRES",
                    admin_url()
                );
                assert!(!required(), "WA_MEDIA_REQUIRE_POSTGRES=1: {why}");
                eprintln!("skipped: {why}");
                return None;
            }
        };
        let name = format!("wa_media_test_{:016x}", fastrand_u64());
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .expect("CREATE DATABASE");
        let base = admin_url();
        let cut = base.rfind('/').expect("a URL with a database");
        Some(Self {
            url: format!("{}/{name}", &base[..cut]),
            name,
        })
    }
}

fn fastrand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.write_u32(std::process::id());
    h.finish()
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        // On a thread of its own with its own runtime: a drop may run inside a runtime.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            rt.block_on(async {
                for _ in 0..20 {
                    if let Ok(c) = admin().await {
                        if c.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                            .await
                            .is_ok()
                        {
                            return;
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                eprintln!("could not drop the test database {name}");
            })
        })
        .join();
    }
}

/// The cluster's version directory (`/etc/postgresql/15`).
fn cluster_version() -> String {
    std::fs::read_dir("/etc/postgresql")
        .ok()
        .and_then(|mut d| d.next())
        .and_then(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .unwrap_or_else(|| "15".into())
}

/// Runs `pg_ctlcluster --skip-systemctl-redirect VERSION main ACTION` (`stop`, `start`,
/// `restart`); whether it succeeded.
pub fn ctl(action: &str) -> bool {
    std::process::Command::new("pg_ctlcluster")
        .args([
            "--skip-systemctl-redirect",
            &cluster_version(),
            "main",
            action,
        ])
        .status()
        .is_ok_and(|s| s.success())
}

/// Restarts the server and waits until it answers again (at most 60 s).
pub async fn restart() {
    assert!(ctl("restart"), "pg_ctlcluster restart failed");
    wait_up().await;
}

/// Waits until the server answers (at most 60 s), starting it when it is stopped.
pub async fn wait_up() {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while admin().await.is_err() {
        if std::time::Instant::now() > deadline {
            ctl("start");
            panic!("PostgreSQL did not come back within 60 s");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
