//! A classroom's own timetable (`/schedule.html`): its sessions today and this week, with a join
//! link for each session whose join window is open. Opened with a schedule link (a signed,
//! long-lived token naming the classroom), not the operator credential.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::Json;
use serde::{Deserialize, Serialize};
use tongbu_schedule::{Classroom, ClassroomId, Role, ScheduleClaims, ScheduleScope, SessionQuery};
use utoipa::{IntoParams, ToSchema};

use super::sessions::{week_or_day, Period, SessionView};
use super::{db, ApiError, ApiErrorBody, Id, Operator};
use crate::links::link;
use crate::server::{now_utc, AppState};

type App = State<Arc<AppState>>;

/// A session on a classroom's timetable.
#[derive(Debug, Serialize, ToSchema)]
pub struct TimetableEntry {
    #[serde(flatten)]
    pub view: SessionView,
    /// The classroom's role in it: `host` or `classroom`.
    pub role: Role,
    /// Joins are accepted from (UTC seconds)…
    pub opens_utc: i64,
    /// …until.
    pub closes_utc: i64,
    /// Present while the join window is open and the session is not over.
    pub join_url: Option<String>,
}

/// A classroom's timetable.
#[derive(Debug, Serialize, ToSchema)]
pub struct Timetable {
    pub classroom: Classroom,
    pub zone: String,
    /// The server's clock, for countdowns.
    pub now_utc: i64,
    pub sessions: Vec<TimetableEntry>,
}

/// Which timetable.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TimetableQuery {
    /// The classroom's schedule link token.
    token: String,
    /// `today` or `week` (default).
    #[param(inline)]
    range: Option<Period>,
    /// The day (`YYYY-MM-DD`) "today" means; default today in the school's zone.
    date: Option<String>,
}

#[utoipa::path(get, path = "/api/timetable", tag = "sessions", params(TimetableQuery),
    responses((status = 200, body = Timetable),
        (status = 401, description = "the schedule link is expired, tampered or not one", body = ApiErrorBody)))]
pub async fn timetable(
    State(app): App,
    q: Result<Query<TimetableQuery>, QueryRejection>,
) -> Result<Json<Timetable>, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::body("query", e.body_text()))?;
    let claims = app
        .tokens
        .verify_schedule(&q.token)
        .map_err(|e| ApiError::Token(e.to_string()))?;
    let (lead, grace) = (app.config.join_lead_secs, app.config.grace_secs);
    let a = app.clone();
    db(&app, move |store| {
        let classroom = store.classroom(claims.classroom)?;
        let zone = store.school(classroom.school)?.timezone;
        let (from, to) = week_or_day(q.range, q.date.as_deref(), &zone)?;
        let now = now_utc();
        let query = SessionQuery {
            classroom: Some(classroom.id),
            ..SessionQuery::between(from, to)
        };
        let mut sessions = Vec::new();
        for s in store.sessions(&query)? {
            let role = if s.spec.host == classroom.id {
                Role::Host
            } else {
                Role::Classroom
            };
            let (opens, closes) = s.join_window(lead, grace);
            let join_url = (now >= opens && now < closes && !s.state.is_over()).then(|| {
                link(
                    &a.tokens,
                    &s,
                    role,
                    Some(classroom.id),
                    classroom.display_name(),
                    closes,
                )
                .url
            });
            sessions.push(TimetableEntry {
                view: SessionView::build(store, s)?,
                role,
                opens_utc: opens,
                closes_utc: closes,
                join_url,
            });
        }
        Ok(Timetable {
            classroom,
            zone,
            now_utc: now,
            sessions,
        })
    })
    .await
    .map(Json)
}

/// A classroom's schedule link.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScheduleLink {
    pub classroom: ClassroomId,
    pub name: String,
    /// `/schedule.html?token=…`
    pub url: String,
    pub expires_utc: i64,
}

/// Lifetime of a schedule link.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ScheduleLinkOptions {
    /// Days the link stays valid (default 180, one term).
    valid_days: Option<i64>,
}

/// Mints the schedule link of a classroom.
pub fn schedule_link(app: &AppState, classroom: &Classroom, valid_days: i64) -> ScheduleLink {
    let exp = now_utc() + valid_days * 86_400;
    let token = app.tokens.issue_schedule(&ScheduleClaims {
        scope: ScheduleScope::Schedule,
        classroom: classroom.id,
        exp,
    });
    ScheduleLink {
        classroom: classroom.id,
        name: classroom.display_name(),
        url: format!("/schedule.html?token={token}"),
        expires_utc: exp,
    }
}

#[utoipa::path(post, path = "/api/classrooms/{id}/schedule-link", tag = "sessions",
    security(("operator" = [])),
    params(("id" = i64, Path, description = "classroom id"), ScheduleLinkOptions),
    responses((status = 200, body = ScheduleLink), (status = 400, body = ApiErrorBody),
        (status = 404, body = ApiErrorBody)))]
pub async fn create_schedule_link(
    _: Operator,
    State(app): App,
    Id(id): Id,
    q: Result<Query<ScheduleLinkOptions>, QueryRejection>,
) -> Result<Json<ScheduleLink>, ApiError> {
    let Query(opts) = q.map_err(|e| ApiError::body("valid_days", e.body_text()))?;
    let days = opts.valid_days.unwrap_or(180);
    if !(1..=400).contains(&days) {
        return Err(ApiError::body(
            "valid_days",
            "must be between 1 and 400 days".into(),
        ));
    }
    let classroom = db(&app, move |s| s.classroom(ClassroomId(id))).await?;
    Ok(Json(schedule_link(&app, &classroom, days)))
}
