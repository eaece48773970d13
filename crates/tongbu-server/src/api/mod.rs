//! The REST API (`/api/…`): schools, classrooms, pairs, sessions, join links, start/end, and the
//! OpenAPI document generated from these handlers (`/api/openapi.json`).
//!
//! A classroom reads its own timetable with its schedule link (`/api/timetable?token=`).
//! Everything else needs the operator credential (`Authorization: Bearer <operator token>`) and is
//! checked field by field: a 400 names each bad field, a 409 names the clashing session.

mod accounts;
mod catalog;
mod courseware;
mod error;
mod import;
mod recordings;
mod reports;
mod sessions;
mod teacher;
mod teacher_sessions;
mod timetable;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use tongbu_schedule::{FieldError, ScheduleError, Store};
use tower_http::limit::RequestBodyLimitLayer;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

pub use error::{ApiError, ApiErrorBody};
pub use sessions::SessionView;
pub use timetable::{schedule_link, ScheduleLink};

use crate::server::AppState;

/// The `/api` routes of the schedule.
pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/openapi.json", get(openapi_json))
        .route(
            "/api/schools",
            get(catalog::list_schools).post(catalog::create_school),
        )
        .route(
            "/api/schools/{id}",
            get(catalog::get_school)
                .put(catalog::update_school)
                .delete(catalog::delete_school),
        )
        .route(
            "/api/classrooms",
            get(catalog::list_classrooms).post(catalog::create_classroom),
        )
        .route(
            "/api/classrooms/{id}",
            get(catalog::get_classroom)
                .put(catalog::update_classroom)
                .delete(catalog::delete_classroom),
        )
        .route(
            "/api/pairs",
            get(catalog::list_pairs).post(catalog::create_pair),
        )
        .route(
            "/api/accounts",
            get(accounts::list_accounts).post(accounts::create_account),
        )
        .route(
            "/api/accounts/{id}",
            axum::routing::delete(accounts::delete_account),
        )
        .route(
            "/api/accounts/{id}/password",
            axum::routing::put(accounts::set_account_password),
        )
        .route(
            "/api/pairs/{id}",
            axum::routing::delete(catalog::delete_pair),
        )
        .route(
            "/api/sessions",
            get(sessions::list_sessions).post(sessions::create_session),
        )
        .route(
            "/api/sessions/{id}",
            get(sessions::get_session)
                .put(sessions::update_session)
                .delete(sessions::delete_session),
        )
        .route("/api/sessions/{id}/links", post(sessions::session_links))
        .route("/api/sessions/{id}/whip", post(sessions::session_whip))
        .route(
            "/api/sessions/{id}/recording",
            post(recordings::switch_recording),
        )
        .route(
            "/api/sessions/{id}/recordings",
            get(recordings::list_recordings),
        )
        .route(
            "/api/sessions/{id}/replay-link",
            post(recordings::replay_link),
        )
        .route(
            "/api/sessions/{id}/recordings/{recording}/{name}",
            get(recordings::recorded_file),
        )
        .route("/api/sessions/{id}/start", post(sessions::start_session))
        .route("/api/sessions/{id}/end", post(sessions::end_session))
        .route("/api/sessions/{id}/health", get(sessions::session_health))
        .route(
            "/api/sessions/{id}/health/live",
            get(crate::session_health::live),
        )
        .route("/api/live", get(reports::live_sessions))
        .route("/api/live-ticket", post(crate::tickets::live_ticket))
        .route("/api/sessions/{id}/report", get(reports::report))
        .route("/api/sessions/{id}/report.csv", get(reports::report_csv))
        .route("/api/reports", get(reports::recent))
        .route("/api/timetable", get(timetable::timetable))
        .route(
            "/api/classrooms/{id}/schedule-link",
            post(timetable::create_schedule_link),
        )
        .route("/api/timetable/import", post(import::import_timetable))
        // A body declared larger than it may be is refused (413) before a byte of it is read.
        .layer(RequestBodyLimitLayer::new(MAX_BODY))
        .merge(
            Router::new()
                .route(
                    "/api/courseware",
                    get(courseware::list)
                        .post(courseware::upload)
                        .layer(DefaultBodyLimit::max(MAX_UPLOAD)),
                )
                .layer(RequestBodyLimitLayer::new(MAX_UPLOAD)),
        )
        .route("/api/courseware/pages/{digest}", get(courseware::page))
}

/// The routes of a signed-in teacher (they read the browser session: give them the session
/// layer, [`crate::signin::session_layer`]).
pub fn teacher_router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/teacher/lessons", get(teacher::my_lessons))
        .route("/api/teacher/qr.svg", get(teacher::qr_code))
        .route(
            "/api/teacher/classrooms",
            get(teacher_sessions::teacher_classrooms),
        )
        .route(
            "/api/teacher/sessions",
            post(teacher_sessions::create_lesson),
        )
        .route(
            "/api/teacher/sessions/{id}",
            get(teacher_sessions::get_lesson)
                .put(teacher_sessions::update_lesson)
                .delete(teacher_sessions::cancel_lesson),
        )
        .layer(RequestBodyLimitLayer::new(MAX_BODY))
}

/// The largest request body of the API but courseware (a term's timetable is well below).
pub const MAX_BODY: usize = 2 << 20;
/// The largest courseware upload: a deck's pages together, and the form's own bytes.
pub const MAX_UPLOAD: usize = tongbu_schedule::courseware::MAX_DECK_BYTES + 64 * 1024;

/// The OpenAPI document of the schedule API.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Tongbu schedule API",
        description = "Schools, classrooms, school pairs, sessions (joint lessons, research sessions, lectures), join links. Writes need the operator credential."
    ),
    paths(
        catalog::list_schools, catalog::create_school, catalog::get_school,
        catalog::update_school, catalog::delete_school,
        catalog::list_classrooms, catalog::create_classroom, catalog::get_classroom,
        catalog::update_classroom, catalog::delete_classroom,
        catalog::list_pairs, catalog::create_pair, catalog::delete_pair,
        accounts::list_accounts, accounts::create_account, accounts::delete_account,
        accounts::set_account_password,
        sessions::list_sessions, sessions::create_session, sessions::get_session,
        sessions::update_session, sessions::delete_session, sessions::session_links,
        sessions::session_whip,
        recordings::switch_recording, recordings::list_recordings, recordings::recorded_file,
        recordings::replay_link,
        sessions::start_session, sessions::end_session, sessions::session_health,
        timetable::timetable, timetable::create_schedule_link, import::import_timetable,
        reports::live_sessions, reports::report, reports::report_csv, reports::recent,
        crate::tickets::live_ticket,
        courseware::upload, courseware::list, courseware::page,
        teacher::my_lessons, teacher::qr_code, crate::signin::routes::me,
        teacher_sessions::teacher_classrooms, teacher_sessions::create_lesson, teacher_sessions::get_lesson,
        teacher_sessions::update_lesson, teacher_sessions::cancel_lesson,
    ),
    modifiers(&OperatorAuth),
    tags(
        (name = "catalog", description = "Schools, classrooms and school pairs"),
        (name = "sessions", description = "Lessons, research sessions and lectures; join links"),
        (name = "health", description = "Live session health and post-session quality reports"),
        (name = "teacher", description = "A teacher signed in with the education platform: the school's lessons and their links"),
        (name = "sign-in", description = "Who is signed in (GET /auth/login starts a sign-in with the education platform)"),
        (name = "recordings", description = "A session recorded as it is forwarded: one WebM file per published track, served with byte ranges"),
        (name = "courseware", description = "Slides uploaded once as images and fetched ahead by every classroom; the page turn is a signaling message")
    )
)]
pub struct ApiDoc;

struct OperatorAuth;

impl Modify for OperatorAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(c) = openapi.components.as_mut() {
            c.add_security_scheme(
                "operator",
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .description(Some(
                            "The operator token (TONGBU_OPERATOR_TOKEN, or data/operator.token)",
                        ))
                        .build(),
                ),
            );
            c.add_security_scheme(
                "join_token",
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .description(Some(
                            "A participant's join token (the `token` of its lesson link)",
                        ))
                        .build(),
                ),
            );
            c.add_security_scheme(
                "signin",
                SecurityScheme::ApiKey(utoipa::openapi::security::ApiKey::Cookie(
                    utoipa::openapi::security::ApiKeyValue::with_description(
                        "tongbu_session",
                        "The browser session of a sign-in with the education platform                          (GET /auth/login); state-changing calls also send X-CSRF-Token",
                    ),
                )),
            );
        }
    }
}

async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

/// The token of an `Authorization: Bearer <token>` header (the scheme in any case, RFC 9110).
pub fn bearer(headers: &axum::http::HeaderMap) -> Option<&str> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// Who sent a request: the peer, or, when the peer is this machine's loopback (the reverse
/// proxy of deploy/nginx), the address the proxy appended last to `X-Forwarded-For`. Behind a
/// proxy every request comes from 127.0.0.1; without this, one guesser would make every
/// operator wait. A loopback peer can only be this machine, which is trusted anyway.
pub fn client_address(peer: std::net::IpAddr, headers: &axum::http::HeaderMap) -> std::net::IpAddr {
    if !peer.is_loopback() {
        return peer;
    }
    headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .last()
        .and_then(|a| a.trim().parse().ok())
        .unwrap_or(peer)
}

/// Proof that the request carries the operator credential.
pub struct Operator;

impl FromRequestParts<Arc<AppState>> for Operator {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        // An operator signed in with the education platform (its role claim says so) needs no
        // bearer token: its session, and the CSRF token for a change.
        if bearer(&parts.headers).is_none() {
            match crate::signin::SignedIn::from_request_parts(parts, app).await {
                Ok(crate::signin::SignedIn(a)) if a.operator => return Ok(Operator),
                Ok(_) => {
                    return Err(ApiError::Forbidden(
                        "your platform account is not an operator's (its role claim lacks the operator role)"
                            .into(),
                    ))
                }
                // Signed in, but a change without the session's CSRF token.
                Err(e @ ApiError::Forbidden(_)) => return Err(e),
                // Not signed in: the bearer token decides (below).
                Err(_) => {}
            }
        }
        check_operator(app, &parts.headers, &parts.extensions).map(|()| Operator)
    }
}

/// Whether a request carries the operator credential, with back-off on wrong ones per source
/// address ([`crate::credential_backoff`]): while an address waits, its credential is not checked
/// and it gets 429 with `Retry-After`.
pub fn check_operator(
    app: &AppState,
    headers: &axum::http::HeaderMap,
    extensions: &axum::http::Extensions,
) -> Result<(), ApiError> {
    let source = extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| client_address(c.0.ip(), headers));
    let now = std::time::Instant::now();
    if let Some(ip) = source {
        if let Err(wait) = app.backoff.check(ip, now) {
            return Err(ApiError::TooManyTries(
                crate::credential_backoff::retry_after_secs(wait),
            ));
        }
    }
    match bearer(headers) {
        Some(p) if app.operator.matches(p) => {
            if let Some(ip) = source {
                app.backoff.right(ip);
            }
            Ok(())
        }
        Some(_) => {
            if let Some(ip) = source {
                app.backoff.wrong(ip, now);
            }
            Err(ApiError::Unauthorized("the operator token is not valid"))
        }
        None => Err(ApiError::Unauthorized(
            "this needs the operator credential: send Authorization: Bearer <operator token>",
        )),
    }
}

/// The `{id}` of a path, refused with a field error when it is not a number.
pub struct Id(pub i64);

impl<S: Send + Sync> FromRequestParts<S> for Id {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<i64>::from_request_parts(parts, state)
            .await
            .map(|p| Id(p.0))
            .map_err(|_| ApiError::body("id", "the id in the path must be a number".into()))
    }
}

/// A JSON body whose errors name the field (`classrooms[2]: invalid type …`).
pub struct Body<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| ApiError::body("body", e.body_text()))?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::body("body", "a JSON body is required".into()));
        }
        let de = &mut serde_json::Deserializer::from_slice(&bytes);
        serde_path_to_error::deserialize(de).map(Body).map_err(|e| {
            let path = e.path().to_string();
            let message = e.inner().to_string();
            ApiError::body(&field_of(&path, &message), message)
        })
    }
}

/// The field a serde error is about: its path, completed by the name in "missing field `x`"
/// or "unknown field `x`".
fn field_of(path: &str, message: &str) -> String {
    let named = ["missing field `", "unknown field `"]
        .iter()
        .find_map(|p| message.strip_prefix(p))
        .and_then(|rest| rest.split('`').next());
    match (path, named) {
        (p, Some(n)) if p == n || p.ends_with(&format!(".{n}")) => p.to_string(),
        (".", Some(n)) => n.to_string(),
        (p, Some(n)) => format!("{p}.{n}"),
        (".", None) => "body".to_string(),
        (p, None) => p.to_string(),
    }
}

/// Runs a store call off the async workers (SQLite writes wait for fsync).
pub async fn db<T: Send + 'static>(
    app: &Arc<AppState>,
    f: impl FnOnce(&dyn Store) -> Result<T, ScheduleError> + Send + 'static,
) -> Result<T, ApiError> {
    let store = app.store.clone();
    tokio::task::spawn_blocking(move || f(store.as_ref()))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(ApiError::from)
}

pub(crate) fn field(field: &str, message: impl Into<String>) -> FieldError {
    FieldError {
        field: field.into(),
        message: message.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_errors_name_their_field() {
        assert_eq!(
            field_of(".", "missing field `title` at line 1 column 2"),
            "title"
        );
        assert_eq!(field_of("repeat", "missing field `until`"), "repeat.until");
        assert_eq!(
            field_of("city", "unknown field `city`, expected one of"),
            "city"
        );
        assert_eq!(
            field_of("classrooms[1]", "invalid type: string"),
            "classrooms[1]"
        );
        assert_eq!(field_of(".", "expected value at line 1 column 1"), "body");
    }
}
