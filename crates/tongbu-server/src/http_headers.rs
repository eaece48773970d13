//! What every HTTP answer carries for the browser's protection: the web client's pages load
//! only their own scripts, styles and media (a content security policy), may not be framed by
//! another site (the operator page least of all), never pass their URL — which holds a join
//! token — to another site as a referrer, and are never sniffed as another type. API answers are
//! not cached (operator data, join links) unless they say otherwise (courseware pages do).
//!
//! The demo on loopback answers only requests addressed to a loopback name: a web page
//! elsewhere cannot rebind its own domain's DNS to 127.0.0.1 and read the demo's links.

use axum::extract::Request;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
    X_FRAME_OPTIONS,
};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The web client's policy: its own files only; slide images from memory (`blob:`); the
/// WebSocket back to the same server.
pub const CONTENT_SECURITY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' blob: data:; media-src 'self' blob: mediastream:; connect-src 'self'; \
    object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Adds the headers to every answer.
pub async fn secure(req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let api = path.starts_with("/api/") || path == "/metrics";
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY),
    );
    if api && !h.contains_key(CACHE_CONTROL) {
        h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    res
}

/// Whether a `Host` header names this machine's loopback: `localhost` (or a name under it),
/// 127.0.0.0/8 or `[::1]`, with any port.
pub fn is_loopback_host(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name == "localhost"
        || name.ends_with(".localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// On the loopback demo: refuses (421) a request whose `Host` is not a loopback name.
pub async fn loopback_host(req: Request, next: Next) -> Response {
    let host = req
        .headers()
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.uri().host());
    match host {
        Some(h) if is_loopback_host(h) => next.run(req).await,
        _ => (
            StatusCode::MISDIRECTED_REQUEST,
            "this demo server answers only to localhost or 127.0.0.1; to serve the network, \
             turn the demo off (TONGBU_DEMO_ENABLED=false) or listen on a network address",
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::is_loopback_host;

    #[test]
    fn only_loopback_names_are_loopback_hosts() {
        for h in [
            "127.0.0.1:8080",
            "localhost",
            "LOCALHOST:80",
            "app.localhost:1",
            "[::1]:8080",
            "127.0.0.2",
            "localhost.",
        ] {
            assert!(is_loopback_host(h), "{h}");
        }
        for h in [
            "attacker.example:8080",
            "10.0.0.1",
            "[2001:db8::1]:80",
            "localhost.example.com",
            "127.0.0.1.nip.io",
            "",
        ] {
            assert!(!is_loopback_host(h), "{h}");
        }
    }
}
