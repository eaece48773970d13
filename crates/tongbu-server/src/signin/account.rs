//! Who is signed in: a person of the platform, the school its claims name, whether it is an
//! operator, and the CSRF token of its session.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::Method;
use serde::{Deserialize, Serialize};
use tongbu_schedule::{SchoolId, Store};
use tower_sessions::Session;
use utoipa::ToSchema;

use super::platform::VerifiedClaims;
use super::SignInConfig;
use crate::api::ApiError;
use crate::server::AppState;

/// The session key of the signed-in account.
pub(super) const ACCOUNT: &str = "account";

/// A signed-in person, as the session keeps it and `/api/me` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Account {
    /// The platform's subject identifier.
    pub subject: String,
    pub name: String,
    /// The school its claims name, if Tongbu knows it.
    pub school: Option<SchoolId>,
    pub school_name: Option<String>,
    /// What the school claim said (shown when Tongbu does not know that school).
    pub school_claim: Option<String>,
    pub operator: bool,
    /// Send it back in `X-CSRF-Token` with every state-changing call.
    pub csrf: String,
}

/// A claim's value as text: a string, a number, or the first of an array.
fn text(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s.trim().to_string()).filter(|s| !s.is_empty()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Array(a) => a.iter().find_map(text),
        _ => None,
    }
}

/// Whether a roles claim (a string, space-separated, or an array) holds `role`.
fn has_role(v: Option<&serde_json::Value>, role: &str) -> bool {
    match v {
        Some(serde_json::Value::String(s)) => s.split([' ', ',']).any(|r| r == role),
        Some(serde_json::Value::Array(a)) => a.iter().any(|x| x.as_str() == Some(role)),
        _ => false,
    }
}

/// A session's CSRF token: 32 random bytes, hex.
fn new_csrf() -> String {
    let bytes: [u8; 32] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Account {
    /// The account a verified ID token stands for; the school is looked up by name, or by id
    /// when the claim is a number. Blocking (reads the store).
    pub fn from_claims(
        claims: &VerifiedClaims,
        config: &SignInConfig,
        store: &dyn Store,
    ) -> Result<Self, tongbu_schedule::ScheduleError> {
        let extra = &claims.additional_claims().claims;
        let subject = claims.subject().as_str().to_string();
        let name = claims
            .name()
            .and_then(|n| n.get(None))
            .map(|n| n.as_str().to_string())
            .or_else(|| claims.preferred_username().map(|u| u.as_str().to_string()))
            .unwrap_or_else(|| subject.clone());
        let school_claim = extra.get(&config.school_claim).and_then(text);
        let school = match &school_claim {
            None => None,
            Some(v) => match v.parse::<i64>() {
                Ok(id) => store.school(SchoolId(id)).ok(),
                Err(_) => store.school_by_name(v)?,
            },
        };
        Ok(Self {
            subject,
            name,
            school: school.as_ref().map(|s| s.id),
            school_name: school.map(|s| s.name),
            school_claim,
            operator: has_role(extra.get(&config.role_claim), &config.operator_role),
            csrf: new_csrf(),
        })
    }
}

/// The subject of a local account's sign-in (never a platform subject: those have no `:`
/// prefix of ours).
const LOCAL: &str = "local:";

impl Account {
    /// A local teacher account's sign-in.
    pub fn local(a: &tongbu_schedule::LocalAccount) -> Self {
        Self {
            subject: format!("{LOCAL}{}", a.username),
            name: a.name.clone(),
            school: Some(a.school),
            school_name: Some(a.school_name.clone()),
            school_claim: None,
            operator: false,
            csrf: new_csrf(),
        }
    }
}

/// The signed-in account of a request; refused with 401 without a session, and with 403 for
/// a state-changing method whose `X-CSRF-Token` is not the session's.
#[derive(Debug, Clone)]
pub struct SignedIn(pub Account);

/// Whether two secrets are equal, in time independent of where they differ.
fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl FromRequestParts<Arc<AppState>> for SignedIn {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let not_signed_in = ApiError::Unauthorized(
            "sign in first: open /auth/login (the education platform's sign-in)",
        );
        let Some(session) = parts.extensions.get::<Session>().cloned() else {
            return Err(not_signed_in);
        };
        let account: Account = session
            .get(ACCOUNT)
            .await
            .map_err(|e| ApiError::Internal(format!("the session could not be read: {e}")))?
            .ok_or(not_signed_in)?;
        if let Some(username) = account.subject.strip_prefix(LOCAL) {
            // A local account the operator deleted, or gave a new password, signs out at its
            // next call (whoever knew the old password is out too).
            let store = app.store.clone();
            let name = username.to_string();
            let now = tokio::task::spawn_blocking(move || store.account_for_sign_in(&name))
                .await
                .map_err(|e| ApiError::Internal(e.to_string()))?
                .map_err(ApiError::Schedule)?
                .map(|(_, phc)| super::local::credential(&phc));
            let then: Option<String> = session
                .get(super::local::CREDENTIAL)
                .await
                .map_err(|e| ApiError::Internal(format!("the session could not be read: {e}")))?;
            let why = match now {
                None => Some("this account was deleted by the operator; ask for a new one"),
                Some(now) if then.as_deref() != Some(now.as_str()) => Some(
                    "this account's password was changed by the operator; sign in with the new one",
                ),
                Some(_) => None,
            };
            if let Some(why) = why {
                let _ = session.flush().await;
                return Err(ApiError::Unauthorized(why));
            }
        }
        let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
        if !safe {
            let sent = parts
                .headers
                .get("x-csrf-token")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if !same(sent, &account.csrf) {
                return Err(ApiError::Forbidden(
                    "this call needs the page's X-CSRF-Token (from /api/me); reload the page"
                        .into(),
                ));
            }
        }
        Ok(SignedIn(account))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn claims_as_text_and_roles_as_strings_or_arrays() {
        assert_eq!(
            text(&json!(" 北京一零一中学 ")).as_deref(),
            Some("北京一零一中学")
        );
        assert_eq!(text(&json!(7)).as_deref(), Some("7"));
        assert_eq!(text(&json!(["a", "b"])).as_deref(), Some("a"));
        assert_eq!(text(&json!("")), None);
        assert!(has_role(
            Some(&json!(["teacher", "tongbu-operator"])),
            "tongbu-operator"
        ));
        assert!(has_role(
            Some(&json!("teacher tongbu-operator")),
            "tongbu-operator"
        ));
        assert!(!has_role(
            Some(&json!("tongbu-operators")),
            "tongbu-operator"
        ));
        assert!(!has_role(None, "tongbu-operator"));
        assert!(same("abc", "abc") && !same("abc", "abd") && !same("abc", ""));
    }
}
