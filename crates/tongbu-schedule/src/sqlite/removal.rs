//! The removals table: passes a host removed from a session (see [`crate::removal`]).

use rusqlite::{params, OptionalExtension};

use super::Db;
use crate::{Pass, Removal, ScheduleError, SessionId};

impl Db<'_> {
    pub(super) fn insert_removal(
        &self,
        session: SessionId,
        pass: &Pass,
        name: &str,
        removed_utc: i64,
    ) -> Result<(), ScheduleError> {
        self.state_of(session)?;
        self.0
            .prepare_cached(
                "INSERT INTO session_removals (session_id, pass, name, removed_utc)
                 VALUES (?1, ?2, ?3, ?4) ON CONFLICT(session_id, pass) DO NOTHING",
            )?
            .execute(params![session.0, pass.key(), name, removed_utc])?;
        Ok(())
    }

    pub(super) fn find_removal(
        &self,
        session: SessionId,
        pass: &Pass,
    ) -> Result<Option<Removal>, ScheduleError> {
        let key = pass.key();
        Ok(self
            .0
            .prepare_cached(
                "SELECT name, removed_utc FROM session_removals
                 WHERE session_id = ?1 AND pass = ?2",
            )?
            .query_row(params![session.0, key], |r| {
                Ok(Removal {
                    session,
                    pass: key.clone(),
                    name: r.get(0)?,
                    removed_utc: r.get(1)?,
                })
            })
            .optional()?)
    }
}

#[cfg(test)]
mod tests {
    use crate::demo::ensure_demo_lesson;
    use crate::{ClassroomId, Pass, SqliteStore, Store};

    #[test]
    fn a_removed_classroom_stays_removed_from_that_session_only_after_reopening() {
        let path = std::env::temp_dir().join(format!("tongbu-removal-{}.db", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let store = SqliteStore::open(&path).unwrap();
        let demo = ensure_demo_lesson(&store, 1_800_000_000).unwrap();
        let (session, other) = (demo.session.id, demo.research.id);
        let pass = Pass::Classroom(demo.classrooms[0]);
        store
            .add_removal(session, &pass, "初二(1)班", 1_800_000_100)
            .unwrap();
        store
            .add_removal(session, &pass, "again", 1_800_000_200)
            .unwrap();
        drop(store);
        let store = SqliteStore::open(&path).unwrap();
        let r = store.removal(session, &pass).unwrap().expect("kept");
        assert_eq!(
            (r.name.as_str(), r.removed_utc),
            ("初二(1)班", 1_800_000_100)
        );
        assert_eq!(
            store.removal(other, &pass).unwrap(),
            None,
            "another session is not barred"
        );
        assert_eq!(
            store
                .removal(session, &Pass::Classroom(ClassroomId(999)))
                .unwrap(),
            None
        );
        assert!(
            store
                .add_removal(crate::SessionId(424242), &pass, "x", 0)
                .is_err(),
            "an unknown session is refused"
        );
        drop(store);
        for ext in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{ext}", path.display()));
        }
    }
}
