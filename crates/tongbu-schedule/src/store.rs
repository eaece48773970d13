//! The schedule's store, as a trait: SQLite ([`crate::SqliteStore`]) is the default; a
//! PostgreSQL implementation for multi-node deployments implements the same trait.
//!
//! Every method is one atomic change. [`Store::atomically`] runs several as one transaction
//! (a timetable import is all or nothing).

use crate::{
    AccountId, Classroom, ClassroomId, Deck, LocalAccount, NewClassroom, NewDeck, NewLocalAccount,
    NewPair, NewSchool, NewSession, PageImage, PairId, Pass, QualityReport, Removal, ReportSummary,
    ScheduleError, School, SchoolId, SchoolPair, Session, SessionId, SessionState,
};

/// Which sessions to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionQuery {
    /// Sessions overlapping [from, to), seconds since the epoch.
    pub from: i64,
    pub to: i64,
    /// Only those where one of this school's classrooms takes part.
    pub school: Option<SchoolId>,
    /// Only those where this classroom takes part.
    pub classroom: Option<ClassroomId>,
}

impl SessionQuery {
    pub fn between(from: i64, to: i64) -> Self {
        Self {
            from,
            to,
            school: None,
            classroom: None,
        }
    }
}

/// What the schedule keeps.
pub trait Store {
    fn add_school(&self, s: &NewSchool) -> Result<School, ScheduleError>;
    fn school(&self, id: SchoolId) -> Result<School, ScheduleError>;
    fn school_by_name(&self, name: &str) -> Result<Option<School>, ScheduleError>;
    fn schools(&self) -> Result<Vec<School>, ScheduleError>;
    fn update_school(&self, id: SchoolId, s: &NewSchool) -> Result<School, ScheduleError>;
    /// Refused (in use) while the school has classrooms or pairs.
    fn delete_school(&self, id: SchoolId) -> Result<(), ScheduleError>;

    fn add_classroom(&self, c: &NewClassroom) -> Result<Classroom, ScheduleError>;
    fn classroom(&self, id: ClassroomId) -> Result<Classroom, ScheduleError>;
    fn classroom_by_name(
        &self,
        school: SchoolId,
        name: &str,
    ) -> Result<Option<Classroom>, ScheduleError>;
    fn classrooms(&self, school: Option<SchoolId>) -> Result<Vec<Classroom>, ScheduleError>;
    fn update_classroom(
        &self,
        id: ClassroomId,
        c: &NewClassroom,
    ) -> Result<Classroom, ScheduleError>;
    /// Refused (in use) while a session lists the classroom.
    fn delete_classroom(&self, id: ClassroomId) -> Result<(), ScheduleError>;

    fn add_pair(&self, p: &NewPair) -> Result<SchoolPair, ScheduleError>;
    fn pairs(&self) -> Result<Vec<SchoolPair>, ScheduleError>;
    fn delete_pair(&self, id: PairId) -> Result<(), ScheduleError>;

    /// Creates a session (one per occurrence of a weekly series) in state `scheduled`, or fails
    /// with [`ScheduleError::Clash`] when a classroom is already booked at one of the times.
    fn add_session(&self, s: &NewSession) -> Result<Vec<Session>, ScheduleError>;
    fn session(&self, id: SessionId) -> Result<Session, ScheduleError>;
    /// Sessions matching the query, by start time.
    fn sessions(&self, q: &SessionQuery) -> Result<Vec<Session>, ScheduleError>;
    /// Replaces a session that has not started yet (one occurrence; `s.starts` has one start).
    fn update_session(&self, id: SessionId, s: &NewSession) -> Result<Session, ScheduleError>;
    /// Cancels a session that has not gone live.
    fn delete_session(&self, id: SessionId) -> Result<(), ScheduleError>;

    /// Moves the session to `to` if it is in one of the states `from` (compare-and-set, so two
    /// racing changes cannot move it backwards). Returns whether it changed; once it returns,
    /// the change is durable and may be announced.
    fn transition_session_state(
        &self,
        id: SessionId,
        from: &[SessionState],
        to: SessionState,
    ) -> Result<bool, ScheduleError>;
    /// Sessions still `scheduled` whose join window opened (start − `lead_secs` ≤ now).
    fn sessions_due_to_open(
        &self,
        now_utc: i64,
        lead_secs: i64,
    ) -> Result<Vec<SessionId>, ScheduleError>;
    /// Sessions not yet ended whose end plus `grace_secs` is at or before `now_utc`.
    fn sessions_due_to_end(
        &self,
        now_utc: i64,
        grace_secs: i64,
    ) -> Result<Vec<SessionId>, ScheduleError>;

    /// Keeps an uploaded deck of slides of a session (each page's image stored once).
    fn add_deck(&self, d: &NewDeck, created_utc: i64) -> Result<Deck, ScheduleError>;
    /// The session's decks, oldest first.
    fn decks(&self, session: SessionId) -> Result<Vec<Deck>, ScheduleError>;
    /// A page's image by its digest (`None`: no deck holds it).
    fn page_image(&self, digest: &str) -> Result<Option<PageImage>, ScheduleError>;

    /// Keeps the quality report of an ended session (replacing an earlier one); its draft goes.
    fn save_report(&self, r: &QualityReport) -> Result<(), ScheduleError>;
    /// Keeps the report of a running session as sampled so far (replacing the last draft), so
    /// that a restart continues it.
    fn save_report_draft(&self, r: &QualityReport, saved_utc: i64) -> Result<(), ScheduleError>;
    /// The drafts of sessions that have no report yet.
    fn report_drafts(&self) -> Result<Vec<QualityReport>, ScheduleError>;
    /// The quality report of a session; `NotFound` until the session has ended.
    fn report(&self, id: SessionId) -> Result<QualityReport, ScheduleError>;
    /// The most recent reports first, at most `limit`.
    fn recent_reports(&self, limit: u32) -> Result<Vec<ReportSummary>, ScheduleError>;

    /// The host removed `pass` from a session: it no longer opens it (kept if it was already).
    fn add_removal(
        &self,
        session: SessionId,
        pass: &Pass,
        name: &str,
        removed_utc: i64,
    ) -> Result<(), ScheduleError>;
    /// Whether (and when, as whom) `pass` was removed from a session.
    fn removal(&self, session: SessionId, pass: &Pass) -> Result<Option<Removal>, ScheduleError>;

    /// A local teacher account (its user name must be free).
    fn add_account(
        &self,
        a: &NewLocalAccount,
        created_utc: i64,
    ) -> Result<LocalAccount, ScheduleError>;
    /// Every local account, by school.
    fn accounts(&self) -> Result<Vec<LocalAccount>, ScheduleError>;
    /// The account of a user name, with its password hash (to check a sign-in).
    fn account_for_sign_in(
        &self,
        username: &str,
    ) -> Result<Option<(LocalAccount, String)>, ScheduleError>;
    /// Replaces an account's password hash (the operator set a new password).
    fn set_account_password(&self, id: AccountId, password_hash: &str)
        -> Result<(), ScheduleError>;
    fn delete_account(&self, id: AccountId) -> Result<(), ScheduleError>;

    /// Runs `work` as one transaction: everything it did is kept if it returns `Ok(true)`, and
    /// nothing if it returns `Ok(false)` or an error. Returns whether it was kept.
    fn atomically(
        &self,
        work: &mut dyn FnMut(&dyn Store) -> Result<bool, ScheduleError>,
    ) -> Result<bool, ScheduleError>;
}
