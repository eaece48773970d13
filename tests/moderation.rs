//! Moderation the server enforces, with real peers on loopback: a host's mute stops a
//! classroom's audio at the server although its page keeps sending, and lifts; a removed
//! classroom or person cannot come back with its link.

mod common;

use std::time::Duration;

use common::{now, test_clip, TestServer};
use tongbu_load::{Publisher, SignalClient, SignalError, Subscriber};
use tongbu_schedule::{JoinClaims, Role};
use tongbu_signal::{ClientMessage, ErrorCode, ServerMessage};

const T: Duration = Duration::from_secs(10);

async fn joined(url: &str) -> (SignalClient, u64) {
    let mut c = SignalClient::connect(url).await.expect("connects");
    let ServerMessage::Joined { you, .. } = c.join().await.expect("joins") else {
        unreachable!("join returns joined");
    };
    (c, you.id)
}

/// Waits for the host to be told of a mute change.
async fn told_muted(host: &mut SignalClient, who: u64, muted: bool) {
    host.recv_until(T, |m| match m {
        ServerMessage::Muted {
            participant,
            muted: m,
        } if *participant == who && *m == muted => Some(()),
        _ => None,
    })
    .await
    .expect("the room is told of the mute");
}

/// A join with `url` is refused with `removed`.
async fn refused_as_removed(url: &str, what: &str) {
    let mut c = SignalClient::connect(url).await.expect("connects");
    match c.join().await {
        Err(SignalError::Server { code, message }) => {
            assert_eq!(code, ErrorCode::Removed, "{what}: {message}");
            assert!(message.contains("removed"), "{what}: {message}");
        }
        other => panic!("{what}: a removed link joined: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_muted_classrooms_audio_stops_at_the_server_even_as_it_keeps_sending() {
    // Three media workers: the classroom's audio reaches listeners on others through handoff,
    // and the mute must hold on every one of them.
    let server = TestServer::start_with(|c| c.media_workers = 3).await;
    let (mut host, _) = joined(&server.host_url()).await;
    let classroom = Publisher::connect(&server.classroom_url(0), &test_clip())
        .await
        .expect("the classroom publishes");
    let who = classroom.participant;
    let mut listeners = Vec::new();
    for i in 1..3 {
        listeners.push(
            Subscriber::connect(&server.classroom_url(i))
                .await
                .expect("a listener connects"),
        );
    }
    for l in &listeners {
        l.wait_for_packets_from(who, false, 25, T)
            .await
            .expect("the classroom is heard before the mute");
    }

    host.send(&ClientMessage::Mute {
        participant: who,
        muted: true,
    });
    told_muted(&mut host, who, true).await;
    // What was on its way when the host clicked.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let heard = |l: &Subscriber| l.packets_from(who, false).len();
    let seen = |l: &Subscriber| l.packets_from(who, true).len();
    let before: Vec<(usize, usize)> = listeners.iter().map(|l| (heard(l), seen(l))).collect();
    let sent_before = classroom.audio_sent().len();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let sent = classroom.audio_sent().len() - sent_before;
    assert!(
        sent > 50,
        "the classroom kept sending audio: {sent} packets"
    );
    for (l, (a, v)) in listeners.iter().zip(&before) {
        let (a2, v2) = (heard(l), seen(l));
        eprintln!(
            "muted for 3 s: {sent} audio packets sent, {} heard, {} video packets seen",
            a2 - a,
            v2 - v
        );
        assert_eq!(a2, *a, "a muted classroom's audio reached a listener");
        assert!(v2 > v + 20, "its video goes on");
    }
    let stats = server.server.state.edge.stats().await.unwrap();
    assert!(
        stats.router.dropped_muted >= sent as u64,
        "counted: {} dropped as muted",
        stats.router.dropped_muted
    );

    host.send(&ClientMessage::Mute {
        participant: who,
        muted: false,
    });
    told_muted(&mut host, who, false).await;
    for (l, (a, _)) in listeners.iter().zip(&before) {
        l.wait_for_packets_from(who, false, a + 25, T)
            .await
            .expect("heard again once the host lifts the mute");
        // The listener sees one stream with no hole where the mute was: nothing to count lost.
        let p = l.packets_from(who, false);
        let (last, next) = (p[a - 1].seq, p[*a].seq);
        assert_eq!(
            next,
            last.wrapping_add(1),
            "numbering continues after the mute"
        );
    }

    // Muted again, the classroom reloads its page: it comes back muted.
    host.send(&ClientMessage::Mute {
        participant: who,
        muted: true,
    });
    told_muted(&mut host, who, true).await;
    let mut again = SignalClient::connect(&server.classroom_url(0))
        .await
        .unwrap();
    let ServerMessage::Joined { you, .. } = again.join().await.unwrap() else {
        unreachable!("join returns joined");
    };
    assert!(you.muted, "a muted classroom that rejoins is still muted");

    // Only a host moderates, and a host is not muted by another.
    let (other, _) = joined(&server.classroom_url(1)).await;
    let mut other = other;
    other.send(&ClientMessage::Mute {
        participant: you.id,
        muted: false,
    });
    let refused = other
        .recv_until(T, |m| match m {
            ServerMessage::Error { code, .. } => Some(*code),
            _ => None,
        })
        .await
        .unwrap();
    assert_eq!(refused, ErrorCode::Forbidden);
    for l in listeners {
        l.close().await;
    }
    classroom.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_classroom_cannot_come_back_with_any_of_its_links() {
    let server = TestServer::start().await;
    let (mut host, host_id) = joined(&server.host_url()).await;
    let (mut removed, id) = joined(&server.classroom_url(0)).await;
    let (_stays, _) = joined(&server.classroom_url(1)).await;

    host.send(&ClientMessage::Remove { participant: id });
    removed
        .recv_until(T, |m| matches!(m, ServerMessage::Removed).then_some(()))
        .await
        .expect("the removed classroom is told");
    let end = removed.recv_until(T, |_| None::<()>).await;
    assert!(matches!(end, Err(SignalError::Closed)), "{end:?}");
    host.recv_until(T, |m| match m {
        ServerMessage::ParticipantLeft { participant } if *participant == id => Some(()),
        _ => None,
    })
    .await
    .expect("the room sees it leave");

    // Its link, and any new link for that classroom (its timetable page mints them), is
    // refused; the other classroom still joins.
    refused_as_removed(
        &server.classroom_url(0),
        "a new link of the removed classroom",
    )
    .await;
    joined(&server.classroom_url(1)).await;

    // A host cannot be removed, nor remove itself; a classroom cannot remove anyone.
    host.send(&ClientMessage::Remove {
        participant: host_id,
    });
    let e = host
        .recv_until(T, |m| match m {
            ServerMessage::Error { code, message } => Some((*code, message.clone())),
            _ => None,
        })
        .await
        .unwrap();
    assert_eq!(e.0, ErrorCode::InvalidMessage, "{}", e.1);
    let (mut classroom, _) = joined(&server.classroom_url(2)).await;
    classroom.send(&ClientMessage::Remove {
        participant: host_id,
    });
    let e = classroom
        .recv_until(T, |m| match m {
            ServerMessage::Error { code, .. } => Some(*code),
            _ => None,
        })
        .await
        .unwrap();
    assert_eq!(e, ErrorCode::Forbidden);

    // An invited person's own link is barred, another person's is not.
    let personal = |name: &str| server.token(Role::Observer, None, name, now() + 3600);
    let (observer_token, other_token) = (personal("张老师"), personal("李老师"));
    let (mut person, observer) = joined(&server.ws_url(&observer_token)).await;
    host.send(&ClientMessage::Remove {
        participant: observer,
    });
    person
        .recv_until(T, |m| matches!(m, ServerMessage::Removed).then_some(()))
        .await
        .expect("the removed person is told");
    refused_as_removed(&server.ws_url(&observer_token), "the removed person's link").await;
    joined(&server.ws_url(&other_token)).await;

    // One of a shared link's crowd is disconnected, but the link goes on working for all.
    let shared = server.server.state.tokens.issue(&JoinClaims {
        sid: server.demo().session.id,
        role: Role::Observer,
        classroom: None,
        name: "观察员 Observer".into(),
        exp: now() + 3600,
        shared: true,
    });
    let (mut visitor, visitor_id) = joined(&server.ws_url(&shared)).await;
    host.send(&ClientMessage::Remove {
        participant: visitor_id,
    });
    visitor
        .recv_until(T, |m| matches!(m, ServerMessage::Removed).then_some(()))
        .await
        .unwrap();
    joined(&server.ws_url(&shared)).await;
}
