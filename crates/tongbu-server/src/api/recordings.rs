//! `/api/sessions/{id}/recording` and `/recordings`: an operator switches a session's
//! recording on and off, lists its files and fetches them (byte ranges served, so a player
//! seeks and a CDN can carry them), and mints a replay link: whoever holds it may list and
//! fetch that session's recordings (`?token=`) until it expires, which is what a `<video>`
//! element, a contest's audience and the replay page need (they send no credential header).

use std::sync::Arc;

use axum::extract::{FromRequestParts, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use tongbu_schedule::{ReplayClaims, ReplayScope, SessionId, TokenError};
use tower::ServiceExt;
use utoipa::{IntoParams, ToSchema};

use super::{db, ApiError, ApiErrorBody, Body, Id, Operator};
use crate::recording::{RecordedFile, RecordingError};
use crate::server::AppState;

type App = State<Arc<AppState>>;

/// Switch a session's recording.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordingSwitch {
    /// `true` to record from now on, `false` to stop and finish the files.
    pub on: bool,
}

/// A session's recordings.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecordingsView {
    /// The session's title.
    pub session_title: String,
    /// Since when the session is being recorded now (UTC seconds), if it is.
    pub recording_since_utc: Option<i64>,
    /// Every file recorded of it, oldest recording first.
    pub files: Vec<RecordedFile>,
}

impl From<RecordingError> for ApiError {
    fn from(e: RecordingError) -> Self {
        match e {
            e @ (RecordingError::AlreadyRecording(_) | RecordingError::NotRecording(_)) => {
                ApiError::State(e.to_string())
            }
            e @ RecordingError::NoSpace { .. } => ApiError::Storage(e.to_string()),
            e => ApiError::Internal(e.to_string()),
        }
    }
}

/// A replay link's token, for a request without the operator credential.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReplayQuery {
    /// The token of a replay link (`POST /api/sessions/{id}/replay-link`).
    pub token: Option<String>,
}

/// Who may watch recordings: an operator (any session's), or the holder of a replay link (its
/// session's: `Some`). Checked before anything else of the request is read, so that without
/// either the answer is 401 whatever the path.
async fn watcher(app: &Arc<AppState>, parts: &mut Parts) -> Result<Option<SessionId>, ApiError> {
    let token = Query::<ReplayQuery>::try_from_uri(&parts.uri)
        .ok()
        .and_then(|q| q.0.token);
    let Some(token) = token else {
        return Operator::from_request_parts(parts, app).await.map(|_| None);
    };
    let claims = app.tokens.verify_replay(&token).map_err(|e| {
        ApiError::Token(match e {
            TokenError::Expired => "the replay link has expired; ask the operator for a new one".into(),
            _ => "the replay link is not valid (tampered or from another server); ask the operator for a new one".into(),
        })
    })?;
    Ok(Some(claims.sid))
}

/// A watcher's claim on session `sid`: a replay link opens its own session only.
fn may_watch(watcher: Option<SessionId>, sid: SessionId) -> Result<(), ApiError> {
    match watcher {
        Some(linked) if linked != sid => Err(ApiError::Forbidden(format!(
            "this replay link is for session {}, not {}",
            linked.0, sid.0
        ))),
        _ => Ok(()),
    }
}

fn view(app: &AppState, session: SessionId, title: String) -> RecordingsView {
    RecordingsView {
        session_title: title,
        recording_since_utc: app.recordings.recording_since(session),
        files: app.recordings.list(session),
    }
}

#[utoipa::path(post, path = "/api/sessions/{id}/recording", tag = "recordings",
    security(("operator" = [])), params(("id" = i64, Path, description = "session id")),
    request_body = RecordingSwitch,
    responses((status = 200, description = "recording (or stopped, its files finished)", body = RecordingsView),
        (status = 404, body = ApiErrorBody),
        (status = 409, description = "already recording, or not recording", body = ApiErrorBody),
        (status = 507, description = "less free disk space than a recording needs", body = ApiErrorBody)))]
pub async fn switch_recording(
    _: Operator,
    State(app): App,
    Id(id): Id,
    Body(switch): Body<RecordingSwitch>,
) -> Result<Json<RecordingsView>, ApiError> {
    let sid = SessionId(id);
    let session = db(&app, move |s| s.session(sid)).await?;
    if switch.on {
        crate::recording::start(&app, sid).await?;
    } else {
        crate::recording::stop(&app, sid).await?;
    }
    Ok(Json(view(&app, sid, session.spec.title)))
}

#[utoipa::path(get, path = "/api/sessions/{id}/recordings", tag = "recordings",
    security(("operator" = [])), params(("id" = i64, Path, description = "session id"), ReplayQuery),
    responses((status = 200, description = "the session's recorded files", body = RecordingsView),
        (status = 401, description = "no operator credential and no valid replay link", body = ApiErrorBody),
        (status = 404, body = ApiErrorBody)))]
pub async fn list_recordings(
    State(app): App,
    mut parts: Parts,
) -> Result<Json<RecordingsView>, ApiError> {
    let who = watcher(&app, &mut parts).await?;
    let Id(id) = Id::from_request_parts(&mut parts, &app).await?;
    let sid = SessionId(id);
    may_watch(who, sid)?;
    let session = db(&app, move |s| s.session(sid)).await?;
    Ok(Json(view(&app, sid, session.spec.title)))
}

#[utoipa::path(get, path = "/api/sessions/{id}/recordings/{recording}/{name}", tag = "recordings",
    security(("operator" = [])),
    params(("id" = i64, Path, description = "session id"),
        ("recording" = i64, Path, description = "when the recording began (UTC seconds)"),
        ("name" = String, Path, description = "the file's name, e.g. p12-camera.webm"),
        ReplayQuery),
    responses((status = 200, description = "the WebM file (VP8, opus) or MP4 file (H.264)", content_type = "video/webm"),
        (status = 206, description = "the byte range asked for"),
        (status = 401, description = "no operator credential and no valid replay link", body = ApiErrorBody),
        (status = 404, body = ApiErrorBody)))]
pub async fn recorded_file(State(app): App, req: Request) -> Result<Response, ApiError> {
    let (mut parts, body) = req.into_parts();
    let who = watcher(&app, &mut parts).await?;
    let Path((id, recording, name)) =
        Path::<(i64, i64, String)>::from_request_parts(&mut parts, &app)
            .await
            .map_err(|e| ApiError::NotFound(e.body_text()))?;
    may_watch(who, SessionId(id))?;
    let req = Request::from_parts(parts, body);
    let path = app
        .recordings
        .file(SessionId(id), recording, &name)
        .ok_or_else(|| {
            ApiError::NotFound(format!(
                "no recorded file {name} in recording {recording} of session {id}"
            ))
        })?;
    let served = tower_http::services::ServeFile::new(path)
        .oneshot(req)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(served.into_response())
}

/// Ask for a replay link.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplayLinkRequest {
    /// Days the link works: 1 to 366 (default 30).
    #[serde(default)]
    pub valid_days: Option<i64>,
}

/// A replay link: the session's recordings, for whoever holds it until it expires.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReplayLink {
    /// The replay page with the link's token (`/replay.html?session=…&token=…`).
    pub url: String,
    /// The token alone, for `?token=` on the recordings' routes.
    pub token: String,
    /// Expiry, seconds since the epoch (UTC).
    pub expires_utc: i64,
}

#[utoipa::path(post, path = "/api/sessions/{id}/replay-link", tag = "recordings",
    security(("operator" = [])), params(("id" = i64, Path, description = "session id")),
    request_body = ReplayLinkRequest,
    responses((status = 200, description = "a signed replay link", body = ReplayLink),
        (status = 400, body = ApiErrorBody),
        (status = 404, body = ApiErrorBody)))]
pub async fn replay_link(
    _: Operator,
    State(app): App,
    Id(id): Id,
    Body(ask): Body<ReplayLinkRequest>,
) -> Result<Json<ReplayLink>, ApiError> {
    let days = ask.valid_days.unwrap_or(30);
    if !(1..=366).contains(&days) {
        return Err(ApiError::body(
            "valid_days",
            "must be between 1 and 366 days".into(),
        ));
    }
    let sid = SessionId(id);
    db(&app, move |s| s.session(sid)).await?;
    Ok(Json(ReplayLink::mint(&app, sid, days)))
}

impl ReplayLink {
    /// A link to `sid`'s recordings that works for `days` from now.
    pub fn mint(app: &AppState, sid: SessionId, days: i64) -> Self {
        let expires_utc = crate::server::now_utc() + days * 24 * 3600;
        let token = app.tokens.issue_replay(&ReplayClaims {
            scope: ReplayScope::Replay,
            sid,
            exp: expires_utc,
        });
        ReplayLink {
            url: format!("/replay.html?session={}&token={token}", sid.0),
            token,
            expires_utc,
        }
    }
}
