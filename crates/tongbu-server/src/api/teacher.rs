//! The signed-in teacher's view of the schedule: the lessons of its school, today or this
//! week on the school's wall clock, with the links it hands out and, once a lesson is recorded,
//! its replay. Needs the browser session of
//! a platform sign-in ([`crate::signin::SignedIn`]); join links and the operator credential do
//! not open it.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::Json;
use serde::{Deserialize, Serialize};
use tongbu_schedule::{School, SessionQuery};
use utoipa::{IntoParams, ToSchema};

use super::recordings::ReplayLink;
use super::sessions::{week_or_day, Period, SessionView};
use super::{db, ApiError, ApiErrorBody};
use crate::links::{session_links, JoinLink};
use crate::server::{now_utc, AppState};
use crate::signin::SignedIn;

/// One of the school's lessons.
#[derive(Debug, Serialize, ToSchema)]
pub struct MyLesson {
    #[serde(flatten)]
    pub view: SessionView,
    /// The school hosts it (one of its classrooms is the host): the teacher joins as host.
    pub hosting: bool,
    pub opens_utc: i64,
    pub closes_utc: i64,
    /// While it can be joined: the host's link (when hosting) and each classroom's and
    /// person's, to give out or show as a QR code; otherwise empty.
    pub links: Vec<JoinLink>,
    /// Once something of it is recorded: its replay page, by a replay link that works for
    /// [`REPLAY_DAYS`] (the teacher may pass it to colleagues).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replay: Option<String>,
}

/// Days a replay link on the teacher's page works.
pub const REPLAY_DAYS: i64 = 7;

/// The teacher's lessons.
#[derive(Debug, Serialize, ToSchema)]
pub struct MyLessons {
    pub school: School,
    /// The server's clock, for countdowns.
    pub now_utc: i64,
    pub lessons: Vec<MyLesson>,
}

/// Which lessons.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MyLessonsQuery {
    /// `today` or `week` (default).
    #[param(inline)]
    range: Option<Period>,
    /// The day (`YYYY-MM-DD`) "today" means; default today in the school's zone.
    date: Option<String>,
}

#[utoipa::path(get, path = "/api/teacher/lessons", tag = "teacher", params(MyLessonsQuery),
    security(("signin" = [])),
    responses((status = 200, body = MyLessons),
        (status = 401, description = "not signed in with the education platform", body = ApiErrorBody),
        (status = 403, description = "the account names no school Tongbu knows", body = ApiErrorBody)))]
pub async fn my_lessons(
    SignedIn(account): SignedIn,
    State(app): State<Arc<AppState>>,
    q: Result<Query<MyLessonsQuery>, QueryRejection>,
) -> Result<Json<MyLessons>, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::body("query", e.body_text()))?;
    let Some(school) = account.school else {
        return Err(ApiError::Forbidden(format!(
            "your platform account names no school Tongbu knows ({}); ask the operator to add it",
            account
                .school_claim
                .map_or_else(|| "no school claim".to_string(), |s| format!("\"{s}\"")),
        )));
    };
    let (lead, grace) = (app.config.join_lead_secs, app.config.grace_secs);
    let a = app.clone();
    db(&app, move |store| {
        let school = store.school(school)?;
        let (from, to) = week_or_day(q.range, q.date.as_deref(), &school.timezone)?;
        let query = SessionQuery {
            school: Some(school.id),
            ..SessionQuery::between(from, to)
        };
        let now = now_utc();
        let mut lessons = Vec::new();
        for s in store.sessions(&query)? {
            let hosting = store.classroom(s.spec.host)?.school == school.id;
            let (opens, closes) = s.join_window(lead, grace);
            let open = now < closes && !s.state.is_over();
            let mut links = if open {
                session_links(store, &a.tokens, &s, closes)?
            } else {
                Vec::new()
            };
            if !hosting {
                // A partner's lesson: the links of this school's own classrooms only.
                let mine: Vec<_> = store
                    .classrooms(Some(school.id))?
                    .into_iter()
                    .map(|c| c.id)
                    .collect();
                links.retain(|l| l.classroom.is_some_and(|c| mine.contains(&c)));
            }
            let replay = a
                .recordings
                .has_files(s.id)
                .then(|| ReplayLink::mint(&a, s.id, REPLAY_DAYS).url);
            lessons.push(MyLesson {
                replay,
                view: SessionView::build(store, s)?,
                hosting,
                opens_utc: opens,
                closes_utc: closes,
                links,
            });
        }
        Ok(MyLessons {
            school,
            now_utc: now,
            lessons,
        })
    })
    .await
    .map(Json)
}

/// Which link to draw.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct QrQuery {
    /// The link, as the teacher's page shows it (a lesson link of this server).
    text: String,
}

/// The longest text drawn (a join link is well below).
const MAX_QR_TEXT: usize = 1024;

#[utoipa::path(get, path = "/api/teacher/qr.svg", tag = "teacher", params(QrQuery),
    security(("signin" = [])),
    responses((status = 200, description = "the link as a QR code", content_type = "image/svg+xml", body = String),
        (status = 400, description = "not a lesson link, or too long", body = ApiErrorBody),
        (status = 401, body = ApiErrorBody)))]
pub async fn qr_code(
    SignedIn(_): SignedIn,
    q: Result<Query<QrQuery>, QueryRejection>,
) -> Result<impl axum::response::IntoResponse, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::body("text", e.body_text()))?;
    // Only this server's lesson links: the page is not a QR service for anything else.
    let path = q
        .text
        .split_once("://")
        .and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..]))
        .unwrap_or(&q.text);
    if q.text.len() > MAX_QR_TEXT || !path.starts_with("/lesson.html?token=") {
        return Err(ApiError::body(
            "text",
            "only a lesson link of this server (…/lesson.html?token=…) is drawn".into(),
        ));
    }
    let code = qrcode::QrCode::with_error_correction_level(q.text.as_bytes(), qrcode::EcLevel::M)
        .map_err(|e| ApiError::body("text", e.to_string()))?;
    let svg = code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(320, 320)
        .quiet_zone(true)
        .build();
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, "image/svg+xml"),
            (axum::http::header::CACHE_CONTROL, "private, max-age=3600"),
        ],
        svg,
    ))
}
