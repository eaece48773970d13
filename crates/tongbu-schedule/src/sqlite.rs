//! The SQLite store (the default): one file, versioned migrations (`migrations/*.sql`) applied
//! at open, WAL with `synchronous = FULL`, so that a transaction that returned survives
//! `kill -9` and power loss and one that did not leaves nothing behind. One writer connection,
//! a few read-only ones beside it.
//!
//! The statements live by table group in `sqlite/`: `school` (schools, classrooms, pairs),
//! `session` (sessions and their bookings), `report`, `courseware`, `removal`, `account`; this
//! file holds the connections and the [`Store`] trait's two implementations (on the store, a
//! transaction per call; on `Db`, inside a caller's transaction).

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, TryLockError};

use rusqlite::{params, Connection, ErrorCode, OpenFlags, TransactionBehavior};
use rusqlite_migration::{Migrations, M};

use crate::courseware::{Deck, NewDeck, PageImage};
use crate::store::{SessionQuery, Store};
use crate::{
    AccountId, Classroom, ClassroomId, LocalAccount, NewClassroom, NewLocalAccount, NewPair,
    NewSchool, NewSession, PairId, Pass, QualityReport, Removal, ReportSummary, ScheduleError,
    School, SchoolId, SchoolPair, Session, SessionId, SessionState,
};

/// Schema versions, oldest first, one SQL file each under `migrations/`. Never edit a released
/// one: add the next.
pub(crate) const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/0001_schools_classrooms_sessions.sql"),
    include_str!("../migrations/0002_zones_pairs_series_people_comparisons.sql"),
    include_str!("../migrations/0003_session_ids_never_reused.sql"),
    include_str!("../migrations/0004_quality_reports.sql"),
    include_str!("../migrations/0005_courseware.sql"),
    include_str!("../migrations/0006_removals.sql"),
    include_str!("../migrations/0007_local_accounts.sql"),
    include_str!("../migrations/0008_lecture_audience.sql"),
    include_str!("../migrations/0009_session_record.sql"),
    include_str!("../migrations/0010_report_drafts.sql"),
];

/// Connections that only read, beside the one writer: a page's query never waits behind a
/// write's fsync (WAL lets readers see the last commit while a write is under way).
const READERS: usize = 4;

/// The SQLite store. Cheap to share behind an `Arc`; each call is one short transaction. Writes
/// go through one connection, one at a time; reads through a small pool of read-only
/// connections, each read in one snapshot.
pub struct SqliteStore {
    writer: Mutex<Connection>,
    /// Empty for an in-memory database (another connection would open another database):
    /// reads then use the writer.
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SqliteStore")
    }
}

/// A connection, even if a thread panicked while holding it: SQLite rolls back the open
/// transaction when it is dropped, so the connection is usable.
fn lock(m: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl SqliteStore {
    /// Opens (creating if absent) the database file and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Self, ScheduleError> {
        let mut store = Self::init(Connection::open(path)?)?;
        for _ in 0..READERS {
            let conn = Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )?;
            conn.busy_timeout(std::time::Duration::from_secs(5))?;
            store.readers.push(Mutex::new(conn));
        }
        Ok(store)
    }

    /// A private in-memory database, for tests.
    pub fn open_in_memory() -> Result<Self, ScheduleError> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(mut conn: Connection) -> Result<Self, ScheduleError> {
        // WAL: readers never block the writer; FULL: a committed transaction survives a crash.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        // Migrations run with foreign keys off (table rebuilds must not cascade), and are
        // checked for dangling references before foreign keys are turned on.
        conn.pragma_update(None, "foreign_keys", "OFF")?;
        let migrations = Migrations::new(
            MIGRATIONS
                .iter()
                .map(|sql| M::up(sql).foreign_key_check())
                .collect(),
        );
        migrations.to_latest(&mut conn)?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        Ok(Self {
            writer: Mutex::new(conn),
            readers: Vec::new(),
            next_reader: AtomicUsize::new(0),
        })
    }

    fn writer(&self) -> MutexGuard<'_, Connection> {
        lock(&self.writer)
    }

    /// A free reader if there is one, else the next in turn.
    fn reader(&self) -> Option<MutexGuard<'_, Connection>> {
        for m in &self.readers {
            match m.try_lock() {
                Ok(conn) => return Some(conn),
                Err(TryLockError::Poisoned(e)) => return Some(e.into_inner()),
                Err(TryLockError::WouldBlock) => {}
            }
        }
        let n = self.readers.len();
        (n > 0).then(|| lock(&self.readers[self.next_reader.fetch_add(1, Ordering::Relaxed) % n]))
    }

    /// Runs `f` in a write transaction, committed if it returns Ok.
    fn write<T>(
        &self,
        f: impl FnOnce(&Db) -> Result<T, ScheduleError>,
    ) -> Result<T, ScheduleError> {
        let mut conn = self.writer();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = f(&Db(&tx))?;
        tx.commit()?;
        Ok(out)
    }

    /// Runs `f` on a reader, in one snapshot (a session and its classrooms read together are
    /// from the same commit), without waiting for a write under way.
    fn read<T>(&self, f: impl FnOnce(&Db) -> Result<T, ScheduleError>) -> Result<T, ScheduleError> {
        match self.reader() {
            Some(mut conn) => {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Deferred)?;
                f(&Db(&tx))
            }
            None => f(&Db(&self.writer())),
        }
    }
}

impl Store for SqliteStore {
    fn add_account(
        &self,
        a: &NewLocalAccount,
        created_utc: i64,
    ) -> Result<LocalAccount, ScheduleError> {
        self.write(|db| db.insert_account(a, created_utc))
    }
    fn accounts(&self) -> Result<Vec<LocalAccount>, ScheduleError> {
        self.read(|db| db.accounts())
    }
    fn account_for_sign_in(
        &self,
        username: &str,
    ) -> Result<Option<(LocalAccount, String)>, ScheduleError> {
        self.read(|db| db.account_for_sign_in(username))
    }
    fn set_account_password(
        &self,
        id: AccountId,
        password_hash: &str,
    ) -> Result<(), ScheduleError> {
        self.write(|db| db.update_password(id, password_hash))
    }
    fn delete_account(&self, id: AccountId) -> Result<(), ScheduleError> {
        self.write(|db| db.remove_account(id))
    }
    fn add_removal(
        &self,
        session: SessionId,
        pass: &Pass,
        name: &str,
        removed_utc: i64,
    ) -> Result<(), ScheduleError> {
        self.write(|db| db.add_removal(session, pass, name, removed_utc))
    }
    fn removal(&self, session: SessionId, pass: &Pass) -> Result<Option<Removal>, ScheduleError> {
        self.read(|db| db.removal(session, pass))
    }
    fn add_deck(&self, d: &NewDeck, created_utc: i64) -> Result<Deck, ScheduleError> {
        self.write(|db| db.insert_deck(d, created_utc))
    }
    fn decks(&self, session: SessionId) -> Result<Vec<Deck>, ScheduleError> {
        self.read(|db| db.session_decks(session))
    }
    fn page_image(&self, digest: &str) -> Result<Option<PageImage>, ScheduleError> {
        self.read(|db| db.page(digest))
    }
    fn save_report(&self, r: &QualityReport) -> Result<(), ScheduleError> {
        self.write(|db| db.save_report(r))
    }
    fn save_report_draft(&self, r: &QualityReport, saved_utc: i64) -> Result<(), ScheduleError> {
        self.write(|db| db.save_report_draft(r, saved_utc))
    }
    fn report_drafts(&self) -> Result<Vec<QualityReport>, ScheduleError> {
        self.read(|db| db.report_drafts())
    }
    fn report(&self, id: SessionId) -> Result<QualityReport, ScheduleError> {
        self.read(|db| db.report(id))
    }
    fn recent_reports(&self, limit: u32) -> Result<Vec<ReportSummary>, ScheduleError> {
        self.read(|db| db.recent_reports(limit))
    }
    fn add_school(&self, s: &NewSchool) -> Result<School, ScheduleError> {
        self.write(|db| db.add_school(s))
    }
    fn school(&self, id: SchoolId) -> Result<School, ScheduleError> {
        self.read(|db| db.school(id))
    }
    fn school_by_name(&self, name: &str) -> Result<Option<School>, ScheduleError> {
        self.read(|db| db.school_by_name(name))
    }
    fn schools(&self) -> Result<Vec<School>, ScheduleError> {
        self.read(|db| db.schools())
    }
    fn update_school(&self, id: SchoolId, s: &NewSchool) -> Result<School, ScheduleError> {
        self.write(|db| db.update_school(id, s))
    }
    fn delete_school(&self, id: SchoolId) -> Result<(), ScheduleError> {
        self.write(|db| db.delete_school(id))
    }
    fn add_classroom(&self, c: &NewClassroom) -> Result<Classroom, ScheduleError> {
        self.write(|db| db.add_classroom(c))
    }
    fn classroom(&self, id: ClassroomId) -> Result<Classroom, ScheduleError> {
        self.read(|db| db.classroom(id))
    }
    fn classroom_by_name(
        &self,
        school: SchoolId,
        name: &str,
    ) -> Result<Option<Classroom>, ScheduleError> {
        self.read(|db| db.classroom_by_name(school, name))
    }
    fn classrooms(&self, school: Option<SchoolId>) -> Result<Vec<Classroom>, ScheduleError> {
        self.read(|db| db.classrooms(school))
    }
    fn update_classroom(
        &self,
        id: ClassroomId,
        c: &NewClassroom,
    ) -> Result<Classroom, ScheduleError> {
        self.write(|db| db.update_classroom(id, c))
    }
    fn delete_classroom(&self, id: ClassroomId) -> Result<(), ScheduleError> {
        self.write(|db| db.delete_classroom(id))
    }
    fn add_pair(&self, p: &NewPair) -> Result<SchoolPair, ScheduleError> {
        self.write(|db| db.add_pair(p))
    }
    fn pairs(&self) -> Result<Vec<SchoolPair>, ScheduleError> {
        self.read(|db| db.pairs())
    }
    fn delete_pair(&self, id: PairId) -> Result<(), ScheduleError> {
        self.write(|db| db.delete_pair(id))
    }
    fn add_session(&self, s: &NewSession) -> Result<Vec<Session>, ScheduleError> {
        self.write(|db| db.add_session(s))
    }
    fn session(&self, id: SessionId) -> Result<Session, ScheduleError> {
        self.read(|db| db.session(id))
    }
    fn sessions(&self, q: &SessionQuery) -> Result<Vec<Session>, ScheduleError> {
        self.read(|db| db.sessions(q))
    }
    fn update_session(&self, id: SessionId, s: &NewSession) -> Result<Session, ScheduleError> {
        self.write(|db| db.update_session(id, s))
    }
    fn delete_session(&self, id: SessionId) -> Result<(), ScheduleError> {
        self.write(|db| db.delete_session(id))
    }
    fn transition_session_state(
        &self,
        id: SessionId,
        from: &[SessionState],
        to: SessionState,
    ) -> Result<bool, ScheduleError> {
        self.write(|db| db.transition_session_state(id, from, to))
    }
    fn sessions_due_to_open(
        &self,
        now_utc: i64,
        lead_secs: i64,
    ) -> Result<Vec<SessionId>, ScheduleError> {
        self.read(|db| db.sessions_due_to_open(now_utc, lead_secs))
    }
    fn sessions_due_to_end(
        &self,
        now_utc: i64,
        grace_secs: i64,
    ) -> Result<Vec<SessionId>, ScheduleError> {
        self.read(|db| db.sessions_due_to_end(now_utc, grace_secs))
    }
    fn atomically(
        &self,
        work: &mut dyn FnMut(&dyn Store) -> Result<bool, ScheduleError>,
    ) -> Result<bool, ScheduleError> {
        let mut conn = self.writer();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        if work(&Db(&tx))? {
            tx.commit()?;
            Ok(true)
        } else {
            // Dropping the transaction rolls it back.
            Ok(false)
        }
    }
}

/// Statements on a connection, inside whatever transaction the caller opened.
struct Db<'c>(&'c Connection);

mod account;
mod courseware;
mod removal;
mod report;
mod school;
mod session;

fn not_found(what: &'static str, id: i64) -> ScheduleError {
    ScheduleError::NotFound { what, id }
}

/// Maps a UNIQUE violation to a conflict and a FOREIGN KEY violation to "in use".
fn constraint(e: rusqlite::Error, duplicate: &str, in_use: &str) -> ScheduleError {
    match &e {
        rusqlite::Error::SqliteFailure(f, msg) if f.code == ErrorCode::ConstraintViolation => {
            let msg = msg.as_deref().unwrap_or("");
            if msg.contains("UNIQUE") {
                ScheduleError::Conflict(duplicate.to_string())
            } else if msg.contains("FOREIGN KEY") {
                ScheduleError::InUse(in_use.to_string())
            } else {
                ScheduleError::Database(e)
            }
        }
        _ => ScheduleError::Database(e),
    }
}

fn corrupt(what: &'static str, value: &str) -> ScheduleError {
    ScheduleError::Corrupt {
        what,
        value: value.to_string(),
    }
}

impl Db<'_> {
    /// Deletes the row `id` with `sql`: not found when there is none, in use when rows still
    /// refer to it.
    fn delete(
        &self,
        sql: &str,
        id: i64,
        what: &'static str,
        in_use: &str,
    ) -> Result<(), ScheduleError> {
        let n = self
            .0
            .prepare_cached(sql)?
            .execute(params![id])
            .map_err(|e| constraint(e, "", in_use))?;
        if n == 0 {
            return Err(not_found(what, id));
        }
        Ok(())
    }
}

impl Store for Db<'_> {
    fn add_account(
        &self,
        a: &NewLocalAccount,
        created_utc: i64,
    ) -> Result<LocalAccount, ScheduleError> {
        self.insert_account(a, created_utc)
    }
    fn accounts(&self) -> Result<Vec<LocalAccount>, ScheduleError> {
        Db::accounts(self)
    }
    fn account_for_sign_in(
        &self,
        username: &str,
    ) -> Result<Option<(LocalAccount, String)>, ScheduleError> {
        Db::account_for_sign_in(self, username)
    }
    fn set_account_password(
        &self,
        id: AccountId,
        password_hash: &str,
    ) -> Result<(), ScheduleError> {
        self.update_password(id, password_hash)
    }
    fn delete_account(&self, id: AccountId) -> Result<(), ScheduleError> {
        self.remove_account(id)
    }
    fn add_removal(
        &self,
        session: SessionId,
        pass: &Pass,
        name: &str,
        removed_utc: i64,
    ) -> Result<(), ScheduleError> {
        self.insert_removal(session, pass, name, removed_utc)
    }
    fn removal(&self, session: SessionId, pass: &Pass) -> Result<Option<Removal>, ScheduleError> {
        self.find_removal(session, pass)
    }
    fn add_deck(&self, d: &NewDeck, created_utc: i64) -> Result<Deck, ScheduleError> {
        self.insert_deck(d, created_utc)
    }
    fn decks(&self, session: SessionId) -> Result<Vec<Deck>, ScheduleError> {
        self.session_decks(session)
    }
    fn page_image(&self, digest: &str) -> Result<Option<PageImage>, ScheduleError> {
        self.page(digest)
    }
    fn save_report(&self, r: &QualityReport) -> Result<(), ScheduleError> {
        Db::save_report(self, r)
    }
    fn save_report_draft(&self, r: &QualityReport, saved_utc: i64) -> Result<(), ScheduleError> {
        Db::save_report_draft(self, r, saved_utc)
    }
    fn report_drafts(&self) -> Result<Vec<QualityReport>, ScheduleError> {
        Db::report_drafts(self)
    }
    fn report(&self, id: SessionId) -> Result<QualityReport, ScheduleError> {
        Db::report(self, id)
    }
    fn recent_reports(&self, limit: u32) -> Result<Vec<ReportSummary>, ScheduleError> {
        Db::recent_reports(self, limit)
    }
    fn add_school(&self, s: &NewSchool) -> Result<School, ScheduleError> {
        Db::add_school(self, s)
    }
    fn school(&self, id: SchoolId) -> Result<School, ScheduleError> {
        Db::school(self, id)
    }
    fn school_by_name(&self, name: &str) -> Result<Option<School>, ScheduleError> {
        Db::school_by_name(self, name)
    }
    fn schools(&self) -> Result<Vec<School>, ScheduleError> {
        Db::schools(self)
    }
    fn update_school(&self, id: SchoolId, s: &NewSchool) -> Result<School, ScheduleError> {
        Db::update_school(self, id, s)
    }
    fn delete_school(&self, id: SchoolId) -> Result<(), ScheduleError> {
        Db::delete_school(self, id)
    }
    fn add_classroom(&self, c: &NewClassroom) -> Result<Classroom, ScheduleError> {
        Db::add_classroom(self, c)
    }
    fn classroom(&self, id: ClassroomId) -> Result<Classroom, ScheduleError> {
        Db::classroom(self, id)
    }
    fn classroom_by_name(
        &self,
        school: SchoolId,
        name: &str,
    ) -> Result<Option<Classroom>, ScheduleError> {
        Db::classroom_by_name(self, school, name)
    }
    fn classrooms(&self, school: Option<SchoolId>) -> Result<Vec<Classroom>, ScheduleError> {
        Db::classrooms(self, school)
    }
    fn update_classroom(
        &self,
        id: ClassroomId,
        c: &NewClassroom,
    ) -> Result<Classroom, ScheduleError> {
        Db::update_classroom(self, id, c)
    }
    fn delete_classroom(&self, id: ClassroomId) -> Result<(), ScheduleError> {
        Db::delete_classroom(self, id)
    }
    fn add_pair(&self, p: &NewPair) -> Result<SchoolPair, ScheduleError> {
        Db::add_pair(self, p)
    }
    fn pairs(&self) -> Result<Vec<SchoolPair>, ScheduleError> {
        Db::pairs(self)
    }
    fn delete_pair(&self, id: PairId) -> Result<(), ScheduleError> {
        Db::delete_pair(self, id)
    }
    fn add_session(&self, s: &NewSession) -> Result<Vec<Session>, ScheduleError> {
        Db::add_session(self, s)
    }
    fn session(&self, id: SessionId) -> Result<Session, ScheduleError> {
        Db::session(self, id)
    }
    fn sessions(&self, q: &SessionQuery) -> Result<Vec<Session>, ScheduleError> {
        Db::sessions(self, q)
    }
    fn update_session(&self, id: SessionId, s: &NewSession) -> Result<Session, ScheduleError> {
        Db::update_session(self, id, s)
    }
    fn delete_session(&self, id: SessionId) -> Result<(), ScheduleError> {
        Db::delete_session(self, id)
    }
    fn transition_session_state(
        &self,
        id: SessionId,
        from: &[SessionState],
        to: SessionState,
    ) -> Result<bool, ScheduleError> {
        Db::transition_session_state(self, id, from, to)
    }
    fn sessions_due_to_open(
        &self,
        now_utc: i64,
        lead_secs: i64,
    ) -> Result<Vec<SessionId>, ScheduleError> {
        Db::sessions_due_to_open(self, now_utc, lead_secs)
    }
    fn sessions_due_to_end(
        &self,
        now_utc: i64,
        grace_secs: i64,
    ) -> Result<Vec<SessionId>, ScheduleError> {
        Db::sessions_due_to_end(self, now_utc, grace_secs)
    }
    fn atomically(
        &self,
        work: &mut dyn FnMut(&dyn Store) -> Result<bool, ScheduleError>,
    ) -> Result<bool, ScheduleError> {
        // Already inside a transaction: a savepoint makes the inner work all-or-nothing too.
        self.0.execute_batch("SAVEPOINT atomically")?;
        match work(self) {
            Ok(true) => {
                self.0.execute_batch("RELEASE atomically")?;
                Ok(true)
            }
            other => {
                self.0
                    .execute_batch("ROLLBACK TO atomically; RELEASE atomically")?;
                other.map(|_| false)
            }
        }
    }
}

#[cfg(test)]
mod tests;
