//! Local teacher accounts' passwords: hashed with Argon2id (the `argon2` crate's defaults) into a
//! PHC string when an operator creates the account, and checked at sign-in. Both are slow on
//! purpose: callers run them off the async workers.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

/// The PHC string of a new password.
pub fn hash(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// Whether `password` is the one `phc` was made from.
pub fn verify(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// The session key of the credential a local sign-in was made with.
pub(super) const CREDENTIAL: &str = "local_credential";

/// What a session keeps of the password it signed in with: a digest of its PHC string (salted,
/// so a new password — even the same one set again — gives another). The session ends when the
/// account's no longer matches.
pub fn credential(phc: &str) -> String {
    tongbu_schedule::courseware::digest(phc.as_bytes())
}

/// A hash to check against when the user name is unknown, so that an unknown name takes as
/// long as a wrong password.
pub fn decoy() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash("no account has this password").unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_checks_against_its_own_salted_hash_only() {
        let a = hash("长城内外是故乡 2026").unwrap();
        let b = hash("长城内外是故乡 2026").unwrap();
        assert!(a.starts_with("$argon2id$") && a != b, "salted: {a} {b}");
        assert!(verify("长城内外是故乡 2026", &a));
        assert!(!verify("长城内外是故乡 2027", &a));
        assert!(!verify("anything", "not a hash"));
        assert!(!verify("anything", decoy()));
    }
}
