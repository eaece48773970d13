//! Joins are accepted from the lead time before a session starts until its end plus grace; a
//! session its host did not end ends by itself, and everyone still in it is told.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{now, TestServer};
use tongbu_load::SignalClient;
use tongbu_schedule::time::shanghai_datetime;
use tongbu_schedule::{
    JoinClaims, NewClassroom, NewSchool, NewSession, Region, Role, SessionId, SessionKind,
    SessionState,
};
use tongbu_signal::{ErrorCode, ServerMessage};

/// A lesson of its own two classrooms (so it never clashes with the demo lesson).
fn lesson(server: &TestServer, start_utc: i64, duration_min: i64) -> SessionId {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let store = &server.server.state.store;
    let school = store
        .add_school(&NewSchool::new(
            &format!("测试学校{n}"),
            Region::InnerMongolia,
            "武川县",
        ))
        .unwrap();
    let room = |name: &str| {
        store
            .add_classroom(&NewClassroom::new(school.id, name))
            .unwrap()
            .id
    };
    let (host, remote) = (room("物理实验室"), room("初二(1)班"));
    store
        .add_session(&NewSession::single(
            SessionKind::Lesson,
            "物理：浮力",
            "物理",
            start_utc,
            duration_min,
            host,
            vec![remote],
        ))
        .unwrap()[0]
        .id
}

/// A classroom link for the session's first remote classroom.
fn url(server: &TestServer, sid: SessionId) -> String {
    let session = server.server.state.store.session(sid).unwrap();
    let token = server.server.state.tokens.issue(&JoinClaims {
        sid,
        role: Role::Classroom,
        classroom: Some(session.spec.classrooms[0]),
        name: "测试学校 · 初二(1)班".into(),
        exp: now() + 6 * 3600,
        shared: false,
    });
    server.ws_url(&token)
}

async fn refusal(url: &str) -> (ErrorCode, String) {
    let mut c = SignalClient::connect(url).await.unwrap();
    match c.recv(Duration::from_secs(5)).await.unwrap() {
        ServerMessage::Error { code, message } => (code, message),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_early_and_too_late_are_refused_with_the_start_time() {
    let server = TestServer::start().await;
    let start = now() + 2 * 3600;
    let early = lesson(&server, start, 45);
    let (code, message) = refusal(&url(&server, early)).await;
    assert_eq!(code, ErrorCode::NotYetOpen);
    assert!(message.contains(&shanghai_datetime(start)), "{message}");
    assert!(message.contains("10 minutes"), "{message}");

    // Inside the lead time: accepted.
    let soon = lesson(&server, now() + 5 * 60, 45);
    let mut c = SignalClient::connect(&url(&server, soon)).await.unwrap();
    c.join()
        .await
        .expect("joins open 10 minutes before the start");

    // Past end + grace (15 minutes by default): refused.
    let past = lesson(&server, now() - 3 * 3600, 45);
    let (code, message) = refusal(&url(&server, past)).await;
    assert_eq!(code, ErrorCode::SessionClosed);
    assert!(message.contains("ended"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unended_session_ends_itself_at_end_plus_grace() {
    let server = TestServer::start_with(|c| c.grace_secs = 0).await;
    // Ends two seconds from now.
    let sid = lesson(&server, now() - 58, 1);
    let mut c = SignalClient::connect(&url(&server, sid)).await.unwrap();
    c.join().await.expect("joined before the end");
    let state = c
        .recv_until(Duration::from_secs(10), |m| match m {
            ServerMessage::SessionState {
                state: SessionState::Ended,
            } => Some(SessionState::Ended),
            _ => None,
        })
        .await
        .expect("told that the session ended");
    assert_eq!(state, SessionState::Ended);
    assert_eq!(
        server.server.state.store.session(sid).unwrap().state,
        SessionState::Ended,
        "persisted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_sessions_at_once_never_see_each_other() {
    use tongbu_load::{Publisher, Subscriber};

    let server = TestServer::start().await;
    let other = lesson(&server, now() - 60, 45);
    // Both sessions' teachers publish; a classroom of each receives.
    let publisher = Publisher::connect(&server.host_url(), &common::test_clip())
        .await
        .expect("publisher in the demo lesson");
    let other_host = {
        let session = server.server.state.store.session(other).unwrap();
        server.ws_url(&server.server.state.tokens.issue(&JoinClaims {
            sid: other,
            role: Role::Host,
            classroom: Some(session.spec.host),
            name: "物理实验室".into(),
            exp: now() + 6 * 3600,
            shared: false,
        }))
    };
    let other_publisher = Publisher::connect(&other_host, &common::test_clip())
        .await
        .expect("publisher in the other session");
    let mut outsider = Subscriber::connect(&url(&server, other))
        .await
        .expect("subscriber in the other session");
    let mut insider = Subscriber::connect(&server.classroom_url(1))
        .await
        .expect("subscriber in the demo lesson");
    let t = Duration::from_secs(10);
    insider
        .wait_for_packets(true, 10, t)
        .await
        .expect("the demo lesson's classroom receives its teacher");
    outsider
        .wait_for_packets(true, 10, t)
        .await
        .expect("the other session's classroom receives its own teacher");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (ours, theirs) = (publisher.participant, other_publisher.participant);
    for (who, sub, own, foreign) in [
        ("the demo classroom", &mut insider, ours, theirs),
        ("the other classroom", &mut outsider, theirs, ours),
    ] {
        assert!(
            sub.packets_from(own, true).len() >= 10,
            "{who} receives its own teacher's video"
        );
        for video in [true, false] {
            assert!(
                sub.packets_from(foreign, video).is_empty(),
                "{who} received the other session's media"
            );
        }
        while let Ok(m) = sub.messages.try_recv() {
            let heard = match &m {
                ServerMessage::ParticipantJoined { participant } => participant.id == foreign,
                ServerMessage::TrackPublished { track } => track.participant == foreign,
                ServerMessage::Offer { tracks, .. } => {
                    tracks.iter().any(|t| t.participant == foreign)
                }
                ServerMessage::Joined { roster, tracks, .. } => {
                    roster.iter().any(|p| p.id == foreign)
                        || tracks.iter().any(|t| t.participant == foreign)
                }
                _ => false,
            };
            assert!(!heard, "{who} heard of the other session: {m:?}");
        }
    }
    insider.close().await;
    outsider.close().await;
    publisher.close().await;
    other_publisher.close().await;
}
