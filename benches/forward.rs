//! The media core's per-packet work: one inbound RTP packet forwarded to N subscribers (lookup,
//! keyframe check, per-subscriber sequence/timestamp rewrite, shared payload hand-out).
//!
//! This is the sans-I/O part of the forwarding path only; SRTP protection in each subscriber's
//! str0m `Rtc` comes after it (see BENCHMARKS.md).

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use tongbu_media::{Codec, ConsumerId, Layer, ParticipantId, ProducerId, Router, RtpIn};

fn payload(codec: Codec, len: usize, keyframe: bool) -> Arc<[u8]> {
    let mut p = vec![0x5Au8; len];
    if codec == Codec::Vp8 {
        p[0] = 0x10; // S=1, PID=0
        p[1] = if keyframe { 0x50 } else { 0x51 };
    }
    Arc::from(p)
}

fn forward(c: &mut Criterion) {
    for (name, codec, len) in [
        ("vp8_1200B", Codec::Vp8, 1200),
        ("opus_160B", Codec::Opus, 160),
    ] {
        let mut group = c.benchmark_group(format!("router_forward/{name}"));
        for n in [1u64, 10, 100, 1000] {
            let now = Instant::now();
            let mut router = Router::new();
            let track = ProducerId(1);
            router
                .add_producer(track, ParticipantId(0), codec)
                .expect("producer");
            for s in 0..n {
                router
                    .add_consumer(track, ParticipantId(s + 1), ConsumerId(s as u32), 96, now)
                    .expect("consumer");
            }
            let mut out = Vec::with_capacity(n as usize);
            let key = RtpIn {
                seq: 0,
                timestamp: 0,
                marker: true,
                layer: Layer::BASE,
                payload: payload(codec, len, true),
            };
            router
                .forward(track, &key, now, &mut out)
                .expect("keyframe");
            let mut pkt = RtpIn {
                seq: 1,
                timestamp: 3000,
                marker: false,
                layer: Layer::BASE,
                payload: payload(codec, len, false),
            };
            group.throughput(Throughput::Elements(n));
            group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
                b.iter(|| {
                    out.clear();
                    pkt.seq = pkt.seq.wrapping_add(1);
                    pkt.timestamp = pkt.timestamp.wrapping_add(3000);
                    let k = router.forward(track, &pkt, now, &mut out).expect("forward");
                    black_box(k);
                })
            });
        }
        group.finish();
    }
}

/// The top layer of a three-layer simulcast camera, to N subscribers of which a third receive
/// it (the others are on lower layers): each copy also renumbers the VP8 picture ID.
fn forward_simulcast(c: &mut Criterion) {
    let vp8 = |keyframe: bool| -> Arc<[u8]> {
        let mut p = vec![0x5Au8; 1200];
        p[..6].copy_from_slice(&[0x90, 0xC0, 0x80, 0x01, 0x00, 0x50 | u8::from(!keyframe)]);
        Arc::from(p)
    };
    let mut group = c.benchmark_group("router_forward/vp8_simulcast_1200B");
    for n in [3u64, 30, 300, 3000] {
        let now = Instant::now();
        let mut router = Router::new();
        let track = ProducerId(1);
        router
            .add_layered_producer(track, ParticipantId(0), Codec::Vp8, 3)
            .expect("producer");
        for s in 0..n {
            let id = ConsumerId(s as u32);
            router
                .add_consumer(track, ParticipantId(s + 1), id, 96, now)
                .expect("consumer");
            router
                .set_target(id, Some(Layer((s % 3) as u8)), now)
                .expect("target");
        }
        let mut out = Vec::with_capacity(n as usize);
        for layer in 0..3 {
            let key = RtpIn {
                seq: 0,
                timestamp: 0,
                marker: true,
                layer: Layer(layer),
                payload: vp8(true),
            };
            router
                .forward(track, &key, now, &mut out)
                .expect("keyframe");
        }
        let mut pkt = RtpIn {
            seq: 1,
            timestamp: 3000,
            marker: false,
            layer: Layer(2),
            payload: vp8(false),
        };
        group.throughput(Throughput::Elements(n / 3));
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter(|| {
                out.clear();
                pkt.seq = pkt.seq.wrapping_add(1);
                pkt.timestamp = pkt.timestamp.wrapping_add(3000);
                let k = router.forward(track, &pkt, now, &mut out).expect("forward");
                assert_eq!(k as u64, n / 3, "a third are on the top layer");
                black_box(k);
            })
        });
    }
    group.finish();
}

criterion_group!(benches, forward, forward_simulcast);
criterion_main!(benches);
