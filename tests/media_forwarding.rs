//! Real WebRTC peers on loopback: a webrtc-rs publisher sends VP8 + opus through the server
//! (str0m) to webrtc-rs subscribers.

mod common;

use std::time::{Duration, Instant};

use common::delivery::compare;
use common::{test_clip, TestServer};
use tongbu_load::{Publisher, ReceivedPacket, Subscriber};

/// The host publishes the test clip; `n` classrooms subscribe.
async fn teacher_and_classrooms(server: &TestServer, n: usize) -> (Publisher, Vec<Subscriber>) {
    let publisher = Publisher::connect(&server.host_url(), &test_clip())
        .await
        .expect("publisher connects");
    let mut subscribers = Vec::new();
    for i in 0..n {
        subscribers.push(
            Subscriber::connect(&server.classroom_url(i))
                .await
                .expect("subscriber connects"),
        );
    }
    (publisher, subscribers)
}

async fn close_all(publisher: Publisher, subscribers: Vec<Subscriber>) {
    for s in subscribers {
        s.close().await;
    }
    publisher.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_subscribers_receive_the_publishers_media_intact() {
    let server = TestServer::start().await;
    let (publisher, subscribers) = teacher_and_classrooms(&server, 3).await;
    // The publisher is asked for 40 ms opus frames with in-band FEC and DTX.
    let opus = publisher
        .answer
        .lines()
        .find(|l| l.starts_with("a=fmtp:111"))
        .unwrap_or_default()
        .to_string();
    assert!(
        opus.contains("useinbandfec=1") && opus.contains("usedtx=1"),
        "{opus}"
    );
    assert!(publisher.answer.contains("a=ptime:40"));
    tokio::time::sleep(Duration::from_secs(4)).await;
    // Packets sent in the last 300 ms may still be in flight. What the subscribers hold is read
    // before the publisher's log, so every packet received is already in that log.
    let cutoff = Instant::now() - Duration::from_millis(300);
    let received: Vec<[Vec<ReceivedPacket>; 2]> = subscribers
        .iter()
        .map(|s| [s.packets(true), s.packets(false)])
        .collect();
    let video = publisher.video_sent();
    let audio = publisher.audio_sent();

    for (i, s) in subscribers.iter().enumerate() {
        let kinds = [(true, &video, 96u8), (false, &audio, 111u8)];
        for (k, (is_video, sent, pt)) in kinds.into_iter().enumerate() {
            let what = format!(
                "subscriber {i} {}",
                if is_video { "video" } else { "audio" }
            );
            let recv = &received[i][k];
            assert!(!recv.is_empty(), "{what}: nothing received");
            let first_after = recv[0].at.saturating_duration_since(s.joined_at);
            assert!(
                first_after < Duration::from_secs(2),
                "{what}: first packet {first_after:?} after joining"
            );
            assert!(
                recv.iter().all(|p| p.payload_type == pt),
                "{what}: payload type"
            );
            assert_eq!(
                s.stream_id(is_video).as_deref(),
                Some(format!("p{}", publisher.participant).as_str()),
                "{what}: stream names its publisher"
            );
            let d = compare(sent, recv, cutoff, &what);
            eprintln!("{what}: first packet after {first_after:?}");
            d.at_least_99_pct(20, &what);
            assert!(
                d.gaps * 100 <= d.expected,
                "{what}: {} gaps in the sequence numbers",
                d.gaps
            );
        }
    }
    close_all(publisher, subscribers).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyframe_requests_are_aggregated_and_nacks_are_answered() {
    let server = TestServer::start().await;
    let (publisher, subscribers) = teacher_and_classrooms(&server, 3).await;
    for s in &subscribers {
        s.wait_for_packets(true, 20, Duration::from_secs(5))
            .await
            .expect("video flows");
    }
    // Let the keyframe requests of the joins settle.
    tokio::time::sleep(Duration::from_millis(1200)).await;

    // Three subscribers lose a picture at the same moment: the publisher is asked once.
    let before = publisher.keyframe_requests();
    let (a, b, c) = tokio::join!(
        subscribers[0].send_pli(),
        subscribers[1].send_pli(),
        subscribers[2].send_pli()
    );
    a.and(b).and(c).expect("PLIs sent");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let after = publisher.keyframe_requests();
    eprintln!("keyframe requests at the publisher: {before} before, {after} after 3 PLIs");
    assert_eq!(
        after - before,
        1,
        "three PLIs within 500 ms reach the publisher as one"
    );

    // A subscriber asks for a packet again: it arrives again, byte-identical, same number.
    let s = &subscribers[0];
    let got = s.packets(true);
    let wanted = got[got.len() - 10].clone();
    let asked_at = Instant::now();
    s.send_nack(&[wanted.seq]).await.expect("NACK sent");
    tokio::time::sleep(Duration::from_millis(800)).await;
    let again: Vec<ReceivedPacket> = s
        .packets(true)
        .into_iter()
        .filter(|p| p.seq == wanted.seq && p.at >= asked_at)
        .collect();
    assert_eq!(again.len(), 1, "the NACKed packet is retransmitted once");
    assert_eq!(
        again[0].payload, wanted.payload,
        "retransmission is byte-identical"
    );
    assert_eq!(again[0].timestamp, wanted.timestamp);

    close_all(publisher, subscribers).await;
}

/// A classroom behind 5 % random loss, repairing it as a browser does, gets at least 99 % of the
/// teacher's video through its NACKs — answered from the producer's one packet cache, on RTX —
/// while the classrooms on clean links receive every packet exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lossy_classroom_is_repaired_and_the_others_see_no_duplicate() {
    let server = TestServer::start().await;
    let (publisher, mut subscribers) = teacher_and_classrooms(&server, 2).await;
    subscribers.push(
        Subscriber::connect_repairing(&server.classroom_url(2), 5)
            .await
            .expect("lossy classroom connects"),
    );
    tokio::time::sleep(Duration::from_secs(8)).await;
    let cutoff = Instant::now() - Duration::from_millis(600);
    let received: Vec<Vec<ReceivedPacket>> = subscribers.iter().map(|s| s.packets(true)).collect();
    let sent = publisher.video_sent();
    for (i, recv) in received.iter().enumerate() {
        let lossy = i == 2;
        let what = format!("classroom {i}{}", if lossy { " (5 % loss)" } else { "" });
        // `compare` fails on any sequence number received twice: nobody gets a copy it did not
        // ask for, and the lossy classroom gets each repair once.
        compare(&sent, recv, cutoff, &what).at_least_99_pct(60, &what);
    }
    let stats = server.server.state.edge.stats().await.unwrap();
    eprintln!(
        "retransmitted {}, from the cache {}, missed {}",
        stats.retransmitted, stats.router.resent, stats.router.resend_missed
    );
    assert!(
        stats.retransmitted > 0,
        "the losses were repaired by retransmission"
    );
    assert_eq!(
        stats.router.resend_missed, 0,
        "every NACKed packet was in the cache"
    );
    close_all(publisher, subscribers).await;
}

/// Three media workers share the one media port: the teacher's packets are unprotected once on
/// its worker and handed once to each other worker with classrooms on it; every classroom gets
/// them all; junk from many addresses lands on every worker's socket and is dropped and counted
/// there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_workers_share_the_port_and_the_fan_out() {
    let server = TestServer::start_with(|c| c.media_workers = 3).await;
    let (publisher, subscribers) = teacher_and_classrooms(&server, 4).await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    let cutoff = Instant::now() - Duration::from_millis(300);
    let sent = publisher.video_sent();
    for (i, s) in subscribers.iter().enumerate() {
        let what = format!("classroom {i}");
        compare(&sent, &s.packets(true), cutoff, &what).at_least_99_pct(20, &what);
    }
    let edge = &server.server.state.edge;
    assert_eq!(edge.workers(), 3);
    let total = edge.stats().await.unwrap();
    assert_eq!(total.workers, 3);
    assert!(total.handoffs_in > 0, "packets crossed workers: {total:?}");
    assert_eq!(total.handoffs_dropped, 0);
    eprintln!(
        "handed over: {} packets to other workers, {} datagrams to their owners",
        total.handoffs_in, total.handed_off
    );

    let before: Vec<u64> = edge
        .worker_stats()
        .await
        .unwrap()
        .iter()
        .map(|s| s.dropped_unknown_source)
        .collect();
    for _ in 0..60 {
        let junk = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        junk.send_to(&[0x80; 40], server.server.media_addr)
            .await
            .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after = edge.worker_stats().await.unwrap();
    let dropped: Vec<u64> = after
        .iter()
        .zip(&before)
        .map(|(s, b)| s.dropped_unknown_source - b)
        .collect();
    assert_eq!(dropped.iter().sum::<u64>(), 60, "{dropped:?}");
    assert!(
        dropped.iter().all(|&d| d > 0),
        "every worker's socket got some junk and dropped it: {dropped:?}"
    );
    close_all(publisher, subscribers).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishers_come_and_go_without_the_subscriber_reconnecting() {
    use tongbu_signal::{ServerMessage, TransportKind};

    let server = TestServer::start().await;
    let mut watcher = Subscriber::connect(&server.classroom_url(0))
        .await
        .expect("subscriber connects");

    // The teacher publishes; the classroom receives.
    let first = Publisher::connect(&server.host_url(), &test_clip())
        .await
        .expect("first publisher");
    let _ = watcher
        .wait_for_packets_from(first.participant, true, 10, Duration::from_secs(5))
        .await;
    assert!(watcher.packets_from(first.participant, true).len() >= 10);

    // Garbage on the media port is dropped and counted; nothing else changes.
    let edge = &server.server.state.edge;
    let before = edge.stats().await.unwrap();
    let junk = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    for n in 0..20u8 {
        junk.send_to(&[n; 40], server.server.media_addr)
            .await
            .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after = edge.stats().await.unwrap();
    assert_eq!(
        after.dropped_unknown_source - before.dropped_unknown_source,
        20
    );

    // The teacher leaves: the classroom is told.
    let first_id = first.participant;
    first.close().await;
    let mut unpublished = 0;
    let mut left = false;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !(unpublished == 2 && left) {
        let m = tokio::time::timeout_at(deadline, watcher.messages.recv())
            .await
            .expect("news of the departure")
            .expect("signaling open");
        match m {
            ServerMessage::TrackUnpublished { .. } => unpublished += 1,
            ServerMessage::ParticipantLeft { participant } => left |= participant == first_id,
            _ => {}
        }
    }

    // Another publisher arrives: the same connection receives it.
    let second = Publisher::connect(&server.classroom_url(1), &test_clip())
        .await
        .expect("second publisher");
    let _ = watcher
        .wait_for_packets_from(second.participant, true, 10, Duration::from_secs(5))
        .await;
    assert!(
        watcher.packets_from(second.participant, true).len() >= 10,
        "the new publisher's video reaches the classroom without a reconnect"
    );
    assert!(!watcher.packets_from(second.participant, false).is_empty());
    // The offer that brought the new tracks also stopped the departed teacher's lines, on the
    // same transport.
    let mut last_offer = None;
    while let Ok(m) = watcher.messages.try_recv() {
        if let ServerMessage::Offer {
            transport: TransportKind::Recv,
            tracks,
            new_transport,
            ..
        } = m
        {
            last_offer = Some((tracks, new_transport));
        }
    }
    let (tracks, new_transport) = last_offer.expect("an offer for the new publisher");
    assert!(!new_transport, "renegotiated on the same transport");
    assert!(tracks.iter().all(|t| t.participant == second.participant));
    assert_eq!(tracks.len(), 2);
    let stats = edge.stats().await.unwrap();
    assert_eq!(
        stats.participants, 2,
        "the first publisher is gone from the media edge"
    );

    second.close().await;
    watcher.close().await;
}

/// A studio encoder's H.264 (a real libx264 clip, constrained baseline, offered alone) goes to
/// subscribers untouched: each starts at a keyframe's parameter sets, gets every payload
/// byte-identical and in order, and what arrived decodes (ffprobe reads every frame at 320×240).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_h264_publishers_frames_reach_subscribers_intact_and_decode() {
    use tongbu_load::h264_clip::depacketize_h264;
    use tongbu_load::media::VideoClip;
    let server = TestServer::start().await;
    let clip = common::h264_clip();
    let publisher = Publisher::connect_clip(
        &server.host_url(),
        VideoClip::h264(&clip, 15.0).expect("an H.264 clip"),
    )
    .await
    .expect("publisher connects");
    assert!(
        publisher.answer.contains("H264/90000") && !publisher.answer.contains("VP8/90000"),
        "the server answers H.264 alone: {}",
        publisher.answer
    );
    let mut subscribers = Vec::new();
    for i in 0..2 {
        subscribers.push(
            Subscriber::connect(&server.classroom_url(i))
                .await
                .expect("subscriber connects"),
        );
    }
    tokio::time::sleep(Duration::from_secs(4)).await;
    let cutoff = Instant::now() - Duration::from_millis(300);
    let received: Vec<Vec<ReceivedPacket>> = subscribers.iter().map(|s| s.packets(true)).collect();
    let sent = publisher.video_sent();
    for (i, recv) in received.iter().enumerate() {
        let what = format!("subscriber {i} video");
        assert!(!recv.is_empty(), "{what}: nothing received");
        assert!(
            tongbu_media::h264::is_keyframe_start(&recv[0].payload),
            "{what}: starts at a keyframe"
        );
        let pt = recv[0].payload_type;
        assert!(
            pt != 96 && recv.iter().all(|p| p.payload_type == pt),
            "{what}: one H.264 payload type, not VP8's"
        );
        let d = compare(&sent, recv, cutoff, &what);
        d.at_least_99_pct(40, &what);
        // What arrived, in sequence order, is a stream a decoder reads to the last frame.
        let mut ordered = recv.clone();
        ordered.sort_by_key(|p| p.seq.wrapping_sub(recv[0].seq));
        let stream = depacketize_h264(ordered.iter().map(|p| &p.payload[..]));
        let d = common::decode_h264(&stream);
        eprintln!(
            "{what}: decoded {}×{}, {} frames",
            d.width, d.height, d.frames
        );
        assert_eq!((d.width, d.height), (320, 240), "{what}");
        assert!(
            d.frames >= 40,
            "{what}: {} frames decoded in 4 s at 15 fps",
            d.frames
        );
        assert!(
            d.complaints.is_empty(),
            "{what}: decoder complained: {}",
            d.complaints
        );
    }
    close_all(publisher, subscribers).await;
}
