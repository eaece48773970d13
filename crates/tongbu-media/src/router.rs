//! The router: which packet goes to whom.
//!
//! Holds every producer the I/O edge told it of and every consumer of them. The per-packet path
//! ([`Router::forward`]) looks up the producer once and walks that producer's consumers only,
//! indexing them by their dense [`ConsumerId`]: its cost grows with the number of subscribers of
//! the track, never with the number of peers on the server, and it allocates nothing once the
//! caller's output buffer has grown to size. A video producer keeps its last packets in one
//! [`PacketCache`](crate::PacketCache) per encoding from which every consumer's NACKs are
//! answered ([`Router::resend`]).
//!
//! A producer published in simulcast has one encoding per [`Layer`]; its consumers are
//! [`SimulcastConsumer`]s, each forwarding the layer the bandwidth allocator set as its target
//! ([`Router::set_target`]) and asking for a keyframe of the layer it switches to. Keyframe
//! requests, sender clocks and restarts are per encoding.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use crate::consumer::{Rules, SimpleRules};
use crate::continuity::Pauses;
use crate::dynacast::LayerMask;
use crate::simulcast_consumer::Skipped;
use crate::{
    continuity, Codec, Consumer, ConsumerId, Forward, Layer, MediaKind, ParticipantId, Producer,
    ProducerId, Resend, RtpIn, SenderClock, SimulcastConsumer, StreamRewriter,
};

/// How often encodings' bitrates are measured.
const MEASURE_EVERY: Duration = Duration::from_secs(1);

/// What the I/O edge must do on the router's behalf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouterEvent {
    /// Ask the publisher of this producer for a keyframe of this layer (send PLI on its SSRC).
    RequestKeyframe {
        producer: ProducerId,
        owner: ParticipantId,
        layer: Layer,
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
    #[error("consumer {0} forwards a producer without simulcast: it has no layers to choose")]
    NotSimulcast(ConsumerId),
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
    /// Packets on a layer the producer was not published with.
    pub dropped_unknown_layer: u64,
    /// Microphone packets of a participant the host muted (see [`Router::set_muted`]).
    pub dropped_muted: u64,
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
        self.dropped_unknown_layer += o.dropped_unknown_layer;
        self.dropped_muted += o.dropped_muted;
    }
}

/// Routes producers to consumers. See the module documentation.
#[derive(Debug, Default)]
pub struct Router {
    producers: HashMap<ProducerId, Producer>,
    /// Indexed by [`ConsumerId`].
    consumers: Vec<Option<Consumer>>,
    /// Encodings with a keyframe request held back by aggregation or waiting for its answer.
    held_keyframes: Vec<(ProducerId, Layer)>,
    events: VecDeque<RouterEvent>,
    stats: RouterStats,
    /// Subscribers who get audio only for now (their link cannot carry video).
    video_paused: HashSet<ParticipantId>,
    /// When encodings' bitrates were last measured.
    measured_at: Option<Instant>,
    /// Participants whose microphone the host muted (see [`Router::set_muted`]).
    muted: HashSet<ParticipantId>,
}

impl Router {
    /// An empty router.
    pub fn new() -> Self {
        Self::default()
    }

    /// A new incoming track with one encoding.
    pub fn add_producer(
        &mut self,
        id: ProducerId,
        owner: ParticipantId,
        codec: Codec,
    ) -> Result<(), RouterError> {
        self.add_layered_producer(id, owner, codec, 1)
    }

    /// A new incoming track published in `layers` simulcast encodings (1: no simulcast).
    pub fn add_layered_producer(
        &mut self,
        id: ProducerId,
        owner: ParticipantId,
        codec: Codec,
        layers: u8,
    ) -> Result<(), RouterError> {
        if self.producers.contains_key(&id) {
            return Err(RouterError::ProducerExists(id));
        }
        let mut p = Producer::new(id, owner, codec, layers);
        p.muted = codec.kind() == MediaKind::Audio && self.muted.contains(&owner);
        self.producers.insert(id, p);
        Ok(())
    }

    /// The track is gone; its consumers end. Returns them for the edge to close.
    pub fn remove_producer(&mut self, id: ProducerId) -> Result<Vec<ConsumerId>, RouterError> {
        let p = self
            .producers
            .remove(&id)
            .ok_or(RouterError::UnknownProducer(id))?;
        self.held_keyframes.retain(|&(h, _)| h != id);
        for &c in &p.consumers {
            if let Some(slot) = self.consumers.get_mut(c.index()) {
                *slot = None;
            }
        }
        Ok(p.consumers)
    }

    /// The publisher's stream on `layer` restarted (new SSRC, encoder restart): every consumer
    /// of that layer continues its numbering and waits for the next keyframe.
    pub fn restart_producer(
        &mut self,
        id: ProducerId,
        layer: Layer,
        now: Instant,
    ) -> Result<(), RouterError> {
        let p = self
            .producers
            .get_mut(&id)
            .ok_or(RouterError::UnknownProducer(id))?;
        let video = p.codec.kind() == MediaKind::Video;
        let mut wanted = Vec::new();
        for &c in &p.consumers {
            let Some(c) = self.consumers.get_mut(c.index()).and_then(Option::as_mut) else {
                continue;
            };
            match &mut c.rules {
                Rules::Simple(s) => {
                    s.rewriter.rebase();
                    s.waiting_for_keyframe = video;
                }
                Rules::Simulcast(s) => {
                    s.restart(layer);
                    if let Some(l) = s.take_keyframe_request() {
                        wanted.push(l);
                    }
                }
            }
        }
        if video && !wanted.contains(&layer) {
            wanted.push(layer);
        }
        for l in wanted {
            self.request_keyframe_for(id, l, now);
        }
        Ok(())
    }

    /// An audio packet of `producer` said its frame was at `dbov` (RFC 6464): who speaks.
    pub fn set_audio_level(&mut self, producer: ProducerId, dbov: i8, now: Instant) {
        if let Some(p) = self.producers.get_mut(&producer) {
            p.level.on_packet(dbov, now);
        }
    }

    /// The layers `producer`'s publisher was asked to send (dynacast), as its owner decided.
    pub fn set_published_layers(&mut self, producer: ProducerId, layers: LayerMask) {
        if let Some(p) = self.producers.get_mut(&producer) {
            p.published = layers;
        }
    }

    /// The layers of `producer` some consumer here receives or is to receive.
    pub fn wanted_layers(&self, producer: ProducerId) -> LayerMask {
        let Some(p) = self.producers.get(&producer) else {
            return 0;
        };
        p.consumers
            .iter()
            .filter_map(|&c| self.consumer(c))
            .flat_map(|c| [c.layer(), c.target_layer()])
            .flatten()
            .fold(0, |m, l| m | (1 << l.0))
    }

    /// The publisher's clock from its latest sender report on `layer`.
    pub fn set_sender_clock(&mut self, id: ProducerId, layer: Layer, clock: SenderClock) {
        if let Some(e) = self
            .producers
            .get_mut(&id)
            .and_then(|p| p.encodings.get_mut(layer.index()))
        {
            e.sender_clock = Some(clock);
        }
    }

    /// Delivers `producer` to `subscriber` as consumer `id`, with the payload type the
    /// subscriber negotiated. A video consumer starts at the next keyframe, which is requested
    /// now; a simulcast one on the lowest layer, until [`Router::set_target`] says otherwise.
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
        let clock_rate = p.codec.clock_rate();
        let rules = if p.encodings.len() > 1 {
            let mut s = SimulcastConsumer::new(clock_rate);
            s.set_target((!paused).then_some(Layer::BASE));
            Rules::Simulcast(Box::new(s))
        } else {
            Rules::Simple(SimpleRules {
                rewriter: StreamRewriter::new(clock_rate),
                waiting_for_keyframe: video,
            })
        };
        let consumer = Consumer {
            id,
            subscriber,
            producer,
            pt,
            rules,
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
            self.request_wanted_keyframe(id, now);
        }
        Ok(())
    }

    /// The layer simulcast consumer `id` is to forward, as the bandwidth allocator chose it
    /// (`None`: none fits; its video pauses). Clamped to the producer's layers; a consumer
    /// paused to keep its subscriber's audio keeps no target until it is resumed. Returns
    /// whether the target changed; a new one is reached at its next keyframe, which is
    /// requested now.
    pub fn set_target(
        &mut self,
        id: ConsumerId,
        target: Option<Layer>,
        now: Instant,
    ) -> Result<bool, RouterError> {
        let c = self
            .consumers
            .get_mut(id.index())
            .and_then(Option::as_mut)
            .ok_or(RouterError::UnknownConsumer(id))?;
        let layers = self.producers.get(&c.producer).map_or(1, Producer::layers);
        let Rules::Simulcast(s) = &mut c.rules else {
            return Err(RouterError::NotSimulcast(id));
        };
        if c.paused {
            return Ok(false);
        }
        let target = target.map(|t| t.min(Layer(layers - 1)));
        if s.target() == target {
            return Ok(false);
        }
        s.set_target(target);
        self.request_wanted_keyframe(id, now);
        Ok(true)
    }

    /// A consumer that has a keyframe to wait for asks for it.
    fn request_wanted_keyframe(&mut self, id: ConsumerId, now: Instant) {
        let Some(c) = self.consumers.get_mut(id.index()).and_then(Option::as_mut) else {
            return;
        };
        let layer = match &mut c.rules {
            Rules::Simple(s) => s.waiting_for_keyframe.then_some(Layer::BASE),
            Rules::Simulcast(s) => s.take_keyframe_request(),
        };
        if let Some(l) = layer {
            let producer = c.producer;
            self.request_keyframe_for(producer, l, now);
        }
    }

    /// Audio first: pauses (or resumes) every video the subscriber receives, now and later, while
    /// its audio goes on. A resumed video starts again at a keyframe, which is requested now (a
    /// simulcast one on its lowest layer). Returns whether anything changed. Walks all
    /// consumers: for link decisions, a few times a minute at most, never per packet.
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
            match &mut c.rules {
                Rules::Simple(s) => {
                    s.waiting_for_keyframe = true;
                    // Numbering goes on from the last packet it got, so it sees no gap to NACK.
                    s.rewriter.rebase();
                }
                Rules::Simulcast(s) => s.set_target((!paused).then_some(Layer::BASE)),
            }
            if !paused {
                resume.push(c.id);
            }
        }
        for c in resume {
            self.request_wanted_keyframe(c, now);
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
        let simulcast = p.encodings.len() > 1;
        let Some(e) = p.encodings.get_mut(packet.layer.index()) else {
            self.stats.dropped_unknown_layer += 1;
            return Ok(0);
        };
        e.packets += 1;
        e.bytes += packet.payload.len() as u64;
        // Read once, for every consumer.
        let mut descriptor = p.codec.descriptor(&packet.payload, simulcast);
        e.sends_parameter_sets |= descriptor.parameter_sets;
        // An IDR whose SPS went in the packet before is no place to start: a consumer that
        // switches (or starts) there would lack the parameter sets until the next keyframe.
        descriptor.keyframe_start &= descriptor.parameter_sets || !e.sends_parameter_sets;
        let keyframe = descriptor.keyframe_start;
        if keyframe {
            e.keyframes.keyframe_received();
        }
        if let Some(cache) = &mut e.cache {
            cache.store(packet.seq, packet.timestamp, packet.marker, &packet.payload);
        }
        let upstream_pause = e.continuity.packet(packet.seq, packet.timestamp, now);
        if p.muted {
            // Counted as received from the publisher (its link is fine), sent to nobody.
            self.stats.dropped_muted += 1;
            return Ok(0);
        }
        let before = out.len();
        // All consumers of a producer follow the same rules: the branch is taken once per
        // packet, and the simple loop (every microphone, every camera without layers) stays as
        // tight as it was before simulcast.
        if !simulcast {
            for &id in &p.consumers {
                let Some(c) = self.consumers.get_mut(id.index()).and_then(Option::as_mut) else {
                    continue;
                };
                let Rules::Simple(s) = &mut c.rules else {
                    continue;
                };
                if s.waiting_for_keyframe {
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
                    s.waiting_for_keyframe = false;
                    c.pauses
                        .resumed(now, continuity::FREEZE_AFTER, upstream_pause);
                }
                let Some((seq, timestamp)) = s.rewriter.rewrite(packet.seq, packet.timestamp, now)
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
                    ids: None,
                });
            }
        } else {
            for &id in &p.consumers {
                let Some(c) = self.consumers.get_mut(id.index()).and_then(Option::as_mut) else {
                    continue;
                };
                let Rules::Simulcast(s) = &mut c.rules else {
                    continue;
                };
                let resuming = s.current().is_none();
                let copy = match s.forward(packet.layer, packet, &descriptor, now) {
                    Ok(copy) => copy,
                    Err(Skipped::OtherLayer) => continue,
                    Err(Skipped::Paused) => {
                        self.stats.dropped_paused += 1;
                        continue;
                    }
                    Err(Skipped::WaitingForKeyframe) => {
                        self.stats.dropped_waiting_keyframe += 1;
                        if resuming && c.forwarded > 0 {
                            c.pauses.skipped(now);
                        }
                        continue;
                    }
                    Err(Skipped::Stale) => {
                        self.stats.dropped_stale += 1;
                        continue;
                    }
                };
                if resuming {
                    c.pauses
                        .resumed(now, continuity::FREEZE_AFTER, upstream_pause);
                }
                c.forwarded += 1;
                out.push(Forward {
                    consumer: id,
                    seq: copy.seq,
                    timestamp: copy.timestamp,
                    pt: c.pt,
                    ids: copy.ids(),
                });
            }
        }
        let n = out.len() - before;
        self.stats.forwarded += n as u64;
        Ok(n)
    }

    /// A subscriber NACKed `seq` (its own numbering) on consumer `id`: the packet again, from
    /// the producer's cache of the layer it was sent from, with the numbering the consumer first
    /// got it with.
    pub fn resend(&mut self, id: ConsumerId, seq: u16) -> Option<Resend> {
        let c = self
            .consumers
            .get_mut(id.index())
            .and_then(Option::as_mut)?;
        let found = c.layer().and_then(|layer| {
            let (ext, source, ts_offset) = c.rewriter().source(seq)?;
            let p = self.producers.get(&c.producer)?;
            let cached = p
                .encodings
                .get(layer.index())?
                .cache
                .as_ref()?
                .get(source)?;
            let ids = match &c.rules {
                Rules::Simple(_) => None,
                Rules::Simulcast(s) => s.ids_again(&p.codec.descriptor(&cached.payload, true)),
            };
            Some(Resend {
                forward: Forward {
                    consumer: id,
                    seq: ext,
                    timestamp: cached.timestamp.wrapping_add(ts_offset),
                    pt: c.pt,
                    ids,
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

    /// The publisher's clock as consumer `id` sees it: the last sender report of the layer it
    /// forwards, with the RTP timestamp rewritten into the consumer's numbering. `None` until
    /// both a report and a packet have arrived.
    pub fn sender_clock(&self, id: ConsumerId) -> Option<SenderClock> {
        let c = self.consumer(id)?;
        let layer = c.layer()?;
        let clock = self
            .producers
            .get(&c.producer)?
            .encoding(layer)?
            .sender_clock?;
        let offset = c.rewriter().ts_offset()?;
        Some(SenderClock {
            rtp: clock.rtp.wrapping_add(offset),
            ..clock
        })
    }

    /// A subscriber lost a picture (PLI/FIR) on consumer `id`: ask the publisher, aggregated,
    /// for a keyframe of the layer it forwards (or waits for).
    pub fn request_keyframe(&mut self, id: ConsumerId, now: Instant) -> Result<(), RouterError> {
        let c = self.consumer(id).ok_or(RouterError::UnknownConsumer(id))?;
        let layer = match &c.rules {
            Rules::Simple(_) => Some(Layer::BASE),
            Rules::Simulcast(s) => s.current().or(s.awaited()),
        };
        if let Some(l) = layer {
            let producer = c.producer;
            self.request_keyframe_for(producer, l, now);
        }
        Ok(())
    }

    /// Someone needs a keyframe of `producer`'s `layer` (aggregated: at most one request per
    /// 500 ms goes out, a later one is held until then; one no keyframe answers is repeated).
    pub fn request_keyframe_for(&mut self, producer: ProducerId, layer: Layer, now: Instant) {
        let Some(p) = self.producers.get_mut(&producer) else {
            return;
        };
        let Some(e) = p.encodings.get_mut(layer.index()) else {
            return;
        };
        if e.keyframes.request(now) {
            self.events.push_back(RouterEvent::RequestKeyframe {
                producer,
                owner: p.owner,
                layer,
            });
        }
        if !self.held_keyframes.contains(&(producer, layer)) {
            self.held_keyframes.push((producer, layer));
        }
    }

    /// When [`Router::handle_timeout`] next has keyframe requests to release. (Bitrates need
    /// no deadline of their own: they are measured by whichever call comes a second or more
    /// after the last measurement.)
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.held_keyframes
            .iter()
            .filter_map(|(id, l)| self.producers.get(id)?.encoding(*l))
            .filter_map(|e| e.keyframes.next_due())
            .min()
    }

    /// Time passes: releases (and repeats) keyframe requests held by aggregation, and measures
    /// the encodings' bitrates if a second has passed since the last time.
    pub fn handle_timeout(&mut self, now: Instant) {
        let producers = &mut self.producers;
        let events = &mut self.events;
        self.held_keyframes.retain(|&(id, layer)| {
            let Some(p) = producers.get_mut(&id) else {
                return false;
            };
            let Some(e) = p.encodings.get_mut(layer.index()) else {
                return false;
            };
            if e.keyframes.poll(now) {
                events.push_back(RouterEvent::RequestKeyframe {
                    producer: id,
                    owner: p.owner,
                    layer,
                });
            }
            e.keyframes.next_due().is_some()
        });
        if self
            .measured_at
            .is_none_or(|t| now.saturating_duration_since(t) >= MEASURE_EVERY)
        {
            self.measured_at = Some(now);
            for e in self.producers.values_mut().flat_map(|p| &mut p.encodings) {
                e.measure(now);
            }
        }
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

mod moderation;
#[cfg(test)]
mod tests;
