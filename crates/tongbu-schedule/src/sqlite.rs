//! The SQLite store (the default): one file, versioned migrations applied at open, WAL with
//! `synchronous = FULL`, so that a transaction that returned survives `kill -9` and power loss
//! and one that did not leaves nothing behind.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use rusqlite::{params, Connection, ErrorCode, OptionalExtension, Row, TransactionBehavior};
use rusqlite_migration::{Migrations, M};

use crate::courseware::{Deck, NewDeck, PageImage};
use crate::error::Clash;
use crate::store::{SessionQuery, Store};
use crate::time::local_datetime;
use crate::{
    AccountId, Classroom, ClassroomId, ComparedLesson, Comparison, LocalAccount, NewClassroom,
    NewLocalAccount, NewPair, NewSchool, NewSession, PairId, Pass, QualityReport, Region, Removal,
    ReportSummary, ScheduleError, School, SchoolId, SchoolPair, SeriesId, Session, SessionId,
    SessionKind, SessionSpec, SessionState,
};

/// Schema versions, oldest first. Never edit a released one: add the next.
const MIGRATIONS: &[&str] = &[
    // 1: schools, classrooms, sessions and who takes part.
    "CREATE TABLE schools (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        region TEXT NOT NULL CHECK (region IN ('beijing', 'inner_mongolia')),
        district TEXT NOT NULL
    );
    CREATE TABLE classrooms (
        id INTEGER PRIMARY KEY,
        school_id INTEGER NOT NULL REFERENCES schools(id),
        name TEXT NOT NULL,
        UNIQUE (school_id, name)
    );
    CREATE TABLE sessions (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('lesson', 'research', 'lecture')),
        title TEXT NOT NULL,
        subject TEXT NOT NULL,
        start_utc INTEGER NOT NULL,
        duration_min INTEGER NOT NULL CHECK (duration_min > 0),
        host_classroom_id INTEGER NOT NULL REFERENCES classrooms(id),
        state TEXT NOT NULL
    );
    CREATE TABLE session_classrooms (
        session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        classroom_id INTEGER NOT NULL REFERENCES classrooms(id),
        position INTEGER NOT NULL,
        PRIMARY KEY (session_id, classroom_id)
    );",
    // 2: time zones, grades and capacity, school pairs, weekly series, people invited by name,
    // 同课异构 comparisons.
    "ALTER TABLE schools ADD COLUMN timezone TEXT NOT NULL DEFAULT 'Asia/Shanghai';
    ALTER TABLE classrooms ADD COLUMN grade INTEGER;
    ALTER TABLE classrooms ADD COLUMN capacity INTEGER;
    CREATE TABLE school_pairs (
        id INTEGER PRIMARY KEY,
        beijing_school_id INTEGER NOT NULL REFERENCES schools(id),
        inner_mongolia_school_id INTEGER NOT NULL REFERENCES schools(id),
        since TEXT NOT NULL,
        UNIQUE (beijing_school_id, inner_mongolia_school_id)
    );
    CREATE TABLE series (
        id INTEGER PRIMARY KEY,
        until TEXT NOT NULL,
        except_dates TEXT NOT NULL
    );
    ALTER TABLE sessions ADD COLUMN grade INTEGER;
    ALTER TABLE sessions ADD COLUMN zone TEXT NOT NULL DEFAULT 'Asia/Shanghai';
    ALTER TABLE sessions ADD COLUMN series_id INTEGER REFERENCES series(id);
    CREATE TABLE session_people (
        session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        name TEXT NOT NULL,
        PRIMARY KEY (session_id, position)
    );
    CREATE TABLE session_comparisons (
        session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        side INTEGER NOT NULL CHECK (side IN (0, 1)),
        classroom_id INTEGER NOT NULL REFERENCES classrooms(id),
        title TEXT NOT NULL,
        teacher TEXT NOT NULL,
        PRIMARY KEY (session_id, side)
    );
    CREATE INDEX sessions_by_start ON sessions(start_utc);
    CREATE INDEX session_classrooms_by_classroom ON session_classrooms(classroom_id);
    CREATE INDEX sessions_by_host ON sessions(host_classroom_id);",
    // 3: session ids are never reused (AUTOINCREMENT), so that a link to a cancelled session
    // can never open a later one. SQLite's table rebuild; foreign keys are off while migrating.
    "CREATE TABLE sessions_v3 (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL CHECK (kind IN ('lesson', 'research', 'lecture')),
        title TEXT NOT NULL,
        subject TEXT NOT NULL,
        start_utc INTEGER NOT NULL,
        duration_min INTEGER NOT NULL CHECK (duration_min > 0),
        host_classroom_id INTEGER NOT NULL REFERENCES classrooms(id),
        state TEXT NOT NULL,
        grade INTEGER,
        zone TEXT NOT NULL DEFAULT 'Asia/Shanghai',
        series_id INTEGER REFERENCES series(id)
    );
    INSERT INTO sessions_v3 (id, kind, title, subject, start_utc, duration_min,
                             host_classroom_id, state, grade, zone, series_id)
        SELECT id, kind, title, subject, start_utc, duration_min,
               host_classroom_id, state, grade, zone, series_id FROM sessions;
    DROP TABLE sessions;
    ALTER TABLE sessions_v3 RENAME TO sessions;
    CREATE INDEX sessions_by_start ON sessions(start_utc);
    CREATE INDEX sessions_by_host ON sessions(host_classroom_id);",
    // 4: quality reports, one per ended session (JSON, shaped by `report::QualityReport`).
    "CREATE TABLE session_reports (
        session_id INTEGER PRIMARY KEY REFERENCES sessions(id) ON DELETE CASCADE,
        ended_utc INTEGER NOT NULL,
        body TEXT NOT NULL,
        summary TEXT NOT NULL
    );
    CREATE INDEX reports_by_end ON session_reports(ended_utc);",
    // 5: courseware: each page's image once by its SHA-256, decks of a session listing them.
    "CREATE TABLE courseware_pages (
        digest TEXT PRIMARY KEY,
        image TEXT NOT NULL CHECK (image IN ('png', 'jpeg', 'webp')),
        bytes BLOB NOT NULL
    );
    CREATE TABLE courseware_decks (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        title TEXT NOT NULL,
        created_utc INTEGER NOT NULL
    );
    CREATE INDEX decks_by_session ON courseware_decks(session_id);
    CREATE TABLE courseware_deck_pages (
        deck_id INTEGER NOT NULL REFERENCES courseware_decks(id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        digest TEXT NOT NULL REFERENCES courseware_pages(digest),
        PRIMARY KEY (deck_id, position)
    );",
    // 6: passes (a classroom, a personal link) a host removed from a session.
    "CREATE TABLE session_removals (
        session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        pass TEXT NOT NULL,
        name TEXT NOT NULL,
        removed_utc INTEGER NOT NULL,
        PRIMARY KEY (session_id, pass)
    );",
    // 7: local teacher accounts, for schools without the education platform.
    "CREATE TABLE local_accounts (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        username TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL,
        school_id INTEGER NOT NULL REFERENCES schools(id) ON DELETE CASCADE,
        password_hash TEXT NOT NULL,
        created_utc INTEGER NOT NULL
    );",
    // 8: a lecture's audience size (seats), NULL for no limit.
    "ALTER TABLE sessions ADD COLUMN audience INTEGER CHECK (audience IS NULL OR audience > 0);",
];

fn report_json<T: serde::Serialize>(v: &T) -> Result<String, ScheduleError> {
    serde_json::to_string(v).map_err(|e| ScheduleError::Corrupt {
        what: "quality report",
        value: e.to_string(),
    })
}

fn parse_report(body: &str) -> Result<QualityReport, ScheduleError> {
    serde_json::from_str(body).map_err(|e| ScheduleError::Corrupt {
        what: "quality report",
        value: e.to_string(),
    })
}

/// The SQLite store. Cheap to share behind an `Arc`; each call is one short transaction.
pub struct SqliteStore {
    conn: Mutex<Connection>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SqliteStore")
    }
}

impl SqliteStore {
    /// Opens (creating if absent) the database file and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Self, ScheduleError> {
        Self::init(Connection::open(path)?)
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
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves the connection usable: SQLite rolls back the
        // open transaction when it is dropped.
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` in a write transaction, committed if it returns Ok.
    fn write<T>(
        &self,
        f: impl FnOnce(&Db) -> Result<T, ScheduleError>,
    ) -> Result<T, ScheduleError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = f(&Db(&tx))?;
        tx.commit()?;
        Ok(out)
    }

    fn read<T>(&self, f: impl FnOnce(&Db) -> Result<T, ScheduleError>) -> Result<T, ScheduleError> {
        let conn = self.conn();
        f(&Db(&conn))
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
        let mut conn = self.conn();
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

fn school_row(r: &Row) -> rusqlite::Result<(i64, String, String, String, String)> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
}

fn school_from(row: (i64, String, String, String, String)) -> Result<School, ScheduleError> {
    Ok(School {
        id: SchoolId(row.0),
        name: row.1,
        region: Region::parse(&row.2).ok_or_else(|| corrupt("region", &row.2))?,
        district: row.3,
        timezone: row.4,
    })
}

fn classroom_from(r: &Row) -> rusqlite::Result<Classroom> {
    Ok(Classroom {
        id: ClassroomId(r.get(0)?),
        school: SchoolId(r.get(1)?),
        school_name: r.get(2)?,
        name: r.get(3)?,
        grade: r.get(4)?,
        capacity: r.get(5)?,
    })
}

impl Db<'_> {
    fn school_where(
        &self,
        sql: &str,
        p: impl rusqlite::Params,
    ) -> Result<Vec<School>, ScheduleError> {
        let mut stmt = self.0.prepare_cached(sql)?;
        let rows = stmt
            .query_map(p, school_row)?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter().map(school_from).collect()
    }

    fn classroom_where(
        &self,
        sql: &str,
        p: impl rusqlite::Params,
    ) -> Result<Vec<Classroom>, ScheduleError> {
        let mut stmt = self.0.prepare_cached(sql)?;
        let rows = stmt
            .query_map(p, classroom_from)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// The first session of another id that books `classroom` during [start, end).
    fn clash(
        &self,
        classroom: ClassroomId,
        start: i64,
        end: i64,
        except: Option<SessionId>,
    ) -> Result<Option<ScheduleError>, ScheduleError> {
        let hit: Option<(i64, String, i64, String)> = self
            .0
            .prepare_cached(
                "SELECT s.id, s.title, s.start_utc, s.zone FROM sessions s
                 WHERE s.state IN ('scheduled', 'open', 'live')
                   AND s.start_utc < ?3 AND s.start_utc + s.duration_min * 60 > ?2
                   AND s.id != ?4
                   AND (s.host_classroom_id = ?1 OR EXISTS (
                        SELECT 1 FROM session_classrooms sc
                        WHERE sc.session_id = s.id AND sc.classroom_id = ?1))
                 ORDER BY s.start_utc, s.id LIMIT 1",
            )?
            .query_row(
                params![classroom.0, start, end, except.map_or(-1, |s| s.0)],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?;
        let Some((id, title, start_utc, zone)) = hit else {
            return Ok(None);
        };
        let room = self.classroom(classroom)?;
        Ok(Some(ScheduleError::Clash(Box::new(Clash {
            classroom,
            classroom_name: room.display_name(),
            session: SessionId(id),
            title,
            start_utc,
            start_local: local_datetime(start_utc, &zone),
        }))))
    }

    fn check_bookings(
        &self,
        s: &NewSession,
        start: i64,
        except: Option<SessionId>,
    ) -> Result<(), ScheduleError> {
        let end = start + s.spec.duration_min * 60;
        for c in s.spec.all_classrooms() {
            self.classroom(c)?;
            if let Some(clash) = self.clash(c, start, end, except)? {
                return Err(clash);
            }
        }
        Ok(())
    }

    fn write_participants(&self, id: i64, s: &NewSession) -> Result<(), ScheduleError> {
        for (pos, c) in s.spec.classrooms.iter().enumerate() {
            self.0
                .prepare_cached(
                    "INSERT INTO session_classrooms (session_id, classroom_id, position)
                     VALUES (?1, ?2, ?3)",
                )?
                .execute(params![id, c.0, pos as i64])?;
        }
        for (pos, name) in s.spec.people.iter().enumerate() {
            self.0
                .prepare_cached(
                    "INSERT INTO session_people (session_id, position, name) VALUES (?1, ?2, ?3)",
                )?
                .execute(params![id, pos as i64, name])?;
        }
        if let Some(c) = &s.spec.comparison {
            for (side, l) in [(0, &c.left), (1, &c.right)] {
                self.0
                    .prepare_cached(
                        "INSERT INTO session_comparisons
                         (session_id, side, classroom_id, title, teacher)
                         VALUES (?1, ?2, ?3, ?4, ?5)",
                    )?
                    .execute(params![id, side, l.classroom.0, l.title, l.teacher])?;
            }
        }
        Ok(())
    }

    fn state_of(&self, id: SessionId) -> Result<SessionState, ScheduleError> {
        let state: String = self
            .0
            .prepare_cached("SELECT state FROM sessions WHERE id = ?1")?
            .query_row(params![id.0], |r| r.get(0))
            .optional()?
            .ok_or_else(|| not_found("session", id.0))?;
        SessionState::parse(&state).ok_or_else(|| corrupt("session state", &state))
    }

    /// The school a classroom names, or a field error on `school`.
    fn school_of(&self, c: &NewClassroom) -> Result<School, ScheduleError> {
        self.school(c.school).map_err(|_| {
            ScheduleError::Invalid(vec![crate::FieldError {
                field: "school".into(),
                message: format!("no school with id {}", c.school.0),
            }])
        })
    }

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

    fn ids(&self, sql: &str, p: impl rusqlite::Params) -> Result<Vec<SessionId>, ScheduleError> {
        let mut stmt = self.0.prepare_cached(sql)?;
        let ids = stmt
            .query_map(p, |r| Ok(SessionId(r.get(0)?)))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ids)
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
        self.state_of(r.session)?;
        let body = report_json(r)?;
        // The list of past sessions reads only this, never the (large) body.
        let summary = report_json(&ReportSummary::of(r, String::new()))?;
        self.0
            .prepare_cached(
                "INSERT INTO session_reports (session_id, ended_utc, body, summary)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(session_id) DO UPDATE SET ended_utc = ?2, body = ?3, summary = ?4",
            )?
            .execute(params![r.session.0, r.ended_utc, body, summary])?;
        Ok(())
    }

    fn report(&self, id: SessionId) -> Result<QualityReport, ScheduleError> {
        let body: Option<String> = self
            .0
            .prepare_cached("SELECT body FROM session_reports WHERE session_id = ?1")?
            .query_row(params![id.0], |r| r.get(0))
            .optional()?;
        let Some(body) = body else {
            // Tell a session without a report from one that does not exist.
            self.state_of(id)?;
            return Err(ScheduleError::NotFound {
                what: "report of session",
                id: id.0,
            });
        };
        parse_report(&body)
    }

    fn recent_reports(&self, limit: u32) -> Result<Vec<ReportSummary>, ScheduleError> {
        let mut st = self.0.prepare_cached(
            "SELECT r.summary, s.title FROM session_reports r JOIN sessions s ON s.id = r.session_id
             ORDER BY r.ended_utc DESC, r.session_id DESC LIMIT ?1",
        )?;
        let rows = st.query_map(params![limit], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (summary, title) = row?;
            // One unreadable row is left out (and logged), not the whole list.
            match serde_json::from_str::<ReportSummary>(&summary) {
                Ok(s) => out.push(ReportSummary { title, ..s }),
                Err(e) => tracing::warn!(%title, "unreadable report summary left out: {e}"),
            }
        }
        Ok(out)
    }

    fn add_school(&self, s: &NewSchool) -> Result<School, ScheduleError> {
        s.validate()?;
        self.0
            .prepare_cached(
                "INSERT INTO schools (name, region, district, timezone) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![
                s.name.trim(),
                s.region.as_str(),
                s.district.trim(),
                s.timezone
            ])
            .map_err(|e| constraint(e, &format!("a school named {} exists", s.name), ""))?;
        self.school(SchoolId(self.0.last_insert_rowid()))
    }

    fn school(&self, id: SchoolId) -> Result<School, ScheduleError> {
        self.school_where(
            "SELECT id, name, region, district, timezone FROM schools WHERE id = ?1",
            params![id.0],
        )?
        .pop()
        .ok_or_else(|| not_found("school", id.0))
    }

    fn school_by_name(&self, name: &str) -> Result<Option<School>, ScheduleError> {
        Ok(self
            .school_where(
                "SELECT id, name, region, district, timezone FROM schools WHERE name = ?1",
                params![name.trim()],
            )?
            .pop())
    }

    fn schools(&self) -> Result<Vec<School>, ScheduleError> {
        self.school_where(
            "SELECT id, name, region, district, timezone FROM schools ORDER BY region, name",
            [],
        )
    }

    fn update_school(&self, id: SchoolId, s: &NewSchool) -> Result<School, ScheduleError> {
        s.validate()?;
        let before = self.school(id)?;
        if before.region != s.region
            && self
                .pairs()?
                .iter()
                .any(|p| p.beijing == id || p.inner_mongolia == id)
        {
            return Err(ScheduleError::InUse(format!(
                "{} is paired; delete its pairs before changing its region",
                before.name
            )));
        }
        let n = self
            .0
            .prepare_cached(
                "UPDATE schools SET name = ?2, region = ?3, district = ?4, timezone = ?5
                 WHERE id = ?1",
            )?
            .execute(params![
                id.0,
                s.name.trim(),
                s.region.as_str(),
                s.district.trim(),
                s.timezone
            ])
            .map_err(|e| constraint(e, &format!("a school named {} exists", s.name), ""))?;
        if n == 0 {
            return Err(not_found("school", id.0));
        }
        self.school(id)
    }

    fn delete_school(&self, id: SchoolId) -> Result<(), ScheduleError> {
        self.delete(
            "DELETE FROM schools WHERE id = ?1",
            id.0,
            "school",
            "the school still has classrooms or pairs; delete those first",
        )
    }

    fn add_classroom(&self, c: &NewClassroom) -> Result<Classroom, ScheduleError> {
        c.validate()?;
        let school = self.school_of(c)?;
        self.0
            .prepare_cached(
                "INSERT INTO classrooms (school_id, name, grade, capacity) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![c.school.0, c.name.trim(), c.grade, c.capacity])
            .map_err(|e| {
                constraint(
                    e,
                    &format!("{} already has a classroom named {}", school.name, c.name),
                    "",
                )
            })?;
        self.classroom(ClassroomId(self.0.last_insert_rowid()))
    }

    fn classroom(&self, id: ClassroomId) -> Result<Classroom, ScheduleError> {
        self.classroom_where(
            "SELECT c.id, c.school_id, s.name, c.name, c.grade, c.capacity FROM classrooms c
             JOIN schools s ON s.id = c.school_id WHERE c.id = ?1",
            params![id.0],
        )?
        .pop()
        .ok_or_else(|| not_found("classroom", id.0))
    }

    fn classroom_by_name(
        &self,
        school: SchoolId,
        name: &str,
    ) -> Result<Option<Classroom>, ScheduleError> {
        Ok(self
            .classroom_where(
                "SELECT c.id, c.school_id, s.name, c.name, c.grade, c.capacity FROM classrooms c
                 JOIN schools s ON s.id = c.school_id WHERE c.school_id = ?1 AND c.name = ?2",
                params![school.0, name.trim()],
            )?
            .pop())
    }

    fn classrooms(&self, school: Option<SchoolId>) -> Result<Vec<Classroom>, ScheduleError> {
        self.classroom_where(
            "SELECT c.id, c.school_id, s.name, c.name, c.grade, c.capacity FROM classrooms c
             JOIN schools s ON s.id = c.school_id
             WHERE ?1 IS NULL OR c.school_id = ?1 ORDER BY s.name, c.name",
            params![school.map(|s| s.0)],
        )
    }

    fn update_classroom(
        &self,
        id: ClassroomId,
        c: &NewClassroom,
    ) -> Result<Classroom, ScheduleError> {
        c.validate()?;
        self.school_of(c)?;
        let n = self
            .0
            .prepare_cached(
                "UPDATE classrooms SET school_id = ?2, name = ?3, grade = ?4, capacity = ?5
                 WHERE id = ?1",
            )?
            .execute(params![
                id.0,
                c.school.0,
                c.name.trim(),
                c.grade,
                c.capacity
            ])
            .map_err(|e| {
                constraint(
                    e,
                    &format!("the school already has a classroom named {}", c.name),
                    &format!("no school with id {}", c.school.0),
                )
            })?;
        if n == 0 {
            return Err(not_found("classroom", id.0));
        }
        self.classroom(id)
    }

    fn delete_classroom(&self, id: ClassroomId) -> Result<(), ScheduleError> {
        self.delete(
            "DELETE FROM classrooms WHERE id = ?1",
            id.0,
            "classroom",
            "sessions still list this classroom; remove it from them first",
        )
    }

    fn add_pair(&self, p: &NewPair) -> Result<SchoolPair, ScheduleError> {
        let bj = self.school(p.beijing).ok();
        let im = self.school(p.inner_mongolia).ok();
        let since = p.validate(bj.as_ref(), im.as_ref())?;
        self.0
            .prepare_cached(
                "INSERT INTO school_pairs (beijing_school_id, inner_mongolia_school_id, since)
                 VALUES (?1, ?2, ?3)",
            )?
            .execute(params![p.beijing.0, p.inner_mongolia.0, since.to_string()])
            .map_err(|e| constraint(e, "these two schools are already paired", ""))?;
        let id = PairId(self.0.last_insert_rowid());
        self.pairs()?
            .into_iter()
            .find(|x| x.id == id)
            .ok_or_else(|| not_found("pair", id.0))
    }

    fn pairs(&self) -> Result<Vec<SchoolPair>, ScheduleError> {
        let mut stmt = self.0.prepare_cached(
            "SELECT p.id, p.beijing_school_id, b.name, p.inner_mongolia_school_id, m.name, p.since
             FROM school_pairs p
             JOIN schools b ON b.id = p.beijing_school_id
             JOIN schools m ON m.id = p.inner_mongolia_school_id
             ORDER BY b.name, m.name",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(5)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|r| {
                Ok(SchoolPair {
                    id: PairId(r.0),
                    beijing: SchoolId(r.1),
                    beijing_name: r.2,
                    inner_mongolia: SchoolId(r.3),
                    inner_mongolia_name: r.4,
                    since: r.5.parse().map_err(|_| corrupt("date", &r.5))?,
                })
            })
            .collect()
    }

    fn delete_pair(&self, id: PairId) -> Result<(), ScheduleError> {
        self.delete("DELETE FROM school_pairs WHERE id = ?1", id.0, "pair", "")
    }

    fn add_session(&self, s: &NewSession) -> Result<Vec<Session>, ScheduleError> {
        for start in &s.starts {
            self.check_bookings(s, *start, None)?;
        }
        let series = match &s.weekly {
            Some((until, except)) => {
                let except: Vec<String> = except.iter().map(|d| d.to_string()).collect();
                self.0
                    .prepare_cached("INSERT INTO series (until, except_dates) VALUES (?1, ?2)")?
                    .execute(params![
                        until.to_string(),
                        serde_json::to_string(&except).unwrap_or_default()
                    ])?;
                Some(self.0.last_insert_rowid())
            }
            None => None,
        };
        let mut out = Vec::with_capacity(s.starts.len());
        for start in &s.starts {
            self.0
                .prepare_cached(
                    "INSERT INTO sessions (kind, title, subject, grade, start_utc, duration_min,
                                           zone, host_classroom_id, series_id, audience, state)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 'scheduled')",
                )?
                .execute(params![
                    s.spec.kind.as_str(),
                    s.spec.title,
                    s.spec.subject,
                    s.spec.grade,
                    start,
                    s.spec.duration_min,
                    s.zone,
                    s.spec.host.0,
                    series,
                    s.spec.audience
                ])?;
            let id = self.0.last_insert_rowid();
            self.write_participants(id, s)?;
            out.push(self.session(SessionId(id))?);
        }
        Ok(out)
    }

    fn session(&self, id: SessionId) -> Result<Session, ScheduleError> {
        type SessionRow = (
            String,
            String,
            String,
            Option<u8>,
            i64,
            i64,
            String,
            i64,
            Option<i64>,
            String,
            Option<u32>,
        );
        let row: SessionRow = self
            .0
            .prepare_cached(
                "SELECT kind, title, subject, grade, start_utc, duration_min, zone,
                        host_classroom_id, series_id, state, audience
                 FROM sessions WHERE id = ?1",
            )?
            .query_row(params![id.0], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                    r.get(8)?,
                    r.get(9)?,
                    r.get(10)?,
                ))
            })
            .optional()?
            .ok_or_else(|| not_found("session", id.0))?;
        let classrooms = self
            .0
            .prepare_cached(
                "SELECT classroom_id FROM session_classrooms WHERE session_id = ?1
                 ORDER BY position",
            )?
            .query_map(params![id.0], |r| Ok(ClassroomId(r.get(0)?)))?
            .collect::<Result<Vec<_>, _>>()?;
        let people = self
            .0
            .prepare_cached(
                "SELECT name FROM session_people WHERE session_id = ?1 ORDER BY position",
            )?
            .query_map(params![id.0], |r| r.get(0))?
            .collect::<Result<Vec<String>, _>>()?;
        let sides = self
            .0
            .prepare_cached(
                "SELECT classroom_id, title, teacher FROM session_comparisons
                 WHERE session_id = ?1 ORDER BY side",
            )?
            .query_map(params![id.0], |r| {
                Ok(ComparedLesson {
                    classroom: ClassroomId(r.get(0)?),
                    title: r.get(1)?,
                    teacher: r.get(2)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let comparison = match <[ComparedLesson; 2]>::try_from(sides) {
            Ok([left, right]) => Some(Comparison { left, right }),
            Err(_) => None,
        };
        Ok(Session {
            id,
            spec: SessionSpec {
                kind: SessionKind::parse(&row.0).ok_or_else(|| corrupt("session kind", &row.0))?,
                title: row.1,
                subject: row.2,
                grade: row.3,
                duration_min: row.5,
                host: ClassroomId(row.7),
                classrooms,
                people,
                comparison,
                audience: row.10,
            },
            start_utc: row.4,
            zone: row.6,
            series: row.8.map(SeriesId),
            state: SessionState::parse(&row.9).ok_or_else(|| corrupt("session state", &row.9))?,
        })
    }

    fn sessions(&self, q: &SessionQuery) -> Result<Vec<Session>, ScheduleError> {
        let ids = self.ids(
            "SELECT s.id FROM sessions s
             WHERE s.start_utc < ?2 AND s.start_utc + s.duration_min * 60 > ?1
               AND (?3 IS NULL OR s.host_classroom_id = ?3 OR EXISTS (
                    SELECT 1 FROM session_classrooms sc
                    WHERE sc.session_id = s.id AND sc.classroom_id = ?3))
               AND (?4 IS NULL OR EXISTS (
                    SELECT 1 FROM classrooms c WHERE c.school_id = ?4
                      AND (c.id = s.host_classroom_id OR EXISTS (
                           SELECT 1 FROM session_classrooms sc
                           WHERE sc.session_id = s.id AND sc.classroom_id = c.id))))
             ORDER BY s.start_utc, s.id",
            params![
                q.from,
                q.to,
                q.classroom.map(|c| c.0),
                q.school.map(|s| s.0)
            ],
        )?;
        ids.into_iter().map(|id| self.session(id)).collect()
    }

    fn update_session(&self, id: SessionId, s: &NewSession) -> Result<Session, ScheduleError> {
        let state = self.state_of(id)?;
        if !matches!(state, SessionState::Scheduled | SessionState::Open) {
            return Err(ScheduleError::InUse(format!(
                "the session is {}; only a session that has not started can be changed",
                state.as_str()
            )));
        }
        let [start] = s.starts[..] else {
            return Err(ScheduleError::Invalid(vec![crate::FieldError {
                field: "repeat".into(),
                message: "a change applies to one session; to repeat it, create a new series"
                    .into(),
            }]));
        };
        self.check_bookings(s, start, Some(id))?;
        self.0
            .prepare_cached(
                "UPDATE sessions SET kind = ?2, title = ?3, subject = ?4, grade = ?5,
                        start_utc = ?6, duration_min = ?7, zone = ?8, host_classroom_id = ?9,
                        audience = ?10
                 WHERE id = ?1",
            )?
            .execute(params![
                id.0,
                s.spec.kind.as_str(),
                s.spec.title,
                s.spec.subject,
                s.spec.grade,
                start,
                s.spec.duration_min,
                s.zone,
                s.spec.host.0,
                s.spec.audience
            ])?;
        for table in [
            "DELETE FROM session_classrooms WHERE session_id = ?1",
            "DELETE FROM session_people WHERE session_id = ?1",
            "DELETE FROM session_comparisons WHERE session_id = ?1",
        ] {
            self.0.prepare_cached(table)?.execute(params![id.0])?;
        }
        self.write_participants(id.0, s)?;
        self.session(id)
    }

    fn delete_session(&self, id: SessionId) -> Result<(), ScheduleError> {
        let state = self.state_of(id)?;
        if !matches!(state, SessionState::Scheduled | SessionState::Open) {
            return Err(ScheduleError::InUse(format!(
                "the session is {}; a session that went live is kept for its report",
                state.as_str()
            )));
        }
        self.0
            .prepare_cached("DELETE FROM sessions WHERE id = ?1")?
            .execute(params![id.0])?;
        Ok(())
    }

    fn transition_session_state(
        &self,
        id: SessionId,
        from: &[SessionState],
        to: SessionState,
    ) -> Result<bool, ScheduleError> {
        let current = self.state_of(id)?;
        if !from.contains(&current) {
            return Ok(false);
        }
        self.0
            .prepare_cached("UPDATE sessions SET state = ?2 WHERE id = ?1")?
            .execute(params![id.0, to.as_str()])?;
        Ok(true)
    }

    fn sessions_due_to_open(
        &self,
        now_utc: i64,
        lead_secs: i64,
    ) -> Result<Vec<SessionId>, ScheduleError> {
        self.ids(
            "SELECT id FROM sessions
             WHERE state = 'scheduled' AND start_utc - ?2 <= ?1
               AND start_utc + duration_min * 60 > ?1
             ORDER BY id",
            params![now_utc, lead_secs],
        )
    }

    fn sessions_due_to_end(
        &self,
        now_utc: i64,
        grace_secs: i64,
    ) -> Result<Vec<SessionId>, ScheduleError> {
        self.ids(
            "SELECT id FROM sessions
             WHERE state IN ('scheduled', 'open', 'live')
               AND start_utc + duration_min * 60 + ?2 <= ?1
             ORDER BY id",
            params![now_utc, grace_secs],
        )
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
mod tests {
    use super::*;
    use crate::{SessionDraft, SessionSpec, WeeklyDraft};

    pub(super) fn sample(store: &dyn Store) -> (ClassroomId, ClassroomId, ClassroomId) {
        let bj = store
            .add_school(&NewSchool::new(
                "北京一零一中学怀柔校区",
                Region::Beijing,
                "怀柔区",
            ))
            .unwrap();
        let im = store
            .add_school(&NewSchool::new(
                "四子王旗第一中学",
                Region::InnerMongolia,
                "四子王旗",
            ))
            .unwrap();
        (
            store
                .add_classroom(&NewClassroom::new(bj.id, "初二(3)班"))
                .unwrap()
                .id,
            store
                .add_classroom(&NewClassroom::new(im.id, "初二(1)班"))
                .unwrap()
                .id,
            store
                .add_classroom(&NewClassroom::new(im.id, "初二(2)班"))
                .unwrap()
                .id,
        )
    }

    pub(super) fn lesson(host: ClassroomId, remote: ClassroomId, start: i64) -> NewSession {
        NewSession::single(
            SessionKind::Lesson,
            "勾股定理",
            "数学",
            start,
            45,
            host,
            vec![remote],
        )
    }

    #[test]
    fn sessions_round_trip_and_move_through_their_states() {
        let store = SqliteStore::open_in_memory().unwrap();
        let (host, remote, _) = sample(&store);
        let s = store
            .add_session(&lesson(host, remote, 1_800_000_000))
            .unwrap();
        let id = s[0].id;
        let s = store.session(id).unwrap();
        assert_eq!(s.state, SessionState::Scheduled);
        assert_eq!(s.spec.classrooms, vec![remote]);
        assert!(s.includes(host) && s.includes(remote));
        // Opens when the lead time begins, ends once end + grace has passed.
        assert!(store
            .sessions_due_to_open(1_800_000_000 - 601, 600)
            .unwrap()
            .is_empty());
        assert_eq!(
            store
                .sessions_due_to_open(1_800_000_000 - 600, 600)
                .unwrap(),
            vec![id]
        );
        let end = 1_800_000_000 + 45 * 60;
        assert!(store
            .sessions_due_to_end(end + 599, 600)
            .unwrap()
            .is_empty());
        assert_eq!(store.sessions_due_to_end(end + 600, 600).unwrap(), vec![id]);
        assert!(store
            .transition_session_state(id, &[SessionState::Scheduled], SessionState::Live)
            .unwrap());
        // Only from the listed states: an ended session does not go live again.
        let live = [SessionState::Scheduled, SessionState::Open];
        assert!(!store
            .transition_session_state(id, &live, SessionState::Live)
            .unwrap());
        assert!(store
            .transition_session_state(id, &[SessionState::Live], SessionState::Ended)
            .unwrap());
        assert!(!store
            .transition_session_state(id, &live, SessionState::Live)
            .unwrap());
        assert!(store
            .sessions_due_to_end(end + 600, 600)
            .unwrap()
            .is_empty());
        // A session that went live is kept for its report.
        assert!(matches!(
            store.delete_session(id),
            Err(ScheduleError::InUse(_))
        ));
        assert_eq!(
            store.classroom(remote).unwrap().display_name(),
            "四子王旗第一中学 · 初二(1)班"
        );
    }

    #[test]
    fn a_classroom_cannot_be_booked_twice_at_once() {
        let store = SqliteStore::open_in_memory().unwrap();
        let (host, a, b) = sample(&store);
        let first = store.add_session(&lesson(host, a, 1_800_000_000)).unwrap()[0].id;
        // Same remote classroom, overlapping by one minute.
        let clash = store
            .add_session(&lesson(b, a, 1_800_000_000 + 44 * 60))
            .unwrap_err();
        match clash {
            ScheduleError::Clash(c) => {
                assert_eq!(c.session, first);
                assert_eq!(c.classroom, a);
                assert_eq!(c.start_local, "2027-01-15 16:00");
            }
            other => panic!("expected a clash, got {other}"),
        }
        // The host's classroom counts too; back to back is fine.
        assert!(store
            .add_session(&lesson(b, host, 1_800_000_000 + 30 * 60))
            .is_err());
        store
            .add_session(&lesson(b, a, 1_800_000_000 + 45 * 60))
            .unwrap();
        // Moving a session onto itself is not a clash; onto the other one is.
        let moved = store
            .update_session(first, &lesson(host, a, 1_800_000_000 - 600))
            .unwrap();
        assert_eq!(moved.start_utc, 1_800_000_000 - 600);
        assert!(matches!(
            store.update_session(first, &lesson(host, a, 1_800_000_000 + 50 * 60)),
            Err(ScheduleError::Clash(_))
        ));
        // An ended session frees its classrooms.
        store
            .transition_session_state(first, &[SessionState::Scheduled], SessionState::Ended)
            .unwrap();
        store.add_session(&lesson(b, host, 1_800_000_000)).unwrap();
    }

    #[test]
    fn a_weekly_series_is_one_session_per_week_and_checked_as_a_whole() {
        let store = SqliteStore::open_in_memory().unwrap();
        let (host, a, b) = sample(&store);
        let lookup = |id| {
            let c = store.classroom(id).ok()?;
            let zone = store.school(c.school).ok()?.timezone;
            Some((c, zone))
        };
        let draft = SessionDraft {
            spec: SessionSpec {
                kind: SessionKind::Lesson,
                title: "物理".into(),
                subject: "物理".into(),
                grade: Some(8),
                duration_min: 45,
                host,
                classrooms: vec![a],
                people: vec![],
                comparison: None,
                audience: None,
            },
            start: "2026-03-03 10:00".into(),
            zone: None,
            repeat: Some(WeeklyDraft {
                until: "2026-06-30".into(),
                except: vec!["2026-05-05".into()],
            }),
        };
        let series = store.add_session(&draft.resolve(&lookup).unwrap()).unwrap();
        assert_eq!(series.len(), 18 - 1, "18 Tuesdays, one excepted");
        assert!(series
            .iter()
            .all(|s| s.series == series[0].series && s.series.is_some()));
        assert_eq!(series[9].start_local(), "2026-05-12 10:00");
        // One week of a second series collides: nothing of it is stored.
        let mut other = draft.clone();
        other.spec.host = b;
        other.start = "2026-02-24 10:30".into();
        other.repeat = Some(WeeklyDraft {
            until: "2026-03-10".into(),
            except: vec![],
        });
        let err = store
            .add_session(&other.resolve(&lookup).unwrap())
            .unwrap_err();
        assert!(matches!(err, ScheduleError::Clash(_)), "{err}");
        let all = store.sessions(&SessionQuery::between(0, i64::MAX)).unwrap();
        assert_eq!(all.len(), 17);
        // Listing by school and by classroom.
        let im = store.classroom(a).unwrap().school;
        let q = SessionQuery {
            school: Some(im),
            ..SessionQuery::between(0, i64::MAX)
        };
        assert_eq!(store.sessions(&q).unwrap().len(), 17);
        let q = SessionQuery {
            classroom: Some(b),
            ..SessionQuery::between(0, i64::MAX)
        };
        assert!(store.sessions(&q).unwrap().is_empty());
    }

    #[test]
    fn pairs_join_a_beijing_school_to_an_inner_mongolia_school() {
        let store = SqliteStore::open_in_memory().unwrap();
        sample(&store);
        let bj = store
            .school_by_name("北京一零一中学怀柔校区")
            .unwrap()
            .unwrap();
        let im = store.school_by_name("四子王旗第一中学").unwrap().unwrap();
        let p = store
            .add_pair(&NewPair {
                beijing: bj.id,
                inner_mongolia: im.id,
                since: "2023-09-01".into(),
            })
            .unwrap();
        assert_eq!(p.inner_mongolia_name, "四子王旗第一中学");
        assert!(matches!(
            store.add_pair(&NewPair {
                beijing: bj.id,
                inner_mongolia: im.id,
                since: "2024-09-01".into()
            }),
            Err(ScheduleError::Conflict(_))
        ));
        let wrong = store
            .add_pair(&NewPair {
                beijing: im.id,
                inner_mongolia: bj.id,
                since: "2024-13-01".into(),
            })
            .unwrap_err();
        let ScheduleError::Invalid(fields) = wrong else {
            panic!("{wrong}")
        };
        let names: Vec<_> = fields.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(names, ["beijing", "inner_mongolia", "since"]);
        // A school with classrooms and a pair cannot be deleted; duplicates are refused.
        assert!(matches!(
            store.delete_school(bj.id),
            Err(ScheduleError::InUse(_))
        ));
        assert!(matches!(
            store.add_school(&NewSchool::new(
                "四子王旗第一中学",
                Region::InnerMongolia,
                "x"
            )),
            Err(ScheduleError::Conflict(_))
        ));
        store.delete_pair(p.id).unwrap();
        assert!(store.pairs().unwrap().is_empty());
    }

    #[test]
    fn a_cancelled_sessions_id_is_never_given_to_another() {
        let store = SqliteStore::open_in_memory().unwrap();
        let (host, remote, _) = sample(&store);
        store
            .add_session(&lesson(host, remote, 1_800_000_000))
            .unwrap();
        let last = store
            .add_session(&lesson(host, remote, 1_800_100_000))
            .unwrap()[0]
            .id;
        store.delete_session(last).unwrap();
        let next = store
            .add_session(&lesson(host, remote, 1_800_200_000))
            .unwrap()[0]
            .id;
        assert!(next.0 > last.0, "{next:?} reuses {last:?}");
        // Deleting a session still takes its classroom rows with it.
        store.delete_session(next).unwrap();
        assert!(matches!(
            store.session(next),
            Err(ScheduleError::NotFound { .. })
        ));
        assert!(
            store.delete_classroom(remote).is_err(),
            "still used by the first session"
        );
    }

    #[test]
    fn a_version_2_database_is_migrated_with_its_sessions() {
        let dir = std::env::temp_dir().join(format!("tongbu-mig-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("v2.sqlite");
        let _ = std::fs::remove_file(&path);
        {
            let mut conn = Connection::open(&path).unwrap();
            Migrations::new(MIGRATIONS[..2].iter().map(|sql| M::up(sql)).collect())
                .to_latest(&mut conn)
                .unwrap();
            conn.execute_batch(
                "INSERT INTO schools (id, name, region, district) VALUES (1, 'a', 'beijing', 'd');
                 INSERT INTO classrooms (id, school_id, name) VALUES (1, 1, 'c1'), (2, 1, 'c2');
                 INSERT INTO sessions (id, kind, title, subject, start_utc, duration_min,
                                       host_classroom_id, state)
                     VALUES (7, 'lesson', '旧课', 's', 1800000000, 45, 1, 'scheduled');
                 INSERT INTO session_classrooms VALUES (7, 2, 0);",
            )
            .unwrap();
        }
        let store = SqliteStore::open(&path).unwrap();
        let s = store.session(SessionId(7)).unwrap();
        assert_eq!(
            (s.spec.title.as_str(), s.spec.classrooms.clone()),
            ("旧课", vec![ClassroomId(2)])
        );
        let next = store
            .add_session(&lesson(ClassroomId(1), ClassroomId(2), 1_900_000_000))
            .unwrap()[0]
            .id;
        assert_eq!(next, SessionId(8));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_report_is_kept_with_its_session() {
        let store = SqliteStore::open_in_memory().unwrap();
        let (host, remote, _) = sample(&store);
        let s = store.add_session(&lesson(host, remote, 1_000)).unwrap()[0].id;
        assert!(matches!(
            store.report(s),
            Err(ScheduleError::NotFound {
                what: "report of session",
                ..
            })
        ));
        assert!(matches!(
            store.report(SessionId(999)),
            Err(ScheduleError::NotFound {
                what: "session",
                ..
            })
        ));
        let report = QualityReport {
            session: s,
            first_sample_utc: Some(1_000),
            last_sample_utc: Some(3_400),
            ended_utc: 3_500,
            timeline_step_secs: 5,
            participants: Vec::new(),
        };
        store.save_report(&report).unwrap();
        assert_eq!(store.report(s).unwrap(), report);
        let again = QualityReport {
            ended_utc: 3_600,
            ..report.clone()
        };
        store.save_report(&again).unwrap();
        assert_eq!(store.report(s).unwrap(), again);
        let recent = store.recent_reports(10).unwrap();
        assert_eq!(recent.len(), 1);
        assert_eq!(
            (recent[0].session, recent[0].title.as_str()),
            (s, "勾股定理")
        );
        assert!(store
            .save_report(&QualityReport {
                session: SessionId(999),
                ..report
            })
            .is_err());
    }

    #[test]
    fn atomically_keeps_all_or_nothing() {
        let store = SqliteStore::open_in_memory().unwrap();
        let kept = store
            .atomically(&mut |tx| {
                tx.add_school(&NewSchool::new("a", Region::Beijing, "d"))?;
                Ok(false)
            })
            .unwrap();
        assert!(!kept);
        let failed = store.atomically(&mut |tx| {
            tx.add_school(&NewSchool::new("b", Region::Beijing, "d"))?;
            tx.add_school(&NewSchool::new("b", Region::Beijing, "d"))?;
            Ok(true)
        });
        assert!(failed.is_err());
        assert!(store.schools().unwrap().is_empty());
    }

    #[test]
    fn a_file_database_keeps_what_was_committed_across_reopen() {
        let dir = std::env::temp_dir().join(format!("tongbu-store-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.sqlite");
        let _ = std::fs::remove_file(&path);
        let id = {
            let store = SqliteStore::open(&path).unwrap();
            let (host, remote, _) = sample(&store);
            store.add_session(&lesson(host, remote, 0)).unwrap()[0].id
        };
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(store.session(id).unwrap().spec.kind, SessionKind::Lesson);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
