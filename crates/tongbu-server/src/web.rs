//! The web client's files, the demo landing API and health.

use std::path::{Component, Path};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use tower::ServiceExt;

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
    app.metrics.set_tasks(
        tokio::runtime::Handle::current()
            .metrics()
            .num_alive_tasks(),
    );
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        app.metrics.render(),
    )
        .into_response()
}

/// The web client, built into the binary (rust-embed; in every build, so tests serve what a
/// release serves): one file to deploy.
#[derive(rust_embed::Embed)]
#[folder = "../../web-client/"]
struct WebClient;

/// Any other `GET`: a file of the web client — the binary's own, or from `TONGBU_HTTP_WEB_DIR`
/// when set (tower-http's `ServeDir`: ranges, `Last-Modified`). Answers are compressed (gzip,
/// brotli) as the browser accepts, by the layer around this handler.
pub async fn static_file(State(app): State<Arc<AppState>>, req: Request) -> Response {
    if let Some(dir) = &app.config.web_dir {
        let serve = tower_http::services::ServeDir::new(dir).append_index_html_on_directories(true);
        return match serve.oneshot(req).await {
            Ok(r) => r.into_response(),
            Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
        };
    }
    let rel = req.uri().path().trim_start_matches('/');
    let rel = if rel.is_empty() || rel.ends_with('/') {
        format!("{rel}index.html")
    } else {
        rel.to_string()
    };
    let path = Path::new(&rel);
    if path
        .components()
        .any(|c| !matches!(c, Component::Normal(_)))
    {
        return (StatusCode::BAD_REQUEST, "bad path").into_response();
    }
    let Some(file) = WebClient::get(&rel) else {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    };
    // The content's hash names its version: a page revalidates (no-cache) and gets 304.
    let hash = file.metadata.sha256_hash();
    let etag = format!(
        "\"{}\"",
        hash[..12]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    let fresh = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let headers = [
        (
            header::CONTENT_TYPE,
            content_type(path, file.metadata.mimetype()),
        ),
        (header::CACHE_CONTROL, "no-cache".to_string()),
        (header::ETAG, etag),
    ];
    if fresh {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    (headers, file.data.into_owned()).into_response()
}

/// The text types in UTF-8 (the pages are Chinese), the rest as guessed from the name.
fn content_type(p: &Path, guessed: &str) -> String {
    match p.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8".into(),
        "js" | "mjs" => "text/javascript; charset=utf-8".into(),
        "css" => "text/css; charset=utf-8".into(),
        _ => guessed.into(),
    }
}
