//! The SQLite store, with versioned migrations applied at open.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use rusqlite::{params, Connection, OptionalExtension};
use rusqlite_migration::{Migrations, M};

use crate::{
    Classroom, ClassroomId, Region, ScheduleError, School, SchoolId, Session, SessionId,
    SessionKind, SessionState,
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
];

/// A session to create.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub kind: SessionKind,
    pub title: String,
    pub subject: String,
    pub start_utc: i64,
    pub duration_min: i64,
    pub host: ClassroomId,
    pub classrooms: Vec<ClassroomId>,
}

/// The schedule's persistent store. Cheap to share behind an `Arc`; each call is one short
/// transaction.
pub struct Store {
    conn: Mutex<Connection>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Store")
    }
}

impl Store {
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
        conn.pragma_update(None, "foreign_keys", "ON")?;
        let migrations = Migrations::new(MIGRATIONS.iter().map(|sql| M::up(sql)).collect());
        migrations.to_latest(&mut conn)?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves the connection usable: SQLite rolls back the
        // open transaction when its statement is dropped.
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a school, or returns the existing one of that name.
    pub fn add_school(
        &self,
        name: &str,
        region: Region,
        district: &str,
    ) -> Result<SchoolId, ScheduleError> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO schools (name, region, district) VALUES (?1, ?2, ?3)
             ON CONFLICT(name) DO NOTHING",
            params![name, region.as_str(), district],
        )?;
        let id = conn.query_row(
            "SELECT id FROM schools WHERE name = ?1",
            params![name],
            |r| r.get(0),
        )?;
        Ok(SchoolId(id))
    }

    /// A school.
    pub fn school(&self, id: SchoolId) -> Result<School, ScheduleError> {
        let row = self
            .conn()
            .query_row(
                "SELECT name, region, district FROM schools WHERE id = ?1",
                params![id.0],
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get(2)?)),
            )
            .optional()?
            .ok_or(ScheduleError::NotFound {
                what: "school",
                id: id.0,
            })?;
        Ok(School {
            id,
            name: row.0,
            region: Region::parse(&row.1).ok_or(ScheduleError::Corrupt {
                what: "region",
                value: row.1.clone(),
            })?,
            district: row.2,
        })
    }

    /// Adds a classroom to a school, or returns the existing one of that name.
    pub fn add_classroom(
        &self,
        school: SchoolId,
        name: &str,
    ) -> Result<ClassroomId, ScheduleError> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO classrooms (school_id, name) VALUES (?1, ?2)
             ON CONFLICT(school_id, name) DO NOTHING",
            params![school.0, name],
        )?;
        let id = conn.query_row(
            "SELECT id FROM classrooms WHERE school_id = ?1 AND name = ?2",
            params![school.0, name],
            |r| r.get(0),
        )?;
        Ok(ClassroomId(id))
    }

    /// A classroom, with its school's name.
    pub fn classroom(&self, id: ClassroomId) -> Result<Classroom, ScheduleError> {
        self.conn()
            .query_row(
                "SELECT c.school_id, s.name, c.name FROM classrooms c
                 JOIN schools s ON s.id = c.school_id WHERE c.id = ?1",
                params![id.0],
                |r| {
                    Ok(Classroom {
                        id,
                        school: SchoolId(r.get(0)?),
                        school_name: r.get(1)?,
                        name: r.get(2)?,
                    })
                },
            )
            .optional()?
            .ok_or(ScheduleError::NotFound {
                what: "classroom",
                id: id.0,
            })
    }

    /// Creates a session in state `scheduled`, atomically with its classroom list.
    pub fn add_session(&self, s: &NewSession) -> Result<SessionId, ScheduleError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute(
            "INSERT INTO sessions (kind, title, subject, start_utc, duration_min,
                                   host_classroom_id, state)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'scheduled')",
            params![
                s.kind.as_str(),
                s.title,
                s.subject,
                s.start_utc,
                s.duration_min,
                s.host.0
            ],
        )?;
        let id = tx.last_insert_rowid();
        for (pos, c) in s.classrooms.iter().enumerate() {
            tx.execute(
                "INSERT INTO session_classrooms (session_id, classroom_id, position)
                 VALUES (?1, ?2, ?3)",
                params![id, c.0, pos as i64],
            )?;
        }
        tx.commit()?;
        Ok(SessionId(id))
    }

    /// A session.
    pub fn session(&self, id: SessionId) -> Result<Session, ScheduleError> {
        let conn = self.conn();
        let row = conn
            .query_row(
                "SELECT kind, title, subject, start_utc, duration_min, host_classroom_id, state
                 FROM sessions WHERE id = ?1",
                params![id.0],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, i64>(3)?,
                        r.get::<_, i64>(4)?,
                        r.get::<_, i64>(5)?,
                        r.get::<_, String>(6)?,
                    ))
                },
            )
            .optional()?
            .ok_or(ScheduleError::NotFound {
                what: "session",
                id: id.0,
            })?;
        let mut stmt = conn.prepare(
            "SELECT classroom_id FROM session_classrooms WHERE session_id = ?1 ORDER BY position",
        )?;
        let classrooms = stmt
            .query_map(params![id.0], |r| Ok(ClassroomId(r.get(0)?)))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Session {
            id,
            kind: SessionKind::parse(&row.0).ok_or(ScheduleError::Corrupt {
                what: "session kind",
                value: row.0.clone(),
            })?,
            title: row.1,
            subject: row.2,
            start_utc: row.3,
            duration_min: row.4,
            host: ClassroomId(row.5),
            classrooms,
            state: SessionState::parse(&row.6).ok_or(ScheduleError::Corrupt {
                what: "session state",
                value: row.6.clone(),
            })?,
        })
    }

    /// Sessions that overlap the interval [from, to) (seconds since the epoch), by start time.
    pub fn sessions_between(&self, from: i64, to: i64) -> Result<Vec<Session>, ScheduleError> {
        let ids: Vec<i64> = {
            let conn = self.conn();
            let mut stmt = conn.prepare(
                "SELECT id FROM sessions
                 WHERE start_utc < ?2 AND start_utc + duration_min * 60 > ?1
                 ORDER BY start_utc, id",
            )?;
            let ids = stmt
                .query_map(params![from, to], |r| r.get(0))?
                .collect::<Result<Vec<_>, _>>()?;
            ids
        };
        ids.into_iter()
            .map(|id| self.session(SessionId(id)))
            .collect()
    }

    /// Moves the session to `to` if it is in one of the states `from` (compare-and-set, so two
    /// racing changes cannot move it backwards). Returns whether it changed; once it returns,
    /// the change is durable and may be announced.
    pub fn transition_session_state(
        &self,
        id: SessionId,
        from: &[SessionState],
        to: SessionState,
    ) -> Result<bool, ScheduleError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let current: Option<String> = tx
            .query_row(
                "SELECT state FROM sessions WHERE id = ?1",
                params![id.0],
                |r| r.get(0),
            )
            .optional()?;
        let Some(current) = current else {
            return Err(ScheduleError::NotFound {
                what: "session",
                id: id.0,
            });
        };
        if !from.iter().any(|s| s.as_str() == current) {
            return Ok(false);
        }
        tx.execute(
            "UPDATE sessions SET state = ?2 WHERE id = ?1",
            params![id.0, to.as_str()],
        )?;
        tx.commit()?;
        Ok(true)
    }

    /// Sessions not yet ended whose end plus `grace_secs` is at or before `now_utc`: they are
    /// due to end by themselves.
    pub fn sessions_due_to_end(
        &self,
        now_utc: i64,
        grace_secs: i64,
    ) -> Result<Vec<SessionId>, ScheduleError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT id FROM sessions
             WHERE state IN ('scheduled', 'open', 'live')
               AND start_utc + duration_min * 60 + ?2 <= ?1
             ORDER BY id",
        )?;
        let ids = stmt
            .query_map(params![now_utc, grace_secs], |r| Ok(SessionId(r.get(0)?)))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(store: &Store) -> (ClassroomId, ClassroomId) {
        let bj = store
            .add_school("北京一零一中学怀柔校区", Region::Beijing, "怀柔区")
            .unwrap();
        let im = store
            .add_school("四子王旗第一中学", Region::InnerMongolia, "四子王旗")
            .unwrap();
        (
            store.add_classroom(bj, "初二(3)班").unwrap(),
            store.add_classroom(im, "初二(1)班").unwrap(),
        )
    }

    #[test]
    fn sessions_round_trip_with_their_classrooms_in_order() {
        let store = Store::open_in_memory().unwrap();
        let (host, remote) = sample(&store);
        let id = store
            .add_session(&NewSession {
                kind: SessionKind::Lesson,
                title: "勾股定理".into(),
                subject: "数学".into(),
                start_utc: 1_800_000_000,
                duration_min: 45,
                host,
                classrooms: vec![remote],
            })
            .unwrap();
        let s = store.session(id).unwrap();
        assert_eq!(s.state, SessionState::Scheduled);
        assert_eq!(s.classrooms, vec![remote]);
        assert!(s.includes(host) && s.includes(remote));
        // Due to end once end + grace has passed, and only while not ended.
        let end = 1_800_000_000 + 45 * 60;
        assert!(store
            .sessions_due_to_end(end + 599, 600)
            .unwrap()
            .is_empty());
        assert_eq!(store.sessions_due_to_end(end + 600, 600).unwrap(), vec![id]);
        assert!(store
            .transition_session_state(id, &[SessionState::Scheduled], SessionState::Live)
            .unwrap());
        assert_eq!(store.session(id).unwrap().state, SessionState::Live);
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
        assert_eq!(store.session(id).unwrap().state, SessionState::Ended);
        assert_eq!(
            store
                .sessions_between(1_800_000_000 + 60, 1_800_000_100)
                .unwrap()
                .len(),
            1
        );
        assert!(
            store
                .sessions_due_to_end(end + 600, 600)
                .unwrap()
                .is_empty(),
            "an ended session is not due to end again"
        );
        assert!(store.sessions_between(0, 1_000).unwrap().is_empty());
        assert_eq!(
            store.classroom(remote).unwrap().display_name(),
            "四子王旗第一中学 · 初二(1)班"
        );
    }

    #[test]
    fn schools_and_classrooms_are_not_duplicated() {
        let store = Store::open_in_memory().unwrap();
        let a = sample(&store);
        let b = sample(&store);
        assert_eq!(a, b);
    }

    #[test]
    fn a_file_database_keeps_what_was_committed_across_reopen() {
        let dir = std::env::temp_dir().join(format!("tongbu-store-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.sqlite");
        let _ = std::fs::remove_file(&path);
        let id = {
            let store = Store::open(&path).unwrap();
            let (host, _) = sample(&store);
            store
                .add_session(&NewSession {
                    kind: SessionKind::Lecture,
                    title: "t".into(),
                    subject: "s".into(),
                    start_utc: 0,
                    duration_min: 1,
                    host,
                    classrooms: vec![],
                })
                .unwrap()
        };
        let store = Store::open(&path).unwrap();
        assert_eq!(store.session(id).unwrap().kind, SessionKind::Lecture);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
