//! The local accounts table (see [`crate::account`]).

use rusqlite::{params, OptionalExtension, Row};

use super::Db;
use crate::account::{AccountId, LocalAccount, NewLocalAccount};
use crate::{ScheduleError, SchoolId};

const COLUMNS: &str = "a.id, a.username, a.name, a.school_id, s.name, a.created_utc";

fn account(r: &Row) -> rusqlite::Result<LocalAccount> {
    Ok(LocalAccount {
        id: AccountId(r.get(0)?),
        username: r.get(1)?,
        name: r.get(2)?,
        school: SchoolId(r.get(3)?),
        school_name: r.get(4)?,
        created_utc: r.get(5)?,
    })
}

impl Db<'_> {
    pub(super) fn insert_account(
        &self,
        a: &NewLocalAccount,
        created_utc: i64,
    ) -> Result<LocalAccount, ScheduleError> {
        self.school(a.school)?;
        let taken = self
            .0
            .prepare_cached("SELECT 1 FROM local_accounts WHERE username = ?1")?
            .exists(params![a.username])?;
        if taken {
            return Err(ScheduleError::Invalid(vec![crate::FieldError {
                field: "username".into(),
                message: format!("\"{}\" is taken; choose another", a.username),
            }]));
        }
        self.0
            .prepare_cached(
                "INSERT INTO local_accounts (username, name, school_id, password_hash, created_utc)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                a.username,
                a.name.trim(),
                a.school.0,
                a.password_hash,
                created_utc
            ])?;
        let id = self.0.last_insert_rowid();
        self.accounts()?
            .into_iter()
            .find(|x| x.id.0 == id)
            .ok_or(ScheduleError::NotFound {
                what: "account",
                id,
            })
    }

    pub(super) fn accounts(&self) -> Result<Vec<LocalAccount>, ScheduleError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM local_accounts a JOIN schools s ON s.id = a.school_id
             ORDER BY s.name, a.username"
        );
        let rows = self
            .0
            .prepare_cached(&sql)?
            .query_map([], account)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    pub(super) fn account_for_sign_in(
        &self,
        username: &str,
    ) -> Result<Option<(LocalAccount, String)>, ScheduleError> {
        let sql = format!(
            "SELECT {COLUMNS}, a.password_hash FROM local_accounts a
             JOIN schools s ON s.id = a.school_id WHERE a.username = ?1"
        );
        Ok(self
            .0
            .prepare_cached(&sql)?
            .query_row(params![username], |r| Ok((account(r)?, r.get(6)?)))
            .optional()?)
    }

    pub(super) fn update_password(
        &self,
        id: AccountId,
        password_hash: &str,
    ) -> Result<(), ScheduleError> {
        let n = self
            .0
            .prepare_cached("UPDATE local_accounts SET password_hash = ?2 WHERE id = ?1")?
            .execute(params![id.0, password_hash])?;
        if n == 0 {
            return Err(ScheduleError::NotFound {
                what: "account",
                id: id.0,
            });
        }
        Ok(())
    }

    pub(super) fn remove_account(&self, id: AccountId) -> Result<(), ScheduleError> {
        let n = self
            .0
            .prepare_cached("DELETE FROM local_accounts WHERE id = ?1")?
            .execute(params![id.0])?;
        if n == 0 {
            return Err(ScheduleError::NotFound {
                what: "account",
                id: id.0,
            });
        }
        Ok(())
    }
}
