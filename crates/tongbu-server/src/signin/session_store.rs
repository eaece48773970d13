//! Where browser sessions live: a SQLite file of the server's own (`data/sessions.sqlite`), so a
//! restart or an update does not sign every teacher out. One row a session: its id, its data
//! as JSON (the signed-in account, a sign-in under way) and its expiry; expired rows are never
//! loaded and are swept at start and now and then. The schedule's database is not touched:
//! sessions are the HTTP face's own state.

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension};
use tower_sessions::cookie::time::OffsetDateTime;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{Error, Result};
use tower_sessions::SessionStore;

/// The sessions file.
#[derive(Clone)]
pub struct SqliteSessions {
    conn: Arc<Mutex<Connection>>,
}

impl std::fmt::Debug for SqliteSessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SqliteSessions")
    }
}

fn backend(e: impl std::fmt::Display) -> Error {
    Error::Backend(e.to_string())
}

impl SqliteSessions {
    /// Opens (creating if absent) the sessions file and sweeps expired sessions.
    pub fn open(path: &Path) -> rusqlite::Result<Self> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS sessions (
                id TEXT PRIMARY KEY,
                data TEXT NOT NULL,
                expires_utc INTEGER NOT NULL
            );
            CREATE INDEX IF NOT EXISTS sessions_by_expiry ON sessions(expires_utc);",
        )?;
        let s = Self {
            conn: Arc::new(Mutex::new(conn)),
        };
        s.lock().execute(
            "DELETE FROM sessions WHERE expires_utc <= ?1",
            params![now()],
        )?;
        Ok(s)
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` with the connection off the async workers (a write waits for the disk).
    async fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T> {
        let me = self.clone();
        tokio::task::spawn_blocking(move || f(&me.lock()))
            .await
            .map_err(backend)?
            .map_err(backend)
    }
}

fn now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

#[async_trait]
impl SessionStore for SqliteSessions {
    async fn create(&self, record: &mut Record) -> Result<()> {
        let data = serde_json::to_string(&record.data).map_err(|e| Error::Encode(e.to_string()))?;
        let expires = record.expiry_date.unix_timestamp();
        let mut id = record.id;
        // A new id on the (unlikely) collision with a live session's.
        let id = self
            .with(move |c| {
                c.execute("DELETE FROM sessions WHERE expires_utc <= ?1", params![now()])?;
                loop {
                    let n = c.execute(
                        "INSERT OR IGNORE INTO sessions (id, data, expires_utc) VALUES (?1, ?2, ?3)",
                        params![id.to_string(), data, expires],
                    )?;
                    if n == 1 {
                        return Ok(id);
                    }
                    id = Id::default();
                }
            })
            .await?;
        record.id = id;
        Ok(())
    }

    async fn save(&self, record: &Record) -> Result<()> {
        let data = serde_json::to_string(&record.data).map_err(|e| Error::Encode(e.to_string()))?;
        let (id, expires) = (record.id.to_string(), record.expiry_date.unix_timestamp());
        self.with(move |c| {
            c.execute(
                "INSERT INTO sessions (id, data, expires_utc) VALUES (?1, ?2, ?3)
                 ON CONFLICT(id) DO UPDATE SET data = ?2, expires_utc = ?3",
                params![id, data, expires],
            )
            .map(|_| ())
        })
        .await
    }

    async fn load(&self, id: &Id) -> Result<Option<Record>> {
        let (key, id) = (id.to_string(), *id);
        let row: Option<(String, i64)> = self
            .with(move |c| {
                c.query_row(
                    "SELECT data, expires_utc FROM sessions WHERE id = ?1 AND expires_utc > ?2",
                    params![key, now()],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
            })
            .await?;
        let Some((data, expires)) = row else {
            return Ok(None);
        };
        Ok(Some(Record {
            id,
            data: serde_json::from_str(&data).map_err(|e| Error::Decode(e.to_string()))?,
            expiry_date: OffsetDateTime::from_unix_timestamp(expires).map_err(backend)?,
        }))
    }

    async fn delete(&self, id: &Id) -> Result<()> {
        let key = id.to_string();
        self.with(move |c| {
            c.execute("DELETE FROM sessions WHERE id = ?1", params![key])
                .map(|_| ())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_session_survives_reopening_and_an_expired_one_is_gone() {
        let path =
            std::env::temp_dir().join(format!("tongbu-sessions-{}.sqlite", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let store = SqliteSessions::open(&path).unwrap();
        let later = OffsetDateTime::now_utc() + tower_sessions::cookie::time::Duration::hours(1);
        let mut live = Record {
            id: Id::default(),
            data: [("account".to_string(), serde_json::json!({"name": "王老师"}))].into(),
            expiry_date: later,
        };
        store.create(&mut live).await.unwrap();
        let mut old = Record {
            id: Id::default(),
            data: Default::default(),
            expiry_date: OffsetDateTime::now_utc()
                - tower_sessions::cookie::time::Duration::minutes(1),
        };
        store.create(&mut old).await.unwrap();
        drop(store);
        let store = SqliteSessions::open(&path).unwrap();
        let back = store
            .load(&live.id)
            .await
            .unwrap()
            .expect("kept across a restart");
        assert_eq!(back.data, live.data);
        assert_eq!(store.load(&old.id).await.unwrap(), None, "expired");
        store.delete(&live.id).await.unwrap();
        assert_eq!(store.load(&live.id).await.unwrap(), None, "signed out");
        drop(store);
        for ext in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{ext}", path.display()));
        }
    }
}
