//! Negotiation: participants joining and leaving, their `send` transports (the client offers,
//! the worker answers, each media line it sends on becomes a producer) and their `recv`
//! transports (the worker offers a media line per producer to receive, the client answers, and
//! each line becomes a consumer once connected). One offerer per transport, so offers never
//! collide.

use std::time::Instant;

use str0m::change::{SdpAnswer, SdpOffer};
use str0m::format::Codec as StrCodec;
use str0m::media::{Direction, MediaKind as StrKind, Mid};
use str0m::rtp::{Extension, Ssrc};
use str0m::Rtc;
use tokio::sync::mpsc;
use tongbu_media::{Codec, ConsumerId, MediaKind, ParticipantId, ProducerId};
use tracing::{debug, info, warn};

use crate::edge::{EdgeError, EdgeEvent, MediaRole, PublishedTrackInfo};
use crate::handoff::Handoff;
use crate::participant::{OutState, OutTrack, Participant, Receiving};
use crate::sdp_rewrite;
use crate::send_stream::{Extensions, Rtx, SendStream};
use crate::transport::{Transport, TransportId, TransportRole};
use crate::worker::{Worker, OFFER_TIMEOUT};

impl Worker {
    pub(crate) fn join(
        &mut self,
        id: ParticipantId,
        session: i64,
        role: MediaRole,
        receiving: Receiving,
        events: mpsc::Sender<EdgeEvent>,
        now: Instant,
    ) -> Vec<PublishedTrackInfo> {
        if self.participants.contains_key(&id) {
            self.leave(id, now);
        }
        let mut p = Participant::new(id, session, events);
        p.role = role;
        p.receiving = receiving;
        let members = self.sessions.get(&session).cloned().unwrap_or_default();
        let mut existing = Vec::new();
        for other in &members {
            let Some(o) = self.participants.get(other) else {
                continue;
            };
            for &producer in &o.published {
                if let Some(pr) = self.router.producer(producer) {
                    existing.push(self.track_info(producer, o.id, pr.codec().kind()));
                }
            }
        }
        // Other workers' producers in the session, mirrored here.
        let remote: Vec<(PublishedTrackInfo, usize)> = self
            .directory
            .get(&session)
            .map(|d| {
                d.iter()
                    .filter(|(_, w)| *w != self.index)
                    .copied()
                    .collect()
            })
            .unwrap_or_default();
        for (info, owner) in remote {
            self.mirror(session, info, owner);
            existing.push(info);
        }
        self.sessions.entry(session).or_default().push(id);
        for &info in &existing {
            p.out.push(out_track(info));
        }
        info!(tracks = existing.len(), "joined media");
        self.participants.insert(id, p);
        self.renegotiate(id, now);
        existing
    }

    pub(crate) fn leave(&mut self, id: ParticipantId, now: Instant) {
        let Some(p) = self.participants.remove(&id) else {
            return;
        };
        self.offer_deadlines.retain(|&(_, q)| q != id);
        self.spotlights.retain(|_, &mut q| q != id);
        self.router.forget_participant(id);
        let mut last_here = false;
        if let Some(m) = self.sessions.get_mut(&p.session) {
            m.retain(|&x| x != id);
            if m.is_empty() {
                self.sessions.remove(&p.session);
                last_here = true;
            }
        }
        for &producer in &p.published {
            self.unpublish(p.session, producer, now);
        }
        for c in self.router.remove_consumers_of(id) {
            self.forget_consumer(c);
        }
        for t in [p.send, p.recv].into_iter().flatten() {
            self.close_transport(t);
        }
        if last_here {
            // Nobody here needs the session's other producers any more.
            let mirrors: Vec<ProducerId> = self
                .remote
                .iter()
                .filter(|(_, (_, s))| *s == p.session)
                .map(|(&m, _)| m)
                .collect();
            for m in mirrors {
                self.update_interest(m);
                self.remote.remove(&m);
                self.wanted.remove(&m);
                self.screen_producers.remove(&m);
                self.red_producers.remove(&m);
                let _ = self.router.remove_producer(m);
            }
        }
        info!("left media");
    }

    /// Closes one transport: it stops answering, and its addresses, timers and consumers' send
    /// state are forgotten (its SRTP keys and buffers go with it).
    pub(crate) fn close_transport(&mut self, id: TransportId) -> Option<Transport> {
        let mut t = self.transports.try_remove(id.index())?;
        t.rtc.disconnect();
        self.demux.remove(&t.ufrag, &t.addrs, id);
        self.timers.remove(id);
        self.reports.remove(id);
        // Every consumer lives on its transport's media lines.
        for (_, c) in t.consumer_by_mid.drain() {
            self.router.remove_consumer(c);
            self.forget_consumer(c);
        }
        if let Some(e) = t.egress.take() {
            self.egresses.try_remove(e);
        }
        if !t.addrs.is_empty() && self.workers > 1 {
            let addrs = t.addrs.clone().into_boxed_slice();
            self.broadcast(Handoff::Forget { addrs });
        }
        Some(t)
    }

    /// A consumer's send state goes (the router no longer forwards to it).
    pub(crate) fn forget_consumer(&mut self, c: ConsumerId) {
        let Some(s) = self.consumers.try_remove(c.index()) else {
            return;
        };
        self.update_interest(s.producer);
        if let Some(e) = self.egresses.get_mut(s.egress) {
            e.remove_consumer(c);
            if let Some(t) = self.transports.get_mut(e.transport.index()) {
                t.consumer_by_mid.remove(&s.mid);
            }
        }
    }

    /// A transport died (DTLS closed, ICE gave up): forget it. Its producers end; its consumers'
    /// tracks go back to "to open", so a later offer builds a new `recv` transport.
    pub(crate) fn transport_closed(&mut self, id: TransportId, now: Instant) {
        let Some(t) = self.close_transport(id) else {
            return;
        };
        let pid = t.participant;
        let send = t.role == TransportRole::Send;
        info!(participant = pid.0, send, "transport closed");
        let Some(p) = self.participants.get_mut(&pid) else {
            return;
        };
        p.link.set_connected(send, false, now);
        p.tell(EdgeEvent::Connection {
            send,
            state: "closed",
        });
        if send {
            p.send = None;
            let session = p.session;
            let producers = std::mem::take(&mut p.published);
            for producer in producers {
                self.unpublish(session, producer, now);
            }
        } else {
            p.recv = None;
            p.pending = None;
            self.offer_deadlines.retain(|&(_, q)| q != pid);
            for o in p.out.iter_mut() {
                o.consumer = None;
                o.cancelled = false;
                o.state = OutState::ToOpen;
            }
            let router = &self.router;
            p.out.retain(|o| router.producer(o.producer).is_some());
            if let Receiving::ClientLines(lines) = &mut p.receiving {
                // A player's lines went with its transport; it offers anew or leaves.
                lines.clear();
            }
            self.renegotiate(pid, now);
        }
    }

    pub(crate) fn new_transport(
        &mut self,
        participant: ParticipantId,
        role: TransportRole,
        now: Instant,
    ) -> TransportId {
        let t = Transport::new(participant, role, self.index, self.candidate, self.tcp, now);
        let ufrag = t.ufrag.clone();
        let id = TransportId(self.transports.insert(t) as u32);
        self.demux.add(ufrag, id);
        id
    }

    pub(crate) fn offer(
        &mut self,
        pid: ParticipantId,
        sdp: &str,
        screen: Option<&str>,
        now: Instant,
    ) -> Result<String, EdgeError> {
        let offer = SdpOffer::from_sdp_string(sdp).map_err(|e| EdgeError::BadSdp(e.to_string()))?;
        let existing = self
            .participants
            .get(&pid)
            .ok_or(EdgeError::NotJoined)?
            .send;
        let id = match existing {
            Some(t) => t,
            None => {
                let t = self.new_transport(pid, TransportRole::Send, now);
                if let Some(p) = self.participants.get_mut(&pid) {
                    p.send = Some(t);
                }
                t
            }
        };
        let t = self
            .transports
            .get_mut(id.index())
            .ok_or(EdgeError::NotJoined)?;
        t.screen_mid = screen.map(Mid::from);
        if crate::uplink_estimate::wants_remb(sdp) {
            t.uplink.get_or_insert_with(Default::default);
        } else {
            t.uplink = None;
        }
        let answer = t
            .rtc
            .sdp_api()
            .accept_offer(offer)
            .map_err(|e| EdgeError::Rejected(e.to_string()))?;
        self.drive(id, now);
        Ok(sdp_rewrite::answer(sdp, &answer.to_sdp_string()))
    }

    pub(crate) fn answer(
        &mut self,
        pid: ParticipantId,
        sdp: &str,
        now: Instant,
    ) -> Result<(), EdgeError> {
        let answer =
            SdpAnswer::from_sdp_string(sdp).map_err(|e| EdgeError::BadSdp(e.to_string()))?;
        let p = self
            .participants
            .get_mut(&pid)
            .ok_or(EdgeError::NotJoined)?;
        let id = p.recv.ok_or(EdgeError::NoPendingOffer)?;
        let pending = p.pending.take().ok_or(EdgeError::NoPendingOffer)?;
        self.offer_deadlines.retain(|&(_, q)| q != pid);
        let t = self
            .transports
            .get_mut(id.index())
            .ok_or(EdgeError::NotJoined)?;
        if let Err(e) = t.rtc.sdp_api().accept_answer(pending, answer) {
            // The client applied an answer we could not: the two sides disagree about the
            // transport. Start it afresh rather than leave it half-negotiated.
            self.reset_recv(pid, now);
            return Err(EdgeError::Rejected(e.to_string()));
        }
        p.answer_accepted();
        self.drive(id, now);
        self.subscribe_open(pid, now);
        self.renegotiate(pid, now);
        Ok(())
    }

    /// Drops a participant's `recv` transport and offers a new one with everything it should
    /// receive.
    pub(crate) fn reset_recv(&mut self, pid: ParticipantId, now: Instant) {
        if let Some(t) = self.participants.get(&pid).and_then(|p| p.recv) {
            self.transport_closed(t, now);
        }
    }

    /// Makes a consumer of every open media line of a participant whose `recv` transport is
    /// connected and has its keys.
    pub(crate) fn subscribe_open(&mut self, pid: ParticipantId, now: Instant) {
        let Some(p) = self.participants.get_mut(&pid) else {
            return;
        };
        let Some(id) = p.recv else {
            return;
        };
        let Some(t) = self.transports.get_mut(id.index()) else {
            return;
        };
        let Some(egress) = t.egress.filter(|_| t.connected) else {
            return;
        };
        let mut added = Vec::new();
        for o in p.out.iter_mut() {
            let OutState::Open(mid) = o.state else {
                continue;
            };
            if o.consumer.is_some() {
                continue;
            }
            let codec = o.codec;
            let Some(pt) = payload_type(&t.rtc, mid, codec) else {
                warn!(
                    producer = o.producer.0,
                    "subscriber did not negotiate {codec:?}; not forwarding"
                );
                continue;
            };
            let Some(stream) = send_stream(&mut t.rtc, egress, mid, o.producer, o.kind, pt) else {
                warn!(
                    producer = o.producer.0,
                    "no send stream for media line {mid}"
                );
                continue;
            };
            let ssrcs = [Some(stream.ssrc), stream.rtx.map(|r| r.ssrc)];
            let c = ConsumerId(self.consumers.insert(stream) as u32);
            match self.router.add_consumer(o.producer, pid, c, pt, now) {
                Ok(()) => {
                    o.consumer = Some(c);
                    t.consumer_by_mid.insert(mid, c);
                    if let Some(e) = self.egresses.get_mut(egress) {
                        e.add_ssrcs(c, ssrcs.into_iter().flatten());
                    }
                    added.push(o.producer);
                }
                Err(e) => {
                    debug!("consumer not added: {e}");
                    self.consumers.try_remove(c.index());
                }
            }
        }
        for producer in added {
            self.update_interest(producer);
        }
        self.router_events(now);
    }

    /// Sends a new `recv` offer if the participant's outgoing tracks changed and no offer is
    /// pending (or, for a player on its own lines, binds tracks to free ones).
    pub(crate) fn renegotiate(&mut self, pid: ParticipantId, now: Instant) {
        if self
            .participants
            .get(&pid)
            .is_some_and(|p| matches!(p.receiving, Receiving::ClientLines(_)))
        {
            self.bind_client_lines(pid, now);
            return;
        }
        let needs = self.participants.get(&pid).is_some_and(|p| p.needs_offer());
        if !needs {
            return;
        }
        // An offer in which every line is stopped loses its BUNDLE group (webrtc-rs then answers
        // without one, and str0m refuses that answer). Keep idle lines until something new
        // opens; one offer then stops the old lines and adds the new ones.
        let keeps_media = self.participants.get(&pid).is_some_and(|p| {
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
        let existing = self.participants.get(&pid).and_then(|p| p.recv);
        let new_transport = existing.is_none();
        let id = match existing {
            Some(t) => t,
            None => {
                let t = self.new_transport(pid, TransportRole::Recv, now);
                if let Some(p) = self.participants.get_mut(&pid) {
                    p.recv = Some(t);
                }
                t
            }
        };
        let (Some(p), Some(t)) = (
            self.participants.get_mut(&pid),
            self.transports.get_mut(id.index()),
        ) else {
            return;
        };
        let mut api = t.rtc.sdp_api();
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
                        Some(format!("t{}", o.producer.0)),
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
        self.offer_deadlines.push((now + OFFER_TIMEOUT, pid));
        let screens = &self.screen_producers;
        let router = &self.router;
        let roles = &self.producer_roles;
        let tracks = p
            .out
            .iter()
            .filter_map(|o| match o.state {
                OutState::Negotiating(m) | OutState::Open(m) => Some((
                    m.to_string(),
                    PublishedTrackInfo {
                        track: o.producer,
                        owner: o.owner,
                        kind: o.kind,
                        codec: o.codec,
                        layers: router.producer(o.producer).map_or(1, |p| p.layers()),
                        owner_role: roles.get(&o.producer).copied().unwrap_or_default(),
                        source: if screens.contains(&o.producer) {
                            crate::edge::TrackSource::Screen
                        } else {
                            crate::edge::TrackSource::Camera
                        },
                    },
                )),
                _ => None,
            })
            .collect();
        p.tell(EdgeEvent::RecvOffer {
            sdp: sdp_rewrite::offer(&offer.to_sdp_string()),
            tracks,
            new_transport,
        });
        self.drive(id, now);
    }
}

pub(crate) fn out_track(info: PublishedTrackInfo) -> OutTrack {
    OutTrack {
        producer: info.track,
        owner: info.owner,
        kind: info.kind,
        codec: info.codec,
        state: OutState::ToOpen,
        consumer: None,
        cancelled: false,
    }
}

fn str0m_codec(codec: Codec) -> StrCodec {
    match codec {
        Codec::Opus => StrCodec::Opus,
        Codec::Vp8 => StrCodec::Vp8,
        Codec::H264 => StrCodec::H264,
    }
}

/// What a publisher sends on media line `mid`: of the transport's codecs, in their configured
/// order (VP8, then H.264), the first the publisher offered. str0m's answer lists the codecs in
/// that order and an offerer sends with the first of the answer, so a browser offering both
/// sends VP8, and one that prefers H.264 alone (an encoder, a page set to H.264) sends H.264.
pub(crate) fn sent_codec(rtc: &Rtc, mid: Mid, kind: MediaKind) -> Codec {
    let Some(media) = rtc.media(mid) else {
        return Codec::for_kind(kind);
    };
    let offered = media.remote_pts();
    rtc.codec_config()
        .params()
        .iter()
        .filter(|p| offered.contains(&p.pt()))
        .find_map(|p| match p.spec().codec {
            StrCodec::Opus => Some(Codec::Opus),
            StrCodec::Vp8 => Some(Codec::Vp8),
            StrCodec::H264 => Some(Codec::H264),
            _ => None,
        })
        .filter(|c| c.kind() == kind)
        .unwrap_or(Codec::for_kind(kind))
}

/// The payload type of redundant audio (RED, RFC 2198) around opus, if the transport's peer
/// negotiated it (str0m narrows the codec configuration to what was negotiated).
pub(crate) fn red_payload_type(rtc: &Rtc) -> Option<u8> {
    rtc.codec_config()
        .params()
        .iter()
        .find(|p| p.spec().codec == StrCodec::Opus)
        .and_then(|p| p.red())
        .map(|pt| *pt)
}

/// The payload type a transport negotiated for `codec` on media line `mid`.
fn payload_type(rtc: &Rtc, mid: Mid, codec: Codec) -> Option<u8> {
    let want = str0m_codec(codec);
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

/// The outgoing stream str0m declared for media line `mid`: its SSRC, its RTX SSRC and payload
/// type where the negotiated codec has one (str0m narrows its codec configuration to what the
/// subscriber answered), and the header extensions the subscriber accepted.
fn send_stream(
    rtc: &mut Rtc,
    egress: usize,
    mid: Mid,
    producer: ProducerId,
    kind: MediaKind,
    pt: u8,
) -> Option<SendStream> {
    let rtx_pt = rtc
        .codec_config()
        .params()
        .iter()
        .find(|p| *p.pt() == pt)
        .and_then(|p| p.resend())
        .map(|p| *p);
    let media = rtc.media(mid)?;
    let exts = media.remote_extmap();
    let ext = Extensions {
        mid: exts.id_of(Extension::RtpMid).filter(|&i| i < 15),
        twcc: exts
            .id_of(Extension::TransportSequenceNumber)
            .filter(|&i| i < 15),
    };
    let mut api = rtc.direct_api();
    let tx = api.stream_tx_by_mid(mid, None)?;
    let ssrc: Ssrc = tx.ssrc();
    let rtx = tx.rtx().zip(rtx_pt).map(|(s, p)| Rtx::new(*s, p));
    let mut stream = SendStream::new(egress, mid, producer, *ssrc, kind, rtx, ext);
    if kind == MediaKind::Audio {
        stream.red_pt = red_payload_type(rtc);
    }
    Some(stream)
}
