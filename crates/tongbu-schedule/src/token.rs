//! Signed join tokens (JWT, HS256): one session, one role, one classroom or person, an expiry.

use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::{ClassroomId, Role, SessionId};

/// What a join token says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JoinClaims {
    /// The one session this token opens.
    pub sid: SessionId,
    pub role: Role,
    /// The classroom joining, for host and classroom roles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classroom: Option<ClassroomId>,
    /// Name shown to the others.
    pub name: String,
    /// Expiry, seconds since the Unix epoch.
    pub exp: i64,
    /// A link many people share (a lecture's audience): no one's own, so removing one who came
    /// by it cannot bar the link (see [`crate::removal`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub shared: bool,
}

/// What a schedule link says: a classroom may see its timetable and join its sessions when
/// they open. Long-lived (a term), kept on the classroom PC.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScheduleClaims {
    pub scope: ScheduleScope,
    pub classroom: ClassroomId,
    /// Expiry, seconds since the Unix epoch.
    pub exp: i64,
}

/// The only scope of a schedule link (required, so that no other token passes for one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScheduleScope {
    Schedule,
}

/// What a replay link says: its holder may watch one session's recordings until it expires
/// (a contest's audience, a research group after the lesson).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplayClaims {
    pub scope: ReplayScope,
    pub sid: SessionId,
    /// Expiry, seconds since the Unix epoch.
    pub exp: i64,
}

/// The only scope of a replay link (required, so that no other token passes for one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplayScope {
    Replay,
}

/// Why a token was refused. The message is shown to the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the join link has expired; ask the teacher or the operator for a new one")]
    Expired,
    #[error(
        "the join link is not valid (tampered or signed by another server); ask for a new one"
    )]
    BadSignature,
    #[error("the join link is malformed: {0}")]
    Malformed(String),
}

/// The secret that signs and verifies join tokens.
#[derive(Clone)]
pub struct TokenKey {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKey(<secret>)")
    }
}

impl TokenKey {
    /// A key from secret bytes (at least 32 of them).
    pub fn from_secret(secret: &[u8]) -> Self {
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
        }
    }

    /// Signs claims into a token.
    pub fn issue(&self, claims: &JoinClaims) -> String {
        self.sign(claims)
    }

    /// Verifies a token's signature and expiry and returns its claims.
    pub fn verify(&self, token: &str) -> Result<JoinClaims, TokenError> {
        self.check(token)
    }

    /// Signs a classroom's schedule link.
    pub fn issue_schedule(&self, claims: &ScheduleClaims) -> String {
        self.sign(claims)
    }

    /// Verifies a schedule link. A join token is not one (it has no `scope`), and a schedule
    /// link is not a join token (it has no session).
    pub fn verify_schedule(&self, token: &str) -> Result<ScheduleClaims, TokenError> {
        self.check(token)
    }

    /// Signs a replay link.
    pub fn issue_replay(&self, claims: &ReplayClaims) -> String {
        self.sign(claims)
    }

    /// Verifies a replay link. Neither a join token nor a schedule link is one (no replay
    /// scope), and a replay link opens no session's media.
    pub fn verify_replay(&self, token: &str) -> Result<ReplayClaims, TokenError> {
        self.check(token)
    }

    fn sign<T: Serialize>(&self, claims: &T) -> String {
        // HS256 over serializable claims cannot fail.
        encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .unwrap_or_else(|e| panic!("signing a token failed: {e}"))
    }

    fn check<T: serde::de::DeserializeOwned>(&self, token: &str) -> Result<T, TokenError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp"]);
        decode::<T>(token, &self.decoding, &validation)
            .map(|d| d.claims)
            .map_err(|e| {
                use jsonwebtoken::errors::ErrorKind;
                match e.kind() {
                    ErrorKind::ExpiredSignature => TokenError::Expired,
                    ErrorKind::InvalidSignature => TokenError::BadSignature,
                    _ => TokenError::Malformed(e.to_string()),
                }
            })
    }
}

impl TokenKey {
    /// Reads the signing secret from `path`, creating a random one (mode 0600) if absent, so that
    /// links survive a restart.
    pub fn load_or_create(path: &std::path::Path) -> Result<Self, crate::ScheduleError> {
        let io_err = |source| crate::ScheduleError::DataDir {
            path: path.display().to_string(),
            source,
        };
        match std::fs::read(path) {
            Ok(secret) if secret.len() >= 32 => return Ok(Self::from_secret(&secret)),
            Ok(_) | Err(_) if path.exists() => {
                return Err(io_err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "the token key file is shorter than 32 bytes; delete it to make a new one",
                )))
            }
            _ => {}
        }
        let secret: [u8; 32] = rand::random();
        write_private(path, &secret).map_err(io_err)?;
        Ok(Self::from_secret(&secret))
    }
}

/// Writes a new secret file readable by its owner only (mode 0600), synced to disk.
pub fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: i64) -> JoinClaims {
        JoinClaims {
            sid: SessionId(1),
            role: Role::Classroom,
            classroom: Some(ClassroomId(3)),
            name: "四子王旗第一中学 · 初二(1)班".into(),
            exp,
            shared: false,
        }
    }

    fn now() -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
    }

    #[test]
    fn a_schedule_link_and_a_join_token_never_pass_for_each_other() {
        let key = TokenKey::from_secret(&[7; 32]);
        let schedule = ScheduleClaims {
            scope: ScheduleScope::Schedule,
            classroom: ClassroomId(3),
            exp: now() + 60,
        };
        let s = key.issue_schedule(&schedule);
        assert_eq!(key.verify_schedule(&s), Ok(schedule));
        assert!(matches!(key.verify(&s), Err(TokenError::Malformed(_))));
        let j = key.issue(&claims(now() + 60));
        assert!(matches!(
            key.verify_schedule(&j),
            Err(TokenError::Malformed(_))
        ));
    }

    #[test]
    fn a_replay_link_opens_recordings_only() {
        let key = TokenKey::from_secret(&[7; 32]);
        let replay = ReplayClaims {
            scope: ReplayScope::Replay,
            sid: SessionId(4),
            exp: now() + 60,
        };
        let r = key.issue_replay(&replay);
        assert_eq!(key.verify_replay(&r), Ok(replay));
        // Not a join token nor a schedule link, and neither of those is a replay link.
        assert!(matches!(key.verify(&r), Err(TokenError::Malformed(_))));
        assert!(matches!(
            key.verify_schedule(&r),
            Err(TokenError::Malformed(_))
        ));
        let j = key.issue(&claims(now() + 60));
        assert!(matches!(
            key.verify_replay(&j),
            Err(TokenError::Malformed(_))
        ));
        // Expired.
        let old = key.issue_replay(&ReplayClaims {
            scope: ReplayScope::Replay,
            sid: SessionId(4),
            exp: now() - 1,
        });
        assert_eq!(key.verify_replay(&old), Err(TokenError::Expired));
    }

    #[test]
    fn round_trip() {
        let key = TokenKey::from_secret(&[7; 32]);
        let c = claims(now() + 60);
        assert_eq!(key.verify(&key.issue(&c)), Ok(c));
    }

    #[test]
    fn expired_tampered_and_foreign_tokens_are_refused_with_a_reason() {
        let key = TokenKey::from_secret(&[7; 32]);
        assert_eq!(
            key.verify(&key.issue(&claims(now() - 5))),
            Err(TokenError::Expired)
        );
        let other = TokenKey::from_secret(&[8; 32]);
        assert_eq!(
            key.verify(&other.issue(&claims(now() + 60))),
            Err(TokenError::BadSignature)
        );
        // Change the role inside the payload, keep the signature.
        let t = key.issue(&claims(now() + 60));
        let parts: Vec<&str> = t.split('.').collect();
        let forged_payload = {
            use std::fmt::Write;
            let json = serde_json::to_string(&JoinClaims {
                role: Role::Host,
                ..claims(now() + 60)
            })
            .unwrap();
            // base64url without padding, by hand to keep the test free of extra crates
            const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
            let b = json.as_bytes();
            let mut s = String::new();
            for c in b.chunks(3) {
                let n = (u32::from(c[0]) << 16)
                    | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
                    | u32::from(*c.get(2).unwrap_or(&0));
                for k in 0..=c.len() {
                    let _ = s.write_char(A[((n >> (18 - 6 * k)) & 63) as usize] as char);
                }
            }
            s
        };
        let forged = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
        assert_eq!(key.verify(&forged), Err(TokenError::BadSignature));
        assert!(matches!(
            key.verify("nonsense"),
            Err(TokenError::Malformed(_))
        ));
    }

    #[test]
    fn the_key_is_created_once_and_reused() {
        let dir = std::env::temp_dir().join(format!("tongbu-key-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("token.key");
        let _ = std::fs::remove_file(&path);
        let a = TokenKey::load_or_create(&path).unwrap();
        let b = TokenKey::load_or_create(&path).unwrap();
        let t = a.issue(&claims(now() + 60));
        assert!(b.verify(&t).is_ok(), "a restart keeps links valid");
        std::fs::write(&path, b"short").unwrap();
        assert!(TokenKey::load_or_create(&path).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
