//! Teachers and operators sign in once, through the education platform (OpenID Connect
//! authorization code flow with PKCE), and keep a server-side session named by an HttpOnly,
//! SameSite=Lax cookie. Every state-changing call made with that session carries the session's
//! CSRF token in `X-CSRF-Token` (the cookie alone is refused).
//!
//! Owns the routes `/auth/login`, `/auth/callback`, `/auth/local`, `/auth/logout` and `/api/me`,
//! the session layer and its store (`data/sessions.sqlite`, [`SqliteSessions`]), and
//! [`SignedIn`], the extractor the teacher API uses. The platform itself (discovery,
//! keys, token checks) is [`platform`]; which claims say a person's school and roles is
//! [`SignInConfig`]. Schools without the platform keep joining with signed links; nothing here
//! touches join tokens.

mod account;
mod config;
pub mod local;
pub mod platform;
pub mod routes;
mod session_store;

pub use account::{Account, SignedIn};
pub use config::{FileSignIn, SignInConfig};
pub use platform::Platform;
pub use routes::{router, session_layer};
pub use session_store::SqliteSessions;

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

/// Why a sign-in failed. Shown to the person as a page that says what to do.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    #[error("sign-in with the education platform is not set up on this server; join with the link your school was given")]
    NotConfigured,
    #[error("the education platform could not be used: {0}; try again in a minute, or tell the operator")]
    Platform(String),
    #[error("this sign-in was not started in this browser, or was finished already; start again")]
    NoSignInUnderWay,
    #[error("the platform's answer does not belong to the sign-in started here (state differs); start again")]
    StateMismatch,
    #[error("the education platform said: {0}")]
    Refused(String),
    #[error("the education platform did not accept the sign-in code (it is used once and expires quickly): {0}; start again")]
    CodeRefused(String),
    #[error("the education platform sent no identity token; tell the operator (the client must be an OpenID Connect client)")]
    NoIdToken,
    #[error(
        "the identity token was refused ({0}); start again, and tell the operator if it persists"
    )]
    BadIdToken(String),
    #[error("the sign-in could not be kept: {0}; try again")]
    Session(String),
}

impl SignInError {
    fn status(&self) -> StatusCode {
        match self {
            SignInError::NotConfigured => StatusCode::NOT_FOUND,
            SignInError::Platform(_) | SignInError::NoIdToken => StatusCode::BAD_GATEWAY,
            SignInError::NoSignInUnderWay | SignInError::StateMismatch => StatusCode::BAD_REQUEST,
            SignInError::Refused(_) | SignInError::CodeRefused(_) | SignInError::BadIdToken(_) => {
                StatusCode::UNAUTHORIZED
            }
            SignInError::Session(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<tower_sessions::session::Error> for SignInError {
    fn from(e: tower_sessions::session::Error) -> Self {
        SignInError::Session(e.to_string())
    }
}

/// Text for HTML, escaped.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

impl IntoResponse for SignInError {
    fn into_response(self) -> Response {
        tracing::warn!("sign-in failed: {self}");
        let page = format!(
            "<!doctype html><html lang=\"zh-CN\"><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width\">\
             <title>登录失败 · Sign-in failed</title><link rel=\"stylesheet\" href=\"/css/app.css\">\
             <main class=\"signin-error\"><h1>登录失败 · Sign-in failed</h1>\
             <p id=\"reason\">{}</p><p><a href=\"/auth/login\">重新登录 · Sign in again</a></p></main></html>",
            escape(&self.to_string())
        );
        (self.status(), Html(page)).into_response()
    }
}
