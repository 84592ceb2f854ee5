//! The wa-media queue and media index on PostgreSQL, for several `wa-media serve` instances
//! behind one load balancer (docs/scaling.md).
//!
//! - [`PgQueue`] implements [`wa_media_webhook::Queue`]: a notification's media are committed
//!   before Meta gets its 200, a redelivery to any instance is a duplicate (the media id is the
//!   primary key), an entry is held under a lease its instance renews, and an instance that
//!   died has its entries taken over once the lease expired (`FOR UPDATE SKIP LOCKED`, as
//!   River, Oban, graphile-worker and pg-boss claim jobs).
//! - [`PgIndex`] is the media index as a table (the fields of
//!   [`wa_media_webhook::SavedRecord`], one row per media); [`IndexedSink`] wraps any sink and
//!   writes the row of each media it saves.
//! - [`migrate`] brings the schema to the current version (refinery, embedded migrations)
//!   under an advisory lock, so instances starting together migrate once.
//!
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! let pool = wa_media_postgres::connect("postgres://wa@db.internal/wa_media", 8).await?;
//! let queue = wa_media_postgres::PgQueue::new(pool.clone(), wa_media_postgres::QueueConfig::default());
//! # drop(queue); Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod error;
mod index;
mod migrate;
mod queue;

pub use deadpool_postgres::Pool;
pub use error::db_error;
pub use index::{IndexQuery, IndexedSink, PgIndex};
pub use migrate::{migrate, SCHEMA_VERSION};
pub use queue::{PgQueue, QueueConfig};

use std::time::Duration;

/// A pool of connections to `url` (`postgres://user[:password]@host[:port]/database`), at most
/// `size` at once, after the schema was migrated ([`migrate`]). A connection that broke (a
/// database restart) is replaced when next taken; waiting for one, creating one and checking
/// one each give up after 5 s, so an unreachable database is an error, never a hang.
pub async fn connect(url: &str, size: usize) -> std::io::Result<Pool> {
    let pool = pool(url, size)?;
    migrate(&pool).await?;
    Ok(pool)
}

/// The pool, without migrating.
pub fn pool(url: &str, size: usize) -> std::io::Result<Pool> {
    let mut config: tokio_postgres::Config = url.parse().map_err(|e| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("not a PostgreSQL URL: {e}"),
        )
    })?;
    config.connect_timeout(Duration::from_secs(5));
    if config.get_application_name().is_none() {
        config.application_name("wa-media");
    }
    let manager = deadpool_postgres::Manager::from_config(
        config,
        tokio_postgres::NoTls,
        deadpool_postgres::ManagerConfig {
            recycling_method: deadpool_postgres::RecyclingMethod::Fast,
        },
    );
    let t = Some(Duration::from_secs(5));
    Pool::builder(manager)
        .max_size(size.max(2))
        .runtime(deadpool_postgres::Runtime::Tokio1)
        .wait_timeout(t)
        .create_timeout(t)
        .recycle_timeout(t)
        .build()
        .map_err(std::io::Error::other)
}

/// `url` without its password, for logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.find(':') {
                Some(c) => format!("{}{}:***{}", &url[..s + 3], &creds[..c], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_password_is_never_shown() {
        assert_eq!(
            super::redact("postgres://wa:s3cret@db:5432/x"),
            "postgres://wa:***@db:5432/x"
        );
        assert_eq!(super::redact("postgres://wa@db/x"), "postgres://wa@db/x");
    }
}
