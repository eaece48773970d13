//! TURN relays for school networks that let only HTTPS out: the browser is given a relay
//! (coturn, TURN over TLS on port 443) among its ICE servers, with a credential minted per join
//! through the TURN REST API's shared secret (coturn's `use-auth-secret`/`static-auth-secret`):
//! `username = "<expiry>:<participant>"`, `credential = base64(HMAC-SHA1(secret, username))`.
//! The relay checks it by itself; nothing is stored, and a credential dies at its expiry.

use base64::Engine;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use tongbu_signal::IceServer;

use crate::config::ConfigError;

/// The relays to offer and the secret shared with them.
#[derive(Clone, PartialEq, Eq)]
pub struct Turn {
    /// `turn:` or `turns:` URLs, e.g. `turns:turn.school.edu.cn:443?transport=tcp`.
    pub urls: Vec<String>,
    secret: String,
    /// How long a minted credential is valid, seconds.
    pub ttl_secs: i64,
}

impl std::fmt::Debug for Turn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Turn")
            .field("urls", &self.urls)
            .field("secret", &"<hidden>")
            .field("ttl_secs", &self.ttl_secs)
            .finish()
    }
}

/// How long a credential lasts unless configured: a morning of lessons.
pub const DEFAULT_TTL_MIN: i64 = 4 * 60;

impl Turn {
    /// From the configuration's values (`TONGBU_TURN_URLS`, comma-separated;
    /// `TONGBU_TURN_SECRET`; `TONGBU_TURN_TTL_MIN`). Both or neither of URLs and secret.
    pub fn from_config(
        urls: Option<String>,
        secret: Option<String>,
        ttl_min: Option<String>,
    ) -> Result<Option<Self>, ConfigError> {
        let (urls, secret) = match (urls, secret) {
            (None, None) => return Ok(None),
            (Some(_), None) => {
                return Err(ConfigError::Invalid {
                    key: "TONGBU_TURN_SECRET (turn.secret)",
                    value: String::new(),
                    expected: "the relay's shared secret (coturn's static-auth-secret) when \
                               TONGBU_TURN_URLS is set",
                })
            }
            (None, Some(_)) => {
                return Err(ConfigError::Invalid {
                    key: "TONGBU_TURN_URLS (turn.urls)",
                    value: String::new(),
                    expected: "the relay's URLs when TONGBU_TURN_SECRET is set",
                })
            }
            (Some(u), Some(s)) => (u, s),
        };
        let list: Vec<String> = urls
            .split(',')
            .map(|u| u.trim().to_string())
            .filter(|u| !u.is_empty())
            .collect();
        let well_formed = |u: &String| {
            let rest = u.strip_prefix("turns:").or_else(|| u.strip_prefix("turn:"));
            rest.is_some_and(|r| !r.is_empty() && !r.starts_with('/'))
        };
        if list.is_empty() || !list.iter().all(well_formed) {
            return Err(ConfigError::Invalid {
                key: "TONGBU_TURN_URLS (turn.urls)",
                value: urls,
                expected: "comma-separated turn: or turns: URLs, such as \
                           turns:turn.example.edu.cn:443?transport=tcp",
            });
        }
        if secret.trim().chars().count() < 16 {
            return Err(ConfigError::Invalid {
                key: "TONGBU_TURN_SECRET (turn.secret)",
                value: "<hidden>".into(),
                expected: "a secret of at least 16 characters, the relay's static-auth-secret",
            });
        }
        let ttl_secs = match ttl_min {
            None => DEFAULT_TTL_MIN * 60,
            Some(v) => v
                .trim()
                .parse::<i64>()
                .ok()
                .filter(|m| (1..=24 * 60).contains(m))
                .map(|m| m * 60)
                .ok_or(ConfigError::Invalid {
                    key: "TONGBU_TURN_TTL_MIN (turn.ttl_min)",
                    value: v,
                    expected: "a number of minutes from 1 to 1440",
                })?,
        };
        Ok(Some(Self {
            urls: list,
            secret: secret.trim().to_string(),
            ttl_secs,
        }))
    }

    /// The ICE server entry for participant `who` at `now` (seconds since the epoch).
    pub fn ice_server(&self, who: u64, now: i64) -> IceServer {
        let username = format!("{}:{who}", now + self.ttl_secs);
        IceServer {
            urls: self.urls.clone(),
            credential: self.credential(&username),
            username,
        }
    }

    /// The password the relay expects for `username`.
    fn credential(&self, username: &str) -> String {
        // HMAC takes a key of any length; this cannot fail.
        let mut mac = Hmac::<Sha1>::new_from_slice(self.secret.as_bytes())
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        mac.update(username.as_bytes());
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    }
}

/// The ICE servers a participant is given (none without a relay configured).
pub fn ice_servers(turn: Option<&Turn>, who: u64, now: i64) -> Vec<IceServer> {
    turn.map(|t| vec![t.ice_server(who, now)])
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn turn() -> Turn {
        Turn::from_config(
            Some("turns:10.0.0.1:443?transport=tcp, turn:10.0.0.1:3478".into()),
            Some("a-shared-secret-of-the-relay".into()),
            None,
        )
        .unwrap()
        .unwrap()
    }

    #[test]
    fn credentials_follow_the_turn_rest_api() {
        let t = turn();
        let s = t.ice_server(42, 1_800_000_000);
        assert_eq!(s.urls.len(), 2);
        assert_eq!(s.username, format!("{}:42", 1_800_000_000 + 4 * 3600));
        // HMAC-SHA1 of the username under the secret, base64: what coturn computes.
        let mut mac = Hmac::<Sha1>::new_from_slice(b"a-shared-secret-of-the-relay").unwrap();
        mac.update(s.username.as_bytes());
        let want = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        assert_eq!(s.credential, want);
        assert_eq!(s.credential.len(), 28, "20 bytes in base64");
        // Another participant, another credential.
        assert_ne!(t.ice_server(43, 1_800_000_000).credential, s.credential);
        assert!(!format!("{t:?}").contains("a-shared-secret"));
    }

    #[test]
    fn a_half_or_bad_relay_config_names_its_key() {
        assert_eq!(Turn::from_config(None, None, None), Ok(None));
        let key = |r: Result<Option<Turn>, ConfigError>| match r {
            Err(ConfigError::Invalid { key, .. }) => key,
            other => panic!("{other:?}"),
        };
        assert!(
            key(Turn::from_config(Some("turns:x:443".into()), None, None))
                .starts_with("TONGBU_TURN_SECRET")
        );
        assert!(key(Turn::from_config(None, Some("x".repeat(20)), None))
            .starts_with("TONGBU_TURN_URLS"));
        assert!(key(Turn::from_config(
            Some("https://x".into()),
            Some("x".repeat(20)),
            None
        ))
        .starts_with("TONGBU_TURN_URLS"));
        assert!(key(Turn::from_config(
            Some("turns:x:443".into()),
            Some("short".into()),
            None
        ))
        .starts_with("TONGBU_TURN_SECRET"));
        assert!(key(Turn::from_config(
            Some("turns:x:443".into()),
            Some("x".repeat(20)),
            Some("0".into())
        ))
        .starts_with("TONGBU_TURN_TTL_MIN"));
    }
}
