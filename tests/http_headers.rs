//! What every answer carries for the browser's protection, against a real server: a content
//! security policy that forbids framing, no referrer (join links hold tokens), no sniffing, no
//! caching of API answers; the bearer scheme in any case; counters and metrics only for the
//! operator, liveness for anyone.

mod common;

use common::TestServer;
use reqwest::{Client, StatusCode};

#[tokio::test]
async fn pages_and_answers_carry_the_protective_headers() {
    let server = TestServer::start().await;
    let client = Client::new();
    for path in ["/", "/lesson.html", "/operator.html", "/api/demo"] {
        let res = client.get(server.http(path)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        let h = res.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(csp.contains("script-src 'self'"), "{path}: {csp}");
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        assert_eq!(h["referrer-policy"], "no-referrer", "{path}");
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
    }
    // API answers (operator data, join links) are not cached.
    let res = client
        .get(server.http("/api/sessions"))
        .header("authorization", server.operator_auth())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["cache-control"], "no-store");
}

#[tokio::test]
async fn the_bearer_scheme_is_read_in_any_case() {
    let server = TestServer::start().await;
    let token = server.server.state.operator.secret().to_string();
    for (scheme, want) in [
        ("Bearer", StatusCode::OK),
        ("bearer", StatusCode::OK),
        ("BEARER", StatusCode::OK),
        ("Basic", StatusCode::UNAUTHORIZED),
    ] {
        let res = Client::new()
            .get(server.http("/api/sessions"))
            .header("authorization", format!("{scheme} {token}"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), want, "{scheme}");
    }
}

#[tokio::test]
async fn counters_and_metrics_are_the_operators_liveness_is_anyones() {
    let server = TestServer::start().await;
    let client = Client::new();
    let open = common::json(client.get(server.http("/api/health"))).await;
    assert_eq!(open["status"], "ok");
    assert!(open.get("media").is_none(), "{open}");
    let full = common::json(
        client
            .get(server.http("/api/health"))
            .header("authorization", server.operator_auth()),
    )
    .await;
    assert!(full["media"]["udp"].is_string(), "{full}");
    let metrics = client.get(server.http("/metrics")).send().await.unwrap();
    assert_eq!(metrics.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn wrong_operator_tokens_make_the_address_wait() {
    let server = TestServer::start().await;
    let client = Client::new();
    let call = |auth: String| {
        client
            .get(server.http("/api/sessions"))
            .header("authorization", auth)
            .send()
    };
    // Five mistakes are free; the sixth is refused too, and then the address must wait.
    for i in 0..6 {
        let res = call(format!("Bearer guess-{i}")).await.unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "try {i}");
    }
    let res = call(server.operator_auth()).await.unwrap();
    assert_eq!(
        res.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "while it waits, not even the right token is checked"
    );
    assert_eq!(res.headers()["retry-after"], "2");
    // The same from /metrics: guessing there is no way around it.
    let metrics = client
        .get(server.http("/metrics"))
        .header("authorization", "Bearer another-guess")
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), StatusCode::TOO_MANY_REQUESTS);
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let res = call(server.operator_auth()).await.unwrap();
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "after the wait the right token works"
    );
}

/// Behind the reverse proxy every request comes from 127.0.0.1: the back-off follows the
/// address the proxy forwards, so one guesser does not make every operator wait.
#[tokio::test]
async fn behind_the_proxy_the_back_off_follows_the_forwarded_address() {
    let server = TestServer::start().await;
    let client = Client::new();
    let call = |from: &str, auth: String| {
        client
            .get(server.http("/api/sessions"))
            .header("x-forwarded-for", from)
            .header("authorization", auth)
            .send()
    };
    for i in 0..6 {
        let res = call("203.0.113.5", format!("Bearer guess-{i}"))
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "try {i}");
    }
    let guesser = call("203.0.113.5", server.operator_auth()).await.unwrap();
    assert_eq!(guesser.status(), StatusCode::TOO_MANY_REQUESTS);
    // Another school's operator, through the same proxy: judged, and let in.
    let operator = call("198.51.100.7", server.operator_auth()).await.unwrap();
    assert_eq!(operator.status(), StatusCode::OK);
    // nginx appends the client's address last: what the client wrote before it does not count.
    let forged = call("198.51.100.7, 203.0.113.5", server.operator_auth())
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::TOO_MANY_REQUESTS);
}

/// DNS rebinding: a page on another site that points its own name at 127.0.0.1 cannot read
/// the loopback demo's links; the same request addressed to localhost is answered.
#[tokio::test]
async fn a_loopback_server_answers_only_to_loopback_names() {
    let server = TestServer::start().await;
    let client = Client::new();
    let rebound = client
        .get(server.http("/api/demo"))
        .header(
            "host",
            format!("attacker.example:{}", server.server.http_addr.port()),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(rebound.status(), StatusCode::MISDIRECTED_REQUEST);
    assert!(rebound.text().await.unwrap().contains("localhost"));
    for host in ["localhost", "127.0.0.1"] {
        let res = client
            .get(server.http("/api/demo"))
            .header("host", format!("{host}:{}", server.server.http_addr.port()))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{host}");
    }
    // Without the demo, a server on loopback sits behind a reverse proxy that passes the
    // public name on: answered.
    let proxied = TestServer::start_with(|c| c.demo = false).await;
    let res = client
        .get(proxied.http("/lesson.html"))
        .header("host", "tongbu.example.edu.cn")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}
