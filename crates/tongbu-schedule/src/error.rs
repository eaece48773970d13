//! Errors of the schedule.

use serde::Serialize;
use utoipa::ToSchema;

use crate::validate::FieldError;
use crate::{ClassroomId, SessionId};

/// The booking a new or moved session collides with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Clash {
    pub classroom: ClassroomId,
    pub classroom_name: String,
    pub session: SessionId,
    pub title: String,
    pub start_utc: i64,
    /// Start on the clashing session's wall clock.
    pub start_local: String,
}

/// What went wrong in the schedule, phrased for whoever must fix it.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[cfg(feature = "store")]
    #[error("database error: {0}")]
    Database(#[from] rusqlite::Error),
    #[cfg(feature = "store")]
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
    /// The submitted record has problems; each names its field.
    #[error("invalid input: {}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldError>),
    /// A classroom is already booked at that time.
    #[error("classroom {} is already booked at that time, in session {} \"{}\" starting {}; choose another time or remove it from that session", .0.classroom_name, .0.session.0, .0.title, .0.start_local)]
    Clash(Box<Clash>),
    /// The record would duplicate one that exists.
    #[error("{0}")]
    Conflict(String),
    /// The record is still used by others and cannot be removed or changed.
    #[error("{0}")]
    InUse(String),
}
