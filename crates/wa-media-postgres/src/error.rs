//! Database errors as `io::Error`s of a kind that says what another attempt may do.

use std::io;

/// `e` as an `io::Error`: a database that cannot be reached (no connection, a connection that
/// broke, a pool timeout) is `NotConnected`, which the webhook service answers with 503 and the
/// workers wait out; an error the server reported (SQL) is `Other`.
pub fn db_error(e: impl Into<DbError>) -> io::Error {
    match e.into() {
        DbError::Pg(e) => match e.as_db_error() {
            // The server is shutting down, or refuses connections now.
            Some(db)
                if db.code().code().starts_with("57") || db.code().code().starts_with("08") =>
            {
                io::Error::new(
                    io::ErrorKind::NotConnected,
                    format!("database unavailable: {e}"),
                )
            }
            Some(_) => io::Error::other(format!("database error: {e}")),
            // Our own mistake (a type that does not convert), not the database's absence.
            None if e.to_string().contains("serializ") => {
                io::Error::other(format!("database error: {e}"))
            }
            None => io::Error::new(
                io::ErrorKind::NotConnected,
                format!("database unreachable: {e}"),
            ),
        },
        DbError::Pool(e) => io::Error::new(
            io::ErrorKind::NotConnected,
            format!("database unreachable: {e}"),
        ),
    }
}

/// What [`db_error`] takes.
#[derive(Debug)]
pub enum DbError {
    /// A driver error.
    Pg(tokio_postgres::Error),
    /// No connection from the pool.
    Pool(deadpool_postgres::PoolError),
}

impl From<tokio_postgres::Error> for DbError {
    fn from(e: tokio_postgres::Error) -> Self {
        Self::Pg(e)
    }
}

impl From<deadpool_postgres::PoolError> for DbError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        match e {
            deadpool_postgres::PoolError::Backend(e) => Self::Pg(e),
            e => Self::Pool(e),
        }
    }
}
