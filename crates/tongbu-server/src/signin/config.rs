//! The sign-in settings: which education platform (an OpenID Connect issuer), this server's
//! client there, and which of the platform's claims say a teacher's school and roles.

use serde::Deserialize;

use crate::config::ConfigError;

/// `[signin]` in the configuration file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSignIn {
    pub issuer: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub public_url: Option<String>,
    pub school_claim: Option<String>,
    pub role_claim: Option<String>,
    pub operator_role: Option<String>,
}

/// How teachers sign in. Absent: no platform (schools use their signed links).
#[derive(Clone, PartialEq, Eq)]
pub struct SignInConfig {
    /// The platform's issuer URL (its `/.well-known/openid-configuration` is read).
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    /// The address browsers reach this server at; the platform sends them back to
    /// `{public_url}/auth/callback`, which must be registered with it.
    pub public_url: String,
    /// The claim that names a teacher's school: its name in Tongbu, or its id.
    pub school_claim: String,
    /// The claim that lists a person's roles or groups (a string or an array of them).
    pub role_claim: String,
    /// The role (in `role_claim`) that makes a person an operator.
    pub operator_role: String,
}

impl std::fmt::Debug for SignInConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignInConfig")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<hidden>")
            .field("public_url", &self.public_url)
            .field("school_claim", &self.school_claim)
            .field("role_claim", &self.role_claim)
            .field("operator_role", &self.operator_role)
            .finish()
    }
}

/// An absolute http(s) URL without a query or fragment, its trailing `/` taken off.
fn base_url(key: &'static str, v: String) -> Result<String, ConfigError> {
    let bad = |value: String| ConfigError::Invalid {
        key,
        value,
        expected: "an absolute http:// or https:// URL such as https://tongbu.example.edu.cn",
    };
    let t = v.trim().trim_end_matches('/');
    let rest = t
        .strip_prefix("https://")
        .or_else(|| t.strip_prefix("http://"));
    match rest {
        Some(r) if !r.is_empty() && !r.contains(['?', '#', ' ']) => Ok(t.to_string()),
        _ => Err(bad(v)),
    }
}

impl SignInConfig {
    /// Reads the settings: `TONGBU_OIDC_ISSUER` turns sign-in on, and then the client's id and
    /// secret are required. `pick(key, file value)` gives the environment's value first.
    pub fn load(
        pick: impl Fn(&str, Option<String>) -> Option<String>,
        f: FileSignIn,
        http: std::net::SocketAddr,
    ) -> Result<Option<Self>, ConfigError> {
        let nonempty = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
        let Some(issuer) = nonempty(pick("TONGBU_OIDC_ISSUER", f.issuer)) else {
            return Ok(None);
        };
        let issuer = base_url("TONGBU_OIDC_ISSUER (signin.issuer)", issuer)?;
        let required = |key: &'static str, v: Option<String>, expected: &'static str| {
            nonempty(v)
                .map(|s| s.trim().to_string())
                .ok_or(ConfigError::Invalid {
                    key,
                    value: "(missing)".into(),
                    expected,
                })
        };
        let client_id = required(
            "TONGBU_OIDC_CLIENT_ID (signin.client_id)",
            pick("TONGBU_OIDC_CLIENT_ID", f.client_id),
            "the client id the education platform gave this server",
        )?;
        let client_secret = required(
            "TONGBU_OIDC_CLIENT_SECRET (signin.client_secret)",
            pick("TONGBU_OIDC_CLIENT_SECRET", f.client_secret),
            "the client secret the education platform gave this server",
        )?;
        let public_url = match nonempty(pick("TONGBU_PUBLIC_URL", f.public_url)) {
            Some(v) => base_url("TONGBU_PUBLIC_URL (signin.public_url)", v)?,
            None if http.ip().is_loopback() => format!("http://{http}"),
            None => {
                return Err(ConfigError::Invalid {
                    key: "TONGBU_PUBLIC_URL (signin.public_url)",
                    value: "(missing)".into(),
                    expected:
                        "the https:// address browsers reach this server at (sign-in returns there)",
                })
            }
        };
        let claim = |key: &str, v: Option<String>, default: &str| {
            nonempty(pick(key, v)).map_or_else(|| default.to_string(), |s| s.trim().to_string())
        };
        Ok(Some(Self {
            issuer,
            client_id,
            client_secret,
            public_url,
            school_claim: claim("TONGBU_OIDC_SCHOOL_CLAIM", f.school_claim, "school"),
            role_claim: claim("TONGBU_OIDC_ROLE_CLAIM", f.role_claim, "roles"),
            operator_role: claim(
                "TONGBU_OIDC_OPERATOR_ROLE",
                f.operator_role,
                "tongbu-operator",
            ),
        }))
    }

    /// Where the platform sends browsers back.
    pub fn callback_url(&self) -> String {
        format!("{}/auth/callback", self.public_url)
    }

    /// Whether the session cookie must be `Secure` (the server is reached over HTTPS).
    pub fn secure_cookie(&self) -> bool {
        self.public_url.starts_with("https://")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn load(env: &[(&str, &str)], http: &str) -> Result<Option<SignInConfig>, ConfigError> {
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        SignInConfig::load(
            |k, file| env.get(k).cloned().or(file),
            FileSignIn::default(),
            http.parse().unwrap(),
        )
    }

    #[test]
    fn off_without_an_issuer_and_complete_or_refused_naming_the_key_with_one() {
        assert!(load(&[], "127.0.0.1:8080").unwrap().is_none());
        let issuer = ("TONGBU_OIDC_ISSUER", "https://id.example.edu.cn/");
        let e = load(&[issuer], "127.0.0.1:8080").unwrap_err().to_string();
        assert!(e.contains("TONGBU_OIDC_CLIENT_ID"), "{e}");
        let e = load(
            &[("TONGBU_OIDC_ISSUER", "id.example.edu.cn")],
            "127.0.0.1:8080",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("TONGBU_OIDC_ISSUER"), "{e}");
        let full = [
            issuer,
            ("TONGBU_OIDC_CLIENT_ID", "tongbu"),
            ("TONGBU_OIDC_CLIENT_SECRET", "s3cret"),
        ];
        let c = load(&full, "127.0.0.1:8080").unwrap().unwrap();
        assert_eq!(c.issuer, "https://id.example.edu.cn");
        assert_eq!(c.callback_url(), "http://127.0.0.1:8080/auth/callback");
        assert_eq!(
            (c.school_claim.as_str(), c.role_claim.as_str()),
            ("school", "roles")
        );
        assert!(
            !format!("{c:?}").contains("s3cret"),
            "the secret is not logged"
        );
        // On a network address the public URL must be told.
        let e = load(&full, "0.0.0.0:443").unwrap_err().to_string();
        assert!(e.contains("TONGBU_PUBLIC_URL"), "{e}");
        let mut with_url = full.to_vec();
        with_url.push(("TONGBU_PUBLIC_URL", "https://tongbu.example.edu.cn/"));
        let c = load(&with_url, "0.0.0.0:443").unwrap().unwrap();
        assert!(c.secure_cookie());
        assert_eq!(
            c.callback_url(),
            "https://tongbu.example.edu.cn/auth/callback"
        );
    }
}
