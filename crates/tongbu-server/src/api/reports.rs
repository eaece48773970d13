//! What operators watch: every live session's health at a glance, and each ended session's
//! quality report (JSON, CSV for the programme's records) and the list of recent reports.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::Json;
use serde::{Deserialize, Serialize};
use tongbu_schedule::{QualityReport, ReportSummary, SessionId, SessionQuery, SessionState};
use utoipa::{IntoParams, ToSchema};

use super::sessions::SessionView;
use super::{db, ApiError, ApiErrorBody, Id, Operator};
use crate::health::Health;
use crate::server::{now_utc, AppState};

type App = State<Arc<AppState>>;

/// A session that is open or live now, with its health summed up.
#[derive(Debug, Serialize, ToSchema)]
pub struct LiveSession {
    pub session: SessionView,
    /// The worst participant's health (good when nobody is there).
    pub health: Health,
    pub participants: usize,
    pub weak: usize,
    pub lost: usize,
    /// Names of the weak or lost participants, worst first.
    pub troubled: Vec<String>,
}

#[utoipa::path(get, path = "/api/live", tag = "health", security(("operator" = [])),
    responses(
        (status = 200, description = "every open or live session with its health", body = Vec<LiveSession>),
        (status = 401, body = ApiErrorBody)))]
pub async fn live_sessions(
    _: Operator,
    State(app): App,
) -> Result<Json<Vec<LiveSession>>, ApiError> {
    let now = now_utc();
    let sessions = db(&app, move |s| {
        // Sessions running now: at most a day long, so a two-day window finds them all.
        s.sessions(&SessionQuery::between(now - 86_400, now + 86_400))?
            .into_iter()
            .filter(|x| matches!(x.state, SessionState::Open | SessionState::Live))
            .filter(|x| x.start_utc - 86_400 <= now)
            .map(|x| SessionView::build(s, x))
            .collect::<Result<Vec<_>, _>>()
    })
    .await?;
    let mut out: Vec<LiveSession> = sessions
        .into_iter()
        .map(|view| {
            let h = crate::session_health::current(&app, view.session.id);
            let count = |want: Health| h.participants.iter().filter(|p| p.health == want).count();
            let mut troubled: Vec<_> = h
                .participants
                .iter()
                .filter(|p| p.health != Health::Good)
                .collect();
            troubled.sort_by_key(|p| std::cmp::Reverse(p.health));
            LiveSession {
                health: h.health,
                participants: h.participants.len(),
                weak: count(Health::Weak),
                lost: count(Health::Lost),
                troubled: troubled.iter().map(|p| p.name.clone()).collect(),
                session: view,
            }
        })
        .collect();
    // Trouble first, then by start.
    out.sort_by_key(|l| {
        (
            std::cmp::Reverse((l.lost, l.weak)),
            l.session.session.start_utc,
        )
    });
    Ok(Json(out))
}

#[utoipa::path(get, path = "/api/sessions/{id}/report", tag = "health",
    security(("operator" = [])), params(("id" = i64, Path, description = "session id")),
    responses(
        (status = 200, description = "per participant: time connected, video, freezes, audio gaps, loss, RTT, reconnects", body = QualityReport),
        (status = 401, body = ApiErrorBody),
        (status = 404, description = "no such session, or it has not ended yet", body = ApiErrorBody)))]
pub async fn report(
    _: Operator,
    State(app): App,
    Id(id): Id,
) -> Result<Json<QualityReport>, ApiError> {
    let sid = SessionId(id);
    db(&app, move |s| s.report(sid)).await.map(Json)
}

#[utoipa::path(get, path = "/api/sessions/{id}/report.csv", tag = "health",
    security(("operator" = [])), params(("id" = i64, Path, description = "session id")),
    responses(
        (status = 200, description = "one row per participant", content_type = "text/csv", body = String),
        (status = 401, body = ApiErrorBody), (status = 404, body = ApiErrorBody)))]
pub async fn report_csv(
    _: Operator,
    State(app): App,
    Id(id): Id,
) -> Result<axum::response::Response, ApiError> {
    let sid = SessionId(id);
    let report = db(&app, move |s| s.report(sid)).await?;
    // A byte-order mark, so that spreadsheet programs read the Chinese names as UTF-8.
    let body = format!("\u{feff}{}", report.to_csv());
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"tongbu-session-{id}-report.csv\""),
            ),
        ],
        body,
    )
        .into_response())
}

/// How many reports to list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RecentQuery {
    /// At most this many (1–500, default 50).
    limit: Option<u32>,
}

#[utoipa::path(get, path = "/api/reports", tag = "health", security(("operator" = [])),
    params(RecentQuery),
    responses(
        (status = 200, description = "the most recently ended sessions first", body = Vec<ReportSummary>),
        (status = 400, body = ApiErrorBody), (status = 401, body = ApiErrorBody)))]
pub async fn recent(
    _: Operator,
    State(app): App,
    q: Result<Query<RecentQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<ReportSummary>>, ApiError> {
    let wrong = || ApiError::body("limit", "give a whole number from 1 to 500".into());
    let Query(q) = q.map_err(|_| wrong())?;
    let limit = q.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(wrong());
    }
    db(&app, move |s| s.recent_reports(limit)).await.map(Json)
}
