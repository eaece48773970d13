//! The worker's forward path with real str0m peers in memory (crate::lab): what subscribers
//! receive is authenticated and decrypted by str0m, an implementation independent of Tongbu's
//! own SRTP.

use str0m::media::MediaKind;
use tongbu_rtc::lab::Fanout;

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
        if peer != lossy || !(128..192).contains(&bytes[0]) || (192..224).contains(&bytes[1]) {
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
