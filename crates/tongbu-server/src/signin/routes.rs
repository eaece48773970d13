//! `/auth/login`, `/auth/callback`, `/auth/logout` and `/api/me`.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use tower_sessions::cookie::time;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, Session, SessionManagerLayer};

use super::session_store::SqliteSessions;
use tracing::info;

use super::account::{Account, SignedIn, ACCOUNT};
use super::platform::{Pending, Platform};
use super::SignInError;
use crate::api::ApiError;
use crate::server::AppState;

/// The session key of a sign-in under way.
const PENDING: &str = "signin";
/// A session unused this long ends (a school day).
const IDLE: time::Duration = time::Duration::hours(10);
/// Where a sign-in lands when it was not started from a page.
const HOME: &str = "/teacher.html";

/// The sign-in routes; give them [`session_layer`] (with whatever else needs the session).
pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/auth/login", get(login))
        .route("/auth/callback", get(callback))
        .route("/auth/logout", post(logout))
        .route("/auth/local", post(local_sign_in))
        .route("/api/me", get(me))
}

/// The browser session: an HttpOnly, SameSite=Lax cookie (`Secure` behind HTTPS) naming the
/// server-side session, kept in `store` (a restart signs nobody out).
pub fn session_layer(store: SqliteSessions, secure: bool) -> SessionManagerLayer<SqliteSessions> {
    SessionManagerLayer::new(store)
        .with_name("tongbu_session")
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(secure)
        .with_path("/")
        .with_expiry(Expiry::OnInactivity(IDLE))
}

fn platform(app: &AppState) -> Result<&Platform, SignInError> {
    app.signin.as_deref().ok_or(SignInError::NotConfigured)
}

#[derive(Debug, Deserialize)]
struct LoginQuery {
    return_to: Option<String>,
}

/// Only a path of this server (never `//host` or a scheme): no open redirect.
fn local_path(p: Option<String>) -> String {
    match p {
        Some(p) if p.starts_with('/') && !p.starts_with("//") && !p.contains('\\') => p,
        _ => HOME.to_string(),
    }
}

async fn login(
    State(app): State<Arc<AppState>>,
    session: Session,
    Query(q): Query<LoginQuery>,
) -> Result<Redirect, SignInError> {
    let (url, pending) = platform(&app)?.begin(local_path(q.return_to)).await?;
    session.insert(PENDING, pending).await?;
    Ok(Redirect::to(&url))
}

#[derive(Debug, Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

async fn callback(
    State(app): State<Arc<AppState>>,
    session: Session,
    Query(q): Query<CallbackQuery>,
) -> Result<Redirect, SignInError> {
    let platform = platform(&app)?;
    // Taken out at once: an answer is used once, and a replayed one finds nothing.
    let pending: Pending = session
        .remove(PENDING)
        .await?
        .ok_or(SignInError::NoSignInUnderWay)?;
    if let Some(e) = q.error {
        let more = q
            .error_description
            .map(|d| format!(" ({d})"))
            .unwrap_or_default();
        return Err(SignInError::Refused(format!("{e}{more}")));
    }
    if q.state.as_deref() != Some(pending.state.as_str()) {
        return Err(SignInError::StateMismatch);
    }
    let code = q
        .code
        .ok_or_else(|| SignInError::Refused("no code in the answer".into()))?;
    let claims = platform.finish(code, &pending).await?;
    let config = platform.config().clone();
    let store = app.store.clone();
    let account =
        tokio::task::spawn_blocking(move || Account::from_claims(&claims, &config, store.as_ref()))
            .await
            .map_err(|e| SignInError::Session(e.to_string()))?
            .map_err(|e| SignInError::Session(e.to_string()))?;
    // A new session id once signed in: an id planted before cannot ride the sign-in.
    session.cycle_id().await?;
    info!(
        subject = %account.subject,
        school = ?account.school,
        operator = account.operator,
        "signed in"
    );
    session.insert(ACCOUNT, account).await?;
    Ok(Redirect::to(&pending.return_to))
}

/// A local account's sign-in.
#[derive(Deserialize)]
struct LocalSignIn {
    username: String,
    password: String,
}

/// Signs in with a local teacher account (a school without the platform). Wrong names and
/// passwords are answered alike, as slowly, and count toward the address's back-off.
async fn local_sign_in(
    State(app): State<Arc<AppState>>,
    session: Session,
    headers: axum::http::HeaderMap,
    peer: Result<
        axum::extract::ConnectInfo<std::net::SocketAddr>,
        axum::extract::rejection::ExtensionRejection,
    >,
    Json(form): Json<LocalSignIn>,
) -> Result<Response, ApiError> {
    let source = peer
        .ok()
        .map(|p| crate::api::client_address(p.0.ip(), &headers));
    let now = std::time::Instant::now();
    if let Some(ip) = source {
        if let Err(wait) = app.backoff.check(ip, now) {
            return Err(ApiError::TooManyTries(
                crate::credential_backoff::retry_after_secs(wait),
            ));
        }
    }
    let store = app.store.clone();
    let username = form.username.trim().to_lowercase();
    let found = tokio::task::spawn_blocking(move || {
        let found = store.account_for_sign_in(&username);
        let (account, ok) = match found {
            Ok(Some((a, phc))) => {
                let ok = super::local::verify(&form.password, &phc);
                (Some((a, super::local::credential(&phc))), ok)
            }
            Ok(None) => {
                super::local::verify(&form.password, super::local::decoy());
                (None, false)
            }
            Err(e) => return Err(e),
        };
        Ok(account.filter(|_| ok))
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?
    .map_err(ApiError::Schedule)?;
    let Some((local, credential)) = found else {
        if let Some(ip) = source {
            app.backoff.wrong(ip, now);
        }
        return Err(ApiError::Unauthorized(
            "the user name or the password is wrong; the operator can set a new password",
        ));
    };
    if let Some(ip) = source {
        app.backoff.right(ip);
    }
    let account = Account::local(&local);
    session
        .cycle_id()
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    info!(username = %local.username, school = local.school.0, "signed in with a local account");
    session
        .insert(ACCOUNT, account)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    session
        .insert(super::local::CREDENTIAL, credential)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn logout(SignedIn(account): SignedIn, session: Session) -> Result<Response, ApiError> {
    session
        .flush()
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    info!(subject = %account.subject, "signed out");
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Who is signed in (401 if nobody), with the CSRF token for the page's calls.
#[utoipa::path(get, path = "/api/me", tag = "sign-in",
    responses((status = 200, description = "the signed-in person", body = Account),
        (status = 401, description = "not signed in: open /auth/login", body = crate::api::ApiErrorBody)))]
pub async fn me(SignedIn(account): SignedIn) -> Json<Account> {
    Json(account)
}

#[cfg(test)]
mod tests {
    use super::local_path;

    #[test]
    fn a_sign_in_returns_only_to_this_servers_pages() {
        assert_eq!(
            local_path(Some("/teacher.html?x=1".into())),
            "/teacher.html?x=1"
        );
        for bad in [
            "//evil.example",
            "https://evil.example/",
            "/\\evil",
            "teacher.html",
        ] {
            assert_eq!(local_path(Some(bad.into())), "/teacher.html", "{bad}");
        }
        assert_eq!(local_path(None), "/teacher.html");
    }
}
