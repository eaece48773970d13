//! The web client's files, the demo landing API and health.

use std::path::{Component, Path};
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use tongbu_schedule::{JoinClaims, Role};

use crate::server::{now_utc, AppState};

/// How long after a session's end its links stay valid.
const LINK_GRACE_SECS: i64 = 30 * 60;

/// `GET /api/demo`: the demo lesson and a join link per role (demo mode only).
pub async fn demo(State(app): State<Arc<AppState>>) -> Response {
    let Some(d) = &app.demo else {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"error": "demo mode is off (TONGBU_DEMO_ENABLED=false)"})),
        )
            .into_response();
    };
    let session = match app.store.session(d.session.id) {
        Ok(s) => s,
        Err(e) => {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                Json(json!({"error": e.to_string()})),
            )
                .into_response()
        }
    };
    let exp = session.end_utc() + LINK_GRACE_SECS;
    let link = |role: Role, classroom: Option<tongbu_schedule::ClassroomId>, name: String| {
        let token = app.tokens.issue(&JoinClaims {
            sid: session.id,
            role,
            classroom,
            name: name.clone(),
            exp,
        });
        json!({
            "role": role,
            "name": name,
            "url": format!("/lesson.html?token={token}"),
        })
    };
    let mut links = Vec::new();
    if let Ok(c) = app.store.classroom(d.host) {
        links.push(link(Role::Host, Some(c.id), c.display_name()));
    }
    for &id in &d.classrooms {
        if let Ok(c) = app.store.classroom(id) {
            links.push(link(Role::Classroom, Some(c.id), c.display_name()));
        }
    }
    links.push(link(Role::Observer, None, "教研观察员 Observer".into()));
    Json(json!({
        "session": {
            "id": session.id,
            "title": session.title,
            "subject": session.subject,
            "state": session.state,
            "start_utc": session.start_utc,
            "end_utc": session.end_utc(),
        },
        "links": links,
    }))
    .into_response()
}

/// `GET /api/health`: liveness and media counters.
pub async fn health(State(app): State<Arc<AppState>>) -> Response {
    match app.edge.stats().await {
        Ok(s) => Json(json!({
            "status": "ok",
            "time_utc": now_utc(),
            "media": {
                "udp": app.edge.local_addr().to_string(),
                "participants": s.participants,
                "transports": s.transports,
                "datagrams_in": s.datagrams_in,
                "datagrams_out": s.datagrams_out,
                "dropped_unknown_source": s.dropped_unknown_source,
                "dropped_malformed": s.dropped_malformed,
                "rtp_in": s.rtp_in,
                "rtp_forwarded": s.router.forwarded,
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
