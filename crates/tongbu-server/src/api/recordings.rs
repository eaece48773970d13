//! `/api/sessions/{id}/recording` and `/recordings`: an operator switches a session's
//! recording on and off, lists its files and fetches them (byte ranges served, so a player
//! seeks and a CDN can carry them).

use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use tongbu_schedule::SessionId;
use tower::ServiceExt;
use utoipa::ToSchema;

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

fn view(app: &AppState, session: SessionId) -> RecordingsView {
    RecordingsView {
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
    db(&app, move |s| s.session(sid)).await?;
    if switch.on {
        crate::recording::start(&app, sid).await?;
    } else {
        crate::recording::stop(&app, sid).await?;
    }
    Ok(Json(view(&app, sid)))
}

#[utoipa::path(get, path = "/api/sessions/{id}/recordings", tag = "recordings",
    security(("operator" = [])), params(("id" = i64, Path, description = "session id")),
    responses((status = 200, description = "the session's recorded files", body = RecordingsView),
        (status = 404, body = ApiErrorBody)))]
pub async fn list_recordings(
    _: Operator,
    State(app): App,
    Id(id): Id,
) -> Result<Json<RecordingsView>, ApiError> {
    let sid = SessionId(id);
    db(&app, move |s| s.session(sid)).await?;
    Ok(Json(view(&app, sid)))
}

#[utoipa::path(get, path = "/api/sessions/{id}/recordings/{recording}/{name}", tag = "recordings",
    security(("operator" = [])),
    params(("id" = i64, Path, description = "session id"),
        ("recording" = i64, Path, description = "when the recording began (UTC seconds)"),
        ("name" = String, Path, description = "the file's name, e.g. p12-camera.webm")),
    responses((status = 200, description = "the WebM file", content_type = "video/webm"),
        (status = 206, description = "the byte range asked for"),
        (status = 404, body = ApiErrorBody)))]
pub async fn recorded_file(
    _: Operator,
    State(app): App,
    Path((id, recording, name)): Path<(i64, i64, String)>,
    req: Request,
) -> Result<Response, ApiError> {
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
