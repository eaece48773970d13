//! The bandwidth allocator: which layer of each video a subscriber receives, from its downlink
//! estimate. One allocator per subscriber.
//!
//! The order is the media policy's: all audio first (it is never cut here), then the videos by
//! [`Priority`] (the spotlit classroom and the teacher before the others, a shared screen before
//! a camera of the same rank), each at the best layer that fits what is left, at most the layer
//! its [`Demand::max_layer`] allows (a remote classroom's camera reaches the host at its lowest
//! layer unless spotlit). A video whose lowest layer does not fit gets no layer: it pauses,
//! lowest priority first, and its audio goes on: at once, except the teacher's (or the spotlit
//! classroom's) picture, which pauses once that has lasted [`PAUSE_AFTER`], so the dip of an
//! estimate while a switch settles does not take it away.
//!
//! Down at once, up with care: a lower layer is chosen the moment the estimate falls; a higher
//! one only when the estimate has room for it and [`UP_HOLD`] has passed since that video last
//! changed.
//! A delay-based estimate never rises far above what is sent, so when the next layer up does not
//! fit the allocator asks the edge to *probe*: to pad the subscriber's stream for [`PROBE_FOR`]
//! up to the rate that layer needs, but never more than [`PROBE_STEP`] times the estimate, so a
//! probe of a capped link overshoots it by little. A probe the link carries raises the estimate
//! and the next one follows at once (the estimate climbs in steps until the layer fits); one it
//! does not carry (or that the edge ends early on seeing a queue build,
//! [`BandwidthAllocator::probe_failed`]) makes the next wait twice as long, up to
//! [`PROBE_EVERY_MAX`]. A link that could not carry even the teacher's lowest layer is left alone
//! for [`PAUSED_PROBE_WAIT`] after the pause, one that made a video step down for
//! [`DOWN_PROBE_WAIT`].
//!
//! Sans-I/O: estimates, bitrates and `Instant`s in, targets out; it allocates nothing once its
//! buffers have grown.

use std::time::{Duration, Instant};

use crate::{ConsumerId, Layer, MAX_LAYERS};

/// Time after a layer change before a higher layer may be chosen or probed for.
pub const UP_HOLD: Duration = Duration::from_secs(2);
/// How long a probe pads the stream.
pub const PROBE_FOR: Duration = Duration::from_millis(700);
/// The most a probe asks for, as a multiple of the estimate.
pub const PROBE_STEP: f64 = 1.3;
/// The first wait between probes, doubled after each that failed.
pub const PROBE_EVERY: Duration = Duration::from_secs(3);
/// The longest wait between probes.
pub const PROBE_EVERY_MAX: Duration = Duration::from_secs(6);
/// Share of the estimate the allocator gives out (the rest absorbs the estimate's error and
/// retransmissions).
pub const HEADROOM: f64 = 0.9;
/// After the teacher's picture paused for want of bandwidth, how long until the link is probed
/// again (each probe of a link that is full costs it some audio).
pub const PAUSED_PROBE_WAIT: Duration = Duration::from_secs(16);
/// After a video stepped down a layer because the estimate fell, how long until the link is
/// probed again: it just showed itself full, and a probe into a full queue loses media.
pub const DOWN_PROBE_WAIT: Duration = PROBE_EVERY_MAX;

/// Share of a probe's rate the link must deliver for the probe to count as carried.
pub const DELIVERED: f64 = 0.85;

/// What is known of a subscriber's downlink.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Link {
    /// The estimate from its feedback (`None`: no feedback).
    pub estimate_bps: Option<u64>,
    /// What it acknowledged receiving over the last half second.
    pub delivered_bps: Option<u64>,
}

/// What an audio stream is counted at before its bitrate is measured.
pub const AUDIO_BPS: u64 = 48_000;
/// How long after the first estimate no video is paused for want of bandwidth: the estimate
/// starts from what the first feedback acknowledged, a fraction of what the link carries, and
/// takes probes to climb.
pub const STARTUP: Duration = Duration::from_secs(3);
/// How long a video's lowest layer must not fit before it is paused.
pub const PAUSE_AFTER: Duration = Duration::from_secs(2);

/// How much a video matters to this subscriber.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Priority {
    /// Other participants' cameras.
    Normal,
    /// A shared screen (courseware is read).
    Screen,
    /// The spotlit classroom, the teacher's camera.
    High,
}

/// One stream a subscriber receives, as the allocator sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Demand {
    pub consumer: ConsumerId,
    /// `None`: audio, always sent.
    pub priority: Option<Priority>,
    /// The bitrate each layer arrives at (`None`: not arriving, so not chosen). A producer
    /// without simulcast has only layer 0.
    pub layers: [Option<u64>; MAX_LAYERS as usize],
    /// The highest layer it may get.
    pub max_layer: Layer,
    /// The layer it has been given, as the router holds it (`None`: paused).
    pub current: Option<Layer>,
}

impl Demand {
    fn bitrate(&self, layer: Layer) -> Option<u64> {
        self.layers.get(layer.index()).copied().flatten()
    }

    /// The highest layer within `max_layer` that arrives and costs at most `room`.
    fn best_within(&self, room: f64) -> Option<Layer> {
        (0..=self.max_layer.0.min(MAX_LAYERS - 1))
            .rev()
            .map(Layer)
            .find(|&l| self.bitrate(l).is_some_and(|b| b as f64 <= room))
    }

    /// The next layer above `layer` that arrives, within `max_layer`.
    fn next_up(&self, layer: Option<Layer>) -> Option<Layer> {
        let from = layer.map_or(0, |l| l.0 + 1);
        (from..=self.max_layer.0.min(MAX_LAYERS - 1))
            .map(Layer)
            .find(|&l| self.bitrate(l).is_some())
    }
}

/// A change the allocator decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    pub consumer: ConsumerId,
    pub layer: Option<Layer>,
}

/// What the edge must do for this subscriber.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Allocation {
    /// Pad the subscriber's stream up to this rate (bits per second) until this instant.
    pub probe: Option<(u64, Instant)>,
    /// Bits per second the chosen layers and the audio take.
    pub allocated_bps: u64,
    /// Videos that have no layer now (paused for want of bandwidth).
    pub paused: usize,
    /// The link is full: the teacher's (or the spotlit classroom's) picture is below the best
    /// layer it may have, or a video is paused. (Other cameras below their best are the media
    /// policy at work on any link whose estimate hugs what is sent.)
    pub short: usize,
}

/// One subscriber's allocator. See the module documentation.
#[derive(Debug, Clone, Default)]
pub struct BandwidthAllocator {
    /// When each video's layer last changed: it goes up again only [`UP_HOLD`] later.
    changed_at: Vec<(ConsumerId, Instant)>,
    next_probe: Option<Instant>,
    probe_every: Duration,
    probing: Option<(u64, Instant)>,
    order: Vec<usize>,
    /// Videos still flowing whose lowest layer has not fitted since then.
    short_since: Vec<(ConsumerId, Instant)>,
    /// When the first estimate came.
    first_estimate: Option<Instant>,
}

impl BandwidthAllocator {
    /// A subscriber's allocator, before any estimate.
    pub fn new() -> Self {
        Self {
            probe_every: PROBE_EVERY,
            ..Self::default()
        }
    }

    /// Whether a probe is under way at `now`.
    pub fn probing(&self, now: Instant) -> bool {
        self.probing.is_some_and(|(_, until)| now < until)
    }

    /// The edge saw the probe build a queue (or lose packets): it ends now, and the next one
    /// waits longer.
    pub fn probe_failed(&mut self, now: Instant) {
        if self.probing.take().is_some() {
            self.probe_every = (self.probe_every * 2).min(PROBE_EVERY_MAX);
            self.next_probe = Some(now + self.probe_every);
        }
    }

    /// Chooses every video's layer for an estimate of `estimate_bps` (`None`: no feedback, so
    /// nothing is known to be too much: every video gets its best layer), a probe judged by
    /// the estimate alone. The changes go to `changes`, for the router's
    /// [`crate::Router::set_target`].
    pub fn allocate(
        &mut self,
        estimate_bps: Option<u64>,
        demands: &[Demand],
        now: Instant,
        changes: &mut Vec<Target>,
    ) -> Allocation {
        let link = Link {
            estimate_bps,
            delivered_bps: estimate_bps,
        };
        self.allocate_for(link, demands, now, changes)
    }

    /// [`BandwidthAllocator::allocate`] for a link whose estimate and delivered rate are known:
    /// a probe counts as carried only if the subscriber acknowledged receiving its rate (an
    /// estimate may stand above what a slow link delivers while no queue shows yet).
    pub fn allocate_for(
        &mut self,
        link: Link,
        demands: &[Demand],
        now: Instant,
        changes: &mut Vec<Target>,
    ) -> Allocation {
        let estimate_bps = link.estimate_bps;
        // A probe that ran its time: carried if the link delivered what it asked for.
        let ended = self
            .probing
            .filter(|&(_, until)| now >= until)
            .map(|(bps, _)| {
                let delivered = link.delivered_bps.min(estimate_bps);
                delivered.is_some_and(|d| d as f64 >= bps as f64 * DELIVERED)
            });
        if ended.is_some() {
            self.probing = None;
        }
        let budget = estimate_bps.map_or(f64::INFINITY, |e| e as f64 * HEADROOM);
        let audio: u64 = demands
            .iter()
            .filter(|d| d.priority.is_none())
            .map(|d| d.bitrate(Layer::BASE).unwrap_or(AUDIO_BPS))
            .sum();
        let mut room = budget - audio as f64;
        self.order.clear();
        self.order
            .extend((0..demands.len()).filter(|&i| demands[i].priority.is_some()));
        self.order
            .sort_by_key(|&i| (std::cmp::Reverse(demands[i].priority), demands[i].consumer));
        self.changed_at
            .retain(|(id, _)| demands.iter().any(|d| d.consumer == *id));
        if estimate_bps.is_some() && self.first_estimate.is_none() {
            self.first_estimate = Some(now);
        }
        let starting = self
            .first_estimate
            .is_none_or(|t| now.saturating_duration_since(t) < STARTUP);
        let mut allocated = audio;
        let mut paused = 0;
        let mut short = 0;
        // The most wanted video that could go up a layer: whether its hold is over, and what
        // that layer costs more.
        let mut wants_more: Option<(bool, u64)> = None;
        let mut changed = false;
        // A video that just paused for want of bandwidth: the link showed it cannot carry even
        // its lowest layer, so it is not probed again for a while.
        let mut pausing = false;
        // A video that went down a layer (or paused) because the estimate fell.
        let mut stepped_down = false;
        for &i in &self.order {
            let d = &demands[i];
            if d.next_up(None).is_none() {
                // None of the layers it may have arrives yet: nothing to choose from, and
                // nothing it costs.
                continue;
            }
            let decided = self.changed_at.iter().find(|(id, _)| *id == d.consumer);
            let settled = decided.is_none_or(|&(_, t)| now.saturating_duration_since(t) >= UP_HOLD);
            let mut fits = d.best_within(room);
            if fits.is_none() && d.priority == Some(Priority::High) {
                // The teacher's lowest layer may use the headroom too, rather than pause.
                fits = d
                    .best_within(room + budget / HEADROOM * (1.0 - HEADROOM))
                    .filter(|&l| Some(l) == d.next_up(None));
            }
            let chosen = match (fits, d.current) {
                // Up only once its hold is over; until then it keeps what it has.
                (Some(f), Some(c)) if f > c && !settled => Some(c),
                (Some(f), None) if !settled && estimate_bps.is_some() && f > Layer::BASE => {
                    Some(Layer::BASE).filter(|_| d.bitrate(Layer::BASE).is_some())
                }
                // Not even the lowest layer fits, while the estimate is still finding its feet
                // (it starts from what little was sent): nothing pauses, all at their lowest
                // arriving layer (which may be above the one it had: a publisher's layers start
                // in any order).
                (None, Some(_)) if starting => d.next_up(None),
                // Not even the lowest layer fits: the teacher's picture is paused once that has
                // lasted, any other at once.
                (None, Some(_)) if d.priority == Some(Priority::High) => {
                    let since = match self.short_since.iter().find(|(id, _)| *id == d.consumer) {
                        Some(&(_, t)) => t,
                        None => {
                            self.short_since.push((d.consumer, now));
                            now
                        }
                    };
                    d.next_up(None)
                        .filter(|_| now.saturating_duration_since(since) < PAUSE_AFTER)
                }
                // A video not started yet: its lowest layer, whatever the estimate says, while
                // the estimate finds its feet, and for the teacher's picture. Until a video
                // flows the estimate measures only what does (the audio), so it would never
                // fit; once it flows, the rules above judge it.
                (None, None)
                    if decided.is_none() && (starting || d.priority == Some(Priority::High)) =>
                {
                    d.next_up(None)
                }
                (f, _) => f,
            };
            if fits.is_some() || chosen.is_none() {
                self.short_since.retain(|(id, _)| *id != d.consumer);
            }
            if chosen < d.best_within(f64::INFINITY)
                && (chosen.is_none() || d.priority == Some(Priority::High))
            {
                short += 1;
            }
            if let Some(l) = chosen {
                let cost = d.bitrate(l).unwrap_or(0);
                room -= cost as f64;
                allocated += cost;
            } else {
                paused += 1;
            }
            if wants_more.is_none() {
                if let Some(up) = d.next_up(chosen) {
                    let now_cost = chosen.and_then(|l| d.bitrate(l)).unwrap_or(0);
                    let extra = d.bitrate(up).map(|b| b.saturating_sub(now_cost));
                    wants_more = extra.map(|e| (settled && chosen == d.current, e));
                }
            }
            if chosen != d.current {
                changed = true;
                pausing |= chosen.is_none() && d.priority == Some(Priority::High);
                // Not a layer that stopped arriving or is no longer wanted: the link.
                let congested = d.current <= d.best_within(f64::INFINITY);
                stepped_down |= chosen < d.current && congested && !starting;
                self.changed_at.retain(|(id, _)| *id != d.consumer);
                self.changed_at.push((d.consumer, now));
                changes.push(Target {
                    consumer: d.consumer,
                    layer: chosen,
                });
            }
        }
        if pausing || stepped_down {
            self.probing = None;
            self.probe_every = PROBE_EVERY_MAX;
            let wait = if pausing {
                PAUSED_PROBE_WAIT
            } else {
                DOWN_PROBE_WAIT
            };
            self.next_probe = Some(now + wait);
        } else if changed {
            if ended.is_some() || self.probing.is_some() {
                // The probe found the room it looked for.
                self.probing = None;
                self.probe_every = PROBE_EVERY;
            }
        } else if ended == Some(true) {
            // Carried but not yet enough: the next step at once.
            self.probe_every = PROBE_EVERY;
            self.next_probe = Some(now);
        } else if ended == Some(false) {
            // The link did not carry the probe: wait longer before the next one.
            self.probe_every = (self.probe_every * 2).min(PROBE_EVERY_MAX);
            self.next_probe = Some(now + self.probe_every);
        }
        let probe_due = self.next_probe.is_none_or(|t| now >= t);
        let idle = !changed && self.probing.is_none();
        if let (Some((true, extra)), Some(estimate), true, true) =
            (wants_more, estimate_bps, probe_due, idle)
        {
            let need = (allocated + extra) as f64 / HEADROOM;
            let bps = need.min(estimate.max(allocated) as f64 * PROBE_STEP) as u64;
            self.probing = Some((bps, now + PROBE_FOR));
        }
        Allocation {
            probe: self.probing.filter(|&(_, until)| now < until),
            allocated_bps: allocated,
            paused,
            short,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOW: u64 = 150_000;
    const MID: u64 = 500_000;
    const HIGH: u64 = 1_300_000;

    fn camera(consumer: u32, priority: Priority, current: Option<Layer>) -> Demand {
        Demand {
            consumer: ConsumerId(consumer),
            priority: Some(priority),
            layers: [Some(LOW), Some(MID), Some(HIGH), None],
            max_layer: Layer(2),
            current,
        }
    }

    fn audio(consumer: u32) -> Demand {
        Demand {
            consumer: ConsumerId(consumer),
            priority: None,
            layers: [Some(40_000), None, None, None],
            max_layer: Layer::BASE,
            current: Some(Layer::BASE),
        }
    }

    /// Applies the changes to the demands, as the router would.
    fn apply(demands: &mut [Demand], changes: &mut Vec<Target>) {
        for t in changes.drain(..) {
            if let Some(d) = demands.iter_mut().find(|d| d.consumer == t.consumer) {
                d.current = t.layer;
            }
        }
    }

    fn layer_of(demands: &[Demand], c: u32) -> Option<Layer> {
        demands
            .iter()
            .find(|d| d.consumer == ConsumerId(c))
            .unwrap()
            .current
    }

    #[test]
    fn the_teacher_gets_the_best_layer_that_fits_then_the_others_then_pauses() {
        let t0 = Instant::now();
        let mut a = BandwidthAllocator::new();
        let mut changes = Vec::new();
        let mut d = [
            audio(0),
            camera(1, Priority::Normal, Some(Layer(0))),
            camera(2, Priority::High, Some(Layer(0))),
        ];
        // 2.2 Mbit/s: 1.98 to give, 40 k audio; the teacher at the top, the other in the middle.
        a.allocate(Some(2_200_000), &d, t0, &mut changes);
        apply(&mut d, &mut changes);
        assert_eq!(layer_of(&d, 2), Some(Layer(2)));
        assert_eq!(layer_of(&d, 1), Some(Layer(1)));
        // The link falls to 400 k: down at once, the teacher first.
        let t1 = t0 + Duration::from_millis(200);
        let out = a.allocate(Some(400_000), &d, t1, &mut changes);
        apply(&mut d, &mut changes);
        assert_eq!(
            layer_of(&d, 2),
            Some(Layer(0)),
            "the teacher at the low layer"
        );
        assert_eq!(layer_of(&d, 1), Some(Layer(0)));
        assert_eq!(out.allocated_bps, 40_000 + 2 * LOW);
        // 220 k: the teacher's low layer only; the other classroom pauses at once (once the
        // estimate has had its first seconds).
        let t1 = t0 + STARTUP;
        let out = a.allocate(Some(220_000), &d, t1, &mut changes);
        apply(&mut d, &mut changes);
        assert_eq!(layer_of(&d, 2), Some(Layer(0)));
        assert_eq!(layer_of(&d, 1), None);
        assert_eq!(out.paused, 1);
        // 60 k: the teacher's picture survives a dip, and pauses once it lasts.
        let t2 = t1 + Duration::from_millis(100);
        a.allocate(Some(60_000), &d, t2, &mut changes);
        assert!(changes.is_empty(), "a dip does not take the teacher away");
        let out = a.allocate(Some(60_000), &d, t2 + PAUSE_AFTER, &mut changes);
        apply(&mut d, &mut changes);
        assert_eq!((layer_of(&d, 2), layer_of(&d, 1)), (None, None));
        assert_eq!(out.paused, 2);
        // The link just showed it cannot carry a picture: no probe for a while.
        let paused_at = t2 + PAUSE_AFTER;
        let soon = a.allocate(
            Some(60_000),
            &d,
            paused_at + Duration::from_secs(10),
            &mut changes,
        );
        assert_eq!(soon.probe, None);
        let later = a.allocate(
            Some(60_000),
            &d,
            paused_at + PAUSED_PROBE_WAIT,
            &mut changes,
        );
        assert!(later.probe.is_some());
        assert_eq!(layer_of(&d, 0), Some(Layer::BASE), "audio is never cut");
    }

    #[test]
    fn up_waits_for_probes_that_the_link_carries_and_for_the_hold() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut a = BandwidthAllocator::new();
        let mut changes = Vec::new();
        let mut d = [audio(0), camera(1, Priority::High, Some(Layer(0)))];
        // Capped: the estimate sits at 280 k and the low layer stays. A probe toward the middle
        // layer is asked for at once, but only a step above the estimate.
        let out = a.allocate(Some(280_000), &d, at(0), &mut changes);
        assert!(changes.is_empty());
        let (bps, until) = out.probe.expect("a probe");
        assert_eq!(bps, (280_000.0 * PROBE_STEP) as u64);
        assert_eq!(until, at(0) + PROBE_FOR);
        assert!(a.probing(at(500)));
        // The capped link does not carry it: nothing changes and the next probe waits longer.
        let out = a.allocate(Some(260_000), &d, at(800), &mut changes);
        assert_eq!((out.probe, changes.len()), (None, 0));
        assert_eq!(a.probe_every, PROBE_EVERY * 2);
        let later = at(800) + PROBE_EVERY * 2;
        let early = a.allocate(
            Some(260_000),
            &d,
            later - Duration::from_millis(100),
            &mut changes,
        );
        assert_eq!(early.probe, None);
        assert!(a
            .allocate(Some(260_000), &d, later, &mut changes)
            .probe
            .is_some());
        // One the edge ends early (a queue built) counts as not carried.
        a.probe_failed(later + Duration::from_millis(300));
        assert!(!a.probing(later + Duration::from_millis(301)));
        assert_eq!(a.probe_every, PROBE_EVERY_MAX);
        let mut now = later + Duration::from_millis(300) + PROBE_EVERY_MAX;
        let (mut bps, mut until) = a
            .allocate(Some(260_000), &d, now, &mut changes)
            .probe
            .unwrap();
        // The cap is lifted: each probe is carried, the next follows at once a step higher,
        // until the middle layer fits and is taken.
        let mut steps = 0;
        while changes.is_empty() {
            steps += 1;
            assert!(steps < 10, "climbs in a few steps");
            now = until;
            let carried = bps;
            if let Some(next) = a.allocate(Some(carried), &d, now, &mut changes).probe {
                assert!(next.0 > carried, "a step up");
                (bps, until) = next;
            }
        }
        apply(&mut d, &mut changes);
        assert_eq!(layer_of(&d, 1), Some(Layer(1)));
        assert!(steps >= 2, "{steps} steps");
        assert_eq!(
            a.probe_every, PROBE_EVERY,
            "probes that found room reset the wait"
        );
        // Even with room for the top layer, the next step up waits for the hold.
        a.allocate(
            Some(2_000_000),
            &d,
            now + Duration::from_secs(1),
            &mut changes,
        );
        assert!(changes.is_empty());
        a.allocate(Some(2_000_000), &d, now + UP_HOLD, &mut changes);
        apply(&mut d, &mut changes);
        assert_eq!(layer_of(&d, 1), Some(Layer(2)));
    }

    #[test]
    fn a_link_that_made_a_video_step_down_is_not_probed_for_a_while() {
        let t0 = Instant::now() + STARTUP;
        let mut a = BandwidthAllocator::new();
        let mut changes = Vec::new();
        let mut d = [audio(0), camera(1, Priority::High, Some(Layer(0)))];
        a.allocate(Some(3_000_000), &d, t0 - STARTUP, &mut changes);
        a.allocate(Some(3_000_000), &d, t0, &mut changes);
        apply(&mut d, &mut changes);
        assert_eq!(layer_of(&d, 1), Some(Layer(2)));
        // Capped: the estimate falls and the teacher goes down to the low layer; it would want
        // the middle one back, but the full link is left alone.
        let down = t0 + Duration::from_secs(5);
        let out = a.allocate(Some(280_000), &d, down, &mut changes);
        apply(&mut d, &mut changes);
        assert_eq!(layer_of(&d, 1), Some(Layer(0)));
        assert_eq!(out.probe, None);
        assert_eq!(out.short, 1, "below the best it may have");
        for s in 1..DOWN_PROBE_WAIT.as_secs() {
            let out = a.allocate(
                Some(280_000),
                &d,
                down + Duration::from_secs(s),
                &mut changes,
            );
            assert_eq!(out.probe, None, "no probe {s} s after the step down");
        }
        let out = a.allocate(Some(280_000), &d, down + DOWN_PROBE_WAIT, &mut changes);
        assert!(
            out.probe.is_some(),
            "probed again after {DOWN_PROBE_WAIT:?}"
        );
        // A layer that stops arriving is not the link's doing: no wait after that.
        let mut b = BandwidthAllocator::new();
        let mut d = [audio(0), camera(1, Priority::High, Some(Layer(2)))];
        b.allocate(Some(3_000_000), &d, t0 - STARTUP, &mut changes);
        b.allocate(Some(3_000_000), &d, t0, &mut changes);
        apply(&mut d, &mut changes);
        d[1].layers[2] = None;
        b.allocate(Some(800_000), &d, down, &mut changes);
        apply(&mut d, &mut changes);
        assert_eq!(layer_of(&d, 1), Some(Layer(1)));
        assert_eq!(b.next_probe.filter(|&t| t > down), None);
    }

    #[test]
    fn a_new_video_starts_at_its_lowest_layer_though_the_estimate_counts_only_audio() {
        let t0 = Instant::now();
        let mut a = BandwidthAllocator::new();
        let mut changes = Vec::new();
        // The first feedback acknowledged the audio alone: 60 k, less than any picture.
        let mut d = [audio(0), camera(1, Priority::Normal, None)];
        a.allocate(Some(60_000), &d, t0, &mut changes);
        apply(&mut d, &mut changes);
        assert_eq!(layer_of(&d, 1), Some(Layer(0)), "starts at the lowest");
        // Once the estimate has had its first seconds, a new camera that does not fit stays
        // off (a probe finds it room), but the teacher's starts and has its grace.
        let later = t0 + STARTUP;
        let mut d = [
            audio(0),
            camera(1, Priority::Normal, Some(Layer(0))),
            camera(2, Priority::Normal, None),
            camera(3, Priority::High, None),
        ];
        a.allocate(Some(250_000), &d, later, &mut changes);
        apply(&mut d, &mut changes);
        assert_eq!(
            (layer_of(&d, 1), layer_of(&d, 2), layer_of(&d, 3)),
            (None, None, Some(Layer(0))),
            "the teacher's camera first; no room for the others"
        );
        a.allocate(Some(60_000), &d, later, &mut changes);
        assert!(changes.is_empty(), "the teacher's camera has its grace");
        a.allocate(Some(60_000), &d, later + PAUSE_AFTER, &mut changes);
        apply(&mut d, &mut changes);
        assert_eq!(layer_of(&d, 3), None, "paused once it did not fit for long");
        // Paused for want of bandwidth, it is no longer new: it stays off.
        a.allocate(Some(60_000), &d, later + PAUSE_AFTER * 2, &mut changes);
        assert!(changes.is_empty());
    }

    #[test]
    fn a_video_whose_lowest_layer_has_not_arrived_yet_starts_on_the_next() {
        let t0 = Instant::now();
        let mut a = BandwidthAllocator::new();
        let mut changes = Vec::new();
        // A new consumer starts at layer 0 (the router's), but the publisher's 180p has not
        // arrived yet while its 360p has; the first estimate is tiny.
        let mut cam = camera(1, Priority::High, Some(Layer(0)));
        cam.layers[0] = None;
        let mut d = [audio(0), cam];
        a.allocate(Some(30_000), &d, t0, &mut changes);
        apply(&mut d, &mut changes);
        assert_eq!(
            layer_of(&d, 1),
            Some(Layer(1)),
            "not paused: the lowest that arrives"
        );
        // Once 180p arrives it is the one the link's estimate allows.
        d[1].layers[0] = Some(LOW);
        a.allocate(
            Some(230_000),
            &d,
            t0 + Duration::from_millis(500),
            &mut changes,
        );
        apply(&mut d, &mut changes);
        assert_eq!(layer_of(&d, 1), Some(Layer(0)));
    }

    #[test]
    fn a_probe_counts_as_carried_only_if_the_link_delivered_it() {
        let t0 = Instant::now();
        let mut a = BandwidthAllocator::new();
        let mut changes = Vec::new();
        let d = [audio(0), camera(1, Priority::High, Some(Layer(0)))];
        let (bps, until) = a
            .allocate(Some(280_000), &d, t0, &mut changes)
            .probe
            .unwrap();
        // The estimate crept up meanwhile, but the slow link delivered what it delivers.
        let link = Link {
            estimate_bps: Some(bps),
            delivered_bps: Some(250_000),
        };
        let out = a.allocate_for(link, &d, until, &mut changes);
        assert_eq!(out.probe, None);
        assert_eq!(
            a.probe_every,
            PROBE_EVERY * 2,
            "not carried: the next waits longer"
        );
    }

    #[test]
    fn a_cap_a_missing_layer_and_no_estimate() {
        let t0 = Instant::now();
        let mut a = BandwidthAllocator::new();
        let mut changes = Vec::new();
        // A classroom's camera to the host: the low layer however good the link.
        let mut capped = camera(1, Priority::Normal, Some(Layer(0)));
        capped.max_layer = Layer(0);
        // The top layer is not arriving (the publisher's uplink dropped it).
        let mut partial = camera(2, Priority::High, Some(Layer(0)));
        partial.layers[2] = None;
        let mut d = [capped, partial];
        a.allocate(Some(10_000_000), &d, t0, &mut changes);
        apply(&mut d, &mut changes);
        assert_eq!(layer_of(&d, 1), Some(Layer(0)));
        assert_eq!(layer_of(&d, 2), Some(Layer(1)));
        // The teacher's lowest layer may use the headroom: at 195 k (155 k after the audio, but
        // only 135 k within the headroom) the teacher keeps 180p, another camera would pause.
        let mut d = [
            audio(5),
            camera(6, Priority::High, Some(Layer(0))),
            camera(7, Priority::Normal, Some(Layer(0))),
        ];
        let mut c = BandwidthAllocator::new();
        c.allocate(Some(195_000), &d, t0, &mut changes);
        apply(&mut d, &mut changes);
        assert_eq!(
            (layer_of(&d, 6), layer_of(&d, 7)),
            (Some(Layer(0)), Some(Layer(0))),
            "in the estimate's first seconds nothing pauses"
        );
        c.allocate(Some(195_000), &d, t0 + STARTUP, &mut changes);
        apply(&mut d, &mut changes);
        assert_eq!((layer_of(&d, 6), layer_of(&d, 7)), (Some(Layer(0)), None));
        // Nothing arrives yet: it keeps what it has.
        let mut silent = camera(4, Priority::High, Some(Layer(0)));
        silent.layers = [None; MAX_LAYERS as usize];
        a.allocate(Some(10_000_000), &[silent], t0, &mut changes);
        assert!(changes.is_empty());
        // No feedback at all: nothing is known to be too much.
        let mut b = BandwidthAllocator::new();
        let mut d = [camera(3, Priority::Normal, Some(Layer(0)))];
        let out = b.allocate(None, &d, t0, &mut changes);
        apply(&mut d, &mut changes);
        assert_eq!(layer_of(&d, 3), Some(Layer(2)));
        assert_eq!(out.probe, None);
    }
}
