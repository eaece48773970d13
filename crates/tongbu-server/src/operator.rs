//! The operator credential: a bearer token that opens the schedule API and session health.

use std::path::Path;

/// The operator's secret.
#[derive(Clone)]
pub struct OperatorKey(String);

impl std::fmt::Debug for OperatorKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OperatorKey(<secret>)")
    }
}

impl OperatorKey {
    pub fn new(secret: String) -> Self {
        Self(secret)
    }

    /// The configured secret, or the one kept in `path` (created with 32 random bytes,
    /// hex-encoded, mode 0600, when absent).
    pub fn load_or_create(configured: Option<&str>, path: &Path) -> std::io::Result<Self> {
        if let Some(s) = configured {
            return Ok(Self(s.to_string()));
        }
        match std::fs::read_to_string(path) {
            Ok(s) if s.trim().len() >= 16 => return Ok(Self(s.trim().to_string())),
            Ok(_) => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!(
                        "{} is shorter than 16 characters; delete it to make a new one",
                        path.display()
                    ),
                ))
            }
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            Err(_) => {}
        }
        let bytes: [u8; 32] = rand::random();
        let secret: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        tongbu_schedule::token::write_private(path, secret.as_bytes())?;
        Ok(Self(secret))
    }

    /// The secret, to show to whoever runs the server (demo mode, first start).
    pub fn secret(&self) -> &str {
        &self.0
    }

    /// Whether `presented` is the secret, compared in time independent of where they differ.
    pub fn matches(&self, presented: &str) -> bool {
        let (a, b) = (self.0.as_bytes(), presented.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_created_secret_is_kept_and_only_it_matches() {
        let dir = std::env::temp_dir().join(format!("tongbu-op-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("operator.token");
        let _ = std::fs::remove_file(&path);
        let a = OperatorKey::load_or_create(None, &path).unwrap();
        let b = OperatorKey::load_or_create(None, &path).unwrap();
        assert!(b.matches(a.secret()));
        assert!(!b.matches(&a.secret()[1..]));
        assert!(!b.matches(""));
        let c = OperatorKey::load_or_create(Some("configured-secret-1234"), &path).unwrap();
        assert!(c.matches("configured-secret-1234") && !c.matches(a.secret()));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
