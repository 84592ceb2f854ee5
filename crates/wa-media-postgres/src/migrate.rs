//! The schema's versions (`migrations/V<n>__<name>.sql`, embedded at build time) applied by
//! refinery, under a PostgreSQL advisory lock: instances starting together wait for the first
//! one's migration, then find the schema current. refinery records each applied version in
//! `refinery_schema_history`.

use std::io;

use crate::error::db_error;

mod embedded {
    refinery::embed_migrations!("migrations");
}

/// The schema version this code writes and reads (the highest migration).
pub const SCHEMA_VERSION: i32 = 1;

/// The advisory lock key held while migrating ("wamedia" in ASCII).
const LOCK_KEY: i64 = 0x0077_616d_6564_6961;

/// Brings the database's schema to [`SCHEMA_VERSION`], under an advisory lock. A database
/// of a newer version (another instance upgraded first) is refused, naming both versions.
pub async fn migrate(pool: &deadpool_postgres::Pool) -> io::Result<()> {
    let mut conn = pool.get().await.map_err(db_error)?;
    let client: &mut tokio_postgres::Client = &mut conn;
    client
        .execute("SELECT pg_advisory_lock($1)", &[&LOCK_KEY])
        .await
        .map_err(db_error)?;
    let result = embedded::migrations::runner()
        .set_abort_divergent(true)
        // A newer version than ours is refused below, naming both.
        .set_abort_missing(false)
        .run_async(client)
        .await;
    let unlock = client
        .execute("SELECT pg_advisory_unlock($1)", &[&LOCK_KEY])
        .await;
    let report = result.map_err(|e| io::Error::other(format!("migrating the schema: {e}")))?;
    unlock.map_err(db_error)?;
    for m in report.applied_migrations() {
        tracing::info!(version = m.version(), name = m.name(), "schema migrated");
    }
    let newest: Option<i32> = client
        .query_one("SELECT max(version) FROM refinery_schema_history", &[])
        .await
        .map_err(db_error)?
        .get(0);
    match newest {
        Some(v) if v > SCHEMA_VERSION => Err(io::Error::other(format!(
            "the database's schema is version {v}, newer than this wa-media's {SCHEMA_VERSION}: upgrade this instance"
        ))),
        _ => Ok(()),
    }
}
