//! Malformed or unauthorised signaling gets a clear error and the server keeps serving.

mod common;

use std::time::Duration;

use common::{now, TestServer};
use tongbu_load::{SignalClient, SignalError};
use tongbu_schedule::Role;
use tongbu_signal::{ClientMessage, ErrorCode, ServerMessage, SessionState};

const T: Duration = Duration::from_secs(5);

/// The next error, skipping news about others (joins, tracks) that may arrive in between.
async fn expect_error(c: &mut SignalClient, code: ErrorCode) -> String {
    loop {
        match c.recv(T).await.expect("a reply") {
            ServerMessage::Error { code: got, message } => {
                assert_eq!(got, code, "error code (message: {message})");
                assert!(!message.is_empty());
                return message;
            }
            ServerMessage::ParticipantJoined { .. }
            | ServerMessage::ParticipantLeft { .. }
            | ServerMessage::SessionState { .. }
            | ServerMessage::HandRaised { .. }
            | ServerMessage::Floor { .. } => {}
            other => panic!("expected error {code:?}, got {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_tokens_are_refused_with_a_reason() {
    let server = TestServer::start().await;
    let base = format!("ws://{}/ws", server.server.http_addr);

    let mut c = SignalClient::connect(&base).await.unwrap();
    let m = expect_error(&mut c, ErrorCode::InvalidToken).await;
    assert!(m.contains("token"), "{m}");

    let expired = server.token(Role::Classroom, None, "late", now() - 10);
    let mut c = SignalClient::connect(&server.ws_url(&expired))
        .await
        .unwrap();
    let m = expect_error(&mut c, ErrorCode::InvalidToken).await;
    assert!(m.contains("expired"), "{m}");

    let good = server.token(Role::Host, None, "x", now() + 60);
    // Change one character in the middle of the signature: still valid base64 (the last
    // character may carry padding bits, so it is left alone), but no longer the signature.
    let sig_start = good.rfind('.').expect("three parts") + 1;
    let i = sig_start + 10;
    let c = if &good[i..=i] == "A" { "B" } else { "A" };
    let tampered = format!("{}{}{}", &good[..i], c, &good[i + 1..]);
    let mut c = SignalClient::connect(&server.ws_url(&tampered))
        .await
        .unwrap();
    let m = expect_error(&mut c, ErrorCode::InvalidToken).await;
    assert!(m.contains("not valid"), "{m}");

    let mut c = SignalClient::connect(&server.ws_url("garbage"))
        .await
        .unwrap();
    expect_error(&mut c, ErrorCode::InvalidToken).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_messages_get_errors_and_the_session_goes_on() {
    let server = TestServer::start().await;
    let mut a = SignalClient::connect(&server.classroom_url(0))
        .await
        .unwrap();
    let mut b = SignalClient::connect(&server.classroom_url(1))
        .await
        .unwrap();

    // Before join: garbage, then the wrong first message, then a wrong version.
    a.send_raw("this is not json");
    expect_error(&mut a, ErrorCode::MalformedJson).await;
    a.send(&ClientMessage::Chat { text: "hi".into() });
    expect_error(&mut a, ErrorCode::OutOfOrder).await;
    a.send(&ClientMessage::Join { version: 99 });
    expect_error(&mut a, ErrorCode::UnsupportedVersion).await;
    let ServerMessage::Joined { you, .. } = a.join().await.expect("join after errors") else {
        unreachable!()
    };
    b.join().await.expect("second participant joins");

    // After join: every kind of bad message, each answered, none fatal.
    a.send_raw(r#"{"type":"teleport"}"#);
    let m = expect_error(&mut a, ErrorCode::UnknownType).await;
    assert!(m.contains("teleport"), "{m}");
    a.send_raw(r#"{"no_type":true}"#);
    expect_error(&mut a, ErrorCode::UnknownType).await;
    a.send_raw(r#"{"type":"chat"}"#);
    let m = expect_error(&mut a, ErrorCode::InvalidMessage).await;
    assert!(m.contains("text"), "{m}");
    a.send_raw(r#"{"type":"offer","transport":"send","sdp":"v=0 not really"}"#);
    expect_error(&mut a, ErrorCode::NegotiationFailed).await;
    a.send_binary(vec![0, 1, 2]);
    expect_error(&mut a, ErrorCode::MalformedJson).await;
    // A classroom may not end the lesson.
    a.send(&ClientMessage::End);
    expect_error(&mut a, ErrorCode::Forbidden).await;

    // The session goes on: a chat from `a` reaches `b`.
    a.send(&ClientMessage::Chat {
        text: "老师好".into(),
    });
    let text = b
        .recv_until(T, |m| match m {
            ServerMessage::Chat { from, text, .. } if *from == you.id => Some(text.clone()),
            _ => None,
        })
        .await
        .expect("chat arrives at the other classroom");
    assert_eq!(text, "老师好");
    let state = server
        .server
        .state
        .store
        .session(server.server.state.demo.as_ref().unwrap().session.id)
        .unwrap()
        .state;
    assert_ne!(
        state,
        SessionState::Ended,
        "the forbidden end changed nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_host_ends_the_lesson_for_everyone_and_it_stays_ended() {
    let server = TestServer::start().await;
    let mut host = SignalClient::connect(&server.host_url()).await.unwrap();
    let mut room = SignalClient::connect(&server.classroom_url(0))
        .await
        .unwrap();
    host.join().await.unwrap();
    room.join().await.unwrap();
    host.send(&ClientMessage::End);
    for c in [&mut host, &mut room] {
        c.recv_until(T, |m| match m {
            ServerMessage::SessionState {
                state: SessionState::Ended,
            } => Some(()),
            _ => None,
        })
        .await
        .expect("everyone is told the lesson ended");
    }
    // The room closes with the lesson: every connection ends (and with it its media).
    for c in [&mut host, &mut room] {
        assert!(matches!(
            c.recv_until(T, |_| None::<()>).await,
            Err(SignalError::Closed)
        ));
    }
    // Persisted before it was announced; a late joiner is refused.
    let sid = server.server.state.demo.as_ref().unwrap().session.id;
    assert_eq!(
        server.server.state.store.session(sid).unwrap().state,
        SessionState::Ended
    );
    let mut late = SignalClient::connect(&server.classroom_url(1))
        .await
        .unwrap();
    let m = expect_error(&mut late, ErrorCode::SessionClosed).await;
    assert!(m.contains("ended"), "{m}");
    assert!(matches!(
        late.recv(Duration::from_secs(2)).await,
        Err(SignalError::Closed)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chat_flood_is_throttled_with_a_reason() {
    let server = TestServer::start().await;
    let mut a = SignalClient::connect(&server.classroom_url(0))
        .await
        .unwrap();
    a.join().await.unwrap();
    for i in 0..30 {
        a.send(&ClientMessage::Chat {
            text: format!("message {i}"),
        });
    }
    let (mut delivered, mut refused) = (0, 0);
    while delivered + refused < 30 {
        match a.recv(T).await.expect("a reply to each message") {
            ServerMessage::Chat { .. } => delivered += 1,
            ServerMessage::Error { code, message } => {
                assert_eq!(code, ErrorCode::InvalidMessage);
                assert!(message.contains("too many"), "{message}");
                refused += 1;
            }
            _ => {}
        }
    }
    assert!(
        (10..=12).contains(&delivered),
        "{delivered} of 30 got through a burst of 10"
    );
    // The connection is still fine once the sender slows down.
    tokio::time::sleep(Duration::from_millis(600)).await;
    a.send(&ClientMessage::Chat {
        text: "slower now".into(),
    });
    let text = a
        .recv_until(T, |m| match m {
            ServerMessage::Chat { text, .. } => Some(text.clone()),
            _ => None,
        })
        .await
        .unwrap();
    assert_eq!(text, "slower now");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_host_gives_an_observer_the_floor_and_takes_it_back() {
    let server = TestServer::start().await;
    let joined = |m: ServerMessage| match m {
        ServerMessage::Joined { you, .. } => you,
        other => panic!("expected joined, got {other:?}"),
    };
    let mut host = SignalClient::connect(&server.host_url()).await.unwrap();
    joined(host.join().await.unwrap());
    let observer_url =
        server.ws_url(&server.token(Role::Observer, None, "包头教研员", now() + 600));
    let mut observer = SignalClient::connect(&observer_url).await.unwrap();
    let me = joined(observer.join().await.unwrap());
    assert!(!me.floor);
    let mut classroom = SignalClient::connect(&server.classroom_url(0))
        .await
        .unwrap();
    let classroom_id = joined(classroom.join().await.unwrap()).id;
    // Any SDP will do to see the permission: past it, a bad SDP is a negotiation failure.
    let offer = r#"{"type":"offer","transport":"send","sdp":"v=0 not really"}"#;
    observer.send_raw(offer);
    let m = expect_error(&mut observer, ErrorCode::Forbidden).await;
    assert!(m.contains("floor"), "{m}");

    // Only the host gives the floor, and only to an observer.
    classroom.send(&ClientMessage::GrantFloor {
        participant: me.id,
        granted: true,
    });
    expect_error(&mut classroom, ErrorCode::Forbidden).await;
    host.send(&ClientMessage::GrantFloor {
        participant: classroom_id,
        granted: true,
    });
    let m = expect_error(&mut host, ErrorCode::InvalidMessage).await;
    assert!(m.contains("observer"), "{m}");

    // The observer raises a hand; the host gives it the floor; everyone is told.
    observer.send(&ClientMessage::RaiseHand { raised: true });
    host.recv_until(T, |m| {
        matches!(m, ServerMessage::HandRaised { raised: true, .. }).then_some(())
    })
    .await
    .expect("the host sees the hand");
    host.send(&ClientMessage::GrantFloor {
        participant: me.id,
        granted: true,
    });
    for c in [&mut observer, &mut classroom] {
        let got = c
            .recv_until(T, |m| match m {
                ServerMessage::Floor {
                    participant,
                    granted,
                } => Some((*participant, *granted)),
                _ => None,
            })
            .await
            .expect("the floor is announced");
        assert_eq!(got, (me.id, true));
    }
    observer.send_raw(offer);
    expect_error(&mut observer, ErrorCode::NegotiationFailed).await;
    // A classroom joining now sees who has the floor.
    let mut late = SignalClient::connect(&server.classroom_url(1))
        .await
        .unwrap();
    let ServerMessage::Joined { roster, .. } = late.join().await.unwrap() else {
        panic!("joined");
    };
    let o = roster
        .iter()
        .find(|p| p.id == me.id)
        .expect("observer in roster");
    assert!(o.floor && !o.hand_raised, "{o:?}");

    // Taken back: publishing is refused again.
    host.send(&ClientMessage::GrantFloor {
        participant: me.id,
        granted: false,
    });
    observer
        .recv_until(T, |m| {
            matches!(m, ServerMessage::Floor { granted: false, .. }).then_some(())
        })
        .await
        .expect("the observer is told");
    observer.send_raw(offer);
    expect_error(&mut observer, ErrorCode::Forbidden).await;
}

#[tokio::test]
async fn with_a_relay_configured_each_join_gets_its_own_expiring_turn_credential() {
    let server = TestServer::start_with(|c| {
        c.turn = tongbu_server::turn::Turn::from_config(
            Some("turns:127.0.0.1:443?transport=tcp".into()),
            Some("a-shared-secret-of-the-relay".into()),
            Some("60".into()),
        )
        .unwrap();
    })
    .await;
    let mut a = SignalClient::connect(&server.classroom_url(0))
        .await
        .unwrap();
    let mut b = SignalClient::connect(&server.classroom_url(1))
        .await
        .unwrap();
    let mut servers = Vec::new();
    for c in [&mut a, &mut b] {
        let ServerMessage::Joined {
            you, ice_servers, ..
        } = c.join().await.unwrap()
        else {
            unreachable!("join returns joined");
        };
        assert_eq!(ice_servers.len(), 1);
        let s = ice_servers[0].clone();
        assert_eq!(
            s.urls,
            vec!["turns:127.0.0.1:443?transport=tcp".to_string()]
        );
        let (expiry, who) = s.username.split_once(':').unwrap();
        assert_eq!(who, you.id.to_string());
        let expiry: i64 = expiry.parse().unwrap();
        assert!(
            (expiry - now() - 3600).abs() <= 5,
            "valid for the configured hour"
        );
        servers.push(s);
    }
    assert_ne!(servers[0].credential, servers[1].credential);
    // Without a relay the message carries none.
    let plain = TestServer::start().await;
    let mut c = SignalClient::connect(&plain.classroom_url(0))
        .await
        .unwrap();
    let ServerMessage::Joined { ice_servers, .. } = c.join().await.unwrap() else {
        unreachable!("join returns joined");
    };
    assert!(ice_servers.is_empty());
}

#[tokio::test]
async fn a_classroom_link_joined_again_replaces_its_older_connection() {
    let server = TestServer::start().await;
    let t = Duration::from_secs(10);
    let mut host = SignalClient::connect(&server.host_url()).await.unwrap();
    host.join().await.unwrap();
    let url = server.classroom_url(0);
    let mut first = SignalClient::connect(&url).await.unwrap();
    let ServerMessage::Joined { you: older, .. } = first.join().await.unwrap() else {
        unreachable!("join returns joined");
    };
    // The same link again (another tab, another computer).
    let mut second = SignalClient::connect(&url).await.unwrap();
    let ServerMessage::Joined { you, roster, .. } = second.join().await.unwrap() else {
        unreachable!("join returns joined");
    };
    assert_ne!(you.id, older.id);
    let seats = roster
        .iter()
        .filter(|p| p.role == Role::Classroom && p.classroom == older.classroom)
        .count();
    assert_eq!(seats, 1, "one link, one participant: {roster:?}");
    // The older connection is told, then closed; it does not linger as a second classroom.
    first
        .recv_until(t, |m| matches!(m, ServerMessage::Replaced).then_some(()))
        .await
        .expect("the older connection is told");
    let end = first.recv_until(t, |_| None::<()>).await;
    assert!(matches!(end, Err(SignalError::Closed)), "{end:?}");
    host.recv_until(t, |m| match m {
        ServerMessage::ParticipantLeft { participant } if *participant == older.id => Some(()),
        _ => None,
    })
    .await
    .expect("the host sees the older connection leave");
    // A shared observer link (a lecture's audience) is not a seat: both stay.
    let observer = server.ws_url(&server.token(Role::Observer, None, "访客", now() + 3600));
    let mut a = SignalClient::connect(&observer).await.unwrap();
    a.join().await.unwrap();
    let mut b = SignalClient::connect(&observer).await.unwrap();
    let ServerMessage::Joined { roster, .. } = b.join().await.unwrap() else {
        unreachable!("join returns joined");
    };
    assert_eq!(roster.iter().filter(|p| p.name == "访客").count(), 2);
}

/// The end of a lecture: hundreds of listeners leave within a moment. Everyone who reads
/// promptly, the teacher first, gets every `participant_left` and stays connected (each member
/// once had a 256-message queue and was dropped when it filled, however fast it read).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crowd_leaving_at_once_drops_nobody_who_reads() {
    const CROWD: usize = 600;
    const LEAVING: usize = 500;
    let server = TestServer::start().await;
    let t = Duration::from_secs(30);
    let mut host = SignalClient::connect(&server.host_url()).await.unwrap();
    host.join().await.unwrap();
    let url = server.ws_url(&server.token(Role::Observer, None, "听众", now() + 3600));
    let mut crowd = Vec::new();
    for chunk in 0..CROWD / 50 {
        let joins = (0..50).map(|_| async {
            let mut c = SignalClient::connect(&url).await.unwrap();
            let ServerMessage::Joined { you, .. } = c.join().await.unwrap() else {
                unreachable!("join returns joined");
            };
            (you.id, c)
        });
        crowd.extend(futures_util::future::join_all(joins).await);
        eprintln!("{} of {CROWD} joined", (chunk + 1) * 50);
    }
    let stayers = crowd.split_off(LEAVING);
    let leaving: std::collections::HashSet<u64> = crowd.iter().map(|(id, _)| *id).collect();
    for (_, c) in &crowd {
        c.close();
    }
    let mut listeners: Vec<SignalClient> = stayers.into_iter().map(|(_, c)| c).collect();
    listeners.push(host);
    let started = std::time::Instant::now();
    let seen = listeners.iter_mut().map(|c| {
        let leaving = &leaving;
        async move {
            let mut seen = std::collections::HashSet::new();
            while seen.len() < leaving.len() {
                match c.recv(t).await {
                    Ok(ServerMessage::ParticipantLeft { participant }) => {
                        assert!(leaving.contains(&participant), "{participant} left");
                        seen.insert(participant);
                    }
                    Ok(ServerMessage::Error { message, .. }) => return Err(message),
                    Ok(_) => {}
                    Err(e) => return Err(format!("{e} after {} leaves", seen.len())),
                }
            }
            Ok(seen.len())
        }
    });
    let results = futures_util::future::join_all(seen).await;
    eprintln!(
        "{} listeners saw {LEAVING} leave in {:?}",
        results.len(),
        started.elapsed()
    );
    let dropped: Vec<_> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert!(
        dropped.is_empty(),
        "{} dropped: {:?}",
        dropped.len(),
        &dropped[..dropped.len().min(3)]
    );
    // The teacher's connection still works.
    let mut host = listeners.pop().unwrap();
    host.send(&ClientMessage::Chat {
        text: "下课".into(),
    });
    let text = host
        .recv_until(t, |m| match m {
            ServerMessage::Chat { text, .. } => Some(text.clone()),
            _ => None,
        })
        .await
        .expect("the host's chat comes back");
    assert_eq!(text, "下课");
}

/// A lecture's audience is counted, not listed: forty listeners joining and leaving send the
/// teacher no `participant_joined`/`left`, only the audience's size; a listener who raises a
/// hand enters the roster (the teacher sees who) and leaves it when the hand goes down.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lectures_audience_is_counted_not_listed() {
    const CROWD: usize = 40;
    let server = TestServer::start().await;
    let lecture = server.demo().lecture.clone();
    let url = |role, classroom, name: &str| server.lecture_url(role, classroom, name, false);
    let mut host = SignalClient::connect(&url(Role::Host, Some(lecture.spec.host), "主讲"))
        .await
        .unwrap();
    host.join().await.unwrap();
    let listener = url(Role::Observer, None, "听众");
    let mut crowd = Vec::new();
    for i in 0..CROWD {
        let mut c = SignalClient::connect(&listener).await.unwrap();
        let ServerMessage::Joined {
            you,
            roster,
            audience,
            ..
        } = c.join().await.unwrap()
        else {
            unreachable!("join returns joined");
        };
        assert!(
            roster
                .iter()
                .all(|p| p.role != Role::Observer || p.id == you.id),
            "no other listener in a listener's roster: {roster:?}"
        );
        assert!(roster.iter().any(|p| p.role == Role::Host));
        assert_eq!(audience as usize, i + 1);
        crowd.push((you.id, c));
    }
    // The teacher hears the count, not forty joins.
    let counted = |want: u32| {
        move |m: &ServerMessage| match m {
            ServerMessage::ParticipantJoined { participant }
                if participant.role == Role::Observer =>
            {
                panic!("a listener announced one by one: {participant:?}")
            }
            ServerMessage::Audience { count } if *count == want => Some(()),
            _ => None,
        }
    };
    host.recv_until(T, counted(CROWD as u32))
        .await
        .expect("the audience's size");
    // One raises a hand: the teacher learns who, and the count no longer has it.
    let (asker, c) = &crowd[3];
    c.send(&ClientMessage::RaiseHand { raised: true });
    let who = host
        .recv_until(T, |m| match m {
            ServerMessage::ParticipantJoined { participant } => Some(participant.clone()),
            _ => None,
        })
        .await
        .expect("the listener with a hand up enters the roster");
    assert_eq!((who.id, who.hand_raised), (*asker, true));
    host.recv_until(T, |m| {
        matches!(m, ServerMessage::HandRaised { raised: true, .. }).then_some(())
    })
    .await
    .expect("the hand");
    host.recv_until(T, counted(CROWD as u32 - 1))
        .await
        .expect("39 in the audience");
    // The hand goes down: back to the audience.
    c.send(&ClientMessage::RaiseHand { raised: false });
    let left = host
        .recv_until(T, |m| match m {
            ServerMessage::ParticipantLeft { participant } => Some(*participant),
            _ => None,
        })
        .await
        .expect("out of the roster again");
    assert_eq!(left, *asker);
    // The crowd leaves: counted down to none, nobody announced.
    for (_, c) in &crowd {
        c.close();
    }
    host.recv_until(T, |m| match m {
        ServerMessage::ParticipantLeft { participant } => {
            panic!("a listener's leave announced: {participant}")
        }
        ServerMessage::Audience { count: 0 } => Some(()),
        _ => None,
    })
    .await
    .expect("an empty audience");
}

/// A lecture scheduled with an audience size holds that many listeners: the next is turned
/// away with `full` (and nothing changes for those inside), a seat freed by a leaver is taken
/// again, and the speaker is never counted against the seats.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lecture_holds_as_many_listeners_as_it_has_seats() {
    let server = TestServer::start().await;
    let lecture = server.demo().lecture.clone();
    let store = server.server.state.store.clone();
    let mut seated = tongbu_schedule::NewSession {
        spec: lecture.spec.clone(),
        zone: lecture.zone.clone(),
        starts: vec![lecture.start_utc],
        weekly: None,
    };
    seated.spec.audience = Some(2);
    store.update_session(lecture.id, &seated).unwrap();
    let url = |role, classroom, name: &str| server.lecture_url(role, classroom, name, true);
    let listener = url(Role::Observer, None, "听众");
    let mut inside = Vec::new();
    for _ in 0..2 {
        let mut c = SignalClient::connect(&listener).await.unwrap();
        c.join().await.expect("a seat is free");
        inside.push(c);
    }
    let mut third = SignalClient::connect(&listener).await.unwrap();
    match third.join().await {
        Err(SignalError::Server { code, message }) => {
            assert_eq!(code, ErrorCode::Full, "{message}");
            assert!(message.contains("2 seats"), "{message}");
        }
        other => panic!("a third listener got in: {other:?}"),
    }
    // The speaker is no listener: it joins a full lecture and hears the count of two.
    let mut host = SignalClient::connect(&url(Role::Host, Some(lecture.spec.host), "主讲"))
        .await
        .unwrap();
    let ServerMessage::Joined { audience, .. } = host.join().await.expect("the speaker joins")
    else {
        unreachable!("join returns joined");
    };
    assert_eq!(audience, 2);
    // One leaves: the seat is taken again.
    inside.pop().expect("two inside").close();
    host.recv_until(T, |m| {
        matches!(m, ServerMessage::Audience { count: 1 }).then_some(())
    })
    .await
    .expect("one left");
    let mut again = SignalClient::connect(&listener).await.unwrap();
    again.join().await.expect("the freed seat");
}
