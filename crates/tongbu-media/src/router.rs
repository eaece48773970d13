//! The router: which packet goes to whom.
//!
//! Holds every published track of the server and every subscription to it. The per-packet path
//! ([`Router::forward`]) looks up the track once and walks that track's subscriptions only: its
//! cost grows with the number of subscribers of the track, never with the number of peers on the
//! server, and it allocates nothing once the caller's output buffer has grown to size.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Instant;

use crate::continuity::Pauses;
use crate::publisher::PublishedTrack;
use crate::subscriber::Subscription;
use crate::{
    continuity, vp8, Codec, Forward, MediaKind, ParticipantId, RtpIn, SinkId, StreamRewriter,
    TrackId,
};

/// What the I/O edge must do on the router's behalf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouterEvent {
    /// Ask the publisher of this track for a keyframe (send PLI).
    RequestKeyframe {
        track: TrackId,
        owner: ParticipantId,
    },
}

/// Errors of router operations; the edge logs them and carries on.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RouterError {
    #[error("track {0} is not published (was it unpublished while packets were in flight?)")]
    UnknownTrack(TrackId),
    #[error("track {0} is already published")]
    TrackExists(TrackId),
    #[error("sink {0} already carries a subscription; unsubscribe it first")]
    SinkInUse(SinkId),
    #[error("sink {0} carries no subscription")]
    UnknownSink(SinkId),
}

/// Counters of the whole router.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RouterStats {
    /// Packets received from publishers.
    pub received: u64,
    /// Packets handed out for subscribers.
    pub forwarded: u64,
    /// Packets for a track that is not (or no longer) published.
    pub dropped_unknown_track: u64,
    /// Packets not forwarded to a subscription that waits for a keyframe.
    pub dropped_waiting_keyframe: u64,
    /// Packets older than a subscription's current mapping.
    pub dropped_stale: u64,
    /// Video packets held back from subscribers whose video is paused to keep their audio.
    pub dropped_paused: u64,
}

/// Routes published tracks to subscriptions. See the module documentation.
#[derive(Debug, Default)]
pub struct Router {
    tracks: HashMap<TrackId, PublishedTrack>,
    subs: Vec<Option<Subscription>>,
    free: Vec<usize>,
    by_sink: HashMap<SinkId, usize>,
    /// Tracks with a keyframe request held back by aggregation.
    held_keyframes: Vec<TrackId>,
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
    pub fn publish(
        &mut self,
        track: TrackId,
        owner: ParticipantId,
        codec: Codec,
    ) -> Result<(), RouterError> {
        if self.tracks.contains_key(&track) {
            return Err(RouterError::TrackExists(track));
        }
        self.tracks
            .insert(track, PublishedTrack::new(track, owner, codec));
        Ok(())
    }

    /// The track is gone; its subscriptions end. Returns their sinks for the edge to close.
    pub fn unpublish(&mut self, track: TrackId) -> Result<Vec<SinkId>, RouterError> {
        let t = self
            .tracks
            .remove(&track)
            .ok_or(RouterError::UnknownTrack(track))?;
        self.held_keyframes.retain(|&h| h != track);
        let mut sinks = Vec::with_capacity(t.subscriptions.len());
        for i in t.subscriptions {
            if let Some(s) = self.subs[i].take() {
                self.by_sink.remove(&s.sink);
                sinks.push(s.sink);
                self.free.push(i);
            }
        }
        Ok(sinks)
    }

    /// The publisher's stream restarted (new SSRC, encoder restart): every subscription continues
    /// its numbering and waits for the next keyframe.
    pub fn restart_track(&mut self, track: TrackId, now: Instant) -> Result<(), RouterError> {
        let t = self
            .tracks
            .get_mut(&track)
            .ok_or(RouterError::UnknownTrack(track))?;
        let video = t.codec.kind() == MediaKind::Video;
        for &i in &t.subscriptions {
            if let Some(s) = self.subs[i].as_mut() {
                s.rewriter.rebase();
                s.waiting_for_keyframe = video;
            }
        }
        if video {
            self.request_keyframe_for(track, now);
        }
        Ok(())
    }

    /// Deliver `track` to `subscriber` through `sink`, with the payload type the subscriber
    /// negotiated. A video subscription starts at the next keyframe, which is requested now.
    pub fn subscribe(
        &mut self,
        track: TrackId,
        subscriber: ParticipantId,
        sink: SinkId,
        pt: u8,
        now: Instant,
    ) -> Result<(), RouterError> {
        if self.by_sink.contains_key(&sink) {
            return Err(RouterError::SinkInUse(sink));
        }
        let t = self
            .tracks
            .get_mut(&track)
            .ok_or(RouterError::UnknownTrack(track))?;
        let video = t.codec.kind() == MediaKind::Video;
        let paused = video && self.video_paused.contains(&subscriber);
        let sub = Subscription {
            sink,
            subscriber,
            track,
            pt,
            rewriter: StreamRewriter::new(t.codec.clock_rate()),
            waiting_for_keyframe: video,
            paused,
            forwarded: 0,
            pauses: Pauses::default(),
        };
        let index = match self.free.pop() {
            Some(i) => {
                self.subs[i] = Some(sub);
                i
            }
            None => {
                self.subs.push(Some(sub));
                self.subs.len() - 1
            }
        };
        t.subscriptions.push(index);
        self.by_sink.insert(sink, index);
        if video && !paused {
            self.request_keyframe_for(track, now);
        }
        Ok(())
    }

    /// Audio first: pauses (or resumes) every video the subscriber receives, now and later, while
    /// its audio goes on. A resumed video starts again at a keyframe, which is requested now.
    /// Returns whether anything changed. Walks all subscriptions: for link decisions, a few times
    /// a minute at most, never per packet.
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
        for s in self.subs.iter_mut().flatten() {
            if s.subscriber != subscriber {
                continue;
            }
            let video = self
                .tracks
                .get(&s.track)
                .is_some_and(|t| t.codec.kind() == MediaKind::Video);
            if !video {
                continue;
            }
            s.paused = paused;
            s.waiting_for_keyframe = true;
            // Numbering goes on from the last packet it got, so it sees no gap to NACK.
            s.rewriter.rebase();
            if !paused && !resume.contains(&s.track) {
                resume.push(s.track);
            }
        }
        for track in resume {
            self.request_keyframe_for(track, now);
        }
        true
    }

    /// Whether the subscriber's video is paused to keep its audio.
    pub fn video_paused(&self, subscriber: ParticipantId) -> bool {
        self.video_paused.contains(&subscriber)
    }

    /// Every subscription, to read its continuity (for health samples, not per packet).
    pub fn subscriptions(&self) -> impl Iterator<Item = &Subscription> {
        self.subs.iter().flatten()
    }

    /// Every published track.
    pub fn tracks(&self) -> impl Iterator<Item = &PublishedTrack> {
        self.tracks.values()
    }

    /// Ends one subscription. Returns whether it existed.
    pub fn unsubscribe(&mut self, sink: SinkId) -> bool {
        let Some(index) = self.by_sink.remove(&sink) else {
            return false;
        };
        if let Some(s) = self.subs[index].take() {
            if let Some(t) = self.tracks.get_mut(&s.track) {
                t.subscriptions.retain(|&i| i != index);
            }
        }
        self.free.push(index);
        true
    }

    /// Ends every subscription of a subscriber (it left). Returns their sinks.
    pub fn unsubscribe_all(&mut self, subscriber: ParticipantId) -> Vec<SinkId> {
        self.video_paused.remove(&subscriber);
        let sinks: Vec<SinkId> = self
            .subs
            .iter()
            .flatten()
            .filter(|s| s.subscriber == subscriber)
            .map(|s| s.sink)
            .collect();
        for &s in &sinks {
            self.unsubscribe(s);
        }
        sinks
    }

    /// One packet from a publisher: appends one [`Forward`] per subscription that takes it to
    /// `out`. Returns how many were appended.
    pub fn forward(
        &mut self,
        track: TrackId,
        packet: &RtpIn,
        now: Instant,
        out: &mut Vec<Forward>,
    ) -> Result<usize, RouterError> {
        self.stats.received += 1;
        let Some(t) = self.tracks.get_mut(&track) else {
            self.stats.dropped_unknown_track += 1;
            return Err(RouterError::UnknownTrack(track));
        };
        t.packets += 1;
        t.bytes += packet.payload.len() as u64;
        let kind = t.codec.kind();
        let keyframe = t.codec == Codec::Vp8 && vp8::is_keyframe_start(&packet.payload);
        if keyframe {
            t.keyframes.keyframe_received();
        }
        let upstream_pause = t.continuity.packet(packet.timestamp, now);
        let before = out.len();
        for &i in &t.subscriptions {
            let Some(s) = self.subs[i].as_mut() else {
                continue;
            };
            if s.waiting_for_keyframe {
                if s.paused {
                    self.stats.dropped_paused += 1;
                    continue;
                }
                if !keyframe {
                    self.stats.dropped_waiting_keyframe += 1;
                    // A picture it had stops until the keyframe: its own freeze.
                    if s.forwarded > 0 {
                        s.pauses.skipped(now);
                    }
                    continue;
                }
                s.waiting_for_keyframe = false;
                s.pauses
                    .resumed(now, continuity::FREEZE_AFTER, upstream_pause);
            }
            let Some((seq, timestamp)) = s.rewriter.rewrite(packet.seq, packet.timestamp, now)
            else {
                self.stats.dropped_stale += 1;
                continue;
            };
            s.forwarded += 1;
            out.push(Forward {
                sink: s.sink,
                seq,
                timestamp,
                pt: s.pt,
                marker: packet.marker,
                kind,
                payload: packet.payload.clone(),
            });
        }
        let n = out.len() - before;
        self.stats.forwarded += n as u64;
        Ok(n)
    }

    /// A subscriber lost a picture (PLI/FIR) on `sink`: ask the publisher, aggregated.
    pub fn request_keyframe(&mut self, sink: SinkId, now: Instant) -> Result<(), RouterError> {
        let track = self
            .by_sink
            .get(&sink)
            .and_then(|&i| self.subs[i].as_ref())
            .map(|s| s.track)
            .ok_or(RouterError::UnknownSink(sink))?;
        self.request_keyframe_for(track, now);
        Ok(())
    }

    fn request_keyframe_for(&mut self, track: TrackId, now: Instant) {
        let Some(t) = self.tracks.get_mut(&track) else {
            return;
        };
        if t.keyframes.request(now) {
            self.events.push_back(RouterEvent::RequestKeyframe {
                track,
                owner: t.owner,
            });
        } else if !self.held_keyframes.contains(&track) {
            self.held_keyframes.push(track);
        }
    }

    /// When [`Router::handle_timeout`] next has work to do.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.held_keyframes
            .iter()
            .filter_map(|id| self.tracks.get(id))
            .filter_map(|t| t.keyframes.next_due())
            .min()
    }

    /// Time passes: releases keyframe requests held by aggregation.
    pub fn handle_timeout(&mut self, now: Instant) {
        let tracks = &mut self.tracks;
        let events = &mut self.events;
        self.held_keyframes.retain(|id| {
            let Some(t) = tracks.get_mut(id) else {
                return false;
            };
            if t.keyframes.poll(now) {
                events.push_back(RouterEvent::RequestKeyframe {
                    track: *id,
                    owner: t.owner,
                });
                return false;
            }
            t.keyframes.next_due().is_some()
        });
    }

    /// The next thing the edge must do.
    pub fn poll_event(&mut self) -> Option<RouterEvent> {
        self.events.pop_front()
    }

    /// A published track.
    pub fn track(&self, track: TrackId) -> Option<&PublishedTrack> {
        self.tracks.get(&track)
    }

    /// A subscription by its sink.
    pub fn subscription(&self, sink: SinkId) -> Option<&Subscription> {
        self.by_sink.get(&sink).and_then(|&i| self.subs[i].as_ref())
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
        r.publish(TrackId(1), ParticipantId(1), Codec::Vp8).unwrap();
        r
    }

    #[test]
    fn waiting_for_a_keyframe_is_the_subscribers_freeze_a_camera_pause_is_the_publishers() {
        let t0 = Instant::now();
        let ms = |n: u64| t0 + Duration::from_millis(n);
        let mut r = router_with_video();
        r.subscribe(TrackId(1), ParticipantId(2), SinkId(1), 96, t0)
            .unwrap();
        let mut out = Vec::new();
        // Waiting for the first keyframe is a start, not a freeze.
        r.forward(TrackId(1), &pkt(1, &DELTA), ms(0), &mut out)
            .unwrap();
        r.forward(TrackId(1), &pkt(2, &KEY), ms(900), &mut out)
            .unwrap();
        r.forward(TrackId(1), &pkt(3, &DELTA), ms(933), &mut out)
            .unwrap();
        // The camera stops for a second: the publisher's freeze only.
        r.forward(TrackId(1), &pkt(4, &DELTA), ms(1933), &mut out)
            .unwrap();
        let sub = |r: &Router| r.subscription(SinkId(1)).unwrap().pauses().count();
        assert_eq!(r.track(TrackId(1)).unwrap().continuity().gaps(), 2);
        assert_eq!(sub(&r), 0);
        // The stream restarts: the subscriber skips 700 ms of frames until the next keyframe.
        r.restart_track(TrackId(1), ms(1950)).unwrap();
        for (i, at) in (1966..2666).step_by(33).enumerate() {
            r.forward(TrackId(1), &pkt(5 + i as u16, &DELTA), ms(at), &mut out)
                .unwrap();
        }
        assert!(r
            .subscription(SinkId(1))
            .unwrap()
            .pauses()
            .stalled(ms(2600), continuity::FREEZE_AFTER));
        r.forward(TrackId(1), &pkt(40, &KEY), ms(2700), &mut out)
            .unwrap();
        assert_eq!(sub(&r), 1);
        assert_eq!(
            r.track(TrackId(1)).unwrap().continuity().gaps(),
            2,
            "the track kept coming"
        );
    }

    #[test]
    fn each_subscriber_gets_the_same_payload_with_its_own_pt_and_sink() {
        let now = Instant::now();
        let mut r = Router::new();
        r.publish(TrackId(7), ParticipantId(1), Codec::Opus)
            .unwrap();
        for s in 0..3 {
            r.subscribe(
                TrackId(7),
                ParticipantId(10 + s),
                SinkId(s),
                100 + s as u8,
                now,
            )
            .unwrap();
        }
        let mut out = Vec::new();
        let p = pkt(5, b"opus");
        assert_eq!(r.forward(TrackId(7), &p, now, &mut out).unwrap(), 3);
        for (i, f) in out.iter().enumerate() {
            assert_eq!(f.sink, SinkId(i as u64));
            assert_eq!(f.pt, 100 + i as u8);
            assert!(
                Arc::ptr_eq(&f.payload, &p.payload),
                "payload shared, not copied"
            );
        }
    }

    #[test]
    fn paused_video_keeps_audio_and_resumes_on_a_keyframe_without_a_gap() {
        let t0 = Instant::now();
        let ms = |m: u64| t0 + Duration::from_millis(m);
        let mut r = router_with_video();
        r.publish(TrackId(2), ParticipantId(1), Codec::Opus)
            .unwrap();
        r.subscribe(TrackId(1), ParticipantId(2), SinkId(1), 96, t0)
            .unwrap();
        r.subscribe(TrackId(2), ParticipantId(2), SinkId(2), 111, t0)
            .unwrap();
        while r.poll_event().is_some() {}
        let mut out = Vec::new();
        r.forward(TrackId(1), &pkt(1, &KEY), ms(0), &mut out)
            .unwrap();
        r.forward(TrackId(1), &pkt(2, &DELTA), ms(33), &mut out)
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
                TrackId(1),
                &pkt(3 + i, payload),
                ms(66 + 33 * u64::from(i)),
                &mut out,
            )
            .unwrap();
            r.forward(
                TrackId(2),
                &pkt(100 + i, b"opus"),
                ms(66 + 33 * u64::from(i)),
                &mut out,
            )
            .unwrap();
        }
        assert!(
            out.iter().all(|f| f.sink == SinkId(2)),
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
                track: TrackId(1),
                owner: ParticipantId(1)
            })
        );
        r.forward(TrackId(1), &pkt(40, &DELTA), ms(1110), &mut out)
            .unwrap();
        assert!(out.is_empty(), "waits for the keyframe");
        r.forward(TrackId(1), &pkt(41, &KEY), ms(1140), &mut out)
            .unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].seq, last + 1, "numbering goes on without a gap");
        let sub = r.subscription(SinkId(1)).unwrap();
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
        r.subscribe(TrackId(1), ParticipantId(2), SinkId(1), 96, now)
            .unwrap();
        assert_eq!(r.poll_event(), None);
        let mut out = Vec::new();
        r.forward(TrackId(1), &pkt(1, &KEY), now, &mut out).unwrap();
        assert!(out.is_empty());
        assert!(r.subscription(SinkId(1)).unwrap().paused());
    }

    #[test]
    fn video_subscription_starts_on_a_keyframe_and_asks_for_one() {
        let now = Instant::now();
        let mut r = router_with_video();
        r.subscribe(TrackId(1), ParticipantId(2), SinkId(1), 96, now)
            .unwrap();
        assert_eq!(
            r.poll_event(),
            Some(RouterEvent::RequestKeyframe {
                track: TrackId(1),
                owner: ParticipantId(1)
            })
        );
        let mut out = Vec::new();
        r.forward(TrackId(1), &pkt(1, &DELTA), now, &mut out)
            .unwrap();
        assert!(out.is_empty());
        r.forward(TrackId(1), &pkt(2, &KEY), now, &mut out).unwrap();
        r.forward(TrackId(1), &pkt(3, &DELTA), now, &mut out)
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
            r.subscribe(TrackId(1), ParticipantId(100 + s), SinkId(s), 96, t0)
                .unwrap();
        }
        for s in 0..20 {
            r.request_keyframe(SinkId(s), t0 + Duration::from_millis(s))
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
        let t = r.track(TrackId(1)).unwrap();
        assert_eq!(t.keyframe_request_counts(), (40, 2));
    }

    #[test]
    fn unpublish_ends_subscriptions_and_later_packets_are_counted_as_dropped() {
        let now = Instant::now();
        let mut r = router_with_video();
        r.subscribe(TrackId(1), ParticipantId(2), SinkId(9), 96, now)
            .unwrap();
        assert_eq!(r.unpublish(TrackId(1)).unwrap(), vec![SinkId(9)]);
        let mut out = Vec::new();
        assert_eq!(
            r.forward(TrackId(1), &pkt(1, &KEY), now, &mut out),
            Err(RouterError::UnknownTrack(TrackId(1)))
        );
        assert_eq!(r.stats().dropped_unknown_track, 1);
        assert!(r.subscription(SinkId(9)).is_none());
    }

    #[test]
    fn restart_keeps_each_subscriber_continuous() {
        let t0 = Instant::now();
        let mut r = router_with_video();
        r.subscribe(TrackId(1), ParticipantId(2), SinkId(1), 96, t0)
            .unwrap();
        let mut out = Vec::new();
        r.forward(TrackId(1), &pkt(100, &KEY), t0, &mut out)
            .unwrap();
        r.forward(TrackId(1), &pkt(101, &DELTA), t0, &mut out)
            .unwrap();
        let t1 = t0 + Duration::from_secs(1);
        r.restart_track(TrackId(1), t1).unwrap();
        r.forward(TrackId(1), &pkt(7, &DELTA), t1, &mut out)
            .unwrap();
        r.forward(TrackId(1), &pkt(8, &KEY), t1, &mut out).unwrap();
        assert_eq!(out.len(), 3);
        assert_eq!(out[2].seq, out[1].seq + 1);
    }

    #[test]
    fn slots_are_reused_and_sinks_are_unique() {
        let now = Instant::now();
        let mut r = router_with_video();
        r.subscribe(TrackId(1), ParticipantId(2), SinkId(1), 96, now)
            .unwrap();
        assert_eq!(
            r.subscribe(TrackId(1), ParticipantId(3), SinkId(1), 96, now),
            Err(RouterError::SinkInUse(SinkId(1)))
        );
        assert!(r.unsubscribe(SinkId(1)));
        assert!(!r.unsubscribe(SinkId(1)));
        r.subscribe(TrackId(1), ParticipantId(3), SinkId(2), 96, now)
            .unwrap();
        assert_eq!(r.unsubscribe_all(ParticipantId(3)), vec![SinkId(2)]);
        assert_eq!(r.track(TrackId(1)).unwrap().subscriber_count(), 0);
    }
}
