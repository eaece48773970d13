//! Local teacher accounts, for schools without the education platform: an operator creates
//! one (a user name, the teacher's name, its school, a password the server hashes), and the
//! teacher signs in with it to the same pages a platform sign-in opens. Only the password's
//! hash is kept; this crate never sees the password.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::validate::Problems;
use crate::{ScheduleError, SchoolId};

/// A local account's id in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(transparent)]
pub struct AccountId(pub i64);

/// A local teacher account, as listed (never with its hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct LocalAccount {
    pub id: AccountId,
    /// What the teacher types to sign in.
    pub username: String,
    /// Shown on the pages ("王老师").
    pub name: String,
    pub school: SchoolId,
    pub school_name: String,
    pub created_utc: i64,
}

/// An account to create: `password_hash` is a PHC string made by the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLocalAccount {
    pub username: String,
    pub name: String,
    pub school: SchoolId,
    pub password_hash: String,
}

/// The shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 10;

/// Checks what a person typed for a new account; problems named by field.
pub fn validate(username: &str, name: &str, password: &str) -> Result<(), ScheduleError> {
    let mut p = Problems::default();
    let ok_user = (3..=40).contains(&username.chars().count())
        && username
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c));
    if !ok_user {
        p.add(
            "username",
            "3 to 40 characters: lower-case letters, digits, '.', '_' or '-' (e.g. wang.li)",
        );
    }
    p.text("name", name, 100);
    check_password(&mut p, password);
    p.into_result()
}

/// Checks a new password of an existing account.
pub fn validate_password(password: &str) -> Result<(), ScheduleError> {
    let mut p = Problems::default();
    check_password(&mut p, password);
    p.into_result()
}

fn check_password(p: &mut Problems, password: &str) {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        p.add(
            "password",
            format!("at least {MIN_PASSWORD_CHARS} characters; a phrase is easier to remember"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_username_is_plain_a_name_shows_a_password_is_long() {
        assert!(
            validate("wang.li", "王老师", "长城内外是故乡的歌").is_err(),
            "9 characters"
        );
        assert!(validate("wang.li", "王老师", "a long enough phrase").is_ok());
        let ScheduleError::Invalid(f) = validate("Wang Li", " ", "short").unwrap_err() else {
            panic!("field errors")
        };
        let fields: Vec<_> = f.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["username", "name", "password"]);
    }
}
