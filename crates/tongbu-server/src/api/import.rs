//! A term's timetable imported over HTTP, as `tongbu schedule import` does from a file: a dry
//! run first (every row checked, each problem named by row and field, nothing stored), then the
//! import, which stores everything or nothing.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap};
use axum::Json;
use serde::Deserialize;
use tongbu_schedule::import::{import, ImportReport, Timetable};
use utoipa::IntoParams;

use super::{db, ApiError, ApiErrorBody, Operator};
use crate::server::AppState;

/// How to import.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// `true` (the default): check every row and store nothing.
    dry_run: Option<bool>,
}

#[utoipa::path(post, path = "/api/timetable/import", tag = "sessions", security(("operator" = [])),
    params(ImportQuery),
    request_body(content = String, description = "the term's timetable: CSV (text/csv, the columns of docs/examples/term.csv) or JSON (application/json)", content_type = "text/csv"),
    responses((status = 200, description = "what was (or would be) added, and each row's problems", body = ImportReport),
        (status = 400, description = "the file cannot be read (the line is named)", body = ApiErrorBody),
        (status = 401, body = ApiErrorBody)))]
pub async fn import_timetable(
    _: Operator,
    State(app): State<Arc<AppState>>,
    q: Result<Query<ImportQuery>, QueryRejection>,
    headers: HeaderMap,
    body: String,
) -> Result<Json<ImportReport>, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::body("dry_run", e.body_text()))?;
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/json"));
    let timetable = if json {
        Timetable::from_json(&body).map_err(|m| ApiError::body("body", m))?
    } else {
        Timetable::from_csv(&body)
            .map_err(|(line, m)| ApiError::body("body", format!("line {line}: {m}")))?
    };
    let dry_run = q.dry_run.unwrap_or(true);
    let report = db(&app, move |store| import(store, &timetable, dry_run)).await?;
    tracing::info!(
        dry_run,
        stored = report.stored,
        sessions = report.sessions_added,
        problems = report.problems.len(),
        "timetable import"
    );
    Ok(Json(report))
}
