//! The per-packet path (forwarding, and answering NACKs from the shared cache) allocates nothing
//! in steady state: proven with a counting allocator.
//!
//! Only allocations made by the test's own thread inside a measurement are counted
//! (`allocation-counter` keeps its counts per thread), so the test harness's threads cannot
//! disturb the result.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tongbu_media::{Codec, ConsumerId, Layer, ParticipantId, ProducerId, Router, RtpIn};

/// Heap allocations (reallocations included) this thread made in `f`.
fn allocations_during(f: impl FnOnce()) -> usize {
    allocation_counter::measure(f).count_total as usize
}

fn payload(keyframe: bool) -> Arc<[u8]> {
    let mut p = vec![0x5Au8; 1200];
    p[0] = 0x10;
    p[1] = if keyframe { 0x50 } else { 0x51 };
    Arc::from(p)
}

#[test]
fn forwarding_to_many_subscribers_allocates_nothing_per_packet() {
    let t0 = Instant::now();
    let mut router = Router::new();
    let video = ProducerId(1);
    let audio = ProducerId(2);
    router
        .add_producer(video, ParticipantId(0), Codec::Vp8)
        .unwrap();
    router
        .add_producer(audio, ParticipantId(0), Codec::Opus)
        .unwrap();
    for s in 0..200u32 {
        let who = ParticipantId(u64::from(s) + 1);
        router
            .add_consumer(video, who, ConsumerId(2 * s), 96, t0)
            .unwrap();
        router
            .add_consumer(audio, who, ConsumerId(2 * s + 1), 111, t0)
            .unwrap();
    }
    let mut out = Vec::with_capacity(256);
    let key = RtpIn {
        seq: 0,
        timestamp: 0,
        marker: true,
        layer: Layer::BASE,
        payload: payload(true),
    };
    router.forward(video, &key, t0, &mut out).unwrap();
    assert_eq!(out.len(), 200, "every subscriber started on the keyframe");

    let delta = payload(false);
    let opus: Arc<[u8]> = Arc::from(vec![0x33u8; 160]);
    let mut forwarded = 0;
    let n = allocations_during(|| {
        for i in 1..=2_000u16 {
            let now = t0 + Duration::from_millis(u64::from(i) * 10);
            out.clear();
            let v = RtpIn {
                seq: i,
                timestamp: u32::from(i) * 3000,
                marker: i % 3 == 0,
                layer: Layer::BASE,
                payload: delta.clone(),
            };
            forwarded += router.forward(video, &v, now, &mut out).unwrap();
            // A subscriber NACKs a packet: answered from the shared cache.
            let nacked = out[0].seq as u16;
            assert!(router.resend(ConsumerId(0), nacked).is_some());
            out.clear();
            let a = RtpIn {
                seq: i.wrapping_add(40_000),
                timestamp: u32::from(i) * 960,
                marker: false,
                layer: Layer::BASE,
                payload: opus.clone(),
            };
            forwarded += router.forward(audio, &a, now, &mut out).unwrap();
            router.handle_timeout(now);
        }
    });
    assert_eq!(forwarded, 2 * 2_000 * 200);
    assert_eq!(
        n, 0,
        "{n} heap allocations while forwarding {forwarded} packets"
    );
}

#[test]
fn simulcast_consumers_switching_layers_allocate_nothing() {
    let t0 = Instant::now();
    // VP8 with an extended descriptor: 15-bit picture ID and TL0PICIDX, as Chrome sends.
    let vp8 = |keyframe: bool| -> Arc<[u8]> {
        let mut p = vec![0x5Au8; 1000];
        p[..6].copy_from_slice(&[
            0x90,
            0xC0,
            0x80,
            0x01,
            0x00,
            if keyframe { 0x50 } else { 0x51 },
        ]);
        Arc::from(p)
    };
    let (key, delta) = (vp8(true), vp8(false));
    let mut router = Router::new();
    let camera = ProducerId(1);
    router
        .add_layered_producer(camera, ParticipantId(0), Codec::Vp8, 3)
        .unwrap();
    let subscribers = 100u32;
    for s in 0..subscribers {
        router
            .add_consumer(
                camera,
                ParticipantId(u64::from(s) + 1),
                ConsumerId(s),
                96,
                t0,
            )
            .unwrap();
    }
    let mut out = Vec::with_capacity(256);
    let mut run = |router: &mut Router, from: u16, to: u16| {
        let mut forwarded = 0;
        for i in from..to {
            let now = t0 + Duration::from_millis(u64::from(i) * 33);
            // Every 100 packet times half the subscribers move between the low and the high
            // layer; each layer sends a keyframe every 50.
            if i % 100 == 0 {
                let high = Layer(if i % 200 == 0 { 0 } else { 2 });
                for s in 0..subscribers / 2 {
                    router.set_target(ConsumerId(s), Some(high), now).unwrap();
                }
            }
            for layer in [Layer(0), Layer(1), Layer(2)] {
                let payload = if i % 50 == 0 {
                    key.clone()
                } else {
                    delta.clone()
                };
                let p = RtpIn {
                    seq: i.wrapping_add(u16::from(layer.0) * 10_000),
                    timestamp: u32::from(i) * 3000,
                    marker: true,
                    layer,
                    payload,
                };
                out.clear();
                forwarded += router.forward(camera, &p, now, &mut out).unwrap();
                if let Some(f) = out.first() {
                    // A subscriber NACKs it: answered from that layer's cache, renumbered.
                    let again = router.resend(f.consumer, f.seq as u16).unwrap();
                    assert_eq!(again.forward, *f);
                }
            }
            router.handle_timeout(now);
            while router.poll_event().is_some() {}
        }
        forwarded
    };
    // The queues of keyframe requests grow to size first.
    run(&mut router, 0, 400);
    let mut forwarded = 0;
    let n = allocations_during(|| forwarded = run(&mut router, 400, 3_400));
    assert_eq!(n, 0, "{n} allocations while forwarding {forwarded} copies");
    // One copy per packet time and subscriber, plus at each of the 15 up-switches of 50
    // subscribers the low layer's packet of the same instant, sent before the high layer's
    // keyframe took over.
    assert_eq!(forwarded, 3_000 * 100 + 15 * 50);
}
