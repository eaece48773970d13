//! # tongbu-schedule — who may join what, and when
//!
//! Owns the programme's domain: schools and their classrooms, school pairs, sessions (joint
//! lessons, research sessions, lectures; single or weekly) with their state, roles, and the
//! signed join tokens that bind a person or classroom to one session in one role. Checks what
//! people submit field by field, refuses double bookings, keeps each ended session's quality
//! [`report`] and the slides uploaded for it ([`courseware`]), and persists everything through the [`Store`] trait ([`SqliteStore`] by default,
//! versioned migrations applied at open).
//!
//! Two features, on by default: `store` (SQLite) and `tokens` (JWT join links). Without them
//! the crate is the domain alone — what `tongbu-signal` (and the load tool through it) uses.
//!
//! It must not touch media, sockets or HTTP: the server asks it questions ("may this token
//! join now?") and tells it facts ("the host started the lesson"), and it answers from the store.

pub mod account;
pub mod courseware;
pub mod demo;
pub mod draft;
pub mod error;
pub mod import;
pub mod pair;
pub mod removal;
pub mod report;
pub mod report_merge;
pub mod role;
pub mod school;
pub mod session;
#[cfg(feature = "store")]
pub mod sqlite;
pub mod store;
pub mod time;
#[cfg(feature = "tokens")]
pub mod token;
pub mod validate;

pub use account::{AccountId, LocalAccount, NewLocalAccount};
pub use courseware::{Deck, DeckId, ImageType, NewDeck, NewPage, PageImage, PageRef};
pub use draft::{NewSession, SessionDraft, WeeklyDraft};
pub use error::{Clash, ScheduleError};
pub use pair::{NewPair, PairId, SchoolPair};
pub use removal::{Pass, Removal};
pub use report::{QualityReport, ReportSummary};
pub use role::Role;
pub use school::{Classroom, ClassroomId, NewClassroom, NewSchool, Region, School, SchoolId};
pub use session::{
    ComparedLesson, Comparison, SeriesId, Session, SessionId, SessionKind, SessionSpec,
    SessionState,
};
#[cfg(feature = "store")]
pub use sqlite::SqliteStore;
pub use store::{SessionQuery, Store};
#[cfg(feature = "tokens")]
pub use token::{
    JoinClaims, ReplayClaims, ReplayScope, ScheduleClaims, ScheduleScope, TokenError, TokenKey,
};
pub use validate::FieldError;
