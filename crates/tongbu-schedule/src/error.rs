//! Errors of the schedule.

/// What went wrong in the schedule, phrased for whoever must fix it.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error("database error: {0}")]
    Database(#[from] rusqlite::Error),
    #[error("database migration failed: {0}; the data directory may belong to a newer Tongbu")]
    Migration(#[from] rusqlite_migration::Error),
    #[error(
        "cannot use the data directory {path}: {source}; check that it exists and is writable"
    )]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error("{what} {id} does not exist")]
    NotFound { what: &'static str, id: i64 },
    #[error("stored value {value:?} is not a valid {what}; was the database edited by hand?")]
    Corrupt { what: &'static str, value: String },
}
