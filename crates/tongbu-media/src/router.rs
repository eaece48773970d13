//! The router: which packet goes to whom.
//!
//! Holds every producer the I/O edge told it of and every consumer of them. The per-packet path
//! ([`Router::forward`]) looks up the producer once and walks that producer's consumers only,
//! indexing them by their dense [`ConsumerId`]: its cost grows with the number of subscribers of
//! the track, never with the number of peers on the server, and it allocates nothing once the
//! caller's output buffer has grown to size. A video producer keeps its last packets in one
//! [`PacketCache`](crate::PacketCache) from which every consumer's NACKs are answered
//! ([`Router::resend`]).

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Instant;

use crate::continuity::Pauses;
use crate::{
    continuity, vp8, Codec, Consumer, ConsumerId, Forward, MediaKind, ParticipantId, Producer,
    ProducerId, Resend, RtpIn, SenderClock, StreamRewriter,
};

/// What the I/O edge must do on the router's behalf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouterEvent {
    /// Ask the publisher of this producer for a keyframe (send PLI).
    RequestKeyframe {
        producer: ProducerId,
        owner: ParticipantId,
    },
}

/// Errors of router operations; the edge logs them and carries on.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RouterError {
    #[error("producer {0} is not known (was it closed while packets were in flight?)")]
    UnknownProducer(ProducerId),
    #[error("producer {0} already exists")]
    ProducerExists(ProducerId),
    #[error("consumer {0} already exists; remove it first")]
    ConsumerExists(ConsumerId),
    #[error("consumer {0} does not exist")]
    UnknownConsumer(ConsumerId),
}

/// Counters of the whole router.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RouterStats {
    /// Packets received from publishers.
    pub received: u64,
    /// Packets handed out for subscribers.
    pub forwarded: u64,
    /// Packets handed out again on a subscriber's NACK.
    pub resent: u64,
    /// NACKed packets no longer (or never) in the producer's cache, or sent under an older
    /// mapping of the consumer.
    pub resend_missed: u64,
    /// Packets for a producer that is not (or no longer) known.
    pub dropped_unknown_producer: u64,
    /// Packets not forwarded to a consumer that waits for a keyframe.
    pub dropped_waiting_keyframe: u64,
    /// Packets older than a consumer's current mapping.
    pub dropped_stale: u64,
    /// Video packets held back from subscribers whose video is paused to keep their audio.
    pub dropped_paused: u64,
}

impl RouterStats {
    /// Adds another router's counters (one per media worker).
    pub fn add(&mut self, o: &RouterStats) {
        self.received += o.received;
        self.forwarded += o.forwarded;
        self.resent += o.resent;
        self.resend_missed += o.resend_missed;
        self.dropped_unknown_producer += o.dropped_unknown_producer;
        self.dropped_waiting_keyframe += o.dropped_waiting_keyframe;
        self.dropped_stale += o.dropped_stale;
        self.dropped_paused += o.dropped_paused;
    }
}

/// Routes producers to consumers. See the module documentation.
#[derive(Debug, Default)]
pub struct Router {
    producers: HashMap<ProducerId, Producer>,
    /// Indexed by [`ConsumerId`].
    consumers: Vec<Option<Consumer>>,
    /// Producers with a keyframe request held back by aggregation.
    held_keyframes: Vec<ProducerId>,
    events: VecDeque<RouterEvent>,
    stats: RouterStats,
    /// Subscribers who get audio only for now (their link cannot carry video).
    video_paused: HashSet<ParticipantId>,
}

impl Router {
    /// An empty router.
    pub fn new() -> Self {
        Self::default()
    }

    /// A new incoming track.
    pub fn add_producer(
        &mut self,
        id: ProducerId,
        owner: ParticipantId,
        codec: Codec,
    ) -> Result<(), RouterError> {
        if self.producers.contains_key(&id) {
            return Err(RouterError::ProducerExists(id));
        }
        self.producers.insert(id, Producer::new(id, owner, codec));
        Ok(())
    }

    /// The track is gone; its consumers end. Returns them for the edge to close.
    pub fn remove_producer(&mut self, id: ProducerId) -> Result<Vec<ConsumerId>, RouterError> {
        let p = self
            .producers
            .remove(&id)
            .ok_or(RouterError::UnknownProducer(id))?;
        self.held_keyframes.retain(|&h| h != id);
        for &c in &p.consumers {
            if let Some(slot) = self.consumers.get_mut(c.index()) {
                *slot = None;
            }
        }
        Ok(p.consumers)
    }

    /// The publisher's stream restarted (new SSRC, encoder restart): every consumer continues its
    /// numbering and waits for the next keyframe.
    pub fn restart_producer(&mut self, id: ProducerId, now: Instant) -> Result<(), RouterError> {
        let p = self
            .producers
            .get_mut(&id)
            .ok_or(RouterError::UnknownProducer(id))?;
        let video = p.codec.kind() == MediaKind::Video;
        for &c in &p.consumers {
            if let Some(c) = self.consumers.get_mut(c.index()).and_then(Option::as_mut) {
                c.rewriter.rebase();
                c.waiting_for_keyframe = video;
            }
        }
        if video {
            self.request_keyframe_for(id, now);
        }
        Ok(())
    }

    /// The publisher's clock from its latest sender report.
    pub fn set_sender_clock(&mut self, id: ProducerId, clock: SenderClock) {
        if let Some(p) = self.producers.get_mut(&id) {
            p.sender_clock = Some(clock);
        }
    }

    /// Delivers `producer` to `subscriber` as consumer `id`, with the payload type the
    /// subscriber negotiated. A video consumer starts at the next keyframe, which is requested
    /// now.
    pub fn add_consumer(
        &mut self,
        producer: ProducerId,
        subscriber: ParticipantId,
        id: ConsumerId,
        pt: u8,
        now: Instant,
    ) -> Result<(), RouterError> {
        if self.consumer(id).is_some() {
            return Err(RouterError::ConsumerExists(id));
        }
        let p = self
            .producers
            .get_mut(&producer)
            .ok_or(RouterError::UnknownProducer(producer))?;
        let video = p.codec.kind() == MediaKind::Video;
        let paused = video && self.video_paused.contains(&subscriber);
        let consumer = Consumer {
            id,
            subscriber,
            producer,
            pt,
            rewriter: StreamRewriter::new(p.codec.clock_rate()),
            waiting_for_keyframe: video,
            paused,
            forwarded: 0,
            resent: 0,
            pauses: Pauses::default(),
        };
        if self.consumers.len() <= id.index() {
            self.consumers.resize_with(id.index() + 1, || None);
        }
        self.consumers[id.index()] = Some(consumer);
        p.consumers.push(id);
        if video && !paused {
            self.request_keyframe_for(producer, now);
        }
        Ok(())
    }

    /// Audio first: pauses (or resumes) every video the subscriber receives, now and later, while
    /// its audio goes on. A resumed video starts again at a keyframe, which is requested now.
    /// Returns whether anything changed. Walks all consumers: for link decisions, a few times a
    /// minute at most, never per packet.
    pub fn pause_video(&mut self, subscriber: ParticipantId, paused: bool, now: Instant) -> bool {
        let changed = if paused {
            self.video_paused.insert(subscriber)
        } else {
            self.video_paused.remove(&subscriber)
        };
        if !changed {
            return false;
        }
        let mut resume = Vec::new();
        for c in self.consumers.iter_mut().flatten() {
            if c.subscriber != subscriber {
                continue;
            }
            let video = self
                .producers
                .get(&c.producer)
                .is_some_and(|p| p.codec.kind() == MediaKind::Video);
            if !video {
                continue;
            }
            c.paused = paused;
            c.waiting_for_keyframe = true;
            // Numbering goes on from the last packet it got, so it sees no gap to NACK.
            c.rewriter.rebase();
            if !paused && !resume.contains(&c.producer) {
                resume.push(c.producer);
            }
        }
        for p in resume {
            self.request_keyframe_for(p, now);
        }
        true
    }

    /// Whether the subscriber's video is paused to keep its audio.
    pub fn video_paused(&self, subscriber: ParticipantId) -> bool {
        self.video_paused.contains(&subscriber)
    }

    /// Every consumer, to read its continuity (for health samples, not per packet).
    pub fn consumers(&self) -> impl Iterator<Item = &Consumer> {
        self.consumers.iter().flatten()
    }

    /// Every producer.
    pub fn producers(&self) -> impl Iterator<Item = &Producer> {
        self.producers.values()
    }

    /// Ends one consumer. Returns whether it existed.
    pub fn remove_consumer(&mut self, id: ConsumerId) -> bool {
        let Some(c) = self.consumers.get_mut(id.index()).and_then(Option::take) else {
            return false;
        };
        if let Some(p) = self.producers.get_mut(&c.producer) {
            p.consumers.retain(|&x| x != id);
        }
        true
    }

    /// Ends every consumer of a subscriber (it left). Returns them.
    pub fn remove_consumers_of(&mut self, subscriber: ParticipantId) -> Vec<ConsumerId> {
        self.video_paused.remove(&subscriber);
        let ids: Vec<ConsumerId> = self
            .consumers()
            .filter(|c| c.subscriber == subscriber)
            .map(|c| c.id)
            .collect();
        for &c in &ids {
            self.remove_consumer(c);
        }
        ids
    }

    /// One packet from a publisher: appends one [`Forward`] per consumer that takes it to `out`.
    /// Returns how many were appended.
    pub fn forward(
        &mut self,
        producer: ProducerId,
        packet: &RtpIn,
        now: Instant,
        out: &mut Vec<Forward>,
    ) -> Result<usize, RouterError> {
        self.stats.received += 1;
        let Some(p) = self.producers.get_mut(&producer) else {
            self.stats.dropped_unknown_producer += 1;
            return Err(RouterError::UnknownProducer(producer));
        };
        p.packets += 1;
        p.bytes += packet.payload.len() as u64;
        let keyframe = p.codec == Codec::Vp8 && vp8::is_keyframe_start(&packet.payload);
        if keyframe {
            p.keyframes.keyframe_received();
        }
        if let Some(cache) = &mut p.cache {
            cache.store(packet.seq, packet.timestamp, packet.marker, &packet.payload);
        }
        let upstream_pause = p.continuity.packet(packet.timestamp, now);
        let before = out.len();
        for &id in &p.consumers {
            let Some(c) = self.consumers.get_mut(id.index()).and_then(Option::as_mut) else {
                continue;
            };
            if c.waiting_for_keyframe {
                if c.paused {
                    self.stats.dropped_paused += 1;
                    continue;
                }
                if !keyframe {
                    self.stats.dropped_waiting_keyframe += 1;
                    // A picture it had stops until the keyframe: its own freeze.
                    if c.forwarded > 0 {
                        c.pauses.skipped(now);
                    }
                    continue;
                }
                c.waiting_for_keyframe = false;
                c.pauses
                    .resumed(now, continuity::FREEZE_AFTER, upstream_pause);
            }
            let Some((seq, timestamp)) = c.rewriter.rewrite(packet.seq, packet.timestamp, now)
            else {
                self.stats.dropped_stale += 1;
                continue;
            };
            c.forwarded += 1;
            out.push(Forward {
                consumer: id,
                seq,
                timestamp,
                pt: c.pt,
            });
        }
        let n = out.len() - before;
        self.stats.forwarded += n as u64;
        Ok(n)
    }

    /// A subscriber NACKed `seq` (its own numbering) on consumer `id`: the packet again, from
    /// the producer's cache, with the numbering the consumer first got it with.
    pub fn resend(&mut self, id: ConsumerId, seq: u16) -> Option<Resend> {
        let c = self
            .consumers
            .get_mut(id.index())
            .and_then(Option::as_mut)?;
        let found = c.rewriter.source(seq).and_then(|(ext, source, ts_offset)| {
            let p = self.producers.get(&c.producer)?;
            let cached = p.cache.as_ref()?.get(source)?;
            Some(Resend {
                forward: Forward {
                    consumer: id,
                    seq: ext,
                    timestamp: cached.timestamp.wrapping_add(ts_offset),
                    pt: c.pt,
                },
                marker: cached.marker,
                payload: cached.payload.clone(),
            })
        });
        match found {
            Some(f) => {
                c.resent += 1;
                self.stats.resent += 1;
                Some(f)
            }
            None => {
                self.stats.resend_missed += 1;
                None
            }
        }
    }

    /// The publisher's clock as consumer `id` sees it: its last sender report with the RTP
    /// timestamp rewritten into the consumer's numbering. `None` until both a report and a
    /// packet have arrived.
    pub fn sender_clock(&self, id: ConsumerId) -> Option<SenderClock> {
        let c = self.consumer(id)?;
        let clock = self.producers.get(&c.producer)?.sender_clock?;
        let offset = c.rewriter.ts_offset()?;
        Some(SenderClock {
            rtp: clock.rtp.wrapping_add(offset),
            ..clock
        })
    }

    /// A subscriber lost a picture (PLI/FIR) on consumer `id`: ask the publisher, aggregated.
    pub fn request_keyframe(&mut self, id: ConsumerId, now: Instant) -> Result<(), RouterError> {
        let producer = self
            .consumer(id)
            .map(|c| c.producer)
            .ok_or(RouterError::UnknownConsumer(id))?;
        self.request_keyframe_for(producer, now);
        Ok(())
    }

    /// Someone needs a keyframe of `producer` (aggregated: at most one request per 500 ms goes
    /// out, a later one is held until then).
    pub fn request_keyframe_for(&mut self, producer: ProducerId, now: Instant) {
        let Some(p) = self.producers.get_mut(&producer) else {
            return;
        };
        if p.keyframes.request(now) {
            self.events.push_back(RouterEvent::RequestKeyframe {
                producer,
                owner: p.owner,
            });
        } else if !self.held_keyframes.contains(&producer) {
            self.held_keyframes.push(producer);
        }
    }

    /// When [`Router::handle_timeout`] next has work to do.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.held_keyframes
            .iter()
            .filter_map(|id| self.producers.get(id))
            .filter_map(|p| p.keyframes.next_due())
            .min()
    }

    /// Time passes: releases keyframe requests held by aggregation.
    pub fn handle_timeout(&mut self, now: Instant) {
        let producers = &mut self.producers;
        let events = &mut self.events;
        self.held_keyframes.retain(|id| {
            let Some(p) = producers.get_mut(id) else {
                return false;
            };
            if p.keyframes.poll(now) {
                events.push_back(RouterEvent::RequestKeyframe {
                    producer: *id,
                    owner: p.owner,
                });
                return false;
            }
            p.keyframes.next_due().is_some()
        });
    }

    /// The next thing the edge must do.
    pub fn poll_event(&mut self) -> Option<RouterEvent> {
        self.events.pop_front()
    }

    /// A producer.
    pub fn producer(&self, id: ProducerId) -> Option<&Producer> {
        self.producers.get(&id)
    }

    /// A consumer.
    pub fn consumer(&self, id: ConsumerId) -> Option<&Consumer> {
        self.consumers.get(id.index()).and_then(Option::as_ref)
    }

    /// Router-wide counters.
    pub fn stats(&self) -> RouterStats {
        self.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    const KEY: [u8; 4] = [0x10, 0x50, 0x01, 0x00];
    const DELTA: [u8; 4] = [0x10, 0x51, 0x01, 0x00];

    fn pkt(seq: u16, payload: &[u8]) -> RtpIn {
        RtpIn {
            seq,
            timestamp: u32::from(seq) * 3000,
            marker: true,
            payload: Arc::from(payload),
        }
    }

    fn router_with_video() -> Router {
        let mut r = Router::new();
        r.add_producer(ProducerId(1), ParticipantId(1), Codec::Vp8)
            .unwrap();
        r
    }

    #[test]
    fn waiting_for_a_keyframe_is_the_subscribers_freeze_a_camera_pause_is_the_publishers() {
        let t0 = Instant::now();
        let ms = |n: u64| t0 + Duration::from_millis(n);
        let mut r = router_with_video();
        r.add_consumer(ProducerId(1), ParticipantId(2), ConsumerId(1), 96, t0)
            .unwrap();
        let mut out = Vec::new();
        // Waiting for the first keyframe is a start, not a freeze.
        r.forward(ProducerId(1), &pkt(1, &DELTA), ms(0), &mut out)
            .unwrap();
        r.forward(ProducerId(1), &pkt(2, &KEY), ms(900), &mut out)
            .unwrap();
        r.forward(ProducerId(1), &pkt(3, &DELTA), ms(933), &mut out)
            .unwrap();
        // The camera stops for a second: the publisher's freeze only.
        r.forward(ProducerId(1), &pkt(4, &DELTA), ms(1933), &mut out)
            .unwrap();
        let sub = |r: &Router| r.consumer(ConsumerId(1)).unwrap().pauses().count();
        assert_eq!(r.producer(ProducerId(1)).unwrap().continuity().gaps(), 2);
        assert_eq!(sub(&r), 0);
        // The stream restarts: the subscriber skips 700 ms of frames until the next keyframe.
        r.restart_producer(ProducerId(1), ms(1950)).unwrap();
        for (i, at) in (1966..2666).step_by(33).enumerate() {
            r.forward(ProducerId(1), &pkt(5 + i as u16, &DELTA), ms(at), &mut out)
                .unwrap();
        }
        assert!(r
            .consumer(ConsumerId(1))
            .unwrap()
            .pauses()
            .stalled(ms(2600), continuity::FREEZE_AFTER));
        r.forward(ProducerId(1), &pkt(40, &KEY), ms(2700), &mut out)
            .unwrap();
        assert_eq!(sub(&r), 1);
        assert_eq!(
            r.producer(ProducerId(1)).unwrap().continuity().gaps(),
            2,
            "the track kept coming"
        );
    }

    #[test]
    fn each_subscriber_gets_the_same_payload_with_its_own_pt_and_sink() {
        let now = Instant::now();
        let mut r = Router::new();
        r.add_producer(ProducerId(7), ParticipantId(1), Codec::Opus)
            .unwrap();
        for s in 0..3 {
            r.add_consumer(
                ProducerId(7),
                ParticipantId(10 + s),
                ConsumerId(s as u32),
                100 + s as u8,
                now,
            )
            .unwrap();
        }
        let mut out = Vec::new();
        let p = pkt(5, b"opus");
        assert_eq!(r.forward(ProducerId(7), &p, now, &mut out).unwrap(), 3);
        for (i, f) in out.iter().enumerate() {
            assert_eq!(f.consumer, ConsumerId(i as u32));
            assert_eq!(f.pt, 100 + i as u8);
        }
        // A copy is its numbering only: the payload is shared by not being in it.
        assert!(std::mem::size_of::<Forward>() <= 24);
    }

    #[test]
    fn paused_video_keeps_audio_and_resumes_on_a_keyframe_without_a_gap() {
        let t0 = Instant::now();
        let ms = |m: u64| t0 + Duration::from_millis(m);
        let mut r = router_with_video();
        r.add_producer(ProducerId(2), ParticipantId(1), Codec::Opus)
            .unwrap();
        r.add_consumer(ProducerId(1), ParticipantId(2), ConsumerId(1), 96, t0)
            .unwrap();
        r.add_consumer(ProducerId(2), ParticipantId(2), ConsumerId(2), 111, t0)
            .unwrap();
        while r.poll_event().is_some() {}
        let mut out = Vec::new();
        r.forward(ProducerId(1), &pkt(1, &KEY), ms(0), &mut out)
            .unwrap();
        r.forward(ProducerId(1), &pkt(2, &DELTA), ms(33), &mut out)
            .unwrap();
        let last = out[1].seq;
        out.clear();

        assert!(r.pause_video(ParticipantId(2), true, ms(40)));
        assert!(
            !r.pause_video(ParticipantId(2), true, ms(41)),
            "already paused"
        );
        assert!(r.video_paused(ParticipantId(2)));
        for i in 0..30u16 {
            let payload: &[u8] = if i % 10 == 0 { &KEY } else { &DELTA };
            r.forward(
                ProducerId(1),
                &pkt(3 + i, payload),
                ms(66 + 33 * u64::from(i)),
                &mut out,
            )
            .unwrap();
            r.forward(
                ProducerId(2),
                &pkt(100 + i, b"opus"),
                ms(66 + 33 * u64::from(i)),
                &mut out,
            )
            .unwrap();
        }
        assert!(
            out.iter().all(|f| f.consumer == ConsumerId(2)),
            "audio only while paused"
        );
        assert_eq!(out.len(), 30);
        assert_eq!(r.stats().dropped_paused, 30);
        assert_eq!(r.poll_event(), None, "no keyframe asked for while paused");
        out.clear();

        assert!(r.pause_video(ParticipantId(2), false, ms(1100)));
        assert_eq!(
            r.poll_event(),
            Some(RouterEvent::RequestKeyframe {
                producer: ProducerId(1),
                owner: ParticipantId(1)
            })
        );
        r.forward(ProducerId(1), &pkt(40, &DELTA), ms(1110), &mut out)
            .unwrap();
        assert!(out.is_empty(), "waits for the keyframe");
        r.forward(ProducerId(1), &pkt(41, &KEY), ms(1140), &mut out)
            .unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].seq, last + 1, "numbering goes on without a gap");
        let sub = r.consumer(ConsumerId(1)).unwrap();
        assert_eq!(
            sub.pauses().count(),
            0,
            "a pause on purpose is not a freeze"
        );
        assert!(!sub.paused());
    }

    #[test]
    fn a_track_published_while_video_is_paused_starts_paused() {
        let now = Instant::now();
        let mut r = router_with_video();
        r.pause_video(ParticipantId(2), true, now);
        r.add_consumer(ProducerId(1), ParticipantId(2), ConsumerId(1), 96, now)
            .unwrap();
        assert_eq!(r.poll_event(), None);
        let mut out = Vec::new();
        r.forward(ProducerId(1), &pkt(1, &KEY), now, &mut out)
            .unwrap();
        assert!(out.is_empty());
        assert!(r.consumer(ConsumerId(1)).unwrap().paused());
    }

    #[test]
    fn video_subscription_starts_on_a_keyframe_and_asks_for_one() {
        let now = Instant::now();
        let mut r = router_with_video();
        r.add_consumer(ProducerId(1), ParticipantId(2), ConsumerId(1), 96, now)
            .unwrap();
        assert_eq!(
            r.poll_event(),
            Some(RouterEvent::RequestKeyframe {
                producer: ProducerId(1),
                owner: ParticipantId(1)
            })
        );
        let mut out = Vec::new();
        r.forward(ProducerId(1), &pkt(1, &DELTA), now, &mut out)
            .unwrap();
        assert!(out.is_empty());
        r.forward(ProducerId(1), &pkt(2, &KEY), now, &mut out)
            .unwrap();
        r.forward(ProducerId(1), &pkt(3, &DELTA), now, &mut out)
            .unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!(out[1].seq, out[0].seq + 1);
        assert_eq!(r.stats().dropped_waiting_keyframe, 1);
    }

    #[test]
    fn keyframe_requests_from_many_subscribers_are_aggregated() {
        let t0 = Instant::now();
        let mut r = router_with_video();
        for s in 0..20 {
            r.add_consumer(
                ProducerId(1),
                ParticipantId(100 + s),
                ConsumerId(s as u32),
                96,
                t0,
            )
            .unwrap();
        }
        for s in 0..20 {
            r.request_keyframe(ConsumerId(s as u32), t0 + Duration::from_millis(s))
                .unwrap();
        }
        let mut events = 0;
        while r.poll_event().is_some() {
            events += 1;
        }
        assert_eq!(events, 1, "one request for 40 asks within 500 ms");
        let due = r.poll_timeout().expect("a held request");
        r.handle_timeout(due);
        assert!(r.poll_event().is_some(), "the held request is released");
        assert_eq!(r.poll_timeout(), None);
        let t = r.producer(ProducerId(1)).unwrap();
        assert_eq!(t.keyframe_request_counts(), (40, 2));
    }

    #[test]
    fn unpublish_ends_subscriptions_and_later_packets_are_counted_as_dropped() {
        let now = Instant::now();
        let mut r = router_with_video();
        r.add_consumer(ProducerId(1), ParticipantId(2), ConsumerId(9), 96, now)
            .unwrap();
        assert_eq!(
            r.remove_producer(ProducerId(1)).unwrap(),
            vec![ConsumerId(9)]
        );
        let mut out = Vec::new();
        assert_eq!(
            r.forward(ProducerId(1), &pkt(1, &KEY), now, &mut out),
            Err(RouterError::UnknownProducer(ProducerId(1)))
        );
        assert_eq!(r.stats().dropped_unknown_producer, 1);
        assert!(r.consumer(ConsumerId(9)).is_none());
    }

    #[test]
    fn restart_keeps_each_subscriber_continuous() {
        let t0 = Instant::now();
        let mut r = router_with_video();
        r.add_consumer(ProducerId(1), ParticipantId(2), ConsumerId(1), 96, t0)
            .unwrap();
        let mut out = Vec::new();
        r.forward(ProducerId(1), &pkt(100, &KEY), t0, &mut out)
            .unwrap();
        r.forward(ProducerId(1), &pkt(101, &DELTA), t0, &mut out)
            .unwrap();
        let t1 = t0 + Duration::from_secs(1);
        r.restart_producer(ProducerId(1), t1).unwrap();
        r.forward(ProducerId(1), &pkt(7, &DELTA), t1, &mut out)
            .unwrap();
        r.forward(ProducerId(1), &pkt(8, &KEY), t1, &mut out)
            .unwrap();
        assert_eq!(out.len(), 3);
        assert_eq!(out[2].seq, out[1].seq + 1);
    }

    #[test]
    fn slots_are_reused_and_sinks_are_unique() {
        let now = Instant::now();
        let mut r = router_with_video();
        r.add_consumer(ProducerId(1), ParticipantId(2), ConsumerId(1), 96, now)
            .unwrap();
        assert_eq!(
            r.add_consumer(ProducerId(1), ParticipantId(3), ConsumerId(1), 96, now),
            Err(RouterError::ConsumerExists(ConsumerId(1)))
        );
        assert!(r.remove_consumer(ConsumerId(1)));
        assert!(!r.remove_consumer(ConsumerId(1)));
        r.add_consumer(ProducerId(1), ParticipantId(3), ConsumerId(2), 96, now)
            .unwrap();
        assert_eq!(r.remove_consumers_of(ParticipantId(3)), vec![ConsumerId(2)]);
        assert_eq!(r.producer(ProducerId(1)).unwrap().consumer_count(), 0);
    }

    #[test]
    fn a_nack_is_answered_from_the_shared_cache_to_that_consumer_only() {
        let t0 = Instant::now();
        let mut r = router_with_video();
        r.add_consumer(ProducerId(1), ParticipantId(2), ConsumerId(0), 96, t0)
            .unwrap();
        r.add_consumer(ProducerId(1), ParticipantId(3), ConsumerId(1), 97, t0)
            .unwrap();
        let mut out = Vec::new();
        let mut sent = Vec::new();
        for seq in 500..520u16 {
            let payload: &[u8] = if seq == 500 { &KEY } else { &DELTA };
            let p = pkt(seq, payload);
            r.forward(ProducerId(1), &p, t0, &mut out).unwrap();
            sent.push(p);
        }
        let first_of_1 = *out.iter().find(|f| f.consumer == ConsumerId(1)).unwrap();
        let lost = *out
            .iter()
            .find(|f| f.consumer == ConsumerId(1) && f.seq == first_of_1.seq + 7)
            .unwrap();
        let again = r
            .resend(ConsumerId(1), lost.seq as u16)
            .expect("in the cache");
        assert_eq!(again.forward, lost, "the numbering it first had");
        assert_eq!(again.forward.pt, 97);
        // The 8th packet consumer 1 got (its first was the keyframe, seq 500).
        let original = &sent[7];
        assert_eq!(again.marker, original.marker);
        assert!(
            Arc::ptr_eq(&again.payload, &original.payload),
            "shared, not copied"
        );
        assert_eq!(r.consumer(ConsumerId(1)).unwrap().resent(), 1);
        assert_eq!(r.consumer(ConsumerId(0)).unwrap().resent(), 0);
        assert!(
            r.resend(ConsumerId(1), (first_of_1.seq + 40) as u16)
                .is_none(),
            "never sent"
        );
        assert!(r.resend(ConsumerId(9), 1).is_none(), "no such consumer");
        let s = r.stats();
        assert_eq!((s.resent, s.resend_missed), (1, 1));
    }

    #[test]
    fn a_consumer_sees_the_publishers_clock_in_its_own_timestamps() {
        let t0 = Instant::now();
        let mut r = router_with_video();
        r.add_consumer(ProducerId(1), ParticipantId(2), ConsumerId(0), 96, t0)
            .unwrap();
        let mut out = Vec::new();
        r.forward(ProducerId(1), &pkt(10, &KEY), t0, &mut out)
            .unwrap();
        assert_eq!(r.sender_clock(ConsumerId(0)), None, "no report yet");
        let clock = SenderClock {
            ntp: 0xe000_0000_8000_0000,
            rtp: 30_000,
            at: t0,
        };
        r.set_sender_clock(ProducerId(1), clock);
        let mapped = r.sender_clock(ConsumerId(0)).unwrap();
        let offset = out[0].timestamp.wrapping_sub(30_000);
        assert_eq!(mapped.rtp, 30_000u32.wrapping_add(offset));
        assert_eq!((mapped.ntp, mapped.at), (clock.ntp, t0));
    }
}
