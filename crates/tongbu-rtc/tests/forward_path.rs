//! The worker's forward path with real str0m peers in memory (crate::lab): what subscribers
//! receive is authenticated and decrypted by str0m, an implementation independent of Tongbu's
//! own SRTP.

use str0m::media::MediaKind;
use tongbu_rtc::lab::Fanout;
use tongbu_rtc::rtcp::{is_rtcp, is_rtp_or_rtcp};

#[test]
fn every_subscriber_decrypts_every_packet_in_order() {
    let mut f = Fanout::recording(5);
    for p in f.subscribers().collect::<Vec<_>>() {
        f.lab.peers[p].received.clear();
    }
    let mut sent = Vec::new();
    for i in 0..50 {
        let kind = if i % 3 == 0 {
            MediaKind::Audio
        } else {
            MediaKind::Video
        };
        let d = f.datagram(
            kind,
            if kind == MediaKind::Audio { 160 } else { 1200 },
            false,
        );
        assert_eq!(f.forward(&d), 5, "one copy per subscriber");
        f.lab.deliver();
        sent.push(kind);
        f.lab.pump(5);
    }
    for p in f.subscribers().collect::<Vec<_>>() {
        let got = &f.lab.peers[p].received;
        let video = got.iter().filter(|r| r.payload.len() == 1200).count();
        let audio = got.iter().filter(|r| r.payload.len() == 160).count();
        assert_eq!(
            video,
            sent.iter().filter(|k| **k == MediaKind::Video).count(),
            "peer {p}"
        );
        assert_eq!(
            audio,
            sent.iter().filter(|k| **k == MediaKind::Audio).count(),
            "peer {p}"
        );
    }
    // Long enough for every report interval str0m has (5 s for audio by default): still nothing
    // of its own on the subscribers' transports.
    f.lab.pump(12_000);
    let s = f.lab.worker.stats();
    assert_eq!(s.str0m_media_on_recv, 0, "str0m sent no media of its own");
    assert_eq!(s.keys_missing, 0);
    assert_eq!(s.egress_transports, 5);
}

/// A subscriber behind 5 % random loss gets ≥ 99 % of the video back through its NACKs,
/// answered from the producer's shared cache; the others see no duplicate.
#[test]
fn nacks_repair_a_lossy_subscriber_from_the_shared_cache() {
    let mut f = Fanout::recording(3);
    let subs: Vec<usize> = f.subscribers().collect();
    let lossy = subs[0];
    for &p in &subs {
        f.lab.peers[p].received.clear();
    }
    // Deterministic "random" loss: a 32-bit LCG, 5 % of the lossy subscriber's RTP.
    let mut rng = 0x1234_5678u32;
    let lost = std::rc::Rc::new(std::cell::Cell::new(0));
    let counter = lost.clone();
    f.lab.filter = Some(Box::new(move |peer, bytes| {
        if peer != lossy || !is_rtp_or_rtcp(bytes) || is_rtcp(bytes) {
            return true;
        }
        rng = rng.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        let keep = rng % 100 >= 5;
        counter.set(counter.get() + usize::from(!keep));
        keep
    }));
    let sent = 400;
    for _ in 0..sent {
        let d = f.datagram(MediaKind::Video, 1200, false);
        f.forward(&d);
        f.lab.pump(10);
    }
    f.lab.filter = None;
    f.lab.pump(500);
    for &p in &subs {
        let got = &f.lab.peers[p].received;
        let mut seqs: Vec<u64> = got.iter().map(|r| r.seq).collect();
        let total = seqs.len();
        seqs.sort_unstable();
        seqs.dedup();
        if p == lossy {
            assert!(
                seqs.len() * 100 >= sent * 99,
                "lossy subscriber recovered {} of {sent}",
                seqs.len()
            );
        } else {
            assert_eq!(seqs.len(), sent, "peer {p}");
            assert_eq!(total, sent, "peer {p} saw a duplicate");
        }
    }
    let s = f.lab.worker.stats();
    assert!(lost.get() >= 10, "the link lost {} packets", lost.get());
    assert!(s.retransmitted as usize >= lost.get() - 1, "{s:?}");
    assert_eq!(s.router.resend_missed, 0);
}

/// Each outbound stream's sender report maps to the publisher's clock through the timestamp
/// rewrite: a video and an audio packet the publisher captured at the same instant map, through
/// the subscriber's own video and audio reports, to the same NTP time (what lip sync needs).
#[test]
fn sender_reports_keep_audio_and_video_on_the_publishers_clock() {
    let mut f = Fanout::recording(2);
    let sub = f.subscribers().next().expect("a subscriber");
    f.lab.peers[sub].received.clear();
    // 3 s of media, a video and an audio packet captured together every 20 ms.
    for _ in 0..150 {
        for (kind, len) in [(MediaKind::Video, 1000), (MediaKind::Audio, 160)] {
            let d = f.datagram(kind, len, false);
            f.forward(&d);
        }
        f.lab.deliver();
        f.lab.pump(20);
    }
    let peer = &f.lab.peers[sub];
    let ssrc_of = |len: usize| {
        peer.received
            .iter()
            .find(|r| r.payload.len() == len)
            .map(|r| r.ssrc)
            .expect("received")
    };
    let (video, audio) = (ssrc_of(1000), ssrc_of(160));
    let last_sr = |ssrc: u32| {
        *peer
            .sender_reports
            .iter()
            .rev()
            .find(|s| s.0 == ssrc)
            .unwrap_or_else(|| panic!("no sender report for {ssrc}"))
    };
    let (v_sr, a_sr) = (last_sr(video), last_sr(audio));
    let secs = |t: std::time::SystemTime| {
        t.duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970")
            .as_secs_f64()
    };
    // A late pair of packets captured together: same payload marker bytes [2..10] ± 1.
    let last_video = peer
        .received
        .iter()
        .rev()
        .find(|r| r.ssrc == video)
        .expect("video");
    let mark =
        |r: &tongbu_rtc::lab::Received| u64::from_be_bytes(r.payload[2..10].try_into().unwrap());
    let audio_pair = peer
        .received
        .iter()
        .rev()
        .find(|r| r.ssrc == audio && mark(r) == mark(last_video) + 1)
        .expect("the audio packet sent with it");
    let ntp_of = |ts: u32, sr: (u32, std::time::SystemTime, u32), rate: f64| {
        secs(sr.1) + f64::from(ts.wrapping_sub(sr.2) as i32) / rate
    };
    let v = ntp_of(last_video.timestamp, v_sr, 90_000.0);
    let a = ntp_of(audio_pair.timestamp, a_sr, 48_000.0);
    assert!(
        (v - a).abs() < 0.005,
        "captured together, they map {:.1} ms apart",
        (v - a) * 1e3
    );
    // The lab's clock runs ahead of the real one by what it pumped.
    let ahead = f
        .lab
        .now
        .saturating_duration_since(std::time::Instant::now());
    let wall = secs(std::time::SystemTime::now()) + ahead.as_secs_f64();
    assert!(
        (wall - v).abs() < 1.0,
        "the NTP time is the publisher's wall clock"
    );
}

/// A subscriber's transport that closes (it left, or its DTLS closed) leaves neither its keys
/// nor its send state behind.
#[test]
fn a_closed_transport_releases_its_keys_and_buffers() {
    let mut f = Fanout::new(3);
    let subs: Vec<usize> = f.subscribers().collect();
    let before = f.lab.worker.stats();
    assert_eq!(before.egress_transports, 3);
    // One leaves through signaling.
    let keys = f.lab.recv_keys(subs[0]).expect("keys");
    assert!(
        keys.get().is_some_and(|k| k.is_ok()),
        "the handshake exported them"
    );
    let id = f.lab.peers[subs[0]].id;
    f.lab.worker.handle_leave(id, f.lab.now);
    assert_eq!(keys.holders(), 1, "only this test still holds them");
    // Another closes its DTLS.
    let keys = f.lab.recv_keys(subs[1]).expect("keys");
    f.lab.peers[subs[1]].rtc.close().expect("close");
    f.lab.pump(1000);
    let after = f.lab.worker.stats();
    assert_eq!(after.egress_transports, 1, "{after:?}");
    assert_eq!(keys.holders(), 1, "closed by DTLS: released too");
    assert_eq!(
        f.fan_out(MediaKind::Video, 1200),
        1,
        "the one left still gets its copy"
    );
}

/// Junk from a subscriber's own address — bad SRTCP, RTP where only RTCP belongs — is dropped
/// and counted, and that subscriber's media goes on.
#[test]
fn junk_from_a_subscriber_is_dropped_and_counted() {
    let mut f = Fanout::new(2);
    let sub = f.subscribers().next().expect("a subscriber");
    let src = f.lab.peers[sub].addr;
    let before = f.lab.worker.stats().dropped_malformed;
    let now = f.lab.now;
    // RTCP-looking garbage (fails SRTCP authentication), an RTP packet, a truncated one.
    let mut rtcp = vec![0x81, 201, 0, 7];
    rtcp.extend_from_slice(&[0x5a; 60]);
    let mut rtp = vec![0x80, 96, 0, 1];
    rtp.extend_from_slice(&[0x5a; 60]);
    for junk in [&rtcp[..], &rtp[..], &rtcp[..10]] {
        f.lab.worker.receive_datagram(src, junk, now);
    }
    assert_eq!(f.lab.worker.stats().dropped_malformed - before, 3);
    assert_eq!(f.fan_out(MediaKind::Video, 1200), 2);
}
