//! The whole forwarding path of one packet, as the server runs it, against its floor.
//!
//! `edge_forward`: one SRTP datagram from a publisher goes into the real [`tongbu_rtc::Worker`]
//! (demux, str0m's SRTP unprotect and RTP parse, the media core's router and rewrite, then for
//! each subscriber: its RTP header with transport-wide sequence number, Tongbu's own SRTP
//! protect into the pooled outbox) and comes out as N datagrams, one per subscriber. The peers
//! are str0m clients connected to the worker in memory (`tongbu_rtc::lab`: ICE, DTLS, SRTP
//! negotiated for real); no socket is involved, the clock is frozen.
//!
//! `edge_forward_burst`: the same for a burst of 8 packets (a video frame).
//!
//! `edge_forward_idle`: 100 subscribers, with and without 1000 idle peers beside them.
//!
//! `srtp_floor`: the same payload sealed N times with AES-256-GCM (the SRTP AEAD cipher the
//! peers negotiate) into preallocated buffers, with one key: the cipher alone, its key always
//! in cache. `srtp_floor_keys`: the same with N keys, one per subscriber, as every SFU must
//! seal (each subscriber's SRTP has its own): the least any SFU must spend per subscriber once
//! N keys no longer fit in cache.
//!
//! Report: time per inbound packet; divide by N for the cost per subscriber (BENCHMARKS.md).

use std::hint::black_box;
use std::time::Instant;

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use str0m::media::MediaKind;
use tongbu_rtc::lab::Fanout;

const SIZES: [u64; 4] = [1, 10, 100, 1000];

/// `n` subscribers, checked: every one gets a copy of a video and an audio packet.
fn fanout(n: u64) -> Fanout {
    let mut f = Fanout::new(n);
    for (kind, len) in [(MediaKind::Video, 1200), (MediaKind::Audio, 160)] {
        let got = f.fan_out(kind, len);
        assert_eq!(got, n as usize, "every subscriber gets the {kind:?} packet");
    }
    f
}

/// One datagram in, its copies out and dropped.
fn forward(f: &mut Fanout, d: &[u8]) -> usize {
    let n = f.forward(d);
    f.lab.worker.outbox().clear();
    n
}

fn edge_forward(c: &mut Criterion) {
    for (name, kind, len) in [
        ("vp8_1200B", MediaKind::Video, 1200usize),
        ("opus_160B", MediaKind::Audio, 160),
    ] {
        let mut group = c.benchmark_group(format!("edge_forward/{name}"));
        group.sample_size(20);
        for n in SIZES {
            let mut f = fanout(n);
            // Heap allocations of the whole path, per inbound packet, in steady state.
            let datagrams: Vec<Vec<u8>> = (0..200).map(|_| f.datagram(kind, len, false)).collect();
            let allocations = allocation_counter::measure(|| {
                for d in &datagrams {
                    black_box(forward(&mut f, d));
                }
            });
            let per_packet = allocations.count_total as f64 / 200.0;
            println!(
                "edge_forward/{name}/{n}: {per_packet:.1} heap allocations per inbound packet \
                 ({:.3} per subscriber)",
                per_packet / n as f64
            );
            group.throughput(Throughput::Elements(n));
            group.bench_function(BenchmarkId::from_parameter(n), |b| {
                b.iter_custom(|iters| {
                    // The publisher's datagrams are made first: only the worker is timed.
                    let datagrams: Vec<Vec<u8>> =
                        (0..iters).map(|_| f.datagram(kind, len, false)).collect();
                    let start = Instant::now();
                    for d in &datagrams {
                        black_box(forward(&mut f, d));
                    }
                    start.elapsed()
                })
            });
        }
        group.finish();
    }
}

/// Bursts of `BURST` video packets; throughput counts packets × subscribers.
const BURST: usize = 8;

fn edge_forward_burst(c: &mut Criterion) {
    let mut group = c.benchmark_group("edge_forward_burst/vp8_1200B_x8");
    group.sample_size(20);
    for n in [100u64, 1000] {
        let mut f = fanout(n);
        group.throughput(Throughput::Elements(n * BURST as u64));
        group.bench_function(BenchmarkId::from_parameter(n), |b| {
            b.iter_custom(|iters| {
                let bursts: Vec<Vec<Vec<u8>>> = (0..iters)
                    .map(|_| {
                        (0..BURST)
                            .map(|_| f.datagram(MediaKind::Video, 1200, false))
                            .collect()
                    })
                    .collect();
                let start = Instant::now();
                for burst in &bursts {
                    for d in burst {
                        f.forward(d);
                    }
                    black_box(f.lab.worker.outbox().len());
                    f.lab.worker.outbox().clear();
                }
                start.elapsed()
            })
        });
    }
    group.finish();
}

/// N = 100 subscribers with 1000 idle connected peers beside them: the cost must not change.
fn edge_forward_idle(c: &mut Criterion) {
    let mut group = c.benchmark_group("edge_forward_idle/vp8_1200B");
    group.sample_size(20);
    for (n, idle) in [(100u64, 0u64), (100, 1000)] {
        let mut f = Fanout::with_idle(n, idle, false);
        assert!(f.lab.worker.stats().transports as u64 >= n + idle);
        assert_eq!(f.fan_out(MediaKind::Video, 1200), n as usize);
        group.throughput(Throughput::Elements(n));
        group.bench_function(
            BenchmarkId::from_parameter(format!("{n}+{idle}idle")),
            |b| {
                b.iter_custom(|iters| {
                    let datagrams: Vec<Vec<u8>> = (0..iters)
                        .map(|_| f.datagram(MediaKind::Video, 1200, false))
                        .collect();
                    let start = Instant::now();
                    for d in &datagrams {
                        black_box(forward(&mut f, d));
                    }
                    start.elapsed()
                })
            },
        );
    }
    group.finish();
}

/// AES-256-GCM key `i` (the floors' keys differ only in their first bytes).
fn floor_key(i: u64) -> LessSafeKey {
    let mut k = [7u8; 32];
    k[..8].copy_from_slice(&i.to_be_bytes());
    LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &k).expect("key"))
}

/// The payload sealed once per subscriber into preallocated buffers, with `keys` keys in turn.
fn floor_group(c: &mut Criterion, group: &str, sizes: &[u64], keys: impl Fn(u64) -> u64) {
    for (name, len) in [("vp8_1200B", 1200usize), ("opus_160B", 160)] {
        let mut group = c.benchmark_group(format!("{group}/{name}"));
        let header = [0x80u8, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 7];
        let payload = vec![0x5Au8; len];
        for &n in sizes {
            let keys: Vec<LessSafeKey> = (0..keys(n)).map(floor_key).collect();
            let mut bufs = vec![vec![0u8; 12 + len + 16]; n as usize];
            group.throughput(Throughput::Elements(n));
            group.bench_function(BenchmarkId::from_parameter(n), |b| {
                let mut counter = 0u64;
                b.iter(|| {
                    for (buf, key) in bufs.iter_mut().zip(keys.iter().cycle()) {
                        counter += 1;
                        let (head, rest) = buf.split_at_mut(12);
                        head.copy_from_slice(&header);
                        let (body, tag_out) = rest.split_at_mut(len);
                        body.copy_from_slice(&payload);
                        let mut iv = [0u8; 12];
                        iv[4..].copy_from_slice(&counter.to_be_bytes());
                        let tag = key
                            .seal_in_place_separate_tag(
                                Nonce::assume_unique_for_key(iv),
                                Aad::from(&*head),
                                body,
                            )
                            .expect("seal");
                        tag_out.copy_from_slice(tag.as_ref());
                    }
                    black_box(&bufs);
                })
            });
        }
        group.finish();
    }
}

fn srtp_floor(c: &mut Criterion) {
    // str0m peers negotiate SRTP_AEAD_AES_256_GCM: the floor uses the same cipher, one key.
    floor_group(c, "srtp_floor", &SIZES, |_| 1);
}

fn srtp_floor_keys(c: &mut Criterion) {
    // A key per subscriber, as every SFU seals.
    floor_group(c, "srtp_floor_keys", &[100, 1000], |n| n);
}

criterion_group!(
    benches,
    edge_forward,
    edge_forward_burst,
    edge_forward_idle,
    srtp_floor,
    srtp_floor_keys
);
criterion_main!(benches);
