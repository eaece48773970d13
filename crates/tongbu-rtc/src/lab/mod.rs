//! An in-memory laboratory for tests and benches: a [`Worker`] and str0m client peers wired
//! together without sockets, with the clock in the caller's hands. ICE, DTLS, SRTP and SDP are
//! negotiated for real; datagrams move when [`Lab::pump`] (or [`Lab::deliver`]) says so, and a
//! filter may lose any of them on the way to a peer.
//!
//! Not used by the server: it exists so that the forward path is tested and measured through
//! the same code the socket loop runs. [`mesh::MeshLab`] does the same for several workers, as
//! one media port's socket group spreads them.

pub mod mesh;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use str0m::change::{SdpAnswer, SdpOffer};
use str0m::format::Codec as StrCodec;
use str0m::media::{Direction, MediaKind, Mid};
use str0m::net::{Protocol, Receive};
use str0m::rtp::{RtpWrite, SeqNo};
use str0m::{Candidate, Event, Input, Output, Rtc};
use tokio::sync::mpsc;

use crate::edge::{EdgeEvent, MediaRole, EVENT_QUEUE};
use crate::Worker;
use tongbu_media::ParticipantId;

/// An RTP packet a peer received (str0m authenticated and decrypted it).
#[derive(Debug, Clone)]
pub struct Received {
    pub mid: Mid,
    pub ssrc: u32,
    pub seq: u64,
    pub timestamp: u32,
    pub payload: Vec<u8>,
}

/// A str0m client peer.
pub struct Peer {
    pub rtc: Rtc,
    pub addr: SocketAddr,
    pub id: ParticipantId,
    pub events: mpsc::Receiver<EdgeEvent>,
    /// What it received, if the lab records.
    pub received: Vec<Received>,
    /// Sender reports it received: (SSRC, NTP as a system time, RTP timestamp).
    pub sender_reports: Vec<(u32, std::time::SystemTime, u32)>,
    /// Keyframe requests (PLI/FIR) it got for what it publishes.
    pub keyframe_requests: usize,
    /// Events signaling would have told it, other than the offers the lab answers (multi-worker
    /// lab only).
    pub events_seen: Vec<EdgeEvent>,
}

impl Peer {
    /// A fresh client at `addr` for participant `id`, and the sender of its events.
    pub(crate) fn new(
        now: Instant,
        addr: SocketAddr,
        id: ParticipantId,
    ) -> (Self, mpsc::Sender<EdgeEvent>) {
        let (tx, events) = mpsc::channel(EVENT_QUEUE);
        let peer = Peer {
            rtc: client(now, addr),
            addr,
            id,
            events,
            received: Vec::new(),
            sender_reports: Vec::new(),
            keyframe_requests: 0,
            events_seen: Vec::new(),
        };
        (peer, tx)
    }

    /// Offers `worker` one send-only media line per kind in `kinds` and applies its answer;
    /// returns the lines' mids in that order.
    pub(crate) fn offer_to_send<const N: usize>(
        &mut self,
        worker: &mut Worker,
        kinds: [MediaKind; N],
        now: Instant,
    ) -> [Mid; N] {
        let mut api = self.rtc.sdp_api();
        let mids = kinds.map(|k| api.add_media(k, Direction::SendOnly, None, None, None));
        let (offer, pending) = api.apply().expect("offer");
        let answer = worker
            .handle_offer(self.id, &offer.to_sdp_string(), None, now)
            .expect("the worker answers");
        self.rtc
            .sdp_api()
            .accept_answer(pending, SdpAnswer::from_sdp_string(&answer).expect("sdp"))
            .expect("accept answer");
        mids
    }
}

/// Decides whether a datagram from the worker reaches peer `index` (`false`: lost).
pub type Filter = Box<dyn FnMut(usize, &[u8]) -> bool>;

/// A worker and its peers, wired together in memory.
pub struct Lab {
    pub worker: Worker,
    pub peers: Vec<Peer>,
    by_addr: HashMap<SocketAddr, usize>,
    pub now: Instant,
    /// Whether peers keep what they receive (tests) or only count it (benches).
    pub record: bool,
    pub filter: Option<Filter>,
    from_peers: Vec<(SocketAddr, Vec<u8>)>,
}

impl Default for Lab {
    fn default() -> Self {
        Self::new()
    }
}

/// The worker's address as its peers see it.
pub(crate) const WORKER: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 3478);

pub(crate) fn client(now: Instant, addr: SocketAddr) -> Rtc {
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
    /// An empty lab; its worker's candidate is 127.0.0.1:3478.
    pub fn new() -> Self {
        let now = Instant::now();
        Self {
            worker: Worker::new(WORKER, now),
            peers: Vec::new(),
            by_addr: HashMap::new(),
            now,
            record: false,
            filter: None,
            from_peers: Vec::new(),
        }
    }

    /// A peer joins session 1; returns its index.
    pub fn join(&mut self) -> usize {
        self.join_session(1)
    }

    /// A peer joins `session`; returns its index.
    pub fn join_session(&mut self, session: i64) -> usize {
        let i = self.peers.len();
        let addr = SocketAddr::from(([10, (i >> 16) as u8, (i >> 8) as u8, i as u8], 5000));
        let (peer, tx) = Peer::new(self.now, addr, ParticipantId(i as u64 + 1));
        let id = peer.id;
        self.peers.push(peer);
        self.by_addr.insert(addr, i);
        self.worker
            .handle_join(id, session, MediaRole::Classroom, tx, self.now);
        i
    }

    /// Peer `i` offers to send one video and one audio track; returns their media lines.
    pub fn publish(&mut self, i: usize) -> (Mid, Mid) {
        let [video, audio] = self.peers[i].offer_to_send(
            &mut self.worker,
            [MediaKind::Video, MediaKind::Audio],
            self.now,
        );
        (video, audio)
    }

    /// Hands the worker's datagrams to their peers (through the filter), without time passing.
    pub fn deliver(&mut self) {
        let now = self.now;
        let outbox = self.worker.outbox();
        for d in outbox.datagrams() {
            let Some(&i) = self.by_addr.get(&d.destination) else {
                continue;
            };
            let bytes = outbox.bytes(d);
            if let Some(f) = self.filter.as_mut() {
                if !f(i, bytes) {
                    continue;
                }
            }
            let r = Receive::new(Protocol::Udp, WORKER, d.destination, bytes).expect("datagram");
            let p = &mut self.peers[i];
            let _ = p.rtc.handle_input(Input::Receive(now, r));
            poll_peer(p, &mut self.from_peers, self.record);
        }
        outbox.clear();
    }

    /// Moves datagrams both ways, answers offers and lets `ms` milliseconds pass, 5 at a time.
    pub fn pump(&mut self, ms: u64) {
        self.pump_with(ms, |w, src, data, now| w.receive_datagram(src, data, now));
    }

    /// Like [`Lab::pump`], handing each datagram from a peer to the worker through `input`
    /// (a test may count what the worker does with it).
    pub fn pump_with(
        &mut self,
        ms: u64,
        mut input: impl FnMut(&mut Worker, SocketAddr, &[u8], Instant),
    ) {
        for _ in 0..ms.div_ceil(5) {
            self.now += Duration::from_millis(5);
            let now = self.now;
            self.worker.handle_timeout(now);
            self.deliver();
            for p in &mut self.peers {
                let _ = p.rtc.handle_input(Input::Timeout(now));
                poll_peer(p, &mut self.from_peers, self.record);
            }
            for (src, data) in std::mem::take(&mut self.from_peers) {
                input(&mut self.worker, src, &data, now);
            }
            for p in &mut self.peers {
                while let Ok(ev) = p.events.try_recv() {
                    // A peer that closed answers nothing, as a client that went away.
                    if !p.rtc.is_alive() {
                        continue;
                    }
                    if let EdgeEvent::RecvOffer { sdp, .. } = ev {
                        let offer = SdpOffer::from_sdp_string(&sdp).expect("offer");
                        let answer = p.rtc.sdp_api().accept_offer(offer).expect("accept");
                        self.worker
                            .handle_answer(p.id, &answer.to_sdp_string(), now)
                            .expect("answer");
                    }
                }
            }
        }
    }
}

/// Everything a peer has to say, right after each input (str0m holds one received RTP packet at
/// a time in RTP mode).
pub(crate) fn poll_peer(p: &mut Peer, from_peers: &mut Vec<(SocketAddr, Vec<u8>)>, record: bool) {
    while let Ok(o) = p.rtc.poll_output() {
        match o {
            Output::Transmit(t) => from_peers.push((p.addr, t.contents.to_vec())),
            Output::Event(Event::KeyframeRequest(_)) => p.keyframe_requests += 1,
            Output::Event(Event::RtpPacket(r)) if record => {
                let mid = p
                    .rtc
                    .direct_api()
                    .stream_rx(&r.header.ssrc)
                    .map(|s| s.mid())
                    .unwrap_or_default();
                if let Some(sr) = r.last_sender_info {
                    let last = p.sender_reports.last();
                    if last.is_none_or(|l| l.1 != sr.ntp_time) {
                        p.sender_reports
                            .push((*sr.ssrc, sr.ntp_time, sr.rtp_time.numer() as u32));
                    }
                }
                p.received.push(Received {
                    mid,
                    ssrc: *r.header.ssrc,
                    seq: *r.seq_no,
                    timestamp: r.header.timestamp,
                    payload: r.payload.to_vec(),
                });
            }
            Output::Event(_) => {}
            Output::Timeout(_) => break,
        }
    }
}

impl Lab {
    /// The SRTP key slot of peer `i`'s recv transport, while it has one.
    pub fn recv_keys(&self, i: usize) -> Option<crate::key_capture::KeySlot> {
        let id = self.peers[i].id;
        let t = self.worker.participants.get(&id)?.recv?;
        Some(self.worker.transports.get(t.index())?.keys.clone())
    }
}

/// A publisher with one video and one audio track, and subscribers receiving both.
pub struct Fanout {
    pub lab: Lab,
    pub publisher: usize,
    pub video: Mid,
    pub audio: Mid,
    seq: u64,
    /// Each stream's own sequence numbers (video, audio).
    stream_seq: [u64; 2],
    /// When the publisher's media clocks read 0: its timestamps follow the lab's time, as a
    /// camera's and a microphone's do.
    epoch: Instant,
}

impl Fanout {
    /// `n` subscribers, every one's video flowing.
    pub fn new(n: u64) -> Self {
        Self::with_idle(n, 0, false)
    }

    /// `n` subscribers that record what they receive.
    pub fn recording(n: u64) -> Self {
        Self::with_idle(n, 0, true)
    }

    /// `n` subscribers, plus `idle` connected peers in another session that sends nothing.
    pub fn with_idle(n: u64, idle: u64, record: bool) -> Self {
        let mut lab = Lab::new();
        lab.record = record;
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
        let epoch = lab.now;
        let mut f = Fanout {
            lab,
            publisher,
            video,
            audio,
            seq: 1,
            stream_seq: [1, 1],
            epoch,
        };
        // Keyframes until every subscriber's video is flowing.
        for _ in 0..20 {
            let d = f.datagram(MediaKind::Video, 1200, true);
            f.forward(&d);
            f.lab.deliver();
            f.lab.pump(20);
        }
        f
    }

    /// The subscribers' indexes.
    pub fn subscribers(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.lab.peers.len()).filter(move |&i| i != self.publisher)
    }

    /// The publisher's next SRTP datagram of `kind` (`len` bytes of payload; a VP8 keyframe or
    /// not).
    pub fn datagram(&mut self, kind: MediaKind, len: usize, keyframe: bool) -> Vec<u8> {
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
        payload[2..10].copy_from_slice(&self.seq.to_be_bytes());
        self.seq += 1;
        let mut api = rtc.direct_api();
        let tx = api.stream_tx_by_mid(mid, None).expect("stream");
        let (rate, i) = if kind == MediaKind::Video {
            (90_000.0, 0)
        } else {
            (48_000.0, 1)
        };
        let timestamp = (now.duration_since(self.epoch).as_secs_f64() * rate) as u64 as u32;
        self.stream_seq[i] += 1;
        let seq = SeqNo::from(self.stream_seq[i]);
        tx.write_rtp(RtpWrite::new(pt, seq, timestamp, now, payload).marker(true));
        let _ = rtc.handle_input(Input::Timeout(now));
        loop {
            match rtc.poll_output().expect("output") {
                Output::Transmit(t) => return t.contents.to_vec(),
                Output::Timeout(_) => panic!("the publisher sent nothing"),
                Output::Event(_) => {}
            }
        }
    }

    /// One datagram from the publisher into the worker; returns the datagrams it produced (left
    /// in the outbox).
    pub fn forward(&mut self, datagram: &[u8]) -> usize {
        let src = self.lab.peers[self.publisher].addr;
        let before = self.lab.worker.outbox().len();
        self.lab
            .worker
            .receive_datagram(src, datagram, self.lab.now);
        let outbox = self.lab.worker.outbox();
        outbox.datagrams()[before..]
            .iter()
            .filter(|d| d.destination != src)
            .count()
    }

    /// One packet of `kind` in, its datagrams out (counted, then dropped).
    pub fn fan_out(&mut self, kind: MediaKind, len: usize) -> usize {
        let d = self.datagram(kind, len, false);
        let n = self.forward(&d);
        self.lab.worker.outbox().clear();
        n
    }
}
