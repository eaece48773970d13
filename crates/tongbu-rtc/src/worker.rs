//! A worker: every transport, producer and consumer it owns, as a sans-I/O state machine in the
//! manner of str0m's `Rtc` — datagrams, signaling commands and time in
//! ([`Worker::receive_datagram`], the `handle_*` calls, [`Worker::handle_timeout`]); datagrams
//! ([`Worker::outbox`]), events to each participant's signaling queue and the next deadline
//! ([`Worker::poll_timeout`]) out. Nothing here touches a socket, a task or a lock; the socket
//! loop ([`crate::socket_loop`]) runs it, the benches and tests drive it in memory.
//!
//! The work is split along the packet: [`crate::forward`] is the forward path read top to
//! bottom (demux, the publisher's packet, its copies, the subscribers' RTCP); negotiation of
//! transports and media lines is [`crate::negotiation`], producers coming and going
//! [`crate::publication`], what other workers hand over [`crate::handoff`]; str0m's events are
//! [`crate::rtc_events`]. This file holds the state and drives str0m.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

use slab::Slab;
use str0m::net::Transmit;
use str0m::{Event, Input, Output};
use tokio::sync::mpsc;
use tongbu_media::continuity::FREEZE_AFTER;
use tongbu_media::{
    Demand, Dynacast, Forward, LayerMask, MediaKind, ParticipantId, ProducerId, Router,
    RouterEvent, Target,
};
use tracing::{debug, info, info_span, warn};

use crate::demux::{is_stun, Demux};
use crate::edge::{
    EdgeError, EdgeEvent, EdgeStats, MediaRole, ParticipantLink, PublishedTrackInfo, TrackSource,
};
use crate::handoff::Handoff;
use crate::outbox::Outbox;
use crate::participant::{Participant, Receiving};
use crate::rtcp::is_rtp_or_rtcp;
use crate::send_stream::{ntp_time, SendStream};
use crate::timers::Timers;
use crate::transport::{Transport, TransportId, TransportRole};

/// How long a client may take to answer a `recv` offer before the transport is rebuilt.
pub(crate) const OFFER_TIMEOUT: Duration = Duration::from_secs(15);

/// Largest datagram the worker reads RTCP into.
pub(crate) const MAX_DATAGRAM: usize = 2048;

/// Continuity totals of one participant, gathered for [`Worker::links`].
#[derive(Debug, Default, Clone, Copy)]
struct Flow {
    freezes: u64,
    frozen: bool,
    receiving_video: bool,
    /// The best simulcast layer it receives, and of how many.
    layer: Option<(u8, u8)>,
    voice: f32,
    freezes_up: u64,
    audio_gaps_up: u64,
    video_codec: Option<tongbu_media::Codec>,
}

/// The media worker. See the module documentation.
pub struct Worker {
    /// Which worker this is, of how many (one per core; a participant lives on one).
    pub(crate) index: usize,
    pub(crate) workers: usize,
    /// The address in every ICE candidate; also the destination str0m must see on input.
    pub(crate) candidate: SocketAddr,
    /// Whether transports also offer a passive TCP candidate.
    pub(crate) tcp: bool,
    pub(crate) transports: Slab<Transport>,
    pub(crate) participants: HashMap<ParticipantId, Participant>,
    pub(crate) sessions: HashMap<i64, Vec<ParticipantId>>,
    pub(crate) demux: Demux,
    /// When each transport's str0m needs time to pass.
    pub(crate) timers: Timers<TransportId>,
    /// When each recv transport's sender reports are due.
    pub(crate) reports: Timers<TransportId>,
    pub(crate) router: Router,
    /// Every consumer's outgoing stream, by [`tongbu_media::ConsumerId`] (the slab key).
    pub(crate) consumers: Slab<SendStream>,
    /// Every connected recv transport's send state ([`Transport::egress`] indexes it).
    pub(crate) egresses: Slab<crate::transport::SubscriberEgress>,
    /// Producers that carry a screen share (the others are cameras and microphones).
    pub(crate) screen_producers: HashSet<ProducerId>,
    /// Audio producers whose packets arrive as redundant audio (RED), here or on another worker.
    pub(crate) red_producers: HashSet<ProducerId>,
    /// Sessions being recorded, and where their packets' copies go ([`crate::recording_tap`]).
    pub(crate) taps: crate::recording_tap::Taps,
    /// Offers on `recv` transports waiting for an answer, with their deadlines.
    pub(crate) offer_deadlines: Vec<(Instant, ParticipantId)>,
    pub(crate) next_producer: u64,
    /// Transports that were given something to send outside their own input and timers (a
    /// keyframe request, a negotiation): driven at the end of the call.
    pub(crate) dirty: Vec<TransportId>,
    pub(crate) forwards: Vec<Forward>,
    /// Scratch of the bandwidth allocation ([`crate::allocation`]).
    pub(crate) demands: Vec<Demand>,
    pub(crate) targets: Vec<Target>,
    /// Recv transports whose subscriber's downlink is being probed (padded).
    pub(crate) probing: Vec<TransportId>,
    /// What each producer's publisher is to the media policy (this worker's and mirrored).
    pub(crate) producer_roles: HashMap<ProducerId, MediaRole>,
    /// Each session's spotlit participant.
    pub(crate) spotlights: HashMap<i64, ParticipantId>,
    /// Dynacast of this worker's simulcast producers ([`crate::dynacast`]).
    pub(crate) dynacast: HashMap<ProducerId, Dynacast>,
    /// Layers other workers' consumers want of this worker's producers, by worker.
    pub(crate) layer_interest: HashMap<ProducerId, Vec<(usize, LayerMask)>>,
    /// Layers this worker told each remote producer's owner its consumers want.
    pub(crate) told_interest: HashMap<ProducerId, LayerMask>,
    pub(crate) events: Vec<Event>,
    pub(crate) outbox: Outbox,
    /// Handoffs to other workers produced this turn (worker, item): the loop moves them into
    /// the rings.
    pub(crate) outgoing: Vec<(usize, Handoff)>,
    /// This worker's producers that other workers consume: bit `j` set, worker `j` wants them.
    pub(crate) interest: HashMap<ProducerId, u64>,
    /// Other workers' producers this worker mirrors for its consumers: their owner and session.
    pub(crate) remote: HashMap<ProducerId, (usize, i64)>,
    /// Remote producers this worker told their owner it needs.
    pub(crate) wanted: HashSet<ProducerId>,
    /// Every producer of every session, on whichever worker: what a participant joining here
    /// is offered.
    pub(crate) directory: HashMap<i64, Vec<(PublishedTrackInfo, usize)>>,
    /// Datagram sources that belong to other workers' transports.
    pub(crate) foreign: HashMap<SocketAddr, usize>,
    /// Where a subscriber's SRTCP is decrypted.
    pub(crate) scratch: Box<[u8; MAX_DATAGRAM]>,
    /// The wall clock at one instant, so that sender reports without a publisher's clock need
    /// no clock read of their own.
    pub(crate) epoch: (Instant, u64),
    pub(crate) stats: EdgeStats,
    /// A video frame's first copies are in the outbox and its last packet has not come: until
    /// then (at most [`FRAME_HOLD`]) the socket loop may keep them, so that each subscriber's
    /// packets of the frame leave together in one GSO message.
    pub(crate) frame_hold: Option<Instant>,
}

/// The longest a frame's first copies wait for its last packet before they are sent anyway.
/// Holding costs a frame nothing (it cannot be decoded before its last packet), and audio at
/// most this long.
pub const FRAME_HOLD: Duration = Duration::from_millis(1);

impl Worker {
    /// A worker whose ICE candidates name `candidate` (the address clients send media to).
    pub fn new(candidate: SocketAddr, now: Instant) -> Self {
        Worker {
            index: 0,
            workers: 1,
            candidate,
            tcp: false,
            transports: Slab::with_capacity(256),
            participants: HashMap::new(),
            sessions: HashMap::new(),
            demux: Demux::default(),
            timers: Timers::default(),
            reports: Timers::default(),
            router: Router::new(),
            consumers: Slab::with_capacity(1024),
            egresses: Slab::with_capacity(256),
            screen_producers: HashSet::new(),
            red_producers: HashSet::new(),
            taps: HashMap::new(),
            offer_deadlines: Vec::new(),
            next_producer: 1,
            dirty: Vec::with_capacity(64),
            forwards: Vec::with_capacity(1024),
            demands: Vec::new(),
            targets: Vec::new(),
            probing: Vec::new(),
            producer_roles: HashMap::new(),
            spotlights: HashMap::new(),
            dynacast: HashMap::new(),
            layer_interest: HashMap::new(),
            told_interest: HashMap::new(),
            events: Vec::with_capacity(16),
            outbox: Outbox::with_capacity(2048),
            outgoing: Vec::with_capacity(256),
            interest: HashMap::new(),
            remote: HashMap::new(),
            wanted: HashSet::new(),
            directory: HashMap::new(),
            foreign: HashMap::new(),
            scratch: Box::new([0; MAX_DATAGRAM]),
            epoch: (now, ntp_time(SystemTime::now())),
            stats: EdgeStats::default(),
            frame_hold: None,
        }
    }

    /// Whether transports offer a passive TCP candidate on the same port (the socket loop
    /// listens on TCP too).
    pub fn set_tcp(&mut self, tcp: bool) {
        self.tcp = tcp;
    }

    /// This is worker `index` of `workers` (before any participant joins).
    pub fn set_place(&mut self, index: usize, workers: usize) {
        self.index = index;
        self.workers = workers.max(1);
    }

    /// Until when the outbox may be held for the rest of a video frame (see [`FRAME_HOLD`]);
    /// `None`: send now.
    pub fn frame_hold(&self) -> Option<Instant> {
        self.frame_hold
    }

    /// Handoffs for other workers produced so far: move them into the rings.
    pub fn outgoing(&mut self) -> &mut Vec<(usize, Handoff)> {
        &mut self.outgoing
    }

    /// Every other worker's index.
    pub(crate) fn others(&self) -> impl Iterator<Item = usize> + use<> {
        let me = self.index;
        (0..self.workers).filter(move |&w| w != me)
    }

    /// The datagrams produced so far. Send them and [`Outbox::clear`] it.
    pub fn outbox(&mut self) -> &mut Outbox {
        &mut self.outbox
    }

    /// A participant joins a session's media; returns the tracks already published there.
    pub fn handle_join(
        &mut self,
        participant: ParticipantId,
        session: i64,
        role: MediaRole,
        events: mpsc::Sender<EdgeEvent>,
        now: Instant,
    ) -> Vec<PublishedTrackInfo> {
        self.handle_join_as(participant, session, role, Receiving::Offered, events, now)
    }

    /// [`Worker::handle_join`] for a participant that only publishes (a WHIP encoder): it is
    /// offered none of the session's tracks.
    pub fn handle_join_publishing_only(
        &mut self,
        participant: ParticipantId,
        session: i64,
        role: MediaRole,
        events: mpsc::Sender<EdgeEvent>,
        now: Instant,
    ) -> Vec<PublishedTrackInfo> {
        self.handle_join_as(participant, session, role, Receiving::Nothing, events, now)
    }

    /// A participant joins, receiving as `receiving` says.
    pub fn handle_join_as(
        &mut self,
        participant: ParticipantId,
        session: i64,
        role: MediaRole,
        receiving: Receiving,
        events: mpsc::Sender<EdgeEvent>,
        now: Instant,
    ) -> Vec<PublishedTrackInfo> {
        let _s = info_span!("participant", id = participant.0, session).entered();
        let existing = self.join(participant, session, role, receiving, events, now);
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

    /// A WHEP player's offer; returns the answer.
    pub fn handle_watch(
        &mut self,
        participant: ParticipantId,
        sdp: &str,
        now: Instant,
    ) -> Result<String, EdgeError> {
        let _s = info_span!("participant", id = participant.0).entered();
        let r = self.watch(participant, sdp, now);
        self.drive_dirty(now);
        r
    }

    /// The participant left.
    pub fn handle_leave(&mut self, participant: ParticipantId, now: Instant) {
        let _s = info_span!("participant", id = participant.0).entered();
        self.leave(participant, now);
        self.drive_dirty(now);
    }

    /// Audio first: stop (or restart) every video the participant receives.
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

    /// The session's spotlit participant (or nobody); every subscriber here is allocated again.
    pub fn set_spotlight(
        &mut self,
        session: i64,
        participant: Option<ParticipantId>,
        now: Instant,
    ) {
        let changed = match participant {
            Some(p) => self.spotlights.insert(session, p) != Some(p),
            None => self.spotlights.remove(&session).is_some(),
        };
        if !changed {
            return;
        }
        let members = self.sessions.get(&session).cloned().unwrap_or_default();
        for m in members {
            if let Some(recv) = self.participants.get(&m).and_then(|p| p.recv) {
                self.allocate(recv, now);
            }
        }
        self.drive_dirty(now);
    }

    /// The highest simulcast layer the participant wants; applied at once.
    pub fn set_max_layer(&mut self, participant: ParticipantId, max_layer: u8, now: Instant) {
        let Some(p) = self.participants.get_mut(&participant) else {
            return;
        };
        p.max_layer = tongbu_media::Layer(max_layer.min(tongbu_media::MAX_LAYERS - 1));
        if let Some(recv) = p.recv {
            self.allocate(recv, now);
            self.drive_dirty(now);
        }
    }

    /// The host muted (or unmuted) a participant's microphone (see `Router::set_muted`).
    pub fn set_muted(&mut self, participant: ParticipantId, muted: bool) {
        if self.router.set_muted(participant, muted) {
            info!(
                participant = participant.0,
                muted, "microphone muted by the host"
            );
        }
    }

    /// The participant stops publishing (its floor was taken back): its tracks are unpublished
    /// and its `send` transport closed; it keeps receiving.
    pub fn stop_publishing(&mut self, id: ParticipantId, now: Instant) {
        let Some(p) = self.participants.get_mut(&id) else {
            return;
        };
        let (session, producers, send) =
            (p.session, std::mem::take(&mut p.published), p.send.take());
        for producer in producers {
            self.unpublish(session, producer, now);
        }
        if let Some(t) = send {
            self.close_transport(t);
        }
        info!(participant = id.0, "stopped publishing");
        self.drive_dirty(now);
    }

    /// Every participant's link as last measured, with the continuity (freezes, audio gaps) of
    /// what it receives and publishes. One pass over the consumers: call it for health samples,
    /// not per packet.
    pub fn links(&self, now: Instant) -> Vec<ParticipantLink> {
        let mut flow: HashMap<ParticipantId, Flow> =
            HashMap::with_capacity(self.participants.len());
        for c in self.router.consumers() {
            let Some(p) = self.router.producer(c.producer()) else {
                continue;
            };
            if p.codec().kind() != MediaKind::Video {
                continue;
            }
            let f = flow.entry(c.subscriber()).or_default();
            f.freezes += c.pauses().count();
            // Stalled while the publisher's stream comes: its own freeze. (If the publisher
            // went quiet, that shows on the publisher.)
            f.frozen |= c.pauses().stalled(now, FREEZE_AFTER) && !p.continuity().stalled(now);
            f.receiving_video |= c.forwarded() > 0;
            if let (Some(l), true) = (c.layer(), p.layers() > 1) {
                f.layer = f.layer.max(Some((l.0, p.layers())));
            }
        }
        for p in self.router.producers() {
            let f = flow.entry(p.owner()).or_default();
            match p.codec().kind() {
                MediaKind::Video => {
                    f.freezes_up += p.continuity().gaps();
                    f.video_codec = Some(p.codec());
                }
                MediaKind::Audio => {
                    f.audio_gaps_up += p.continuity().gaps();
                    f.voice = f.voice.max(p.voice(now));
                }
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
                stats.video_paused = self.router.video_paused(p.id) || p.bandwidth_paused;
                stats.video_layer = f.layer;
                stats.voice = f.voice;
                stats.freezes_up = f.freezes_up;
                stats.video_codec = f.video_codec;
                ParticipantLink {
                    participant: p.id,
                    session: p.session,
                    stats,
                }
            })
            .collect()
    }

    /// Current counters.
    pub fn stats(&self) -> EdgeStats {
        let mut s = self.stats;
        s.participants = self.participants.len();
        s.transports = self.transports.len();
        s.egress_transports = self.egresses.len();
        s.events_dropped = self.participants.values().map(|p| p.events_dropped).sum();
        s.router = self.router.stats();
        s.workers = 1;
        s
    }

    /// When [`Worker::handle_timeout`] must be called next (at the latest `now` + 500 ms).
    pub fn poll_timeout(&mut self, now: Instant) -> Instant {
        let idle = now + Duration::from_millis(500);
        let mut t = self.timers.earliest().unwrap_or(idle).min(idle);
        if let Some(r) = self.reports.earliest() {
            t = t.min(r);
        }
        if let Some(&(d, _)) = self.offer_deadlines.iter().min_by_key(|(d, _)| *d) {
            t = t.min(d);
        }
        if !self.probing.is_empty() {
            t = t.min(now + crate::allocation::PAD_EVERY);
        }
        if let Some(d) = self.dynacast_due() {
            t = t.min(d);
        }
        self.router.poll_timeout().map_or(t, |r| r.min(t))
    }

    /// Time passed: drives due transports, sender reports, keyframe-request releases and offer
    /// deadlines.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(t) = self.timers.pop_due(now) {
            if let Some(tr) = self.transports.get_mut(t.index()) {
                if let Err(e) = tr.rtc.handle_input(Input::Timeout(now)) {
                    debug!(transport = t.0, "timeout handling failed: {e}");
                }
                self.drive(t, now);
            }
        }
        while let Some(t) = self.reports.pop_due(now) {
            self.send_reports(t, now);
        }
        self.router.handle_timeout(now);
        self.router_events(now);
        if !self.probing.is_empty() {
            self.pad(now);
        }
        self.update_dynacast(now);
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

    /// The wall clock (NTP) at `now`.
    pub(crate) fn wall_ntp(&self, now: Instant) -> u64 {
        let (at, ntp) = self.epoch;
        ntp.wrapping_add(crate::send_stream::ntp_duration(
            now.saturating_duration_since(at),
        ))
    }

    // ---- driving str0m -----------------------------------------------------------------

    /// Polls one transport until it has nothing more to say, then handles its events.
    pub(crate) fn drive(&mut self, id: TransportId, now: Instant) {
        let mut events = std::mem::take(&mut self.events);
        let mut alive = true;
        if let Some(t) = self.transports.get_mut(id.index()) {
            loop {
                match t.rtc.poll_output() {
                    Ok(Output::Timeout(at)) => {
                        self.timers.set(id, at);
                        break;
                    }
                    Ok(Output::Transmit(tr)) => {
                        transmit(&mut self.outbox, &mut self.stats, t, id, &tr);
                        if let Some(e) = t.egress.and_then(|e| self.egresses.get_mut(e)) {
                            e.remote = t.remote;
                        }
                    }
                    Ok(Output::Event(e)) => events.push(e),
                    Err(e) => {
                        debug!(transport = id.0, "transport failed: {e}");
                        alive = false;
                        break;
                    }
                }
            }
            alive &= t.rtc.is_alive();
        }
        for e in events.drain(..) {
            self.on_event(id, e, now);
        }
        self.events = events;
        if !alive {
            self.transport_closed(id, now);
        }
    }

    /// Drives every transport something was written to.
    pub(crate) fn drive_dirty(&mut self, now: Instant) {
        while let Some(id) = self.dirty.pop() {
            if let Some(t) = self.transports.get_mut(id.index()) {
                if let Err(e) = t.rtc.handle_input(Input::Timeout(now)) {
                    debug!(transport = id.0, "timeout handling failed: {e}");
                }
                self.drive(id, now);
            }
        }
    }

    /// What the router asks for: keyframes from publishers.
    pub(crate) fn router_events(&mut self, _now: Instant) {
        while let Some(ev) = self.router.poll_event() {
            match ev {
                RouterEvent::RequestKeyframe {
                    producer,
                    owner,
                    layer,
                } => {
                    // Another worker's producer: its owner aggregates again and asks.
                    if let Some(&(w, _)) = self.remote.get(&producer) {
                        self.outgoing
                            .push((w, Handoff::KeyframeRequest { producer, layer }));
                        continue;
                    }
                    let Some(id) = self.participants.get(&owner).and_then(|p| p.send) else {
                        continue;
                    };
                    let Some(t) = self.transports.get_mut(id.index()) else {
                        continue;
                    };
                    let Some(&mid) = t.mid_by_producer.get(&producer) else {
                        continue;
                    };
                    let rid = t.rids.get(&mid).and_then(|r| r.get(layer.index())).copied();
                    if let Some(rx) = t.rtc.direct_api().stream_rx_by_mid(mid, rid) {
                        rx.request_keyframe(str0m::media::KeyframeRequestKind::Pli);
                        self.dirty.push(id);
                    }
                }
            }
        }
    }

    /// The info signaling announces for a producer.
    pub(crate) fn track_info(
        &self,
        producer: ProducerId,
        owner: ParticipantId,
        kind: MediaKind,
    ) -> PublishedTrackInfo {
        PublishedTrackInfo {
            track: producer,
            owner,
            kind,
            codec: self
                .router
                .producer(producer)
                .map_or(tongbu_media::Codec::for_kind(kind), |p| p.codec()),
            layers: self.router.producer(producer).map_or(1, |p| p.layers()),
            owner_role: self
                .producer_roles
                .get(&producer)
                .copied()
                .unwrap_or_default(),
            source: if self.screen_producers.contains(&producer) {
                TrackSource::Screen
            } else {
                TrackSource::Camera
            },
        }
    }
}

/// One datagram str0m made for transport `t`, into the outbox. Its destination is also where
/// the transport's media goes (str0m sends DTLS and SCTP to the nominated pair; STUN answers go
/// to whoever asked). On a recv transport str0m must send no media: anything RTP/RTCP is
/// dropped and counted.
fn transmit(
    outbox: &mut Outbox,
    stats: &mut EdgeStats,
    t: &mut Transport,
    id: TransportId,
    tr: &Transmit,
) {
    if t.role == TransportRole::Recv && is_rtp_or_rtcp(&tr.contents) {
        stats.str0m_media_on_recv += 1;
        return;
    }
    if !is_stun(&tr.contents) {
        t.remote = Some((tr.proto, tr.destination));
    }
    outbox.push(tr.proto, tr.destination, id, &tr.contents);
}
