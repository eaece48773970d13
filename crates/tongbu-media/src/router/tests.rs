//! The router's tests: one publisher, a few subscribers, time driven by hand.

use super::*;
use crate::keyframe_requests;
use std::sync::Arc;
use std::time::Duration;

const KEY: [u8; 4] = [0x10, 0x50, 0x01, 0x00];
const DELTA: [u8; 4] = [0x10, 0x51, 0x01, 0x00];

fn pkt(seq: u16, payload: &[u8]) -> RtpIn {
    RtpIn {
        seq,
        timestamp: u32::from(seq) * 3000,
        marker: true,
        layer: Layer::BASE,
        payload: Arc::from(payload),
    }
}

fn router_with_video() -> Router {
    let mut r = Router::new();
    r.add_producer(ProducerId(1), ParticipantId(1), Codec::Vp8)
        .unwrap();
    r
}

#[test]
fn waiting_for_a_keyframe_is_the_subscribers_freeze_a_camera_pause_is_the_publishers() {
    let t0 = Instant::now();
    let ms = |n: u64| t0 + Duration::from_millis(n);
    let mut r = router_with_video();
    r.add_consumer(ProducerId(1), ParticipantId(2), ConsumerId(1), 96, t0)
        .unwrap();
    let mut out = Vec::new();
    // Waiting for the first keyframe is a start, not a freeze.
    r.forward(ProducerId(1), &pkt(1, &DELTA), ms(0), &mut out)
        .unwrap();
    r.forward(ProducerId(1), &pkt(2, &KEY), ms(900), &mut out)
        .unwrap();
    r.forward(ProducerId(1), &pkt(3, &DELTA), ms(933), &mut out)
        .unwrap();
    // The camera stops for a second: the publisher's freeze only.
    r.forward(ProducerId(1), &pkt(4, &DELTA), ms(1933), &mut out)
        .unwrap();
    let sub = |r: &Router| r.consumer(ConsumerId(1)).unwrap().pauses().count();
    assert_eq!(r.producer(ProducerId(1)).unwrap().continuity().gaps(), 2);
    assert_eq!(sub(&r), 0);
    // The stream restarts: the subscriber skips 700 ms of frames until the next keyframe.
    r.restart_producer(ProducerId(1), Layer::BASE, ms(1950))
        .unwrap();
    for (i, at) in (1966..2666).step_by(33).enumerate() {
        r.forward(ProducerId(1), &pkt(5 + i as u16, &DELTA), ms(at), &mut out)
            .unwrap();
    }
    assert!(r
        .consumer(ConsumerId(1))
        .unwrap()
        .pauses()
        .stalled(ms(2600), continuity::FREEZE_AFTER));
    r.forward(ProducerId(1), &pkt(40, &KEY), ms(2700), &mut out)
        .unwrap();
    assert_eq!(sub(&r), 1);
    assert_eq!(
        r.producer(ProducerId(1)).unwrap().continuity().gaps(),
        2,
        "the track kept coming"
    );
}

#[test]
fn each_subscriber_gets_the_same_payload_with_its_own_pt_and_sink() {
    let now = Instant::now();
    let mut r = Router::new();
    r.add_producer(ProducerId(7), ParticipantId(1), Codec::Opus)
        .unwrap();
    for s in 0..3 {
        r.add_consumer(
            ProducerId(7),
            ParticipantId(10 + s),
            ConsumerId(s as u32),
            100 + s as u8,
            now,
        )
        .unwrap();
    }
    let mut out = Vec::new();
    let p = pkt(5, b"opus");
    assert_eq!(r.forward(ProducerId(7), &p, now, &mut out).unwrap(), 3);
    for (i, f) in out.iter().enumerate() {
        assert_eq!(f.consumer, ConsumerId(i as u32));
        assert_eq!(f.pt, 100 + i as u8);
    }
    // A copy is its numbering only: the payload is shared by not being in it.
    assert!(std::mem::size_of::<Forward>() <= 24);
}

#[test]
fn paused_video_keeps_audio_and_resumes_on_a_keyframe_without_a_gap() {
    let t0 = Instant::now();
    let ms = |m: u64| t0 + Duration::from_millis(m);
    let mut r = router_with_video();
    r.add_producer(ProducerId(2), ParticipantId(1), Codec::Opus)
        .unwrap();
    r.add_consumer(ProducerId(1), ParticipantId(2), ConsumerId(1), 96, t0)
        .unwrap();
    r.add_consumer(ProducerId(2), ParticipantId(2), ConsumerId(2), 111, t0)
        .unwrap();
    while r.poll_event().is_some() {}
    let mut out = Vec::new();
    r.forward(ProducerId(1), &pkt(1, &KEY), ms(0), &mut out)
        .unwrap();
    r.forward(ProducerId(1), &pkt(2, &DELTA), ms(33), &mut out)
        .unwrap();
    let last = out[1].seq;
    out.clear();

    assert!(r.pause_video(ParticipantId(2), true, ms(40)));
    assert!(
        !r.pause_video(ParticipantId(2), true, ms(41)),
        "already paused"
    );
    assert!(r.video_paused(ParticipantId(2)));
    for i in 0..30u16 {
        let payload: &[u8] = if i % 10 == 0 { &KEY } else { &DELTA };
        r.forward(
            ProducerId(1),
            &pkt(3 + i, payload),
            ms(66 + 33 * u64::from(i)),
            &mut out,
        )
        .unwrap();
        r.forward(
            ProducerId(2),
            &pkt(100 + i, b"opus"),
            ms(66 + 33 * u64::from(i)),
            &mut out,
        )
        .unwrap();
    }
    assert!(
        out.iter().all(|f| f.consumer == ConsumerId(2)),
        "audio only while paused"
    );
    assert_eq!(out.len(), 30);
    assert_eq!(r.stats().dropped_paused, 30);
    assert_eq!(r.poll_event(), None, "no keyframe asked for while paused");
    out.clear();

    assert!(r.pause_video(ParticipantId(2), false, ms(1100)));
    assert_eq!(
        r.poll_event(),
        Some(RouterEvent::RequestKeyframe {
            producer: ProducerId(1),
            owner: ParticipantId(1),
            layer: Layer::BASE,
        })
    );
    r.forward(ProducerId(1), &pkt(40, &DELTA), ms(1110), &mut out)
        .unwrap();
    assert!(out.is_empty(), "waits for the keyframe");
    r.forward(ProducerId(1), &pkt(41, &KEY), ms(1140), &mut out)
        .unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].seq, last + 1, "numbering goes on without a gap");
    let sub = r.consumer(ConsumerId(1)).unwrap();
    assert_eq!(
        sub.pauses().count(),
        0,
        "a pause on purpose is not a freeze"
    );
    assert!(!sub.paused());
}

#[test]
fn a_track_published_while_video_is_paused_starts_paused() {
    let now = Instant::now();
    let mut r = router_with_video();
    r.pause_video(ParticipantId(2), true, now);
    r.add_consumer(ProducerId(1), ParticipantId(2), ConsumerId(1), 96, now)
        .unwrap();
    assert_eq!(r.poll_event(), None);
    let mut out = Vec::new();
    r.forward(ProducerId(1), &pkt(1, &KEY), now, &mut out)
        .unwrap();
    assert!(out.is_empty());
    assert!(r.consumer(ConsumerId(1)).unwrap().paused());
}

#[test]
fn video_subscription_starts_on_a_keyframe_and_asks_for_one() {
    let now = Instant::now();
    let mut r = router_with_video();
    r.add_consumer(ProducerId(1), ParticipantId(2), ConsumerId(1), 96, now)
        .unwrap();
    assert_eq!(
        r.poll_event(),
        Some(RouterEvent::RequestKeyframe {
            producer: ProducerId(1),
            owner: ParticipantId(1),
            layer: Layer::BASE,
        })
    );
    let mut out = Vec::new();
    r.forward(ProducerId(1), &pkt(1, &DELTA), now, &mut out)
        .unwrap();
    assert!(out.is_empty());
    r.forward(ProducerId(1), &pkt(2, &KEY), now, &mut out)
        .unwrap();
    r.forward(ProducerId(1), &pkt(3, &DELTA), now, &mut out)
        .unwrap();
    assert_eq!(out.len(), 2);
    assert_eq!(out[1].seq, out[0].seq + 1);
    assert_eq!(r.stats().dropped_waiting_keyframe, 1);
}

/// An H.264 subscriber starts where a decoder can: at the STAP-A carrying the SPS (and PPS) of
/// an IDR picture, not at a P slice or the middle of a fragmented IDR; the payloads go as sent.
#[test]
fn an_h264_subscription_starts_at_the_keyframes_parameter_sets() {
    let now = Instant::now();
    let mut r = Router::new();
    r.add_producer(ProducerId(1), ParticipantId(1), Codec::H264)
        .unwrap();
    r.add_consumer(ProducerId(1), ParticipantId(2), ConsumerId(1), 102, now)
        .unwrap();
    let p_slice = [0x41, 0x9a, 0x02];
    let idr_middle = [0x7c, 0x05, 0xb8, 0x00];
    let sps_pps = [0x78, 0x00, 0x02, 0x67, 0x42, 0x00, 0x02, 0x68, 0xce];
    let idr_first = [0x7c, 0x85, 0xb8, 0x00];
    let mut out = Vec::new();
    for (seq, payload) in [(1, &p_slice[..]), (2, &idr_middle[..])] {
        r.forward(ProducerId(1), &pkt(seq, payload), now, &mut out)
            .unwrap();
    }
    assert!(out.is_empty(), "nothing a decoder could start on");
    for (seq, payload) in [(3, &sps_pps[..]), (4, &idr_first[..]), (5, &p_slice[..])] {
        r.forward(ProducerId(1), &pkt(seq, payload), now, &mut out)
            .unwrap();
    }
    assert_eq!(out.len(), 3);
    assert!(out.iter().all(|f| f.pt == 102 && f.ids.is_none()));
    assert_eq!(r.stats().dropped_waiting_keyframe, 2);
}

/// A subscriber that arrives between the packet with the SPS and the IDR's first packet waits
/// for the next keyframe's SPS: starting at the IDR, its decoder would lack the parameter sets.
/// A stream that never sends them in band starts at its IDRs.
#[test]
fn an_h264_start_never_lands_on_an_idr_whose_parameter_sets_went_before() {
    let now = Instant::now();
    let mut r = Router::new();
    r.add_producer(ProducerId(1), ParticipantId(1), Codec::H264)
        .unwrap();
    let sps_pps = [0x78, 0x00, 0x02, 0x67, 0x42, 0x00, 0x02, 0x68, 0xce];
    let idr_first = [0x7c, 0x85, 0xb8, 0x00];
    let p_slice = [0x41, 0x9a, 0x02];
    let mut out = Vec::new();
    r.forward(ProducerId(1), &pkt(1, &sps_pps), now, &mut out)
        .unwrap();
    r.add_consumer(ProducerId(1), ParticipantId(2), ConsumerId(1), 102, now)
        .unwrap();
    for (seq, payload) in [(2, &idr_first[..]), (3, &p_slice[..])] {
        r.forward(ProducerId(1), &pkt(seq, payload), now, &mut out)
            .unwrap();
    }
    assert!(out.is_empty(), "not at the IDR after the SPS it missed");
    r.forward(ProducerId(1), &pkt(4, &sps_pps), now, &mut out)
        .unwrap();
    assert_eq!(out.len(), 1, "at the next keyframe's parameter sets");

    // An encoder that sends no SPS in band: its IDRs are where a decoder starts.
    r.add_producer(ProducerId(2), ParticipantId(3), Codec::H264)
        .unwrap();
    r.add_consumer(ProducerId(2), ParticipantId(2), ConsumerId(2), 102, now)
        .unwrap();
    out.clear();
    for (seq, payload) in [(1, &p_slice[..]), (2, &idr_first[..])] {
        r.forward(ProducerId(2), &pkt(seq, payload), now, &mut out)
            .unwrap();
    }
    assert_eq!(out.len(), 1, "the IDR starts it");
}

#[test]
fn keyframe_requests_from_many_subscribers_are_aggregated() {
    let t0 = Instant::now();
    let mut r = router_with_video();
    for s in 0..20 {
        r.add_consumer(
            ProducerId(1),
            ParticipantId(100 + s),
            ConsumerId(s as u32),
            96,
            t0,
        )
        .unwrap();
    }
    for s in 0..20 {
        r.request_keyframe(ConsumerId(s as u32), t0 + Duration::from_millis(s))
            .unwrap();
    }
    let mut events = 0;
    while r.poll_event().is_some() {
        events += 1;
    }
    assert_eq!(events, 1, "one request for 40 asks within 500 ms");
    let due = r.poll_timeout().expect("a held request");
    r.handle_timeout(due);
    assert!(r.poll_event().is_some(), "the held request is released");
    let retry = r
        .poll_timeout()
        .expect("repeated if no keyframe answers it");
    assert_eq!(retry, due + keyframe_requests::RETRY_AFTER);
    let t = r.producer(ProducerId(1)).unwrap();
    assert_eq!(t.keyframe_request_counts(), (40, 2));
    // The keyframe comes: nothing is held any more.
    let mut out = Vec::new();
    r.forward(ProducerId(1), &pkt(1, &KEY), due, &mut out)
        .unwrap();
    r.handle_timeout(due);
    assert_eq!(r.poll_timeout(), None);
}

#[test]
fn unpublish_ends_subscriptions_and_later_packets_are_counted_as_dropped() {
    let now = Instant::now();
    let mut r = router_with_video();
    r.add_consumer(ProducerId(1), ParticipantId(2), ConsumerId(9), 96, now)
        .unwrap();
    assert_eq!(
        r.remove_producer(ProducerId(1)).unwrap(),
        vec![ConsumerId(9)]
    );
    let mut out = Vec::new();
    assert_eq!(
        r.forward(ProducerId(1), &pkt(1, &KEY), now, &mut out),
        Err(RouterError::UnknownProducer(ProducerId(1)))
    );
    assert_eq!(r.stats().dropped_unknown_producer, 1);
    assert!(r.consumer(ConsumerId(9)).is_none());
}

#[test]
fn restart_keeps_each_subscriber_continuous() {
    let t0 = Instant::now();
    let mut r = router_with_video();
    r.add_consumer(ProducerId(1), ParticipantId(2), ConsumerId(1), 96, t0)
        .unwrap();
    let mut out = Vec::new();
    r.forward(ProducerId(1), &pkt(100, &KEY), t0, &mut out)
        .unwrap();
    r.forward(ProducerId(1), &pkt(101, &DELTA), t0, &mut out)
        .unwrap();
    let t1 = t0 + Duration::from_secs(1);
    r.restart_producer(ProducerId(1), Layer::BASE, t1).unwrap();
    r.forward(ProducerId(1), &pkt(7, &DELTA), t1, &mut out)
        .unwrap();
    r.forward(ProducerId(1), &pkt(8, &KEY), t1, &mut out)
        .unwrap();
    assert_eq!(out.len(), 3);
    assert_eq!(out[2].seq, out[1].seq + 1);
}

#[test]
fn slots_are_reused_and_sinks_are_unique() {
    let now = Instant::now();
    let mut r = router_with_video();
    r.add_consumer(ProducerId(1), ParticipantId(2), ConsumerId(1), 96, now)
        .unwrap();
    assert_eq!(
        r.add_consumer(ProducerId(1), ParticipantId(3), ConsumerId(1), 96, now),
        Err(RouterError::ConsumerExists(ConsumerId(1)))
    );
    assert!(r.remove_consumer(ConsumerId(1)));
    assert!(!r.remove_consumer(ConsumerId(1)));
    r.add_consumer(ProducerId(1), ParticipantId(3), ConsumerId(2), 96, now)
        .unwrap();
    assert_eq!(r.remove_consumers_of(ParticipantId(3)), vec![ConsumerId(2)]);
    assert_eq!(r.producer(ProducerId(1)).unwrap().consumer_count(), 0);
}

#[test]
fn a_nack_is_answered_from_the_shared_cache_to_that_consumer_only() {
    let t0 = Instant::now();
    let mut r = router_with_video();
    r.add_consumer(ProducerId(1), ParticipantId(2), ConsumerId(0), 96, t0)
        .unwrap();
    r.add_consumer(ProducerId(1), ParticipantId(3), ConsumerId(1), 97, t0)
        .unwrap();
    let mut out = Vec::new();
    let mut sent = Vec::new();
    for seq in 500..520u16 {
        let payload: &[u8] = if seq == 500 { &KEY } else { &DELTA };
        let p = pkt(seq, payload);
        r.forward(ProducerId(1), &p, t0, &mut out).unwrap();
        sent.push(p);
    }
    let first_of_1 = *out.iter().find(|f| f.consumer == ConsumerId(1)).unwrap();
    let lost = *out
        .iter()
        .find(|f| f.consumer == ConsumerId(1) && f.seq == first_of_1.seq + 7)
        .unwrap();
    let again = r
        .resend(ConsumerId(1), lost.seq as u16)
        .expect("in the cache");
    assert_eq!(again.forward, lost, "the numbering it first had");
    assert_eq!(again.forward.pt, 97);
    // The 8th packet consumer 1 got (its first was the keyframe, seq 500).
    let original = &sent[7];
    assert_eq!(again.marker, original.marker);
    assert!(
        Arc::ptr_eq(&again.payload, &original.payload),
        "shared, not copied"
    );
    assert_eq!(r.consumer(ConsumerId(1)).unwrap().resent(), 1);
    assert_eq!(r.consumer(ConsumerId(0)).unwrap().resent(), 0);
    assert!(
        r.resend(ConsumerId(1), (first_of_1.seq + 40) as u16)
            .is_none(),
        "never sent"
    );
    assert!(r.resend(ConsumerId(9), 1).is_none(), "no such consumer");
    let s = r.stats();
    assert_eq!((s.resent, s.resend_missed), (1, 1));
}

#[test]
fn a_consumer_sees_the_publishers_clock_in_its_own_timestamps() {
    let t0 = Instant::now();
    let mut r = router_with_video();
    r.add_consumer(ProducerId(1), ParticipantId(2), ConsumerId(0), 96, t0)
        .unwrap();
    let mut out = Vec::new();
    r.forward(ProducerId(1), &pkt(10, &KEY), t0, &mut out)
        .unwrap();
    assert_eq!(r.sender_clock(ConsumerId(0)), None, "no report yet");
    let clock = SenderClock {
        ntp: 0xe000_0000_8000_0000,
        rtp: 30_000,
        at: t0,
    };
    r.set_sender_clock(ProducerId(1), Layer::BASE, clock);
    let mapped = r.sender_clock(ConsumerId(0)).unwrap();
    let offset = out[0].timestamp.wrapping_sub(30_000);
    assert_eq!(mapped.rtp, 30_000u32.wrapping_add(offset));
    assert_eq!((mapped.ntp, mapped.at), (clock.ntp, t0));
}

/// A VP8 packet of `layer` with an extended descriptor (15-bit picture ID `pic`, TL0PICIDX).
fn layered(layer: u8, seq: u16, pic: u16, keyframe: bool) -> RtpIn {
    let [p0, p1] = (0x8000 | pic).to_be_bytes();
    let vp8 = if keyframe { 0x50 } else { 0x51 };
    RtpIn {
        seq,
        timestamp: u32::from(seq) * 3000 + u32::from(layer) * 777_777,
        marker: true,
        layer: Layer(layer),
        payload: Arc::from(vec![0x90, 0xC0, p0, p1, pic as u8, vp8, 0xAA]),
    }
}

fn simulcast_router(t0: Instant) -> Router {
    let mut r = Router::new();
    r.add_layered_producer(ProducerId(1), ParticipantId(1), Codec::Vp8, 3)
        .unwrap();
    r.add_consumer(ProducerId(1), ParticipantId(2), ConsumerId(0), 96, t0)
        .unwrap();
    r
}

fn keyframe_asked(layer: u8) -> Option<RouterEvent> {
    Some(RouterEvent::RequestKeyframe {
        producer: ProducerId(1),
        owner: ParticipantId(1),
        layer: Layer(layer),
    })
}

#[test]
fn a_simulcast_subscriber_starts_low_and_switches_up_on_the_high_layers_keyframe() {
    let t0 = Instant::now();
    let ms = |m: u64| t0 + Duration::from_millis(m);
    let mut r = simulcast_router(t0);
    assert_eq!(
        r.poll_event(),
        keyframe_asked(0),
        "starts on the lowest layer"
    );
    let mut out = Vec::new();
    r.forward(ProducerId(1), &layered(0, 10, 500, true), ms(0), &mut out)
        .unwrap();
    r.forward(ProducerId(1), &layered(2, 900, 20, true), ms(0), &mut out)
        .unwrap();
    r.forward(ProducerId(1), &layered(0, 11, 501, false), ms(33), &mut out)
        .unwrap();
    assert_eq!(out.len(), 2, "only the low layer");
    assert_eq!(r.consumer(ConsumerId(0)).unwrap().layer(), Some(Layer(0)));
    let last = out[1];

    assert_eq!(
        r.set_target(ConsumerId(0), Some(Layer(2)), ms(40)),
        Ok(true)
    );
    assert_eq!(
        r.set_target(ConsumerId(0), Some(Layer(2)), ms(41)),
        Ok(false)
    );
    assert_eq!(r.poll_event(), keyframe_asked(2));
    out.clear();
    r.forward(ProducerId(1), &layered(2, 901, 21, false), ms(66), &mut out)
        .unwrap();
    r.forward(ProducerId(1), &layered(0, 12, 502, false), ms(66), &mut out)
        .unwrap();
    assert_eq!(out.len(), 1, "the low layer until the high keyframe");
    let last = out[0].seq.max(last.seq);
    out.clear();
    r.forward(ProducerId(1), &layered(2, 902, 22, true), ms(100), &mut out)
        .unwrap();
    r.forward(
        ProducerId(1),
        &layered(0, 13, 503, false),
        ms(100),
        &mut out,
    )
    .unwrap();
    r.forward(
        ProducerId(1),
        &layered(2, 903, 23, false),
        ms(133),
        &mut out,
    )
    .unwrap();
    assert_eq!(out.len(), 2);
    assert_eq!(out[0].seq, last + 1, "one stream across the switch");
    let ids = |f: &Forward| f.ids.unwrap().picture_id;
    assert_eq!(ids(&out[0]), 503, "picture IDs follow the low layer's");
    assert_eq!(ids(&out[1]), 504);
    assert_eq!(r.consumer(ConsumerId(0)).unwrap().layer(), Some(Layer(2)));

    // A NACK after the switch: the high layer's cached packet, renumbered as it was sent.
    let again = r.resend(ConsumerId(0), out[1].seq as u16).unwrap();
    assert_eq!(again.forward, out[1]);
    // Its sender reports follow the high layer's clock.
    let clock = SenderClock {
        ntp: 1 << 40,
        rtp: 903 * 3000 + 2 * 777_777,
        at: ms(133),
    };
    r.set_sender_clock(ProducerId(1), Layer(0), SenderClock { rtp: 5, ..clock });
    assert_eq!(
        r.sender_clock(ConsumerId(0)),
        None,
        "no report of that layer yet"
    );
    r.set_sender_clock(ProducerId(1), Layer(2), clock);
    assert_eq!(
        r.sender_clock(ConsumerId(0)).unwrap().rtp,
        out[1].timestamp,
        "the report's instant is the last packet's"
    );
    // A PLI from the subscriber asks for the layer it receives.
    while r.poll_event().is_some() {}
    r.request_keyframe(ConsumerId(0), ms(2000)).unwrap();
    assert_eq!(r.poll_event(), keyframe_asked(2));
}

#[test]
fn a_simulcast_subscribers_pause_and_resume_and_what_is_refused() {
    let t0 = Instant::now();
    let mut r = simulcast_router(t0);
    let mut out = Vec::new();
    r.forward(ProducerId(1), &layered(0, 1, 1, true), t0, &mut out)
        .unwrap();
    assert!(r.pause_video(ParticipantId(2), true, t0));
    let c = r.consumer(ConsumerId(0)).unwrap();
    assert_eq!((c.layer(), c.target_layer()), (None, None));
    assert_eq!(
        r.set_target(ConsumerId(0), Some(Layer(1)), t0),
        Ok(false),
        "paused to keep its audio: the allocator waits"
    );
    r.forward(ProducerId(1), &layered(0, 2, 2, true), t0, &mut out)
        .unwrap();
    assert_eq!(out.len(), 1);
    while r.poll_event().is_some() {}
    let t1 = t0 + Duration::from_secs(1);
    assert!(r.pause_video(ParticipantId(2), false, t1));
    assert_eq!(
        r.poll_event(),
        keyframe_asked(0),
        "resumes on the lowest layer"
    );
    r.forward(ProducerId(1), &layered(0, 3, 3, true), t1, &mut out)
        .unwrap();
    assert_eq!(out.len(), 2);
    assert_eq!(out[1].seq, out[0].seq + 1);

    // A layer the producer does not have, and a target beyond its top.
    r.forward(ProducerId(1), &layered(3, 1, 1, true), t0, &mut out)
        .unwrap();
    assert_eq!(r.stats().dropped_unknown_layer, 1);
    r.set_target(ConsumerId(0), Some(Layer(9)), t0).unwrap();
    assert_eq!(
        r.consumer(ConsumerId(0)).unwrap().target_layer(),
        Some(Layer(2))
    );
    // A simple consumer has no layers to choose.
    r.add_producer(ProducerId(5), ParticipantId(1), Codec::Opus)
        .unwrap();
    r.add_consumer(ProducerId(5), ParticipantId(2), ConsumerId(1), 111, t0)
        .unwrap();
    assert_eq!(
        r.set_target(ConsumerId(1), Some(Layer(0)), t0),
        Err(RouterError::NotSimulcast(ConsumerId(1)))
    );
}
