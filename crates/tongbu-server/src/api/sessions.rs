//! Sessions: list (today, this week; by school or classroom), create (single or weekly), change,
//! cancel, join links, start and end.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::Json;
use jiff::civil::Date;
use jiff::{ToSpan, Zoned};
use serde::{Deserialize, Serialize};
use tongbu_schedule::time::{local_datetime, rfc3339_utc, zone, DEFAULT_ZONE};
use tongbu_schedule::{
    ClassroomId, ScheduleError, SchoolId, Session, SessionDraft, SessionId, SessionQuery,
    SessionState, Store,
};
use utoipa::{IntoParams, ToSchema};

use super::{db, field, ApiError, ApiErrorBody, Body, Id, Operator};
use crate::lifecycle::{self, Cause};
use crate::links::{session_links as links_for, JoinLink};
use crate::server::{now_utc, AppState};
use crate::session_health::SessionHealth;

type App = State<Arc<AppState>>;

/// A session with its times on its school's wall clock and its classrooms' names.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionView {
    #[serde(flatten)]
    pub session: Session,
    /// Start, RFC 3339 UTC.
    pub start: String,
    /// End, RFC 3339 UTC.
    pub end: String,
    /// Start on the session's wall clock, `YYYY-MM-DD HH:MM`.
    pub start_local: String,
    pub end_local: String,
    /// "School · classroom" of the host.
    pub host_name: String,
    /// "School · classroom" of each remote classroom, in order.
    pub classroom_names: Vec<String>,
}

impl SessionView {
    pub fn build(store: &dyn Store, session: Session) -> Result<Self, ScheduleError> {
        let name = |id: ClassroomId| store.classroom(id).map(|c| c.display_name());
        Ok(Self {
            start: rfc3339_utc(session.start_utc),
            end: rfc3339_utc(session.end_utc()),
            start_local: local_datetime(session.start_utc, &session.zone),
            end_local: local_datetime(session.end_utc(), &session.zone),
            host_name: name(session.spec.host)?,
            classroom_names: session
                .spec
                .classrooms
                .iter()
                .map(|c| name(*c))
                .collect::<Result<_, _>>()?,
            session,
        })
    }
}

/// Which period to list.
#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    /// The day of `date`.
    Today,
    /// Monday to Sunday of the week of `date`.
    #[default]
    Week,
}

/// Filter of the session list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SessionFilter {
    /// `today` or `week` (default).
    #[param(inline)]
    range: Option<Period>,
    /// The day (`YYYY-MM-DD`) "today" means; default: today on the wall clock of `zone`.
    date: Option<String>,
    /// Only sessions where one of this school's classrooms takes part.
    school: Option<i64>,
    /// Only sessions where this classroom takes part.
    classroom: Option<i64>,
    /// Zone the day is counted in; default the zone of the school (or classroom's school)
    /// asked about, else Asia/Shanghai.
    zone: Option<String>,
}

#[utoipa::path(get, path = "/api/sessions", tag = "sessions", security(("operator" = [])),
    params(SessionFilter),
    responses((status = 200, body = Vec<SessionView>), (status = 400, body = ApiErrorBody),
        (status = 401, body = ApiErrorBody)))]
pub async fn list_sessions(
    _: Operator,
    State(app): App,
    q: Result<Query<SessionFilter>, QueryRejection>,
) -> Result<Json<Vec<SessionView>>, ApiError> {
    let Query(f) = q.map_err(|e| ApiError::body("query", e.body_text()))?;
    db(&app, move |store| {
        // "Today" is counted on the wall clock of the school asked about.
        let zone_name = match (&f.zone, f.school, f.classroom) {
            (Some(z), _, _) => z.clone(),
            (None, Some(id), _) => store.school(SchoolId(id))?.timezone,
            (None, None, Some(id)) => {
                let c = store.classroom(ClassroomId(id))?;
                store.school(c.school)?.timezone
            }
            (None, None, None) => DEFAULT_ZONE.to_string(),
        };
        let (from, to) = week_or_day(f.range, f.date.as_deref(), &zone_name)?;
        let query = SessionQuery {
            from,
            to,
            school: f.school.map(SchoolId),
            classroom: f.classroom.map(ClassroomId),
        };
        store
            .sessions(&query)?
            .into_iter()
            .map(|s| SessionView::build(store, s))
            .collect()
    })
    .await
    .map(Json)
}

/// The interval [from, to) (UTC seconds) of the day of `date`, or of its Monday-to-Sunday week,
/// on the wall clock of `zone_name`; `date` defaults to today there.
pub fn week_or_day(
    range: Option<Period>,
    date: Option<&str>,
    zone_name: &str,
) -> Result<(i64, i64), ScheduleError> {
    let tz = zone(zone_name).map_err(|e| invalid("zone", e))?;
    let day: Date = match date {
        Some(d) => d.trim().parse().map_err(|_| {
            invalid(
                "date",
                format!("{d:?} is not a date; write it as 2026-03-02"),
            )
        })?,
        None => Zoned::now().with_time_zone(tz.clone()).date(),
    };
    let (first, days) = match range.unwrap_or_default() {
        Period::Today => (day, 1),
        Period::Week => {
            let back = i64::from(day.weekday().to_monday_zero_offset());
            (
                day.checked_sub(back.days())
                    .map_err(|e| invalid("date", e))?,
                7,
            )
        }
    };
    let from = first.to_zoned(tz.clone()).map_err(|e| invalid("date", e))?;
    let to = first
        .checked_add(days.days())
        .and_then(|d| d.to_zoned(tz))
        .map_err(|e| invalid("date", e))?;
    Ok((from.timestamp().as_second(), to.timestamp().as_second()))
}

fn invalid(f: &str, message: impl ToString) -> ScheduleError {
    ScheduleError::Invalid(vec![field(f, message.to_string())])
}

/// Checks a draft against the store: classrooms exist, times parse in the host school's zone.
pub(super) fn resolve(
    store: &dyn Store,
    draft: &SessionDraft,
) -> Result<tongbu_schedule::NewSession, ScheduleError> {
    draft.resolve(&|id| {
        let c = store.classroom(id).ok()?;
        let zone = store.school(c.school).ok()?.timezone;
        Some((c, zone))
    })
}

#[utoipa::path(post, path = "/api/sessions", tag = "sessions", security(("operator" = [])),
    request_body = SessionDraft,
    responses(
        (status = 201, description = "one session per occurrence", body = Vec<SessionView>),
        (status = 400, description = "each bad field named", body = ApiErrorBody),
        (status = 409, description = "a classroom is already booked then", body = ApiErrorBody)))]
pub async fn create_session(
    _: Operator,
    State(app): App,
    Body(draft): Body<SessionDraft>,
) -> Result<(StatusCode, Json<Vec<SessionView>>), ApiError> {
    let views = db(&app, move |store| {
        let new = resolve(store, &draft)?;
        store
            .add_session(&new)?
            .into_iter()
            .map(|s| SessionView::build(store, s))
            .collect::<Result<Vec<_>, _>>()
    })
    .await?;
    tracing::info!(
        sessions = views.len(),
        first = views.first().map(|v| v.session.id.0),
        "sessions scheduled"
    );
    Ok((StatusCode::CREATED, Json(views)))
}

#[utoipa::path(get, path = "/api/sessions/{id}", tag = "sessions", security(("operator" = [])),
    params(("id" = i64, Path, description = "session id")),
    responses((status = 200, body = SessionView), (status = 404, body = ApiErrorBody)))]
pub async fn get_session(
    _: Operator,
    State(app): App,
    Id(id): Id,
) -> Result<Json<SessionView>, ApiError> {
    db(&app, move |s| {
        SessionView::build(s, s.session(SessionId(id))?)
    })
    .await
    .map(Json)
}

#[utoipa::path(put, path = "/api/sessions/{id}", tag = "sessions", security(("operator" = [])),
    params(("id" = i64, Path, description = "session id")), request_body = SessionDraft,
    responses((status = 200, body = SessionView), (status = 400, body = ApiErrorBody),
        (status = 404, body = ApiErrorBody),
        (status = 409, description = "a classroom is booked then, or it already started", body = ApiErrorBody)))]
pub async fn update_session(
    _: Operator,
    State(app): App,
    Id(id): Id,
    Body(draft): Body<SessionDraft>,
) -> Result<Json<SessionView>, ApiError> {
    db(&app, move |store| {
        let new = resolve(store, &draft)?;
        let s = store.update_session(SessionId(id), &new)?;
        SessionView::build(store, s)
    })
    .await
    .map(Json)
}

#[utoipa::path(delete, path = "/api/sessions/{id}", tag = "sessions", security(("operator" = [])),
    params(("id" = i64, Path, description = "session id")),
    responses((status = 204, description = "cancelled"), (status = 404, body = ApiErrorBody),
        (status = 409, description = "it went live; it is kept for its report", body = ApiErrorBody)))]
pub async fn delete_session(
    _: Operator,
    State(app): App,
    Id(id): Id,
) -> Result<StatusCode, ApiError> {
    lifecycle::cancel(&app, vec![SessionId(id)], Cause::Operator).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Lifetime of issued links.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LinkOptions {
    /// Minutes the links stay valid; default: until the session's end plus grace.
    valid_min: Option<i64>,
}

#[utoipa::path(post, path = "/api/sessions/{id}/links", tag = "sessions",
    security(("operator" = [])),
    params(("id" = i64, Path, description = "session id"), LinkOptions),
    responses((status = 200, description = "a link per participant", body = Vec<JoinLink>),
        (status = 400, body = ApiErrorBody), (status = 404, body = ApiErrorBody)))]
pub async fn session_links(
    _: Operator,
    State(app): App,
    Id(id): Id,
    q: Result<Query<LinkOptions>, QueryRejection>,
) -> Result<Json<Vec<JoinLink>>, ApiError> {
    let Query(opts) = q.map_err(|e| ApiError::body("valid_min", e.body_text()))?;
    if let Some(m) = opts.valid_min {
        if !(1..=60 * 24 * 366).contains(&m) {
            return Err(ApiError::body(
                "valid_min",
                "must be between 1 minute and one year".into(),
            ));
        }
    }
    let grace = app.config.grace_secs;
    let a = app.clone();
    db(&app, move |store| {
        let s = store.session(SessionId(id))?;
        let exp = match opts.valid_min {
            Some(m) => now_utc() + m * 60,
            None => s.end_utc() + grace,
        };
        links_for(store, &a.tokens, &s, exp)
    })
    .await
    .map(Json)
}

/// Where and with what an encoder publishes a session's host stream over WHIP.
#[derive(Debug, Serialize, ToSchema)]
pub struct WhipIngest {
    /// Path of the WHIP endpoint on this server, e.g. `/whip/7` (OBS: Settings → Stream →
    /// WHIP, Server = this server's address followed by it).
    pub endpoint: String,
    /// The bearer token (OBS: Bearer Token).
    pub token: String,
    /// Expiry, seconds since the epoch (UTC): the session's end plus grace.
    pub expires_utc: i64,
}

#[utoipa::path(post, path = "/api/sessions/{id}/whip", tag = "sessions",
    security(("operator" = [])), params(("id" = i64, Path, description = "session id")),
    responses((status = 200, description = "the endpoint and token of the host stream", body = WhipIngest),
        (status = 404, body = ApiErrorBody)))]
pub async fn session_whip(
    _: Operator,
    State(app): App,
    Id(id): Id,
) -> Result<Json<WhipIngest>, ApiError> {
    let grace = app.config.grace_secs;
    let session = db(&app, move |s| s.session(SessionId(id))).await?;
    let expires_utc = session.end_utc() + grace;
    let token = app.tokens.issue(&tongbu_schedule::JoinClaims {
        sid: session.id,
        role: tongbu_schedule::Role::Host,
        classroom: Some(session.spec.host),
        name: format!("演播室 · {}", session.spec.title),
        exp: expires_utc,
        shared: false,
    });
    Ok(Json(WhipIngest {
        endpoint: format!("/whip/{}", session.id.0),
        token,
        expires_utc,
    }))
}

#[utoipa::path(post, path = "/api/sessions/{id}/start", tag = "sessions",
    security(("operator" = [])), params(("id" = i64, Path, description = "session id")),
    responses((status = 200, description = "live", body = SessionView),
        (status = 404, body = ApiErrorBody),
        (status = 409, description = "not in its join window, or already over", body = ApiErrorBody)))]
pub async fn start_session(
    _: Operator,
    State(app): App,
    Id(id): Id,
) -> Result<Json<SessionView>, ApiError> {
    let sid = SessionId(id);
    let (lead, grace) = (app.config.join_lead_secs, app.config.grace_secs);
    let session = db(&app, move |s| s.session(sid)).await?;
    let (opens, closes) = session.join_window(lead, grace);
    let now = now_utc();
    if now < opens {
        return Err(ApiError::State(format!(
            "\"{}\" starts at {}; it can be started from {}",
            session.spec.title,
            session.start_local(),
            local_datetime(opens, &session.zone)
        )));
    }
    if now >= closes {
        return Err(ApiError::State(format!(
            "\"{}\" is past its end; it can no longer start",
            session.spec.title
        )));
    }
    transition(&app, sid, SessionState::Live).await
}

#[utoipa::path(post, path = "/api/sessions/{id}/end", tag = "sessions",
    security(("operator" = [])), params(("id" = i64, Path, description = "session id")),
    responses((status = 200, description = "ended", body = SessionView),
        (status = 404, body = ApiErrorBody),
        (status = 409, description = "already over", body = ApiErrorBody)))]
pub async fn end_session(
    _: Operator,
    State(app): App,
    Id(id): Id,
) -> Result<Json<SessionView>, ApiError> {
    transition(&app, SessionId(id), SessionState::Ended).await
}

/// An operator's start or end (see [`crate::lifecycle`]).
async fn transition(
    app: &Arc<AppState>,
    sid: SessionId,
    to: SessionState,
) -> Result<Json<SessionView>, ApiError> {
    let t = lifecycle::change(app, sid, to, Cause::Operator).await?;
    if !t.changed {
        return Err(ApiError::State(format!(
            "the session is {}; it cannot become {}",
            t.session.state.as_str(),
            to.as_str()
        )));
    }
    db(app, move |s| SessionView::build(s, t.session))
        .await
        .map(Json)
}

#[utoipa::path(get, path = "/api/sessions/{id}/health", tag = "sessions",
    security(("operator" = [])), params(("id" = i64, Path, description = "session id")),
    responses(
        (status = 200, description = "each participant's link, sampled four times a second", body = SessionHealth),
        (status = 401, body = ApiErrorBody), (status = 404, body = ApiErrorBody)))]
pub async fn session_health(
    _: Operator,
    State(app): App,
    Id(id): Id,
) -> Result<Json<SessionHealth>, ApiError> {
    let sid = SessionId(id);
    // The session must exist; an empty sample means nobody is connected.
    db(&app, move |s| s.session(sid)).await?;
    Ok(Json(crate::session_health::current(&app, sid)))
}
