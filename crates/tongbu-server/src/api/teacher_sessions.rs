//! A signed-in teacher schedules the school's lessons: the classrooms to choose from (its own
//! as host; partners with paired schools first), then create, edit and cancel — one occurrence
//! or the rest of a weekly series — only of lessons its school hosts. Every field is checked as
//! in the operator's API: a 400 names each bad field, a 409 names the clashing lesson, and
//! nothing is saved unless all is well.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use tongbu_schedule::{
    Classroom, ClassroomId, ScheduleError, SchoolId, SessionDraft, SessionId, SessionQuery,
    SessionState, Store,
};
use utoipa::{IntoParams, ToSchema};

use super::sessions::{resolve, SessionView};
use super::{db, ApiError, ApiErrorBody, Body, Id};
use crate::lifecycle::{self, Cause};
use crate::server::{now_utc, AppState};
use crate::signin::{Account, SignedIn};

/// A classroom to invite, and whether its school is paired with the teacher's.
#[derive(Debug, Serialize, ToSchema)]
pub struct Partner {
    #[serde(flatten)]
    pub classroom: Classroom,
    pub paired: bool,
}

/// What a teacher may put in a lesson.
#[derive(Debug, Serialize, ToSchema)]
pub struct TeacherClassrooms {
    /// The school's own classrooms: one of them hosts.
    pub mine: Vec<Classroom>,
    /// Every other classroom, those of paired schools first, then by school and name.
    pub partners: Vec<Partner>,
}

/// The teacher's school, or 403 saying why there is none.
fn school_of(account: &Account) -> Result<SchoolId, ApiError> {
    account.school.ok_or_else(|| {
        ApiError::Forbidden(
            "your platform account names no school Tongbu knows; ask the operator to add it".into(),
        )
    })
}

fn mine(store: &dyn Store, school: SchoolId) -> Result<Vec<ClassroomId>, ScheduleError> {
    Ok(store
        .classrooms(Some(school))?
        .into_iter()
        .map(|c| c.id)
        .collect())
}

/// Whether `host` is one of the school's classrooms (a teacher schedules only those lessons).
fn hosts_here(
    store: &dyn Store,
    school: SchoolId,
    host: ClassroomId,
) -> Result<bool, ScheduleError> {
    Ok(mine(store, school)?.contains(&host))
}

fn not_yours() -> ApiError {
    ApiError::Forbidden(
        "a teacher schedules only lessons one of its own school's classrooms hosts".into(),
    )
}

#[utoipa::path(get, path = "/api/teacher/classrooms", tag = "teacher", security(("signin" = [])),
    responses((status = 200, body = TeacherClassrooms), (status = 401, body = ApiErrorBody),
        (status = 403, body = ApiErrorBody)))]
pub async fn teacher_classrooms(
    SignedIn(account): SignedIn,
    State(app): State<Arc<AppState>>,
) -> Result<Json<TeacherClassrooms>, ApiError> {
    let school = school_of(&account)?;
    db(&app, move |store| {
        let paired: Vec<SchoolId> = store
            .pairs()?
            .into_iter()
            .filter_map(|p| {
                if p.beijing == school {
                    Some(p.inner_mongolia)
                } else if p.inner_mongolia == school {
                    Some(p.beijing)
                } else {
                    None
                }
            })
            .collect();
        let (mine, others): (Vec<_>, Vec<_>) = store
            .classrooms(None)?
            .into_iter()
            .partition(|c| c.school == school);
        let mut partners: Vec<Partner> = others
            .into_iter()
            .map(|c| Partner {
                paired: paired.contains(&c.school),
                classroom: c,
            })
            .collect();
        partners.sort_by(|a, b| {
            (!a.paired, &a.classroom.school_name, &a.classroom.name).cmp(&(
                !b.paired,
                &b.classroom.school_name,
                &b.classroom.name,
            ))
        });
        Ok(TeacherClassrooms { mine, partners })
    })
    .await
    .map(Json)
}

#[utoipa::path(post, path = "/api/teacher/sessions", tag = "teacher", security(("signin" = [])),
    request_body = SessionDraft,
    responses((status = 201, description = "one per occurrence", body = Vec<SessionView>),
        (status = 400, description = "each bad field named", body = ApiErrorBody),
        (status = 403, description = "the host is not the teacher's school's, or no CSRF token", body = ApiErrorBody),
        (status = 409, description = "a classroom is already booked then: the lesson named", body = ApiErrorBody)))]
pub async fn create_lesson(
    SignedIn(account): SignedIn,
    State(app): State<Arc<AppState>>,
    Body(draft): Body<SessionDraft>,
) -> Result<(StatusCode, Json<Vec<SessionView>>), ApiError> {
    let school = school_of(&account)?;
    let views = db(&app, move |store| {
        // Whose lesson it is, before whether it is well written.
        if !hosts_here(store, school, draft.spec.host)? {
            return Ok(Err(not_yours()));
        }
        let new = resolve(store, &draft)?;
        let views = store
            .add_session(&new)?
            .into_iter()
            .map(|s| SessionView::build(store, s))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Ok(views))
    })
    .await??;
    tracing::info!(
        teacher = %account.subject,
        sessions = views.len(),
        first = views.first().map(|v| v.session.id.0),
        "lessons scheduled by a teacher"
    );
    Ok((StatusCode::CREATED, Json(views)))
}

#[utoipa::path(get, path = "/api/teacher/sessions/{id}", tag = "teacher", security(("signin" = [])),
    params(("id" = i64, Path, description = "session id")),
    responses((status = 200, body = SessionView), (status = 403, body = ApiErrorBody),
        (status = 404, body = ApiErrorBody)))]
pub async fn get_lesson(
    SignedIn(account): SignedIn,
    State(app): State<Arc<AppState>>,
    Id(id): Id,
) -> Result<Json<SessionView>, ApiError> {
    let school = school_of(&account)?;
    db(&app, move |store| {
        let s = store.session(SessionId(id))?;
        if !hosts_here(store, school, s.spec.host)? {
            return Ok(Err(not_yours()));
        }
        Ok(Ok(SessionView::build(store, s)?))
    })
    .await?
    .map(Json)
}

#[utoipa::path(put, path = "/api/teacher/sessions/{id}", tag = "teacher", security(("signin" = [])),
    params(("id" = i64, Path, description = "session id")), request_body = SessionDraft,
    responses((status = 200, body = SessionView), (status = 400, body = ApiErrorBody),
        (status = 403, body = ApiErrorBody), (status = 404, body = ApiErrorBody),
        (status = 409, description = "a classroom is booked then, or it already started", body = ApiErrorBody)))]
pub async fn update_lesson(
    SignedIn(account): SignedIn,
    State(app): State<Arc<AppState>>,
    Id(id): Id,
    Body(draft): Body<SessionDraft>,
) -> Result<Json<SessionView>, ApiError> {
    let school = school_of(&account)?;
    db(&app, move |store| {
        let before = store.session(SessionId(id))?;
        if !hosts_here(store, school, before.spec.host)?
            || !hosts_here(store, school, draft.spec.host)?
        {
            return Ok(Err(not_yours()));
        }
        let new = resolve(store, &draft)?;
        let s = store.update_session(SessionId(id), &new)?;
        Ok(Ok(SessionView::build(store, s)?))
    })
    .await?
    .map(Json)
}

/// Which occurrences to cancel.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CancelQuery {
    /// `true`: this occurrence and every later one of its weekly series that has not begun.
    #[serde(default)]
    series: bool,
}

/// What was cancelled.
#[derive(Debug, Serialize, ToSchema)]
pub struct Cancelled {
    pub cancelled: Vec<SessionId>,
}

#[utoipa::path(delete, path = "/api/teacher/sessions/{id}", tag = "teacher", security(("signin" = [])),
    params(("id" = i64, Path, description = "session id"), CancelQuery),
    responses((status = 200, body = Cancelled), (status = 403, body = ApiErrorBody),
        (status = 404, body = ApiErrorBody),
        (status = 409, description = "it went live; it is kept for its report", body = ApiErrorBody)))]
pub async fn cancel_lesson(
    SignedIn(account): SignedIn,
    State(app): State<Arc<AppState>>,
    Id(id): Id,
    q: Result<Query<CancelQuery>, QueryRejection>,
) -> Result<Json<Cancelled>, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::body("series", e.body_text()))?;
    let school = school_of(&account)?;
    let cancelled = db(&app, move |store| {
        let first = store.session(SessionId(id))?;
        if !hosts_here(store, school, first.spec.host)? {
            return Ok(Err(not_yours()));
        }
        let mut ids = vec![first.id];
        if let (true, Some(series)) = (q.series, first.series) {
            // The later occurrences of the series that have not begun.
            let later = SessionQuery::between(first.start_utc, i64::MAX / 2);
            ids.extend(
                store
                    .sessions(&later)?
                    .into_iter()
                    .filter(|s| s.series == Some(series) && s.id != first.id)
                    .filter(|s| s.state == SessionState::Scheduled && s.start_utc > now_utc())
                    .map(|s| s.id),
            );
        }
        Ok(Ok(ids))
    })
    .await??;
    let cancelled = lifecycle::cancel(&app, cancelled, Cause::Teacher).await?;
    tracing::info!(teacher = %account.subject, ?cancelled, "lessons cancelled by a teacher");
    Ok(Json(Cancelled { cancelled }))
}
