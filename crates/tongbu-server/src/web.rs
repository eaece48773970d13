//! The web client's files, the demo landing API and health.

use std::path::{Component, Path};
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::api::schedule_link;
use crate::links::session_links;
use crate::server::{now_utc, AppState};

/// `GET /api/demo`: the demo sessions, each with a join link per participant (demo mode only).
pub async fn demo(State(app): State<Arc<AppState>>) -> Response {
    let Some(d) = &app.demo else {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"error": "demo mode is off (TONGBU_DEMO_ENABLED=false)"})),
        )
            .into_response();
    };
    let entry = |id| -> Result<serde_json::Value, tongbu_schedule::ScheduleError> {
        let session = app.store.session(id)?;
        let exp = session.end_utc() + app.config.grace_secs;
        let links = session_links(app.store.as_ref(), &app.tokens, &session, exp)?;
        Ok(json!({
            "session": {
                "id": session.id,
                "kind": session.spec.kind,
                "title": session.spec.title,
                "subject": session.spec.subject,
                "state": session.state,
                "start_utc": session.start_utc,
                "end_utc": session.end_utc(),
                "start_local": session.start_local(),
                "comparison": session.spec.comparison,
            },
            "links": links,
        }))
    };
    let all = (|| {
        Ok::<_, tongbu_schedule::ScheduleError>((
            entry(d.session.id)?,
            entry(d.research.id)?,
            entry(d.lecture.id)?,
        ))
    })();
    // Each demo classroom's timetable link.
    let schedules: Vec<_> = std::iter::once(d.host)
        .chain(d.classrooms.iter().copied())
        .filter_map(|id| app.store.classroom(id).ok())
        .map(|c| schedule_link(&app, &c, 180))
        .collect();
    match all {
        Ok((lesson, research, lecture)) => Json(json!({
            "schedule_links": schedules,
            "session": lesson["session"],
            "links": lesson["links"],
            "research": research,
            "lecture": lecture,
        }))
        .into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({"error": e.to_string()})),
        )
            .into_response(),
    }
}

/// Whether the request carries the operator credential (wrong ones count toward the back-off).
fn operator(
    app: &AppState,
    req: &axum::http::request::Parts,
) -> Result<bool, crate::api::ApiError> {
    match crate::api::check_operator(app, &req.headers, &req.extensions) {
        Ok(()) => Ok(true),
        Err(crate::api::ApiError::Unauthorized(_))
            if crate::api::bearer(&req.headers).is_none() =>
        {
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

/// `GET /api/health`: liveness for anyone (load balancers, probes); the media counters with the
/// operator credential.
pub async fn health(State(app): State<Arc<AppState>>, req: axum::http::request::Parts) -> Response {
    let full = match operator(&app, &req) {
        Ok(full) => full,
        Err(e) => return e.into_response(),
    };
    match app.edge.stats().await {
        Ok(_) if !full => Json(json!({"status": "ok", "time_utc": now_utc()})).into_response(),
        Ok(s) => Json(json!({
            "status": "ok",
            "time_utc": now_utc(),
            "media": {
                "udp": app.edge.local_addr().to_string(),
                "participants": s.participants,
                "transports": s.transports,
                "datagrams_in": s.datagrams_in,
                "datagrams_out": s.datagrams_out,
                "send_batches": s.send_batches,
                "send_errors": s.send_errors,
                "dropped_unknown_source": s.dropped_unknown_source,
                "dropped_malformed": s.dropped_malformed,
                "rtp_in": s.rtp_in,
                "rtp_forwarded": s.router.forwarded,
                "red_in": s.red_in,
                "red_recovered": s.red_recovered,
            },
        }))
        .into_response(),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "degraded", "error": e.to_string()})),
        )
            .into_response(),
    }
}

/// `GET /metrics`: Prometheus text format, with the operator credential (Prometheus:
/// `authorization: {credentials: <operator token>}` in the scrape config).
pub async fn metrics(
    State(app): State<Arc<AppState>>,
    req: axum::http::request::Parts,
) -> Response {
    match operator(&app, &req) {
        Ok(true) => {}
        Ok(false) => {
            return crate::api::ApiError::Unauthorized(
                "metrics need the operator credential: send Authorization: Bearer <operator token>",
            )
            .into_response()
        }
        Err(e) => return e.into_response(),
    }
    if let Ok(s) = app.edge.stats().await {
        app.metrics.set_edge(&s);
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        app.metrics.render(),
    )
        .into_response()
}

/// Any other `GET`: a file of the web client.
pub async fn static_file(State(app): State<Arc<AppState>>, uri: Uri) -> Response {
    let rel = uri.path().trim_start_matches('/');
    let rel = if rel.is_empty() { "index.html" } else { rel };
    let path = Path::new(rel);
    if path
        .components()
        .any(|c| !matches!(c, Component::Normal(_)))
    {
        return (StatusCode::BAD_REQUEST, "bad path").into_response();
    }
    let full = app.config.web_dir.join(path);
    match tokio::fs::read(&full).await {
        Ok(bytes) => (
            [
                (header::CONTENT_TYPE, content_type(&full)),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            bytes,
        )
            .into_response(),
        Err(_) => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}

fn content_type(p: &Path) -> &'static str {
    match p.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        _ => "application/octet-stream",
    }
}
