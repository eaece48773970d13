//! The edge: every transport and the router, as a sans-I/O state machine ([`Edge`]: datagrams,
//! signaling commands and time in; datagrams and [`EdgeEvent`]s out), and the one tokio task
//! that runs it with the UDP socket ([`Edge::start`]). Nothing here takes a lock; the benches
//! drive the same [`Edge`] without a socket.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use str0m::change::{SdpAnswer, SdpOffer};
use str0m::format::Codec as StrCodec;
use str0m::media::{Direction, KeyframeRequestKind, MediaKind as StrKind, Mid};
use str0m::net::{Protocol, Receive, TcpType, Transmit};
use str0m::rtp::{RtpWrite, SeqNo, Ssrc};
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use tongbu_media::continuity::FREEZE_AFTER;
use tongbu_media::{
    Codec, Forward, MediaKind, ParticipantId, Router, RouterEvent, RouterStats, RtpIn, SinkId,
    TrackId,
};
use tracing::{debug, info, info_span, warn};

use crate::demux::{Demux, PeerKey};
use crate::egress;
use crate::forward_latency::LatencyHistogram;
use crate::link_stats::{Direction as LinkDirection, LinkStats, Meter, STATS_INTERVAL};
use crate::participant::{OutState, OutTrack, Participant};
use crate::tcp::{self, TcpEvent};
use crate::timers::Timers;

/// Transports the socket loop drives before it sends what they produced (a few `sendmmsg` calls'
/// worth: about 5 packets each for a video frame).
const RELEASE_CHUNK: usize = 32;

/// How long a client may take to answer a `recv` offer before the transport is rebuilt.
const OFFER_TIMEOUT: Duration = Duration::from_secs(15);

/// Where the edge listens and what it tells peers.
#[derive(Debug, Clone, Copy)]
pub struct EdgeConfig {
    /// The one UDP socket for all media.
    pub bind: SocketAddr,
    /// The address put in ICE candidates (the public IP for clients behind NAT). Its port is
    /// replaced by the bound port.
    pub public_ip: std::net::IpAddr,
}

/// Errors the edge reports to signaling. Each says what the client should do.
#[derive(Debug, thiserror::Error)]
pub enum EdgeError {
    #[error("cannot bind the media UDP socket on {addr}: {source}; is the port free (TONGBU_MEDIA_UDP_PORT)?")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("participant has not joined the media session")]
    NotJoined,
    #[error("the SDP could not be parsed: {0}")]
    BadSdp(String),
    #[error("the SDP was refused: {0}")]
    Rejected(String),
    #[error("no offer is waiting for an answer")]
    NoPendingOffer,
    #[error("the media edge has stopped")]
    Closed,
}

/// A published track as the edge announces it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublishedTrackInfo {
    pub track: TrackId,
    pub owner: ParticipantId,
    pub kind: MediaKind,
    pub source: TrackSource,
}

/// What a video track shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TrackSource {
    /// A camera or a microphone.
    #[default]
    Camera,
    /// A shared screen or courseware.
    Screen,
}

/// What the edge tells a participant's signaling connection.
#[derive(Debug, Clone)]
pub enum EdgeEvent {
    /// An SDP offer for the participant's `recv` transport, with the track each media line carries.
    RecvOffer {
        sdp: String,
        tracks: Vec<(String, PublishedTrackInfo)>,
        /// The offer starts a new `recv` transport: the client must drop its old one, if any.
        new_transport: bool,
    },
    /// Someone in the session published a track.
    TrackPublished(PublishedTrackInfo),
    /// A track is gone.
    TrackUnpublished(PublishedTrackInfo),
    /// A transport's connection changed state (`connected`, `disconnected`).
    Connection { send: bool, state: &'static str },
}

/// One participant's link, for health.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ParticipantLink {
    pub participant: ParticipantId,
    pub session: i64,
    pub stats: LinkStats,
}

/// Continuity totals of one participant, gathered for [`Edge::links`].
#[derive(Debug, Default, Clone, Copy)]
struct Flow {
    freezes: u64,
    frozen: bool,
    receiving_video: bool,
    freezes_up: u64,
    audio_gaps_up: u64,
}

/// Counters of the edge.
#[derive(Debug, Default, Clone, Copy)]
pub struct EdgeStats {
    pub participants: usize,
    pub transports: usize,
    pub datagrams_in: u64,
    pub datagrams_out: u64,
    /// Datagrams from an address no transport knows (dropped).
    pub dropped_unknown_source: u64,
    /// Datagrams a transport could not parse (dropped).
    pub dropped_malformed: u64,
    /// RTP packets received from publishers.
    pub rtp_in: u64,
    /// RTP from a stream that maps to no published track (dropped).
    pub dropped_unmapped_rtp: u64,
    pub send_errors: u64,
    /// `sendmmsg` calls (or single sends) made for `datagrams_out`.
    pub send_batches: u64,
    /// Messages those calls carried: fewer than datagrams where UDP GSO joined a subscriber's
    /// packets into one.
    pub send_messages: u64,
    pub router: RouterStats,
    /// Received RTP packets by the time from socket read to the kernel taking their copies.
    pub forward_latency: LatencyHistogram,
}

enum Command {
    Join {
        participant: ParticipantId,
        session: i64,
        events: mpsc::UnboundedSender<EdgeEvent>,
        reply: oneshot::Sender<Vec<PublishedTrackInfo>>,
    },
    Offer {
        participant: ParticipantId,
        sdp: String,
        screen: Option<String>,
        reply: oneshot::Sender<Result<String, EdgeError>>,
    },
    Answer {
        participant: ParticipantId,
        sdp: String,
        reply: oneshot::Sender<Result<(), EdgeError>>,
    },
    Leave {
        participant: ParticipantId,
    },
    Stats {
        reply: oneshot::Sender<EdgeStats>,
    },
    Links {
        reply: oneshot::Sender<Vec<ParticipantLink>>,
    },
    PauseVideo {
        participant: ParticipantId,
        paused: bool,
    },
    StopPublishing {
        participant: ParticipantId,
    },
}

/// How signaling talks to the edge. Cheap to clone.
#[derive(Debug, Clone)]
pub struct EdgeHandle {
    commands: mpsc::Sender<Command>,
    local: SocketAddr,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Command")
    }
}

impl EdgeHandle {
    /// The bound media socket address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    async fn call<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, EdgeError> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(make(tx))
            .await
            .map_err(|_| EdgeError::Closed)?;
        rx.await.map_err(|_| EdgeError::Closed)
    }

    /// A participant joins a session's media. Returns the tracks already published there.
    pub async fn join(
        &self,
        participant: ParticipantId,
        session: i64,
        events: mpsc::UnboundedSender<EdgeEvent>,
    ) -> Result<Vec<PublishedTrackInfo>, EdgeError> {
        self.call(|reply| Command::Join {
            participant,
            session,
            events,
            reply,
        })
        .await
    }

    /// The participant's offer for its `send` transport; returns the answer. `screen` names the
    /// media line that carries a screen share, if one does.
    pub async fn offer(
        &self,
        participant: ParticipantId,
        sdp: String,
        screen: Option<String>,
    ) -> Result<String, EdgeError> {
        self.call(|reply| Command::Offer {
            participant,
            sdp,
            screen,
            reply,
        })
        .await?
    }

    /// The participant's answer to the `recv` offer.
    pub async fn answer(&self, participant: ParticipantId, sdp: String) -> Result<(), EdgeError> {
        self.call(|reply| Command::Answer {
            participant,
            sdp,
            reply,
        })
        .await?
    }

    /// The participant left: its tracks are unpublished, its transports closed.
    pub async fn leave(&self, participant: ParticipantId) {
        let _ = self.commands.send(Command::Leave { participant }).await;
    }

    /// Current counters.
    pub async fn stats(&self) -> Result<EdgeStats, EdgeError> {
        self.call(|reply| Command::Stats { reply }).await
    }

    /// Audio first: stop (or restart) every video the participant receives while its audio goes
    /// on, for a link that cannot carry both.
    pub async fn pause_video(&self, participant: ParticipantId, paused: bool) {
        let _ = self
            .commands
            .send(Command::PauseVideo {
                participant,
                paused,
            })
            .await;
    }

    /// The participant may no longer publish: its tracks end, its `send` transport closes.
    pub async fn stop_publishing(&self, participant: ParticipantId) {
        let _ = self
            .commands
            .send(Command::StopPublishing { participant })
            .await;
    }

    /// Every participant's link as last measured (str0m reports once a second).
    pub async fn links(&self) -> Result<Vec<ParticipantLink>, EdgeError> {
        self.call(|reply| Command::Links { reply }).await
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TransportRole {
    Send,
    Recv,
}

struct Peer {
    rtc: Rtc,
    /// Byte counters at str0m's last report, for bitrates.
    meter: Meter,
    participant: ParticipantId,
    role: TransportRole,
    ufrag: String,
    addrs: Vec<SocketAddr>,
    connected: bool,
    /// Send transports: the media line that carries a screen share, as the client said.
    screen_mid: Option<Mid>,
    /// Send transports: incoming SSRC → published track (filled lazily from the mid).
    track_by_ssrc: HashMap<Ssrc, TrackId>,
    track_by_mid: HashMap<Mid, TrackId>,
    mid_by_track: HashMap<TrackId, Mid>,
    /// Recv transports: media line → sink, for keyframe requests.
    sink_by_mid: HashMap<Mid, SinkId>,
}

/// The media edge. [`Edge::start`] binds the socket and spawns its task.
pub struct Edge {
    /// The address in every ICE candidate; also the destination str0m must see on input.
    candidate: SocketAddr,
    /// Whether transports also offer a passive TCP candidate (the media port is listened on
    /// over TCP too, for schools that block UDP).
    tcp: bool,
    peers: HashMap<PeerKey, Peer>,
    participants: HashMap<ParticipantId, Participant>,
    sessions: HashMap<i64, Vec<ParticipantId>>,
    demux: Demux,
    timers: Timers,
    router: Router,
    /// Published tracks that carry a screen share (the others are cameras and microphones).
    screen_tracks: HashSet<TrackId>,
    /// Where each subscription's packets go: the subscriber's transport and its send stream.
    sinks: HashMap<SinkId, (PeerKey, Ssrc)>,
    /// Offers on `recv` transports waiting for an answer, with their deadlines.
    offer_deadlines: Vec<(Instant, ParticipantId)>,
    next_key: u64,
    next_track: u64,
    next_sink: u64,
    forwards: Vec<Forward>,
    events: Vec<Event>,
    outbox: Vec<Transmit>,
    dirty: Vec<PeerKey>,
    dirty_spare: Vec<PeerKey>,
    stats: EdgeStats,
}

impl Edge {
    /// An edge whose ICE candidates name `candidate` (the address clients send media to).
    /// Sans-I/O: feed it with [`Edge::handle_datagram`], [`Edge::handle_timeout`] and the
    /// `handle_*` commands, and send what [`Edge::take_transmits`] returns.
    pub fn new(candidate: SocketAddr) -> Self {
        Edge {
            candidate,
            tcp: false,
            peers: HashMap::new(),
            participants: HashMap::new(),
            sessions: HashMap::new(),
            demux: Demux::default(),
            timers: Timers::default(),
            router: Router::new(),
            sinks: HashMap::new(),
            screen_tracks: HashSet::new(),
            offer_deadlines: Vec::new(),
            next_key: 1,
            next_track: 1,
            next_sink: 1,
            forwards: Vec::with_capacity(1024),
            events: Vec::with_capacity(16),
            outbox: Vec::with_capacity(1024),
            dirty: Vec::with_capacity(1024),
            dirty_spare: Vec::with_capacity(1024),
            stats: EdgeStats::default(),
        }
    }

    /// Binds the media socket and runs the edge on the current tokio runtime.
    pub async fn start(
        config: EdgeConfig,
    ) -> Result<(EdgeHandle, tokio::task::JoinHandle<()>), EdgeError> {
        let socket = UdpSocket::bind(config.bind)
            .await
            .map_err(|source| EdgeError::Bind {
                addr: config.bind,
                source,
            })?;
        let local = socket.local_addr().map_err(|source| EdgeError::Bind {
            addr: config.bind,
            source,
        })?;
        let candidate = SocketAddr::new(config.public_ip, local.port());
        let (tx, rx) = mpsc::channel(1024);
        let mut edge = Edge::new(candidate);
        // The same port over TCP, for schools whose firewall blocks UDP.
        let (tcp_tx, tcp_rx) = mpsc::channel(1024);
        match tokio::net::TcpListener::bind(local).await {
            Ok(listener) => {
                edge.tcp = true;
                tokio::spawn(tcp::accept_forever(listener, tcp_tx));
                info!(%local, %candidate, "media edge listening (UDP, and TCP for blocked networks)");
            }
            Err(e) => {
                warn!(%local, "media over TCP unavailable (cannot listen on the media port over TCP: {e}); UDP only");
            }
        }
        let task = tokio::spawn(edge.run(Arc::new(socket), rx, tcp_rx));
        Ok((
            EdgeHandle {
                commands: tx,
                local,
            },
            task,
        ))
    }

    /// The datagrams to send, in order; `buf` is left empty for the next round.
    pub fn take_transmits(&mut self, buf: &mut Vec<Transmit>) {
        buf.clear();
        std::mem::swap(buf, &mut self.outbox);
    }

    /// A participant joins a session's media; returns the tracks already published there.
    pub fn handle_join(
        &mut self,
        participant: ParticipantId,
        session: i64,
        events: mpsc::UnboundedSender<EdgeEvent>,
        now: Instant,
    ) -> Vec<PublishedTrackInfo> {
        let _s = info_span!("participant", id = participant.0, session).entered();
        let existing = self.join(participant, session, events, now);
        self.drive_dirty(now);
        existing
    }

    /// The participant's offer for its `send` transport; returns the answer.
    pub fn handle_offer(
        &mut self,
        participant: ParticipantId,
        sdp: &str,
        screen: Option<&str>,
        now: Instant,
    ) -> Result<String, EdgeError> {
        let _s = info_span!("participant", id = participant.0).entered();
        let r = self.offer(participant, sdp, screen, now);
        self.drive_dirty(now);
        r
    }

    /// The participant's answer to its `recv` offer.
    pub fn handle_answer(
        &mut self,
        participant: ParticipantId,
        sdp: &str,
        now: Instant,
    ) -> Result<(), EdgeError> {
        let _s = info_span!("participant", id = participant.0).entered();
        let r = self.answer(participant, sdp, now);
        self.drive_dirty(now);
        r
    }

    /// The participant left.
    pub fn handle_leave(&mut self, participant: ParticipantId, now: Instant) {
        let _s = info_span!("participant", id = participant.0).entered();
        self.leave(participant, now);
        self.drive_dirty(now);
    }

    /// Every participant's link as last measured, with the continuity (freezes, audio gaps) of
    /// what it receives and publishes. One pass over the subscriptions: call it for health
    /// samples, not per packet.
    pub fn links(&self, now: Instant) -> Vec<ParticipantLink> {
        let mut flow: HashMap<ParticipantId, Flow> =
            HashMap::with_capacity(self.participants.len());
        for s in self.router.subscriptions() {
            let Some(t) = self.router.track(s.track()) else {
                continue;
            };
            if t.codec().kind() != MediaKind::Video {
                continue;
            }
            let f = flow.entry(s.subscriber()).or_default();
            f.freezes += s.pauses().count();
            // Stalled while the publisher's stream comes: its own freeze. (If the publisher
            // went quiet, that shows on the publisher.)
            f.frozen |= s.pauses().stalled(now, FREEZE_AFTER) && !t.continuity().stalled(now);
            f.receiving_video |= s.forwarded() > 0;
        }
        for t in self.router.tracks() {
            let f = flow.entry(t.owner()).or_default();
            match t.codec().kind() {
                MediaKind::Video => f.freezes_up += t.continuity().gaps(),
                MediaKind::Audio => f.audio_gaps_up += t.continuity().gaps(),
            }
        }
        self.participants
            .values()
            .map(|p| {
                let mut stats = p.link;
                let f = flow.get(&p.id).copied().unwrap_or_default();
                stats.freezes = f.freezes;
                stats.audio_gaps_up = f.audio_gaps_up;
                stats.frozen = f.frozen;
                stats.receiving_video = f.receiving_video;
                stats.video_paused = self.router.video_paused(p.id);
                stats.freezes_up = f.freezes_up;
                ParticipantLink {
                    participant: p.id,
                    session: p.session,
                    stats,
                }
            })
            .collect()
    }

    /// Audio first: see [`EdgeHandle::pause_video`].
    pub fn pause_video(&mut self, participant: ParticipantId, paused: bool, now: Instant) {
        if self.router.pause_video(participant, paused, now) {
            info!(
                participant = participant.0,
                paused, "video paused to keep audio"
            );
            self.router_events(now);
            self.drive_dirty(now);
        }
    }

    /// Current counters.
    pub fn stats(&self) -> EdgeStats {
        let mut s = self.stats;
        s.participants = self.participants.len();
        s.transports = self.peers.len();
        s.router = self.router.stats();
        s
    }

    async fn run(
        mut self,
        socket: Arc<UdpSocket>,
        mut commands: mpsc::Receiver<Command>,
        mut tcp_events: mpsc::Receiver<TcpEvent>,
    ) {
        let mut buf = vec![0u8; 2048];
        // Media TCP connections by their client's address: where their packets go.
        let mut tcp_out: HashMap<SocketAddr, mpsc::Sender<bytes::Bytes>> = HashMap::new();
        loop {
            let deadline = self.poll_timeout(Instant::now());
            tokio::select! {
                cmd = commands.recv() => match cmd {
                    Some(c) => self.on_command(c, Instant::now()),
                    None => break,
                },
                Some(ev) = tcp_events.recv() => match ev {
                    TcpEvent::Opened { peer, writer } => {
                        tcp_out.insert(peer, writer);
                    }
                    TcpEvent::Closed { peer } => {
                        tcp_out.remove(&peer);
                    }
                    TcpEvent::Packet { peer, data } => {
                        let now = Instant::now();
                        self.receive_tcp(peer, &data, now);
                        self.release(now);
                    }
                },
                r = socket.recv_from(&mut buf) => {
                    let now = Instant::now();
                    let rtp_before = self.stats.rtp_in;
                    match r {
                        Ok((n, src)) => self.receive_datagram(src, &buf[..n], now),
                        Err(e) => debug!("media socket receive error: {e}"),
                    }
                    // Take in what else is queued, then release it all at once: subscribers
                    // pay one turn per burst, and the sends go out in batches.
                    for _ in 0..63 {
                        match socket.try_recv_from(&mut buf) {
                            Ok((n, src)) => self.receive_datagram(src, &buf[..n], now),
                            Err(_) => break,
                        }
                    }
                    while self.release_some(now, RELEASE_CHUNK) {
                        self.flush(&socket, &tcp_out).await;
                    }
                    self.flush(&socket, &tcp_out).await;
                    let rtp = self.stats.rtp_in - rtp_before;
                    self.stats.forward_latency.observe(now.elapsed(), rtp);
                }
                _ = tokio::time::sleep_until(deadline.into()) => self.handle_timeout(Instant::now()),
            }
            self.flush(&socket, &tcp_out).await;
        }
        info!("media edge stopped");
    }

    /// When [`Edge::handle_timeout`] must be called next (at the latest `now` + 500 ms).
    pub fn poll_timeout(&mut self, now: Instant) -> Instant {
        let idle = now + Duration::from_millis(500);
        let mut t = self.timers.earliest().unwrap_or(idle).min(idle);
        if let Some(&(d, _)) = self.offer_deadlines.iter().min_by_key(|(d, _)| *d) {
            t = t.min(d);
        }
        self.router.poll_timeout().map_or(t, |r| r.min(t))
    }

    /// Sends what the last turn produced, in `sendmmsg` batches.
    async fn flush(
        &mut self,
        socket: &UdpSocket,
        tcp_out: &HashMap<SocketAddr, mpsc::Sender<bytes::Bytes>>,
    ) {
        if self.outbox.is_empty() {
            return;
        }
        let outbox = std::mem::take(&mut self.outbox);
        for t in outbox.iter().filter(|t| t.proto == Protocol::Tcp) {
            let sent = tcp_out
                .get(&t.destination)
                .zip(tcp::frame(&t.contents))
                .is_some_and(|(w, f)| w.try_send(f).is_ok());
            if sent {
                self.stats.datagrams_out += 1;
            } else {
                self.stats.send_errors += 1;
            }
        }
        let batch: Vec<(SocketAddr, &[u8])> = outbox
            .iter()
            .filter(|t| t.proto != Protocol::Tcp)
            .map(|t| (t.destination, &t.contents[..]))
            .collect();
        let mut at = 0;
        while at < batch.len() {
            match egress::send(socket, &batch[at..]).await {
                Ok(sent) => {
                    at += sent.datagrams.max(1);
                    self.stats.datagrams_out += sent.datagrams as u64;
                    self.stats.send_messages += sent.messages as u64;
                    self.stats.send_batches += 1;
                }
                Err(e) => {
                    // One destination refused (unreachable, …): skip it, send the rest.
                    debug!(to = %batch[at].0, "media send failed: {}", e.error);
                    self.stats.send_errors += e.datagrams as u64;
                    at += e.datagrams.max(1);
                }
            }
        }
        drop(batch);
        self.outbox = outbox;
        self.outbox.clear();
    }

    // ---- input -------------------------------------------------------------------------

    /// A datagram arrived on the media socket from `source`: handled, and what it produced is
    /// released to [`Edge::take_transmits`].
    pub fn handle_datagram(&mut self, source: SocketAddr, data: &[u8], now: Instant) {
        self.receive_datagram(source, data, now);
        self.release(now);
    }

    /// Lets every transport that was written to encrypt and queue what it was given. Call once
    /// after a burst of [`Edge::receive_datagram`]: each subscriber then pays str0m's per-turn
    /// cost once per burst (a video frame's packets), not once per packet.
    pub fn release(&mut self, now: Instant) {
        self.drive_dirty(now);
    }

    /// Like [`Edge::release`], for at most `max` transports; says whether any are left. The
    /// socket loop sends what each part produced before it drives the next, so the first
    /// subscribers' copies of a frame do not wait for the last subscribers' encryption.
    pub fn release_some(&mut self, now: Instant, max: usize) -> bool {
        if self.dirty.is_empty() {
            return false;
        }
        self.dirty.sort_unstable();
        self.dirty.dedup();
        // Into a spare list (keeps both allocations): drive may mark more peers dirty. Taken
        // from the end, so the rest need not move.
        let mut keys = std::mem::take(&mut self.dirty_spare);
        let rest = self.dirty.len().saturating_sub(max);
        keys.extend(self.dirty.drain(rest..));
        for &key in &keys {
            if let Some(peer) = self.peers.get_mut(&key) {
                if let Err(e) = peer.rtc.handle_input(Input::Timeout(now)) {
                    debug!(peer = key.0, "timeout handling failed: {e}");
                }
            }
            self.drive(key, now);
        }
        keys.clear();
        self.dirty_spare = keys;
        !self.dirty.is_empty()
    }

    /// A datagram arrived: decrypted and forwarded into the subscribers' transports, which hold
    /// it until [`Edge::release`].
    pub fn receive_datagram(&mut self, source: SocketAddr, data: &[u8], now: Instant) {
        self.receive(Protocol::Udp, source, data, now);
    }

    /// A packet arrived on a media TCP connection from `source` (the frame's contents).
    pub fn receive_tcp(&mut self, source: SocketAddr, data: &[u8], now: Instant) {
        self.receive(Protocol::Tcp, source, data, now);
    }

    fn receive(&mut self, proto: Protocol, source: SocketAddr, data: &[u8], now: Instant) {
        self.stats.datagrams_in += 1;
        let mut learned = None;
        let Some(key) = self.demux.lookup(source, data, &mut learned) else {
            self.stats.dropped_unknown_source += 1;
            return;
        };
        let Some(peer) = self.peers.get_mut(&key) else {
            self.stats.dropped_unknown_source += 1;
            return;
        };
        if let Some(a) = learned {
            peer.addrs.push(a);
        }
        // The destination must be the address in our ICE candidate (the public one behind NAT),
        // or the ICE agent discards the checks as arriving on an unknown interface.
        let Ok(receive) = Receive::new(proto, source, self.candidate, data) else {
            self.stats.dropped_malformed += 1;
            return;
        };
        if let Err(e) = peer.rtc.handle_input(Input::Receive(now, receive)) {
            self.stats.dropped_malformed += 1;
            debug!(peer = key.0, "datagram refused: {e}");
        }
        self.drive(key, now);
    }

    /// Time passed: drives due transports, keyframe-request releases and offer deadlines.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(key) = self.timers.pop_due(now) {
            if let Some(peer) = self.peers.get_mut(&key) {
                if let Err(e) = peer.rtc.handle_input(Input::Timeout(now)) {
                    debug!(peer = key.0, "timeout handling failed: {e}");
                }
                self.drive(key, now);
            }
        }
        self.router.handle_timeout(now);
        self.router_events(now);
        let expired: Vec<ParticipantId> = self
            .offer_deadlines
            .iter()
            .filter(|(d, _)| *d <= now)
            .map(|&(_, p)| p)
            .collect();
        self.offer_deadlines.retain(|(d, _)| *d > now);
        for id in expired {
            warn!(
                participant = id.0,
                "no answer to the recv offer; rebuilding the transport"
            );
            self.reset_recv(id, now);
        }
        self.drive_dirty(now);
    }

    fn on_command(&mut self, cmd: Command, now: Instant) {
        match cmd {
            Command::Join {
                participant,
                session,
                events,
                reply,
            } => {
                let _ = reply.send(self.handle_join(participant, session, events, now));
            }
            Command::Offer {
                participant,
                sdp,
                screen,
                reply,
            } => {
                let _ = reply.send(self.handle_offer(participant, &sdp, screen.as_deref(), now));
            }
            Command::Answer {
                participant,
                sdp,
                reply,
            } => {
                let _ = reply.send(self.handle_answer(participant, &sdp, now));
            }
            Command::Leave { participant } => self.handle_leave(participant, now),
            Command::Stats { reply } => {
                let _ = reply.send(self.stats());
            }
            Command::Links { reply } => {
                let _ = reply.send(self.links(now));
            }
            Command::PauseVideo {
                participant,
                paused,
            } => self.pause_video(participant, paused, now),
            Command::StopPublishing { participant } => self.stop_publishing(participant, now),
        }
    }

    // ---- participants ------------------------------------------------------------------

    fn join(
        &mut self,
        id: ParticipantId,
        session: i64,
        events: mpsc::UnboundedSender<EdgeEvent>,
        now: Instant,
    ) -> Vec<PublishedTrackInfo> {
        if self.participants.contains_key(&id) {
            self.leave(id, now);
        }
        let mut p = Participant::new(id, session, events);
        let members = self.sessions.entry(session).or_default();
        let mut existing = Vec::new();
        for other in members.iter() {
            let Some(o) = self.participants.get(other) else {
                continue;
            };
            for &track in &o.published {
                if let Some(t) = self.router.track(track) {
                    existing.push(PublishedTrackInfo {
                        track,
                        owner: o.id,
                        kind: t.codec().kind(),
                        source: source_of(&self.screen_tracks, track),
                    });
                }
            }
        }
        members.push(id);
        for &info in &existing {
            let out = self.new_out_track(info);
            p.out.push(out);
        }
        info!(tracks = existing.len(), "joined media");
        self.participants.insert(id, p);
        self.renegotiate(id, now);
        existing
    }

    fn track_info(
        &self,
        track: TrackId,
        owner: ParticipantId,
        kind: MediaKind,
    ) -> PublishedTrackInfo {
        PublishedTrackInfo {
            track,
            owner,
            kind,
            source: source_of(&self.screen_tracks, track),
        }
    }

    /// The participant stops publishing (its floor was taken back): its tracks are unpublished
    /// and its `send` transport closed; it keeps receiving.
    pub fn stop_publishing(&mut self, id: ParticipantId, now: Instant) {
        let Some(p) = self.participants.get_mut(&id) else {
            return;
        };
        let (session, tracks, send) = (p.session, std::mem::take(&mut p.published), p.send.take());
        for track in tracks {
            self.unpublish(session, track, now);
        }
        if let Some(key) = send {
            self.close_peer(key);
        }
        info!(participant = id.0, "stopped publishing");
        self.drive_dirty(now);
    }

    fn new_out_track(&mut self, info: PublishedTrackInfo) -> OutTrack {
        let sink = SinkId(self.next_sink);
        self.next_sink += 1;
        OutTrack {
            track: info.track,
            owner: info.owner,
            kind: info.kind,
            sink,
            state: OutState::ToOpen,
            subscribed: false,
            cancelled: false,
        }
    }

    fn leave(&mut self, id: ParticipantId, now: Instant) {
        let Some(p) = self.participants.remove(&id) else {
            return;
        };
        self.offer_deadlines.retain(|&(_, q)| q != id);
        if let Some(m) = self.sessions.get_mut(&p.session) {
            m.retain(|&x| x != id);
            if m.is_empty() {
                self.sessions.remove(&p.session);
            }
        }
        for &track in &p.published {
            self.unpublish(p.session, track, now);
        }
        for sink in self.router.unsubscribe_all(id) {
            self.sinks.remove(&sink);
        }
        for o in &p.out {
            self.sinks.remove(&o.sink);
        }
        for key in [p.send, p.recv].into_iter().flatten() {
            self.close_peer(key);
        }
        info!("left media");
    }

    /// Closes one transport: it stops answering, and its addresses and timers are forgotten.
    fn close_peer(&mut self, key: PeerKey) -> Option<Peer> {
        let mut peer = self.peers.remove(&key)?;
        peer.rtc.disconnect();
        self.demux.remove(&peer.ufrag, &peer.addrs, key);
        self.timers.remove(key);
        Some(peer)
    }

    fn new_peer(
        &mut self,
        participant: ParticipantId,
        role: TransportRole,
        now: Instant,
    ) -> PeerKey {
        let mut rtc = Rtc::builder()
            .set_ice_lite(true)
            .set_rtp_mode(true)
            .clear_codecs()
            .enable_vp8(true)
            .enable_opus(true, false)
            .set_stats_interval(Some(STATS_INTERVAL))
            .build(now);
        match Candidate::host(self.candidate, "udp") {
            Ok(c) => {
                rtc.add_local_candidate(c);
            }
            Err(e) => warn!("invalid ICE candidate address {}: {e}", self.candidate),
        }
        if self.tcp {
            let c = Candidate::builder()
                .tcp()
                .host(self.candidate)
                .tcptype(TcpType::Passive)
                .build();
            match c {
                Ok(c) => {
                    rtc.add_local_candidate(c);
                }
                Err(e) => warn!("invalid TCP ICE candidate {}: {e}", self.candidate),
            }
        }
        let ufrag = rtc.direct_api().local_ice_credentials().ufrag.clone();
        let key = PeerKey(self.next_key);
        self.next_key += 1;
        self.demux.add(ufrag.clone(), key);
        self.peers.insert(
            key,
            Peer {
                rtc,
                meter: Meter::default(),
                participant,
                role,
                ufrag,
                addrs: Vec::new(),
                connected: false,
                screen_mid: None,
                track_by_ssrc: HashMap::new(),
                track_by_mid: HashMap::new(),
                mid_by_track: HashMap::new(),
                sink_by_mid: HashMap::new(),
            },
        );
        key
    }

    fn offer(
        &mut self,
        id: ParticipantId,
        sdp: &str,
        screen: Option<&str>,
        now: Instant,
    ) -> Result<String, EdgeError> {
        let offer = SdpOffer::from_sdp_string(sdp).map_err(|e| EdgeError::BadSdp(e.to_string()))?;
        let existing = self.participants.get(&id).ok_or(EdgeError::NotJoined)?.send;
        let key = match existing {
            Some(k) => k,
            None => {
                let k = self.new_peer(id, TransportRole::Send, now);
                if let Some(p) = self.participants.get_mut(&id) {
                    p.send = Some(k);
                }
                k
            }
        };
        let peer = self.peers.get_mut(&key).ok_or(EdgeError::NotJoined)?;
        peer.screen_mid = screen.map(Mid::from);
        let answer = peer
            .rtc
            .sdp_api()
            .accept_offer(offer)
            .map_err(|e| EdgeError::Rejected(e.to_string()))?;
        self.drive(key, now);
        Ok(answer.to_sdp_string())
    }

    fn answer(&mut self, id: ParticipantId, sdp: &str, now: Instant) -> Result<(), EdgeError> {
        let answer =
            SdpAnswer::from_sdp_string(sdp).map_err(|e| EdgeError::BadSdp(e.to_string()))?;
        let p = self.participants.get_mut(&id).ok_or(EdgeError::NotJoined)?;
        let key = p.recv.ok_or(EdgeError::NoPendingOffer)?;
        let pending = p.pending.take().ok_or(EdgeError::NoPendingOffer)?;
        self.offer_deadlines.retain(|&(_, q)| q != id);
        let peer = self.peers.get_mut(&key).ok_or(EdgeError::NotJoined)?;
        if let Err(e) = peer.rtc.sdp_api().accept_answer(pending, answer) {
            // The client applied an answer we could not: the two sides disagree about the
            // transport. Start it afresh rather than leave it half-negotiated.
            self.reset_recv(id, now);
            return Err(EdgeError::Rejected(e.to_string()));
        }
        for o in &p.out {
            if matches!(o.state, OutState::NegotiatingStop(_)) {
                self.sinks.remove(&o.sink);
            }
        }
        let opened = p.answer_accepted();
        peer.sink_by_mid
            .retain(|m, _| p.out.iter().any(|o| o.mid() == Some(*m)));
        for i in opened {
            let o = &p.out[i];
            let Some(mid) = o.mid() else {
                continue;
            };
            match peer.rtc.direct_api().stream_tx_by_mid(mid, None) {
                Some(tx) => {
                    self.sinks.insert(o.sink, (key, tx.ssrc()));
                    peer.sink_by_mid.insert(mid, o.sink);
                }
                None => warn!(track = o.track.0, "no send stream for media line {mid}"),
            }
        }
        self.drive(key, now);
        self.subscribe_open(id, now);
        self.renegotiate(id, now);
        Ok(())
    }

    /// Drops a participant's `recv` transport and offers a new one with everything it should
    /// receive.
    fn reset_recv(&mut self, id: ParticipantId, now: Instant) {
        if let Some(key) = self.participants.get(&id).and_then(|p| p.recv) {
            self.transport_closed(key, now);
        }
    }

    /// Subscribes the open, not yet subscribed tracks of a participant whose `recv` transport is
    /// connected.
    fn subscribe_open(&mut self, id: ParticipantId, now: Instant) {
        let Some(p) = self.participants.get_mut(&id) else {
            return;
        };
        let Some(key) = p.recv else {
            return;
        };
        let Some(peer) = self.peers.get(&key) else {
            return;
        };
        if !peer.connected {
            return;
        }
        for o in p.out.iter_mut() {
            let OutState::Open(mid) = o.state else {
                continue;
            };
            if o.subscribed {
                continue;
            }
            let codec = codec_of(o.kind);
            let Some(pt) = payload_type(&peer.rtc, mid, codec) else {
                warn!(
                    track = o.track.0,
                    "subscriber did not negotiate {codec:?}; not forwarding"
                );
                continue;
            };
            match self.router.subscribe(o.track, id, o.sink, pt, now) {
                Ok(()) => o.subscribed = true,
                Err(e) => debug!("subscribe failed: {e}"),
            }
        }
        self.router_events(now);
    }

    /// Sends a new `recv` offer if the participant's outgoing tracks changed and no offer is
    /// pending.
    fn renegotiate(&mut self, id: ParticipantId, now: Instant) {
        let needs = self.participants.get(&id).is_some_and(|p| p.needs_offer());
        if !needs {
            return;
        }
        // An offer in which every line is stopped loses its BUNDLE group (webrtc-rs then answers
        // without one, and str0m refuses that answer). Keep idle lines until something new
        // opens; one offer then stops the old lines and adds the new ones.
        let keeps_media = self.participants.get(&id).is_some_and(|p| {
            p.out.iter().any(|o| {
                matches!(
                    o.state,
                    OutState::ToOpen | OutState::Negotiating(_) | OutState::Open(_)
                )
            })
        });
        if !keeps_media {
            return;
        }
        let existing = self.participants.get(&id).and_then(|p| p.recv);
        let new_transport = existing.is_none();
        let key = match existing {
            Some(k) => k,
            None => {
                let k = self.new_peer(id, TransportRole::Recv, now);
                if let Some(p) = self.participants.get_mut(&id) {
                    p.recv = Some(k);
                }
                k
            }
        };
        let (Some(p), Some(peer)) = (self.participants.get_mut(&id), self.peers.get_mut(&key))
        else {
            return;
        };
        let mut api = peer.rtc.sdp_api();
        for o in p.out.iter_mut() {
            match o.state {
                OutState::ToOpen => {
                    let kind = match o.kind {
                        MediaKind::Audio => StrKind::Audio,
                        MediaKind::Video => StrKind::Video,
                    };
                    let mid = api.add_media(
                        kind,
                        Direction::SendOnly,
                        Some(format!("p{}", o.owner.0)),
                        Some(format!("t{}", o.track.0)),
                        None,
                    );
                    o.state = OutState::Negotiating(mid);
                }
                OutState::ToStop(mid) => {
                    api.stop_media(mid);
                    o.state = OutState::NegotiatingStop(mid);
                }
                _ => {}
            }
        }
        if !api.has_changes() {
            return;
        }
        let Some((offer, pending)) = api.apply() else {
            return;
        };
        p.pending = Some(pending);
        self.offer_deadlines.push((now + OFFER_TIMEOUT, id));
        let tracks = p
            .out
            .iter()
            .filter_map(|o| match o.state {
                OutState::Negotiating(m) | OutState::Open(m) => Some((
                    m.to_string(),
                    PublishedTrackInfo {
                        track: o.track,
                        owner: o.owner,
                        kind: o.kind,
                        source: source_of(&self.screen_tracks, o.track),
                    },
                )),
                _ => None,
            })
            .collect();
        let _ = p.events.send(EdgeEvent::RecvOffer {
            sdp: offer.to_sdp_string(),
            tracks,
            new_transport,
        });
        self.drive(key, now);
    }

    /// A media line of a `send` transport that the client sends on becomes a published track
    /// (once; a line already published is left alone).
    fn publish(&mut self, key: PeerKey, mid: Mid, now: Instant) {
        let Some(peer) = self.peers.get_mut(&key) else {
            return;
        };
        if peer.role != TransportRole::Send || peer.track_by_mid.contains_key(&mid) {
            return;
        }
        let Some(kind) = peer.rtc.media(mid).map(|m| match m.kind() {
            StrKind::Audio => MediaKind::Audio,
            StrKind::Video => MediaKind::Video,
        }) else {
            return;
        };
        let screen = peer.screen_mid == Some(mid);
        let owner = peer.participant;
        let track = TrackId(self.next_track);
        self.next_track += 1;
        if let Err(e) = self.router.publish(track, owner, codec_of(kind)) {
            warn!("publish failed: {e}");
            return;
        }
        peer.track_by_mid.insert(mid, track);
        peer.mid_by_track.insert(track, mid);
        let Some(p) = self.participants.get_mut(&owner) else {
            return;
        };
        p.published.push(track);
        let session = p.session;
        if screen {
            self.screen_tracks.insert(track);
        }
        let info = self.track_info(track, owner, kind);
        info!(
            participant = owner.0,
            track = track.0,
            ?kind,
            "track published"
        );
        let members = self.sessions.get(&session).cloned().unwrap_or_default();
        for m in members {
            let out = (m != owner).then(|| self.new_out_track(info));
            if let Some(q) = self.participants.get_mut(&m) {
                let _ = q.events.send(EdgeEvent::TrackPublished(info));
                if let Some(o) = out {
                    q.out.push(o);
                }
            }
            if m != owner {
                self.renegotiate(m, now);
            }
        }
    }

    fn unpublish(&mut self, session: i64, track: TrackId, now: Instant) {
        let Some(t) = self.router.track(track) else {
            return;
        };
        let info = self.track_info(track, t.owner(), t.codec().kind());
        self.screen_tracks.remove(&track);
        for sink in self.router.unpublish(track).unwrap_or_default() {
            self.sinks.remove(&sink);
        }
        let members = self.sessions.get(&session).cloned().unwrap_or_default();
        for m in members {
            if let Some(q) = self.participants.get_mut(&m) {
                q.track_gone(track);
                let _ = q.events.send(EdgeEvent::TrackUnpublished(info));
            }
            self.renegotiate(m, now);
        }
        info!(track = track.0, "track unpublished");
    }

    // ---- driving str0m -----------------------------------------------------------------

    /// Polls one transport until it has nothing more to say, then handles its events.
    fn drive(&mut self, key: PeerKey, now: Instant) {
        let mut events = std::mem::take(&mut self.events);
        let mut alive = true;
        if let Some(peer) = self.peers.get_mut(&key) {
            loop {
                match peer.rtc.poll_output() {
                    Ok(Output::Timeout(t)) => {
                        self.timers.set(key, t);
                        break;
                    }
                    Ok(Output::Transmit(t)) => self.outbox.push(t),
                    Ok(Output::Event(e)) => events.push(e),
                    Err(e) => {
                        debug!(peer = key.0, "transport failed: {e}");
                        alive = false;
                        break;
                    }
                }
            }
            alive &= peer.rtc.is_alive();
        }
        for e in events.drain(..) {
            self.on_event(key, e, now);
        }
        self.events = events;
        if !alive {
            self.transport_closed(key, now);
        }
    }

    /// Drives every transport something was written to. The timeout input makes str0m stamp
    /// and release what was queued by `write_rtp` or `request_keyframe` right away.
    fn drive_dirty(&mut self, now: Instant) {
        while self.release_some(now, usize::MAX) {}
    }

    /// A transport died (DTLS closed, ICE gave up): forget it. Its published tracks end; its
    /// received tracks go back to "to open", so a later offer builds a new `recv` transport.
    fn transport_closed(&mut self, key: PeerKey, now: Instant) {
        let Some(peer) = self.close_peer(key) else {
            return;
        };
        let id = peer.participant;
        let send = peer.role == TransportRole::Send;
        info!(participant = id.0, send, "transport closed");
        let Some(p) = self.participants.get_mut(&id) else {
            return;
        };
        p.link.set_connected(send, false, now);
        let _ = p.events.send(EdgeEvent::Connection {
            send,
            state: "closed",
        });
        if send {
            p.send = None;
            let session = p.session;
            let tracks = std::mem::take(&mut p.published);
            for track in tracks {
                self.unpublish(session, track, now);
            }
        } else {
            p.recv = None;
            p.pending = None;
            self.offer_deadlines.retain(|&(_, q)| q != id);
            for o in p.out.iter_mut() {
                self.sinks.remove(&o.sink);
                o.subscribed = false;
                o.cancelled = false;
                o.state = OutState::ToOpen;
            }
            p.out.retain(|o| self.router.track(o.track).is_some());
            for sink in self.router.unsubscribe_all(id) {
                self.sinks.remove(&sink);
            }
            self.renegotiate(id, now);
        }
    }

    fn on_event(&mut self, key: PeerKey, event: Event, now: Instant) {
        match event {
            Event::RtpPacket(pkt) => self.on_rtp(key, pkt, now),
            Event::KeyframeRequest(req) => {
                let sink = self
                    .peers
                    .get(&key)
                    .and_then(|p| p.sink_by_mid.get(&req.mid).copied());
                if let Some(sink) = sink {
                    let _ = self.router.request_keyframe(sink, now);
                    self.router_events(now);
                }
            }
            // A new line the client sends on, or one it sends on again (a share restarted on its
            // old line), is published; a line it stopped sending on is unpublished.
            Event::MediaAdded(m) if m.direction.is_receiving() => self.publish(key, m.mid, now),
            Event::MediaChanged(m) if m.direction.is_receiving() => self.publish(key, m.mid, now),
            Event::MediaChanged(m) => {
                let gone = self.peers.get(&key).and_then(|p| {
                    (p.role == TransportRole::Send && !m.direction.is_receiving())
                        .then(|| p.track_by_mid.get(&m.mid).copied())
                        .flatten()
                        .map(|t| (p.participant, t))
                });
                if let Some((owner, track)) = gone {
                    if let Some(peer) = self.peers.get_mut(&key) {
                        peer.track_by_mid.remove(&m.mid);
                        peer.mid_by_track.remove(&track);
                        peer.track_by_ssrc.retain(|_, t| *t != track);
                    }
                    let session = self.participants.get_mut(&owner).map(|p| {
                        p.published.retain(|&t| t != track);
                        p.session
                    });
                    if let Some(s) = session {
                        self.unpublish(s, track, now);
                    }
                }
            }
            Event::PeerStats(st) => {
                let Some(peer) = self.peers.get_mut(&key) else {
                    return;
                };
                let dir = match peer.role {
                    TransportRole::Send => LinkDirection::Send,
                    TransportRole::Recv => LinkDirection::Recv,
                };
                if let Some(p) = self.participants.get_mut(&peer.participant) {
                    p.link.peer(dir, &mut peer.meter, &st);
                }
            }
            Event::MediaEgressStats(st) => {
                let Some(id) = self.peers.get(&key).map(|p| p.participant) else {
                    return;
                };
                if let Some(p) = self.participants.get_mut(&id) {
                    p.link.egress(&st);
                    (p.link.nacks, p.link.plis) = p.feedback.update(&st);
                }
            }
            Event::MediaIngressStats(st) => {
                let Some(peer) = self.peers.get(&key) else {
                    return;
                };
                let clock = match peer.rtc.media(st.mid).map(|m| m.kind()) {
                    Some(StrKind::Video) => 90_000,
                    Some(StrKind::Audio) => 48_000,
                    None => 0,
                };
                // Jitter is reported for the video line (audio would mask it).
                if clock == 90_000 || st.loss.is_some() {
                    let id = peer.participant;
                    if let Some(p) = self.participants.get_mut(&id) {
                        p.link.ingress(if clock == 90_000 { clock } else { 0 }, &st);
                    }
                }
            }
            Event::Connected => {
                let Some(peer) = self.peers.get_mut(&key) else {
                    return;
                };
                peer.connected = true;
                let (id, role) = (peer.participant, peer.role);
                if let Some(p) = self.participants.get_mut(&id) {
                    p.link.set_connected(role == TransportRole::Send, true, now);
                }
                info!(participant = id.0, ?role, "transport connected");
                if let Some(p) = self.participants.get(&id) {
                    let _ = p.events.send(EdgeEvent::Connection {
                        send: role == TransportRole::Send,
                        state: "connected",
                    });
                }
                if role == TransportRole::Recv {
                    self.subscribe_open(id, now);
                }
            }
            Event::IceConnectionStateChange(
                IceConnectionState::Connected | IceConnectionState::Completed,
            ) => {
                // ICE came back after a loss (consent checks answered again).
                if let Some(peer) = self.peers.get(&key).filter(|p| p.connected) {
                    let id = peer.participant;
                    let send = peer.role == TransportRole::Send;
                    if let Some(p) = self.participants.get_mut(&id) {
                        let was = if send {
                            p.link.send_connected
                        } else {
                            p.link.recv_connected
                        };
                        if !was {
                            p.link.set_connected(send, true, now);
                            info!(participant = id.0, send, "transport reconnected");
                            let _ = p.events.send(EdgeEvent::Connection {
                                send,
                                state: "connected",
                            });
                        }
                    }
                }
            }
            Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                if let Some(peer) = self.peers.get(&key) {
                    let id = peer.participant;
                    let send = peer.role == TransportRole::Send;
                    if let Some(p) = self.participants.get_mut(&id) {
                        p.link.set_connected(send, false, now);
                        let _ = p.events.send(EdgeEvent::Connection {
                            send,
                            state: "disconnected",
                        });
                    }
                }
            }
            _ => {}
        }
    }

    fn on_rtp(&mut self, key: PeerKey, pkt: str0m::rtp::RtpPacket, now: Instant) {
        self.stats.rtp_in += 1;
        let Some(peer) = self.peers.get_mut(&key) else {
            return;
        };
        let ssrc = pkt.header.ssrc;
        let (track, restarted) = match peer.track_by_ssrc.get(&ssrc) {
            Some(&t) => (Some(t), false),
            None => {
                let mid = peer.rtc.direct_api().stream_rx(&ssrc).map(|s| s.mid());
                let t = mid.and_then(|m| peer.track_by_mid.get(&m).copied());
                let mut restarted = false;
                if let Some(t) = t {
                    // A new SSRC on a known track: the publisher's encoder restarted.
                    restarted = peer.track_by_ssrc.values().any(|&x| x == t);
                    peer.track_by_ssrc.retain(|_, x| *x != t);
                    peer.track_by_ssrc.insert(ssrc, t);
                }
                (t, restarted)
            }
        };
        if let (Some(t), true) = (track, restarted) {
            // Every subscriber continues its numbering and waits for the next keyframe.
            let _ = self.router.restart_track(t, now);
            self.router_events(now);
        }
        let Some(track) = track else {
            self.stats.dropped_unmapped_rtp += 1;
            return;
        };
        let rtp = RtpIn {
            seq: pkt.header.sequence_number,
            timestamp: pkt.header.timestamp,
            marker: pkt.header.marker,
            payload: pkt.payload,
        };
        let mut forwards = std::mem::take(&mut self.forwards);
        forwards.clear();
        if self.router.forward(track, &rtp, now, &mut forwards).is_ok() {
            for f in forwards.drain(..) {
                let Some(&(sub_key, ssrc)) = self.sinks.get(&f.sink) else {
                    continue;
                };
                let Some(sub) = self.peers.get_mut(&sub_key) else {
                    continue;
                };
                if let Some(tx) = sub.rtc.direct_api().stream_tx(&ssrc) {
                    let video = f.kind == MediaKind::Video;
                    tx.write_rtp(
                        RtpWrite::new(
                            f.pt.into(),
                            SeqNo::from(f.seq),
                            f.timestamp,
                            pkt.timestamp,
                            f.payload,
                        )
                        .marker(f.marker)
                        .nackable(video),
                    );
                    self.dirty.push(sub_key);
                }
            }
        }
        self.forwards = forwards;
    }

    fn router_events(&mut self, _now: Instant) {
        while let Some(ev) = self.router.poll_event() {
            match ev {
                RouterEvent::RequestKeyframe { track, owner } => {
                    let Some(key) = self.participants.get(&owner).and_then(|p| p.send) else {
                        continue;
                    };
                    let Some(peer) = self.peers.get_mut(&key) else {
                        continue;
                    };
                    let Some(&mid) = peer.mid_by_track.get(&track) else {
                        continue;
                    };
                    if let Some(rx) = peer.rtc.direct_api().stream_rx_by_mid(mid, None) {
                        rx.request_keyframe(KeyframeRequestKind::Pli);
                        self.dirty.push(key);
                    }
                }
            }
        }
    }
}

fn source_of(screen_tracks: &HashSet<TrackId>, track: TrackId) -> TrackSource {
    if screen_tracks.contains(&track) {
        TrackSource::Screen
    } else {
        TrackSource::Camera
    }
}

fn codec_of(kind: MediaKind) -> Codec {
    match kind {
        MediaKind::Audio => Codec::Opus,
        MediaKind::Video => Codec::Vp8,
    }
}

/// The payload type a transport negotiated for `codec` on media line `mid`.
fn payload_type(rtc: &Rtc, mid: Mid, codec: Codec) -> Option<u8> {
    let want = match codec {
        Codec::Opus => StrCodec::Opus,
        Codec::Vp8 => StrCodec::Vp8,
    };
    let media = rtc.media(mid)?;
    let remote = media.remote_pts();
    rtc.codec_config()
        .params()
        .iter()
        .filter(|p| p.spec().codec == want)
        .map(|p| p.pt())
        .find(|pt| remote.is_empty() || remote.contains(pt))
        .map(|pt| *pt)
}
