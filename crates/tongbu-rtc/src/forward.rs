//! The forward path, in packet order: a datagram arrives, the demux finds its transport; a
//! publisher's SRTP goes to str0m, which hands back the RTP packet; the router says who gets it;
//! each copy is written, protected and queued straight into the outbox — no str0m call, no
//! allocation, no lock per copy. A subscriber's RTCP comes back the other way, unprotected and
//! read here: receiver reports, NACKs answered from the producer's shared cache, keyframe
//! requests, transport-wide feedback into its bandwidth estimate. Sender reports go out once a
//! second per subscriber transport.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use slab::Slab;
use str0m::net::{Protocol, Receive};
use str0m::rtp::RtpPacket;
use str0m::Input;
use tongbu_media::{ConsumerId, Forward, Layer, MediaKind, ProducerId, Router, RtpIn, SenderClock};
use tracing::debug;

use crate::bandwidth_estimator::Usage;
use crate::handoff::Handoff;
use crate::link_stats::Downlink;
use crate::outbox::Outbox;
use crate::rtcp::{is_rtp_or_rtcp, write_sdes, write_sender_report, Rtcp, RtcpPackets};
use crate::send_stream::{ntp_time, Packet, SendStream};
use crate::transport::{SubscriberEgress, TransportId, TransportRole, REPORT_INTERVAL};
use crate::worker::{Worker, FRAME_HOLD};

/// Room left after a packet for its SRTP tag (the largest profile's).
const TAG_ROOM: [u8; 16] = [0; 16];
/// Room left after an RTCP packet for its SRTCP trailer.
const RTCP_ROOM: [u8; 20] = [0; 20];
/// Sender reports per compound packet (the SDES that follows has one chunk each).
const REPORTS_PER_PACKET: usize = 24;

impl Worker {
    /// A datagram arrived on the media socket from `source`. What it produced is in the outbox
    /// (and, if it belongs to another worker, in [`Worker::outgoing`]).
    pub fn receive_datagram(&mut self, source: SocketAddr, data: &[u8], now: Instant) {
        self.receive(Protocol::Udp, source, data, false, now);
    }

    /// A packet arrived on a media TCP connection from `source` (the frame's contents).
    pub fn receive_tcp(&mut self, source: SocketAddr, data: &[u8], now: Instant) {
        self.receive(Protocol::Tcp, source, data, false, now);
    }

    /// `handed`: another worker's socket received it and passed it here (never passed on
    /// again).
    pub(crate) fn receive(
        &mut self,
        proto: Protocol,
        source: SocketAddr,
        data: &[u8],
        handed: bool,
        now: Instant,
    ) {
        self.stats.datagrams_in += 1;
        let mut learned = None;
        let Some(id) = self.demux.lookup(source, data, &mut learned) else {
            // The kernel spreads a port's datagrams over the workers' sockets by address: one
            // for another worker's transport goes to it (STUN names the worker in its ufrag).
            let known = self.foreign.get(&source).copied();
            let owner =
                known.or_else(|| crate::demux::stun_worker(data).filter(|&w| w < self.workers));
            match owner {
                Some(w) if w != self.index && !handed => {
                    if known.is_none() {
                        self.foreign.insert(source, w);
                    }
                    self.stats.handed_off += 1;
                    let data = Box::from(data);
                    self.outgoing.push((
                        w,
                        Handoff::Datagram {
                            proto,
                            source,
                            data,
                        },
                    ));
                }
                _ => self.stats.dropped_unknown_source += 1,
            }
            return;
        };
        let Some(t) = self.transports.get_mut(id.index()) else {
            self.stats.dropped_unknown_source += 1;
            return;
        };
        if let Some(a) = learned {
            t.addrs.push(a);
        }
        // A subscriber's RTCP: Tongbu sends its media, so Tongbu reads its reports.
        if t.role == TransportRole::Recv && t.egress.is_some() && is_rtp_or_rtcp(data) {
            self.on_subscriber_rtcp(id, data, now);
            return;
        }
        // The destination must be the address in our ICE candidate (the public one behind NAT),
        // or the ICE agent discards the checks as arriving on an unknown interface.
        let Ok(receive) = Receive::new(proto, source, self.candidate, data) else {
            self.stats.dropped_malformed += 1;
            return;
        };
        if let Err(e) = t.rtc.handle_input(Input::Receive(now, receive)) {
            self.stats.dropped_malformed += 1;
            debug!(transport = id.0, "datagram refused: {e}");
        }
        self.drive(id, now);
        self.drive_dirty(now);
    }

    /// A publisher's RTP packet, unprotected by str0m: to every consumer of its producer, on
    /// this worker and (once per worker) on the others that have some.
    pub(crate) fn on_rtp(&mut self, id: TransportId, pkt: RtpPacket, now: Instant) {
        self.stats.rtp_in += 1;
        let Some(t) = self.transports.get_mut(id.index()) else {
            return;
        };
        let ssrc = pkt.header.ssrc;
        let owner = t.participant;
        let (source, restarted) = match t.producer_by_ssrc.get(&ssrc) {
            Some(&source) => (Some(source), false),
            None => {
                let stream = t
                    .rtc
                    .direct_api()
                    .stream_rx(&ssrc)
                    .map(|s| (s.mid(), s.rid()));
                let source = stream.and_then(|(mid, rid)| {
                    let p = *t.producer_by_mid.get(&mid)?;
                    // A simulcast line's layer is its RID's place in the offer; a RID the
                    // offer did not name maps to nothing.
                    let layer = match (t.rids.get(&mid), rid) {
                        (Some(rids), Some(rid)) => {
                            Layer(rids.iter().position(|&r| r == rid)? as u8)
                        }
                        (Some(_), None) => return None,
                        (None, _) => Layer::BASE,
                    };
                    Some((p, layer))
                });
                let mut restarted = false;
                if let Some(source) = source {
                    // A new SSRC for a known line and layer: the publisher's encoder restarted.
                    restarted = t.producer_by_ssrc.values().any(|&x| x == source);
                    t.producer_by_ssrc.retain(|_, x| *x != source);
                    t.producer_by_ssrc.insert(ssrc, source);
                }
                (source, restarted)
            }
        };
        let Some((producer, layer)) = source else {
            self.stats.dropped_unmapped_rtp += 1;
            return;
        };
        // Redundant audio: where its primary block begins, and the packets before it that the
        // uplink lost and its redundancy carries (forwarded first).
        let mut lost = Vec::new();
        let red = if t.red_pt == Some(*pkt.header.payload_type) {
            let arrived = crate::redundancy::Arrived {
                ssrc,
                seq: pkt.header.sequence_number,
                timestamp: pkt.header.timestamp,
                layer,
                payload: &pkt.payload,
            };
            let Some(primary) = crate::redundancy::read(&mut t.red_seq, &arrived, &mut lost) else {
                self.stats.dropped_malformed += 1;
                return;
            };
            self.stats.red_in += 1;
            Some(primary)
        } else {
            None
        };
        if let Some(level) = pkt.header.ext_vals.audio_level {
            self.router.set_audio_level(producer, level, now);
        }
        let clock = pkt.last_sender_info.and_then(|info| {
            self.new_sender_clock(producer, layer, &info, pkt.header.timestamp, now)
        });
        for rtp in lost {
            self.stats.red_recovered += 1;
            self.tap_packet(owner, producer, &rtp, None, None, now);
            self.dispatch(producer, rtp, None, None, false, now);
        }
        let rtp = RtpIn {
            seq: pkt.header.sequence_number,
            timestamp: pkt.header.timestamp,
            marker: pkt.header.marker,
            layer,
            payload: pkt.payload,
        };
        self.tap_packet(owner, producer, &rtp, red, clock, now);
        self.dispatch(producer, rtp, red, clock, restarted, now);
    }

    /// A publisher's packet to the consumers here and, once per worker, to the other workers
    /// that have some.
    fn dispatch(
        &mut self,
        producer: ProducerId,
        rtp: RtpIn,
        red: Option<u16>,
        clock: Option<SenderClock>,
        restarted: bool,
        now: Instant,
    ) {
        if let Some(&workers) = self.interest.get(&producer) {
            for w in (0..self.workers).filter(|w| workers & (1 << w) != 0) {
                let rtp = rtp.clone();
                let item = Handoff::Rtp {
                    producer,
                    rtp,
                    red,
                    clock,
                    restarted,
                };
                self.outgoing.push((w, item));
            }
        }
        self.fan_out(producer, &rtp, red, clock, restarted, now);
    }

    /// The publisher's clock from the sender report a packet carries, if the report is new.
    /// The report's instant on our clock is the packet's arrival less how far its timestamp is
    /// past the report's.
    fn new_sender_clock(
        &self,
        producer: ProducerId,
        layer: Layer,
        info: &str0m::rtp::rtcp::SenderInfo,
        timestamp: u32,
        now: Instant,
    ) -> Option<SenderClock> {
        let p = self.router.producer(producer)?;
        let ntp = ntp_time(info.ntp_time);
        if p.encoding(layer)?
            .sender_clock()
            .is_some_and(|c| c.ntp == ntp)
        {
            return None;
        }
        let rtp = info.rtp_time.numer() as u32;
        let ahead =
            f64::from(timestamp.wrapping_sub(rtp) as i32) / f64::from(p.codec().clock_rate());
        let at = if ahead >= 0.0 {
            now.checked_sub(Duration::from_secs_f64(ahead))
                .unwrap_or(now)
        } else {
            now + Duration::from_secs_f64(-ahead)
        };
        Some(SenderClock { ntp, rtp, at })
    }

    /// One publisher's packet to this worker's consumers of its producer. `red`: it is
    /// redundant audio whose primary block begins there.
    pub(crate) fn fan_out(
        &mut self,
        producer: ProducerId,
        rtp: &RtpIn,
        red: Option<u16>,
        clock: Option<SenderClock>,
        restarted: bool,
        now: Instant,
    ) {
        if restarted {
            // Every consumer continues its numbering and waits for the next keyframe.
            let _ = self.router.restart_producer(producer, rtp.layer, now);
            self.router_events(now);
        }
        if let Some(c) = clock {
            self.router.set_sender_clock(producer, rtp.layer, c);
        }
        if red.is_some() && !self.red_producers.contains(&producer) {
            self.red_producers.insert(producer);
        }
        let mut forwards = std::mem::take(&mut self.forwards);
        forwards.clear();
        if self
            .router
            .forward(producer, rtp, now, &mut forwards)
            .is_ok()
        {
            // A frame still coming: its copies may wait for the rest (see FRAME_HOLD).
            let video = self
                .router
                .producer(producer)
                .is_some_and(|p| p.codec().kind() == MediaKind::Video);
            if video && !forwards.is_empty() {
                self.frame_hold = if rtp.marker {
                    None
                } else {
                    Some(self.frame_hold.unwrap_or(now + FRAME_HOLD))
                };
            }
            for f in &forwards {
                let Some(stream) = self.consumers.get_mut(f.consumer.index()) else {
                    continue;
                };
                let Some(egress) = self.egresses.get_mut(stream.egress) else {
                    continue;
                };
                let mut packet = copy_of(f, rtp.marker, &rtp.payload);
                if let Some(primary) = red {
                    match stream.red_pt.filter(|_| egress.redundancy) {
                        Some(pt) => packet.pt = pt,
                        None => packet.payload = &rtp.payload[usize::from(primary)..],
                    }
                }
                send_copy(&mut self.outbox, stream, egress, &packet, false, now);
            }
        }
        self.forwards = forwards;
    }

    /// RTCP from a subscriber: unprotected and read in place.
    fn on_subscriber_rtcp(&mut self, id: TransportId, data: &[u8], now: Instant) {
        let Some(e) = self.transports.get(id.index()).and_then(|t| t.egress) else {
            return;
        };
        let Some(egress) = self.egresses.get_mut(e) else {
            return;
        };
        if data.len() > self.scratch.len() || !crate::rtcp::is_rtcp(data) {
            // RTP from a receive-only peer, or too large: nothing a subscriber should send.
            self.stats.dropped_malformed += 1;
            return;
        }
        let buf = &mut self.scratch[..data.len()];
        buf.copy_from_slice(data);
        let n = match egress.srtp_in.unprotect_rtcp(buf) {
            Ok(n) => n,
            Err(err) => {
                self.stats.dropped_malformed += 1;
                debug!(transport = id.0, "subscriber RTCP refused: {err}");
                return;
            }
        };
        self.stats.rtcp_in += 1;
        let mut keyframes = false;
        let mut reallocate = false;
        for packet in RtcpPackets::new(&self.scratch[..n]) {
            let Ok(packet) = packet else {
                self.stats.dropped_malformed += 1;
                break;
            };
            match packet {
                Rtcp::Report { blocks, .. } => {
                    for b in blocks {
                        let stream = egress
                            .consumer_of(b.ssrc)
                            .and_then(|c| self.consumers.get_mut(c.index()));
                        if let Some(s) = stream {
                            s.on_report(&b, now);
                        }
                    }
                }
                Rtcp::Nack { media, lost } => {
                    let Some(c) = egress.consumer_of(media) else {
                        continue;
                    };
                    let Some(s) = self.consumers.get_mut(c.index()) else {
                        continue;
                    };
                    s.nacks += 1;
                    let estimate = egress.estimate.estimate_bps().or(egress.remb_bps);
                    for seq in lost {
                        if let Some(r) = self.router.resend(c, seq) {
                            // Repairs must not add to a congestion (crate::repair_budget).
                            if !egress.repairs.allow(r.payload.len() + 40, estimate, now) {
                                self.stats.retransmits_skipped += 1;
                                continue;
                            }
                            let packet = copy_of(&r.forward, r.marker, &r.payload);
                            send_copy(&mut self.outbox, s, egress, &packet, true, now);
                            self.stats.retransmitted += 1;
                        }
                    }
                }
                Rtcp::Pli { media } => {
                    let c = egress.consumer_of(media);
                    keyframes |= request_keyframe(&mut self.consumers, &mut self.router, c, now);
                }
                Rtcp::Fir { entries } => {
                    for ssrc in Rtcp::fir_ssrcs(entries) {
                        let c = egress.consumer_of(ssrc);
                        keyframes |=
                            request_keyframe(&mut self.consumers, &mut self.router, c, now);
                    }
                }
                Rtcp::TransportFeedback { fci } => {
                    let (twcc, estimate) = (&egress.twcc, &mut egress.estimate);
                    if twcc
                        .on_feedback(fci, |r| estimate.on_packet(&r, now))
                        .is_err()
                    {
                        self.stats.dropped_malformed += 1;
                    }
                    estimate.on_feedback(now);
                    // A probe that builds a queue, or makes it overflow (loss well above the link's
                    // own), ends at once: it would cost the link's audio.
                    let overflow = estimate.last_batch_loss() > (2.0 * estimate.loss()).max(0.05);
                    if egress.probe.is_some() && (estimate.usage() == Usage::Overusing || overflow)
                    {
                        egress.probe = None;
                        egress.allocator.probe_failed(now);
                    }
                    // Down at once when the link shrinks; up as soon as a probe shows room.
                    let short = estimate.estimate_bps().is_some_and(|e| {
                        (e as f64)
                            < egress.allocated_bps as f64
                                / tongbu_media::bandwidth_allocator::HEADROOM
                    });
                    reallocate |= short || egress.probe.is_some();
                }
                Rtcp::Remb { bitrate_bps } => egress.remb_bps = Some(bitrate_bps),
                Rtcp::Other { .. } => {}
            }
        }
        if reallocate {
            self.allocate(id, now);
        }
        if keyframes || reallocate {
            self.router_events(now);
            self.drive_dirty(now);
        }
    }

    /// Sender reports for every stream of a recv transport, and what its last second measured
    /// into the participant's link.
    pub(crate) fn send_reports(&mut self, id: TransportId, now: Instant) {
        let wall = self.wall_ntp(now);
        let Some(t) = self.transports.get_mut(id.index()) else {
            return;
        };
        self.reports.set(id, now + REPORT_INTERVAL);
        let Some(egress) = t.egress.and_then(|e| self.egresses.get_mut(e)) else {
            return;
        };
        let Some(route) = egress.remote else {
            return;
        };
        let mut down = Downlink::default();
        let mut cname = None;
        let mut compound = ReportCompound::begin(&mut self.outbox, route);
        for (mid, &c) in &t.consumer_by_mid {
            let Some(s) = self.consumers.get_mut(c.index()) else {
                continue;
            };
            down.nacks += s.nacks;
            down.keyframe_requests += s.keyframe_requests;
            down.loss = match (down.loss, s.loss) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
            down.rtt = down.rtt.or(s.rtt);
            let Some(sr) = s.sender_report(now, wall, self.router.sender_clock(c)) else {
                continue;
            };
            if cname.is_none() {
                cname = t.rtc.media(*mid).map(|m| m.cname());
            }
            write_sender_report(self.outbox.begin().1, &sr);
            if compound.add(sr.ssrc) {
                compound.seal(&mut self.outbox, egress, cname);
            }
        }
        compound.seal(&mut self.outbox, egress, cname);
        let elapsed = now
            .saturating_duration_since(egress.reported_at)
            .as_secs_f32();
        if elapsed > 0.0 {
            down.kbps = (egress.bytes_sent - egress.reported_bytes) as f32 * 8.0 / 1000.0 / elapsed;
        }
        egress.reported_at = now;
        egress.reported_bytes = egress.bytes_sent;
        down.estimate_bps = egress.estimate.estimate_bps().or(egress.remb_bps);
        if let Some(p) = self.participants.get_mut(&t.participant) {
            p.link.recv_transport(&down, now);
        }
        self.allocate(id, now);
    }
}

/// A PLI or FIR for the stream on `consumer`: to the router's aggregation.
fn request_keyframe(
    consumers: &mut Slab<SendStream>,
    router: &mut Router,
    consumer: Option<ConsumerId>,
    now: Instant,
) -> bool {
    let Some(c) = consumer else {
        return false;
    };
    if let Some(s) = consumers.get_mut(c.index()) {
        s.keyframe_requests += 1;
    }
    router.request_keyframe(c, now).is_ok()
}

/// The copy `f` of a packet whose marker and payload are these.
fn copy_of<'a>(f: &Forward, marker: bool, payload: &'a [u8]) -> Packet<'a> {
    Packet {
        seq: f.seq,
        timestamp: f.timestamp,
        pt: f.pt,
        marker,
        payload,
        ids: f.ids,
    }
}

/// One copy: written for its consumer's stream, protected with its transport's keys into the
/// outbox. Nothing is sent to a transport without a route yet.
#[inline]
fn send_copy(
    outbox: &mut Outbox,
    stream: &mut SendStream,
    egress: &mut SubscriberEgress,
    packet: &Packet,
    resend: bool,
    now: Instant,
) {
    let Some((proto, dest)) = egress.remote else {
        return;
    };
    // The size the transport-wide history records: header, extensions and tag included.
    let wire = packet.payload.len() + 40;
    let twcc = stream.ext.twcc.map(|_| egress.twcc.next_seq(now, wire));
    let (start, buf) = outbox.begin();
    let (header, seq) = if resend {
        stream.write_resend(buf, packet, twcc)
    } else {
        (stream.write(buf, packet, twcc, now), packet.seq)
    };
    seal_rtp(outbox, egress, start, header, seq, (proto, dest));
}

/// Seals the RTP packet written into the outbox since `start` (its header `header` bytes, its
/// extended sequence number `seq`) with `egress`'s SRTP and commits it toward `route`. Returns
/// its length on the wire, or `None` if SRTP refused it (dropped, logged).
#[inline]
pub(crate) fn seal_rtp(
    outbox: &mut Outbox,
    egress: &mut SubscriberEgress,
    start: usize,
    header: usize,
    seq: u64,
    (proto, dest): (Protocol, SocketAddr),
) -> Option<usize> {
    let buf = outbox.begin().1;
    let len = buf.len() - start;
    buf.extend_from_slice(&TAG_ROOM);
    match egress
        .srtp_out
        .protect_rtp(&mut buf[start..], header, len, (seq >> 16) as u32)
    {
        Ok(n) => {
            outbox.commit(start, n, proto, dest, egress.transport);
            egress.bytes_sent += n as u64;
            Some(n)
        }
        Err(e) => {
            outbox.abort(start);
            debug!(transport = egress.transport.0, "packet not protected: {e}");
            None
        }
    }
}

/// Sender reports being written into the outbox as one compound RTCP packet.
struct ReportCompound {
    start: usize,
    ssrcs: [u32; REPORTS_PER_PACKET],
    n: usize,
    route: (Protocol, SocketAddr),
}

impl ReportCompound {
    fn begin(outbox: &mut Outbox, route: (Protocol, SocketAddr)) -> Self {
        Self {
            start: outbox.begin().0,
            ssrcs: [0; REPORTS_PER_PACKET],
            n: 0,
            route,
        }
    }

    /// The report of `ssrc` was written; whether the compound is now full.
    fn add(&mut self, ssrc: u32) -> bool {
        self.ssrcs[self.n] = ssrc;
        self.n += 1;
        self.n == REPORTS_PER_PACKET
    }

    /// Closes the reports written so far (if any) with their SDES, protects them for `egress`
    /// and starts the next compound.
    fn seal(&mut self, outbox: &mut Outbox, egress: &mut SubscriberEgress, cname: Option<&str>) {
        let (n, start, (proto, dest)) = (std::mem::take(&mut self.n), self.start, self.route);
        if n > 0 {
            let (_, buf) = outbox.begin();
            write_sdes(buf, &self.ssrcs[..n], cname.unwrap_or("tongbu"));
            let len = buf.len() - start;
            buf.extend_from_slice(&RTCP_ROOM);
            match egress.srtp_out.protect_rtcp(&mut buf[start..], len) {
                Ok(len) => {
                    outbox.commit(start, len, proto, dest, egress.transport);
                    egress.bytes_sent += len as u64;
                }
                Err(e) => {
                    outbox.abort(start);
                    debug!(
                        transport = egress.transport.0,
                        "sender reports not protected: {e}"
                    );
                }
            }
        }
        self.start = outbox.begin().0;
    }
}
