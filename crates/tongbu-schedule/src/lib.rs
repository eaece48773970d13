//! # tongbu-schedule — who may join what, and when
//!
//! Owns the programme's domain: schools and their classrooms, sessions (joint lessons, research
//! sessions, lectures) with their state, roles, and the signed join tokens that bind a person or
//! classroom to one session in one role. Persists them in SQLite through [`Store`], with versioned
//! migrations applied at open.
//!
//! It must not touch media, sockets or HTTP: the server asks it questions ("may this token
//! join now?") and tells it facts ("the host started the lesson"), and it answers from the store.

pub mod demo;
pub mod error;
pub mod role;
pub mod school;
pub mod session;
pub mod store;
pub mod time;
pub mod token;

pub use error::ScheduleError;
pub use role::Role;
pub use school::{Classroom, ClassroomId, Region, School, SchoolId};
pub use session::{Session, SessionId, SessionKind, SessionState};
pub use store::Store;
pub use token::{JoinClaims, TokenError, TokenKey};
