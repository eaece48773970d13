//! The HTTP port holds up against idle sockets and oversized bodies, on a real server: a body
//! declared larger than allowed is refused at once (413), a connection that sends no request
//! (or trickles its headers) is closed, and past the connection cap a newcomer is told 503
//! straight away while the server keeps serving once places free up.

mod common;

use std::time::{Duration, Instant};

use common::TestServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tongbu_server::listener::HEADER_TIMEOUT;

/// Sends `head` and reads what the server answers until it closes or `within` passes.
async fn exchange(server: &TestServer, head: &str, within: Duration) -> String {
    let mut s = TcpStream::connect(server.server.http_addr).await.unwrap();
    s.write_all(head.as_bytes()).await.unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + within;
    while let Ok(Ok(n)) = tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
        if got.windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

/// `GET /api/demo`, and what the server answers.
async fn get_demo(server: &TestServer) -> String {
    let head = "GET /api/demo HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    exchange(server, head, Duration::from_secs(5)).await
}

#[tokio::test]
async fn a_body_declared_too_large_is_refused_before_it_is_sent() {
    let server = TestServer::start().await;
    for path in ["/api/sessions", "/api/courseware", "/api/schools"] {
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 10737418240\r\n\r\n"
        );
        // Not one byte of the 10 GB is sent: the answer comes from the header alone.
        let answer = exchange(&server, &head, Duration::from_secs(5)).await;
        assert!(answer.starts_with("HTTP/1.1 413"), "{path}: {answer:?}");
    }
}

#[tokio::test]
async fn a_connection_that_sends_no_request_is_closed() {
    let server = TestServer::start().await;
    let addr = server.server.http_addr;
    let bound = HEADER_TIMEOUT + Duration::from_secs(5);
    let idle = async {
        let mut s = TcpStream::connect(addr).await.unwrap();
        let t0 = Instant::now();
        let mut buf = [0u8; 64];
        let r = tokio::time::timeout(bound, s.read(&mut buf)).await;
        (r.map(|r| r.map_or(0, |n| n)), t0.elapsed())
    };
    // One header line a second, never finishing the request.
    let trickle = async {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
        let t0 = Instant::now();
        let mut buf = [0u8; 1024];
        loop {
            tokio::select! {
                r = s.read(&mut buf) => {
                    let n = r.unwrap_or(0);
                    return (n == 0 || String::from_utf8_lossy(&buf[..n]).contains("408"), t0.elapsed());
                }
                _ = tokio::time::sleep(Duration::from_secs(1)) => {
                    if t0.elapsed() > bound || s.write_all(b"X-Slow: 1\r\n").await.is_err() {
                        return (t0.elapsed() <= bound, t0.elapsed());
                    }
                }
            }
        }
    };
    let ((idle_read, idle_after), (trickle_closed, trickle_after)) = tokio::join!(idle, trickle);
    eprintln!("idle closed after {idle_after:?}, trickle after {trickle_after:?}");
    assert!(
        matches!(idle_read, Ok(0)),
        "an idle connection is closed (got {idle_read:?} after {idle_after:?})"
    );
    assert!(
        trickle_closed,
        "a trickling request is ended ({trickle_after:?})"
    );
    // The server still answers.
    let answer = get_demo(&server).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer:?}");
}

#[tokio::test]
async fn past_the_connection_cap_a_newcomer_is_told_at_once() {
    const CAP: usize = 20;
    let server = TestServer::start_with(|c| c.http_max_connections = CAP).await;
    let addr = server.server.http_addr;
    let mut held = Vec::new();
    for _ in 0..CAP {
        held.push(TcpStream::connect(addr).await.unwrap());
    }
    // Give the listener a moment to take all of them.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let t0 = Instant::now();
    let answer = get_demo(&server).await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer:?}");
    assert!(answer.contains("Retry-After"), "{answer:?}");
    eprintln!("503 after {:?}", t0.elapsed());
    // Places come back as sockets close.
    held.truncate(CAP - 2);
    let t0 = Instant::now();
    let answer = loop {
        let a = get_demo(&server).await;
        if a.starts_with("HTTP/1.1 200") || t0.elapsed() > Duration::from_secs(5) {
            break a;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer:?}");
}
