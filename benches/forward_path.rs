//! The whole forwarding path of one packet, as the server runs it, against its floor.
//!
//! `edge_forward`: one SRTP datagram from a publisher goes into the real [`tongbu_rtc::Edge`]
//! (demux, SRTP unprotect, RTP parse, the media core's router and rewrite, `write_rtp` into each
//! subscriber's str0m `Rtc` with the NACK/RTX cache insert, SRTP protect) and comes out as N
//! datagrams, one per subscriber. The peers are str0m clients connected to the edge in memory
//! (ICE, DTLS, SRTP negotiated for real); no socket is involved, the clock is frozen.
//!
//! `edge_forward_burst`: the same, for a burst of 8 packets (a video frame) taken in before the
//! subscribers' transports are released once, as the edge's socket loop does.
//!
//! `srtp_floor`: the same payload sealed N times with AES-256-GCM (the SRTP AEAD cipher the
//! peers negotiate) into preallocated buffers: the least any SFU must spend per subscriber.
//!
//! Report: time per inbound packet; divide by N for the cost per subscriber (BENCHMARKS.md).

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::HashMap;
use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use str0m::change::{SdpAnswer, SdpOffer};
use str0m::format::Codec as StrCodec;
use str0m::media::{Direction, MediaKind, Mid};
use str0m::net::{Protocol, Receive, Transmit};
use str0m::rtp::{RtpWrite, SeqNo};
use str0m::{Candidate, Event, Input, Output, Rtc};
use tokio::sync::mpsc;
use tongbu_rtc::{Edge, EdgeEvent, ParticipantId};

const SIZES: [u64; 4] = [1, 10, 100, 1000];

/// Counts heap allocations, to report how many the whole path makes per packet.
struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwards the caller's layout to the system allocator unchanged.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` with this layout (see `alloc`).
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: as for `alloc` and `dealloc`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

struct Peer {
    rtc: Rtc,
    addr: SocketAddr,
    id: ParticipantId,
    events: mpsc::UnboundedReceiver<EdgeEvent>,
    media_added: usize,
}

/// An edge and its str0m peers, wired together in memory.
struct Lab {
    edge: Edge,
    peers: Vec<Peer>,
    by_addr: HashMap<SocketAddr, usize>,
    now: Instant,
    out: Vec<Transmit>,
}

fn client(now: Instant, addr: SocketAddr) -> Rtc {
    let mut rtc = Rtc::builder()
        .set_rtp_mode(true)
        .clear_codecs()
        .enable_vp8(true)
        .enable_opus(true, false)
        .build(now);
    rtc.add_local_candidate(Candidate::host(addr, "udp").expect("candidate"));
    rtc
}

impl Lab {
    fn new() -> Self {
        Self {
            edge: Edge::new("127.0.0.1:3478".parse().expect("addr")),
            peers: Vec::new(),
            by_addr: HashMap::new(),
            now: Instant::now(),
            out: Vec::with_capacity(2048),
        }
    }

    fn join(&mut self) -> usize {
        self.join_session(1)
    }

    fn join_session(&mut self, session: i64) -> usize {
        let i = self.peers.len();
        let addr = SocketAddr::from(([10, (i >> 16) as u8, (i >> 8) as u8, i as u8], 5000));
        let (tx, events) = mpsc::unbounded_channel();
        let id = ParticipantId(i as u64 + 1);
        self.peers.push(Peer {
            rtc: client(self.now, addr),
            addr,
            id,
            events,
            media_added: 0,
        });
        self.by_addr.insert(addr, i);
        self.edge.handle_join(id, session, tx, self.now);
        i
    }

    /// Peer `i` offers to send one video and one audio track; returns their media lines.
    fn publish(&mut self, i: usize) -> (Mid, Mid) {
        let now = self.now;
        let (video, audio, offer, pending) = {
            let mut api = self.peers[i].rtc.sdp_api();
            let video = api.add_media(MediaKind::Video, Direction::SendOnly, None, None, None);
            let audio = api.add_media(MediaKind::Audio, Direction::SendOnly, None, None, None);
            let (offer, pending) = api.apply().expect("offer");
            (video, audio, offer, pending)
        };
        let id = self.peers[i].id;
        let answer = self
            .edge
            .handle_offer(id, &offer.to_sdp_string(), None, now)
            .expect("edge answers");
        self.peers[i]
            .rtc
            .sdp_api()
            .accept_answer(pending, SdpAnswer::from_sdp_string(&answer).expect("sdp"))
            .expect("accept answer");
        (video, audio)
    }

    /// Moves datagrams both ways, answers offers and lets `ms` milliseconds pass, 5 at a time.
    fn pump(&mut self, ms: u64) {
        let mut from_peers: Vec<(SocketAddr, Vec<u8>)> = Vec::new();
        for _ in 0..ms.div_ceil(5) {
            self.now += Duration::from_millis(5);
            let now = self.now;
            self.edge.handle_timeout(now);
            self.edge.take_transmits(&mut self.out);
            for t in self.out.drain(..) {
                if let Some(&i) = self.by_addr.get(&t.destination) {
                    let r = Receive::new(Protocol::Udp, t.source, t.destination, &t.contents)
                        .expect("datagram");
                    let _ = self.peers[i].rtc.handle_input(Input::Receive(now, r));
                }
            }
            for p in &mut self.peers {
                let _ = p.rtc.handle_input(Input::Timeout(now));
                while let Ok(o) = p.rtc.poll_output() {
                    match o {
                        Output::Transmit(t) => from_peers.push((p.addr, t.contents.to_vec())),
                        Output::Event(Event::MediaAdded(_)) => p.media_added += 1,
                        Output::Event(_) => {}
                        Output::Timeout(_) => break,
                    }
                }
            }
            for (src, data) in from_peers.drain(..) {
                self.edge.handle_datagram(src, &data, now);
            }
            for p in &mut self.peers {
                while let Ok(ev) = p.events.try_recv() {
                    if let EdgeEvent::RecvOffer { sdp, .. } = ev {
                        let offer = SdpOffer::from_sdp_string(&sdp).expect("offer");
                        let answer = p.rtc.sdp_api().accept_offer(offer).expect("accept");
                        self.edge
                            .handle_answer(p.id, &answer.to_sdp_string(), now)
                            .expect("answer");
                    }
                }
            }
        }
    }
}

/// A publisher with one video and one audio track, and `n` subscribers receiving both.
struct Fanout {
    lab: Lab,
    publisher: usize,
    video: Mid,
    audio: Mid,
    seq: u64,
}

impl Fanout {
    fn new(n: u64) -> Self {
        Self::with_idle(n, 0)
    }

    /// `n` subscribers, plus `idle` connected peers in another session that sends nothing.
    fn with_idle(n: u64, idle: u64) -> Self {
        let mut lab = Lab::new();
        if idle > 0 {
            let other = lab.join_session(2);
            lab.publish(other);
            lab.pump(500);
            for _ in 1..idle {
                lab.join_session(2);
                lab.pump(5);
            }
        }
        let publisher = lab.join();
        let (video, audio) = lab.publish(publisher);
        lab.pump(500);
        for _ in 0..n {
            lab.join();
            lab.pump(5);
        }
        lab.pump(2000);
        let mut f = Fanout {
            lab,
            publisher,
            video,
            audio,
            seq: 1,
        };
        // Keyframes until every subscriber's video is flowing.
        for _ in 0..20 {
            let d = f.datagram(MediaKind::Video, 1200, true);
            let src = f.lab.peers[publisher].addr;
            f.lab.edge.handle_datagram(src, &d, f.lab.now);
            f.lab.pump(20);
        }
        let got = f.fan_out(MediaKind::Video, 1200);
        assert!(
            got >= n as usize,
            "every subscriber gets the video packet: {got} of {n}"
        );
        let got = f.fan_out(MediaKind::Audio, 160);
        assert!(
            got >= n as usize,
            "every subscriber gets the audio packet: {got} of {n}"
        );
        // Released a few transports at a time, as the socket loop does, every subscriber still
        // gets its copy, and each part is handed out before the next is encrypted.
        let d = f.datagram(MediaKind::Video, 1200, false);
        let src = f.lab.peers[publisher].addr;
        f.lab.edge.receive_datagram(src, &d, f.lab.now);
        let (mut parts, mut got) = (0u64, 0usize);
        loop {
            let more = f.lab.edge.release_some(f.lab.now, 4);
            f.lab.edge.take_transmits(&mut f.lab.out);
            got += f.lab.out.len();
            parts += 1;
            if !more {
                break;
            }
        }
        assert!(got >= n as usize, "released in parts: {got} of {n}");
        assert!(parts >= n.div_ceil(4), "{parts} parts for {n} subscribers");
        f
    }

    /// The publisher's next SRTP datagram of `kind`.
    fn datagram(&mut self, kind: MediaKind, len: usize, keyframe: bool) -> Vec<u8> {
        let (mid, codec) = match kind {
            MediaKind::Video => (self.video, StrCodec::Vp8),
            MediaKind::Audio => (self.audio, StrCodec::Opus),
        };
        let now = self.lab.now;
        let rtc = &mut self.lab.peers[self.publisher].rtc;
        let pt = rtc
            .codec_config()
            .params()
            .iter()
            .find(|p| p.spec().codec == codec)
            .map(|p| p.pt())
            .expect("payload type");
        let mut payload = vec![0x5Au8; len];
        if kind == MediaKind::Video {
            payload[0] = 0x10; // VP8 descriptor: start of partition 0
            payload[1] = if keyframe { 0x50 } else { 0x51 };
        }
        self.seq += 1;
        let mut api = rtc.direct_api();
        let tx = api.stream_tx_by_mid(mid, None).expect("stream");
        tx.write_rtp(
            RtpWrite::new(
                pt,
                SeqNo::from(self.seq),
                (self.seq * 3000) as u32,
                now,
                payload,
            )
            .marker(true),
        );
        let _ = rtc.handle_input(Input::Timeout(now));
        loop {
            match rtc.poll_output().expect("output") {
                Output::Transmit(t) => return t.contents.to_vec(),
                Output::Timeout(_) => panic!("the publisher sent nothing"),
                Output::Event(_) => {}
            }
        }
    }

    /// One packet in, the datagrams out; returns how many came out.
    fn fan_out(&mut self, kind: MediaKind, len: usize) -> usize {
        let d = self.datagram(kind, len, false);
        self.forward(&d)
    }

    /// A burst in, released once; returns the datagrams out.
    fn forward_burst(&mut self, datagrams: &[Vec<u8>]) -> usize {
        let src = self.lab.peers[self.publisher].addr;
        for d in datagrams {
            self.lab.edge.receive_datagram(src, d, self.lab.now);
        }
        self.lab.edge.release(self.lab.now);
        self.lab.edge.take_transmits(&mut self.lab.out);
        self.lab.out.len()
    }

    fn forward(&mut self, datagram: &[u8]) -> usize {
        let src = self.lab.peers[self.publisher].addr;
        self.lab.edge.handle_datagram(src, datagram, self.lab.now);
        self.lab.edge.take_transmits(&mut self.lab.out);
        self.lab.out.len()
    }
}

fn edge_forward(c: &mut Criterion) {
    for (name, kind, len) in [
        ("vp8_1200B", MediaKind::Video, 1200usize),
        ("opus_160B", MediaKind::Audio, 160),
    ] {
        let mut group = c.benchmark_group(format!("edge_forward/{name}"));
        group.sample_size(20);
        for n in SIZES {
            let mut f = Fanout::new(n);
            // Heap allocations of the whole path, per inbound packet, in steady state.
            let datagrams: Vec<Vec<u8>> = (0..200).map(|_| f.datagram(kind, len, false)).collect();
            let before = ALLOCATIONS.load(Ordering::Relaxed);
            for d in &datagrams {
                black_box(f.forward(d));
            }
            let per_packet = (ALLOCATIONS.load(Ordering::Relaxed) - before) as f64 / 200.0;
            println!(
                "edge_forward/{name}/{n}: {per_packet:.1} heap allocations per inbound packet \
                 ({:.2} per subscriber)",
                per_packet / n as f64
            );
            group.throughput(Throughput::Elements(n));
            group.bench_function(BenchmarkId::from_parameter(n), |b| {
                b.iter_custom(|iters| {
                    // The publisher's datagrams are made first: only the edge is timed.
                    let datagrams: Vec<Vec<u8>> =
                        (0..iters).map(|_| f.datagram(kind, len, false)).collect();
                    let start = Instant::now();
                    for d in &datagrams {
                        black_box(f.forward(d));
                    }
                    start.elapsed()
                })
            });
        }
        group.finish();
    }
}

/// Bursts of `BURST` video packets per turn; throughput counts packets × subscribers.
const BURST: usize = 8;

fn edge_forward_burst(c: &mut Criterion) {
    let mut group = c.benchmark_group("edge_forward_burst/vp8_1200B_x8");
    group.sample_size(20);
    for n in [100u64, 1000] {
        let mut f = Fanout::new(n);
        let burst: Vec<Vec<u8>> = (0..BURST)
            .map(|_| f.datagram(MediaKind::Video, 1200, false))
            .collect();
        let out = f.forward_burst(&burst);
        assert!(
            out >= BURST * n as usize,
            "{out} datagrams for {BURST} × {n}"
        );
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
                for b in &bursts {
                    black_box(f.forward_burst(b));
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
        let mut f = Fanout::with_idle(n, idle);
        assert!(f.lab.edge.stats().transports as u64 >= n + idle);
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
                        black_box(f.forward(d));
                    }
                    start.elapsed()
                })
            },
        );
    }
    group.finish();
}

fn srtp_floor(c: &mut Criterion) {
    // str0m peers negotiate SRTP_AEAD_AES_256_GCM: the floor uses the same cipher.
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &[7u8; 32]).expect("key"));
    for (name, len) in [("vp8_1200B", 1200usize), ("opus_160B", 160)] {
        let mut group = c.benchmark_group(format!("srtp_floor/{name}"));
        let header = [0x80u8, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 7];
        let payload = vec![0x5Au8; len];
        for n in SIZES {
            let mut bufs = vec![vec![0u8; 12 + len + 16]; n as usize];
            group.throughput(Throughput::Elements(n));
            group.bench_function(BenchmarkId::from_parameter(n), |b| {
                let mut counter = 0u64;
                b.iter(|| {
                    for buf in bufs.iter_mut() {
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

criterion_group!(
    benches,
    edge_forward,
    edge_forward_burst,
    edge_forward_idle,
    srtp_floor
);
criterion_main!(benches);
