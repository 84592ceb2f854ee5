//! Migrations: versioned, applied once when several instances start together (under the
//! advisory lock), and a database of a newer schema refused.

use wa_media_testkit::postgres::TestDb;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_instances_starting_at_once_migrate_once() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let starts: Vec<_> = (0..8)
        .map(|_| {
            let url = db.url.clone();
            tokio::spawn(async move { wa_media_postgres::connect(&url, 2).await.map(|_| ()) })
        })
        .collect();
    for s in starts {
        s.await.unwrap().expect("every instance starts");
    }
    let pool = wa_media_postgres::pool(&db.url, 2).unwrap();
    let conn = pool.get().await.unwrap();
    let rows = conn
        .query(
            "SELECT version FROM refinery_schema_history ORDER BY version",
            &[],
        )
        .await
        .unwrap();
    let versions: Vec<i32> = rows.iter().map(|r| r.get(0)).collect();
    assert_eq!(versions, [wa_media_postgres::SCHEMA_VERSION]);
    for table in ["wa_media_queue", "wa_media_index"] {
        let n: i64 = conn
            .query_one(
                "SELECT count(*) FROM information_schema.tables WHERE table_name = $1",
                &[&table],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(n, 1, "{table}");
    }
    // A newer instance upgraded the schema: this one refuses to run on it.
    conn.execute(
        "INSERT INTO refinery_schema_history (version, name, applied_on, checksum)
         SELECT 99, 'future', applied_on, checksum FROM refinery_schema_history LIMIT 1",
        &[],
    )
    .await
    .unwrap();
    drop(conn);
    let err = wa_media_postgres::connect(&db.url, 2).await.unwrap_err();
    assert!(err.to_string().contains("version 99"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_database_is_an_error_of_kind_not_connected_not_a_hang() {
    let start = std::time::Instant::now();
    let err = wa_media_postgres::connect("postgres://postgres@127.0.0.1:1/none", 2)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::NotConnected, "{err}");
    assert!(start.elapsed() < std::time::Duration::from_secs(15));
}
