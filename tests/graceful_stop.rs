//! A graceful stop, on the real binary: SIGTERM (what systemd and containers send) tells every
//! participant the server is restarting (`server_restarting`, then close code 1012, so its page
//! rejoins by itself), and the process exits cleanly within its bound. After the restart,
//! participant ids are new ones: a page's roster from before names no one else.

mod common;

use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;

struct Running {
    child: Child,
    base: String,
}

fn start(data_dir: &Path) -> Running {
    let (child, base) = common::spawn_binary(data_dir, &[("TONGBU_DEMO_ENABLED", "true")]);
    Running { child, base }
}

/// Joins with the demo's link of `role`; returns the socket and the id the server gave.
async fn join(
    base: &str,
    role: &str,
) -> (
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
    u64,
) {
    let ws = common::demo_ws_url(base, None, role).await;
    let (mut socket, _) = tokio_tungstenite::connect_async(ws.as_str()).await.unwrap();
    socket
        .send(Message::text(r#"{"type":"join","version":1}"#))
        .await
        .unwrap();
    loop {
        let m = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .expect("joined in time")
            .unwrap()
            .unwrap();
        if let Message::Text(t) = m {
            let v: Value = serde_json::from_str(&t).unwrap();
            if v["type"] == "joined" {
                return (socket, v["you"]["id"].as_u64().unwrap());
            }
        }
    }
}

#[tokio::test]
async fn sigterm_tells_everyone_to_rejoin_and_ids_are_not_reused_after_the_restart() {
    let dir = std::env::temp_dir().join(format!("tongbu-stop-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut server = start(&dir);
    let (mut host, host_id) = join(&server.base, "host").await;
    let (mut room, _) = join(&server.base, "classroom").await;

    let stop = Instant::now();
    let term = Command::new("kill")
        .arg("-TERM")
        .arg(server.child.id().to_string())
        .status()
        .unwrap();
    assert!(term.success());
    for socket in [&mut host, &mut room] {
        let mut told = false;
        let close = loop {
            let m = tokio::time::timeout(Duration::from_secs(10), socket.next())
                .await
                .expect("told before the bound");
            match m {
                Some(Ok(Message::Text(t))) => {
                    told |=
                        serde_json::from_str::<Value>(&t).unwrap()["type"] == "server_restarting";
                }
                Some(Ok(Message::Close(frame))) => break frame,
                Some(Ok(_)) => {}
                other => panic!("the connection ended without a close frame: {other:?}"),
            }
        };
        assert!(told, "the participant was told the server restarts");
        assert_eq!(close.map(|f| f.code), Some(CloseCode::Restart));
    }
    // The process exits cleanly, within its bound.
    let status = loop {
        if let Some(s) = server.child.try_wait().unwrap() {
            break s;
        }
        assert!(stop.elapsed() < Duration::from_secs(10), "still running");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "{status}");
    eprintln!("stopped in {:?}", stop.elapsed());

    // Restarted on the same data: the host rejoins with the same link and a new id.
    let mut again = start(&dir);
    let (_host, new_id) = join(&again.base, "host").await;
    assert!(
        new_id > host_id,
        "ids are not reused: {host_id} then {new_id}"
    );
    again.child.kill().unwrap();
    let _ = again.child.wait();
    let _ = std::fs::remove_dir_all(&dir);
}
