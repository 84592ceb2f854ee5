//! The Queue conformance suite (`wa_media_testkit::queue_conformance`) on PostgreSQL: every
//! rule of the `Queue` contract holds with several instances on one database, a lease of
//! 500 ms, and a stalled instance whose leases are taken over while it still runs. Each check
//! gets a database of its own (created and dropped); without a server the test is skipped with
//! the reason (`WA_MEDIA_REQUIRE_POSTGRES=1` makes it fail instead).

use std::sync::Arc;
use std::time::Duration;

use wa_media_postgres::{PgQueue, QueueConfig};
use wa_media_testkit::postgres::TestDb;
use wa_media_testkit::queue_conformance::{self, QueueHarness, Rule};
use wa_media_webhook::Queue;

const LEASE: Duration = Duration::from_millis(500);

struct Postgres;

struct Db {
    db: TestDb,
    pool: wa_media_postgres::Pool,
}

#[async_trait::async_trait]
impl QueueHarness for Postgres {
    type Storage = Db;

    async fn storage(&self) -> Db {
        let db = TestDb::create().await.expect("checked by the test");
        let pool = wa_media_postgres::connect(&db.url, 8).await.unwrap();
        Db { db, pool }
    }

    async fn open(&self, s: &Db) -> Arc<dyn Queue> {
        let _ = &s.db;
        Arc::new(PgQueue::new(
            s.pool.clone(),
            QueueConfig::default().lease(LEASE),
        ))
    }

    async fn open_stalled(&self, s: &Db) -> Option<Arc<dyn Queue>> {
        Some(Arc::new(PgQueue::new(
            s.pool.clone(),
            QueueConfig::default().lease(LEASE).stalled(),
        )))
    }

    fn shared(&self) -> bool {
        true
    }

    fn takeover_bound(&self) -> Duration {
        LEASE * 10
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_postgres_queue_keeps_every_rule() {
    if TestDb::create().await.is_none() {
        return;
    }
    let report = queue_conformance::run(&Postgres).await;
    eprintln!("{report}");
    report.assert_conforms();
    assert_eq!(report.passed().len(), Rule::ALL.len(), "{report}");
}
