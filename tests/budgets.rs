//! Budgets that sockets cannot multiply: forty sockets on one observer link share one chat
//! budget (each alone had its own: 400 lines at once), and a classroom runs two network checks
//! at a time however many its term-long link opens.

mod common;

use std::time::Duration;

use common::{now, TestServer};
use tongbu_load::SignalClient;
use tongbu_schedule::Role;
use tongbu_signal::{ClientMessage, ErrorCode, ServerMessage};

const T: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forty_sockets_on_one_link_share_its_chat_budget() {
    let server = TestServer::start().await;
    let mut room = SignalClient::connect(&server.classroom_url(0))
        .await
        .unwrap();
    room.join().await.unwrap();
    let link = server.ws_url(&server.token(Role::Observer, None, "观摩教师", now() + 3600));
    let mut crowd = Vec::new();
    for _ in 0..40 {
        let mut c = SignalClient::connect(&link).await.unwrap();
        c.join().await.unwrap();
        crowd.push(c);
    }
    for (i, c) in crowd.iter().enumerate() {
        for j in 0..10 {
            c.send(&ClientMessage::Chat {
                text: format!("{i}.{j}"),
            });
        }
    }
    // Every sender hears back about each of its lines: the chat, or "too many".
    let (mut refused, mut answered) = (0, 0);
    for c in crowd.iter_mut() {
        let mut seen = 0;
        while seen < 10 {
            match c.recv(T).await.expect("an answer to each line") {
                ServerMessage::Chat { text, .. } if text.starts_with(&format!("{answered}.")) => {
                    seen += 1
                }
                ServerMessage::Error { code, message } => {
                    assert_eq!(code, ErrorCode::InvalidMessage, "{message}");
                    assert!(message.contains("too many"), "{message}");
                    refused += 1;
                    seen += 1;
                }
                _ => {}
            }
        }
        answered += 1;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut delivered = 0;
    while let Ok(m) = room.recv(Duration::from_millis(200)).await {
        if matches!(m, ServerMessage::Chat { .. }) {
            delivered += 1;
        }
    }
    eprintln!(
        "400 lines from 40 sockets of one link: {delivered} reached the room, {refused} refused"
    );
    assert_eq!(delivered + refused, 400);
    assert!(
        (20..=30).contains(&delivered),
        "the link's burst of 20 and its rate, not 40 sockets' 400"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_classroom_runs_two_network_checks_at_a_time() {
    let server = TestServer::start().await;
    let classroom = server.demo().classrooms[0];
    let token = server.token(Role::Classroom, Some(classroom), "初二(1)班", now() + 3600);
    let url = format!("ws://{}/ws/check?token={token}", server.server.http_addr);
    let mut checks = Vec::new();
    for _ in 0..5 {
        checks.push(SignalClient::connect(&url).await.unwrap());
    }
    let mut running = Vec::new();
    let mut refused = 0;
    for c in checks {
        let mut c = c;
        match c.recv(T).await.expect("an answer") {
            ServerMessage::IceServers { .. } => running.push(c),
            ServerMessage::Error { message, .. } => {
                assert!(message.contains("running already"), "{message}");
                refused += 1;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((running.len(), refused), (2, 3));
    // The running ones end: another may start.
    for c in running {
        c.close();
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut again = SignalClient::connect(&url).await.unwrap();
    let m = again.recv(T).await.expect("an answer");
    assert!(matches!(m, ServerMessage::IceServers { .. }), "{m:?}");
}
