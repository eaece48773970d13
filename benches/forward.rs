//! The media core's per-packet work: one inbound RTP packet forwarded to N subscribers (lookup,
//! keyframe check, per-subscriber sequence/timestamp rewrite, shared payload hand-out).
//!
//! This is the sans-I/O part of the forwarding path only; SRTP protection in each subscriber's
//! str0m `Rtc` comes after it (see BENCHMARKS.md).

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use tongbu_media::{Codec, ConsumerId, ParticipantId, ProducerId, Router, RtpIn};

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
                payload: payload(codec, len, true),
            };
            router
                .forward(track, &key, now, &mut out)
                .expect("keyframe");
            let mut pkt = RtpIn {
                seq: 1,
                timestamp: 3000,
                marker: false,
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

criterion_group!(benches, forward);
criterion_main!(benches);
