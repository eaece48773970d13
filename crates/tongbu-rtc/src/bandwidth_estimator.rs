//! A subscriber's downlink estimate from its transport-wide feedback: how many bits per second
//! can be sent to it without building a queue or losing packets. The simulcast allocator reads it
//! to choose layers; health reports it.
//!
//! The method is Google congestion control's (draft-ietf-rmcat-gcc-02), reduced to its parts
//! that need no probing:
//! - **delay**: packets are grouped into 5 ms bursts by send time; the change in one-way delay
//!   between groups is accumulated, smoothed, and its trend over the last 20 groups (a least
//!   squares slope) is compared with an adaptive threshold: a growing queue is *overuse*;
//! - **rate**: on overuse the estimate falls to 0.85× what the subscriber acknowledged receiving
//!   in the last half second; otherwise it is at least that rate and grows by 8 % a second, never
//!   beyond 1.5× it (nothing above has been shown to fit);
//! - **loss**: over 10 % lost cuts the estimate by half the loss fraction, never below half of
//!   what was acknowledged; under 2 % lets it grow.
//!
//! Sans-I/O: results and `Instant`s in, an estimate out; no allocation per packet.

use std::time::{Duration, Instant};

use crate::twcc::PacketResult;

const BURST: Duration = Duration::from_millis(5);
const TREND_WINDOW: usize = 20;
const SMOOTHING: f64 = 0.9;
const TREND_GAIN: f64 = 4.0;
const ACKED_WINDOW_US: i64 = 500_000;
const MIN_BPS: f64 = 30_000.0;
const MAX_BPS: f64 = 50_000_000.0;
/// How soon after a decrease the estimate may fall again (about a round trip and a feedback
/// interval: the queue needs that long to show the first cut).
const REACTION: Duration = Duration::from_millis(300);

/// What the delay trend says about the path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Usage {
    #[default]
    Normal,
    /// A queue is building: send less.
    Overusing,
    /// A queue is draining: hold.
    Underusing,
}

/// The packets one feedback acknowledged: when the first and the last arrived, the first's
/// size and all their bytes.
#[derive(Debug, Clone, Copy)]
struct Batch {
    first: i64,
    first_size: u32,
    last: i64,
    bytes: u32,
}

const NO_BATCH: Batch = Batch {
    first: i64::MIN,
    first_size: 0,
    last: i64::MIN,
    bytes: 0,
};

#[derive(Debug, Clone, Copy)]
struct Group {
    first_send: Instant,
    last_send: Instant,
    last_arrival_us: i64,
}

/// The estimate of one subscriber's downlink. Feed every feedback packet's results with
/// [`BandwidthEstimator::on_packet`], then close it with [`BandwidthEstimator::on_feedback`].
#[derive(Debug, Clone)]
pub struct BandwidthEstimator {
    estimate_bps: Option<f64>,
    usage: Usage,
    // The delay trend.
    current: Option<Group>,
    previous: Option<Group>,
    first_arrival_us: Option<i64>,
    accumulated_ms: f64,
    smoothed_ms: f64,
    trend: [(f64, f64); TREND_WINDOW],
    trend_len: usize,
    trend_at: usize,
    threshold_ms: f64,
    last_threshold_update: Option<Instant>,
    overuse_since: Option<Instant>,
    previous_trend: f64,
    // The acknowledged rate: each feedback's first and last arrival and its bytes, for the
    // last half second.
    acked: [Batch; 64],
    acked_at: usize,
    newest_arrival_us: i64,
    // Loss.
    batch_received: u32,
    batch_lost: u32,
    /// Fraction lost in the last feedback packet.
    last_batch_loss: f32,
    loss: f64,
    last_decrease: Option<Instant>,
    last_update: Option<Instant>,
    batch_bytes: u32,
    batch_first_arrival_us: i64,
    batch_first_size: u32,
}

impl Default for BandwidthEstimator {
    fn default() -> Self {
        Self {
            estimate_bps: None,
            usage: Usage::Normal,
            current: None,
            previous: None,
            first_arrival_us: None,
            accumulated_ms: 0.0,
            smoothed_ms: 0.0,
            trend: [(0.0, 0.0); TREND_WINDOW],
            trend_len: 0,
            trend_at: 0,
            threshold_ms: 12.5,
            last_threshold_update: None,
            overuse_since: None,
            previous_trend: 0.0,
            acked: [NO_BATCH; 64],
            acked_at: 0,
            newest_arrival_us: i64::MIN,
            batch_received: 0,
            batch_lost: 0,
            last_batch_loss: 0.0,
            loss: 0.0,
            last_decrease: None,
            last_update: None,
            batch_bytes: 0,
            batch_first_arrival_us: i64::MAX,
            batch_first_size: 0,
        }
    }
}

impl BandwidthEstimator {
    /// The estimate, bits per second (`None` before the first feedback with arrivals).
    pub fn estimate_bps(&self) -> Option<u64> {
        self.estimate_bps.map(|b| b as u64)
    }

    /// Smoothed fraction of packets lost (0–1), from the feedback.
    pub fn loss(&self) -> f32 {
        self.loss as f32
    }

    /// Fraction of packets the last feedback reported lost (0–1): a queue overflowing shows
    /// here a few feedback intervals before the smoothed loss or the delay trend say so.
    pub fn last_batch_loss(&self) -> f32 {
        self.last_batch_loss
    }

    /// What the delay trend says now.
    pub fn usage(&self) -> Usage {
        self.usage
    }

    /// What the subscriber acknowledged receiving in the last half second, bits per second.
    pub fn acked_bps(&self) -> Option<f64> {
        let newest = self.newest_arrival_us;
        if newest == i64::MIN {
            return None;
        }
        let mut bytes = 0u64;
        let mut oldest = NO_BATCH;
        for b in &self.acked {
            if b.last != i64::MIN && newest - b.last < ACKED_WINDOW_US {
                bytes += u64::from(b.bytes);
                if oldest.last == i64::MIN || b.first < oldest.first {
                    oldest = *b;
                }
            }
        }
        // N packets arrive over N - 1 gaps: the earliest one's bytes came before the window.
        bytes = bytes.saturating_sub(u64::from(oldest.first_size));
        let span = (newest - oldest.first).max(100_000) as f64 / 1e6;
        Some(bytes as f64 * 8.0 / span)
    }

    /// One packet of a feedback packet, in sequence order.
    pub fn on_packet(&mut self, r: &PacketResult, now: Instant) {
        let Some(arrival) = r.arrival_us else {
            self.batch_lost += 1;
            return;
        };
        self.batch_received += 1;
        self.batch_bytes += u32::from(r.size);
        if arrival < self.batch_first_arrival_us {
            self.batch_first_arrival_us = arrival;
            self.batch_first_size = u32::from(r.size);
        }
        self.newest_arrival_us = self.newest_arrival_us.max(arrival);
        let first = *self.first_arrival_us.get_or_insert(arrival);
        match &mut self.current {
            Some(g) if r.sent_at.saturating_duration_since(g.first_send) <= BURST => {
                g.last_send = g.last_send.max(r.sent_at);
                g.last_arrival_us = g.last_arrival_us.max(arrival);
            }
            // Reordered behind its group: ignore for the delay trend.
            Some(g) if r.sent_at < g.first_send => {}
            _ => {
                let done = self.current.replace(Group {
                    first_send: r.sent_at,
                    last_send: r.sent_at,
                    last_arrival_us: arrival,
                });
                if let Some(done) = done {
                    if let Some(prev) = self.previous {
                        self.delay_sample(prev, done, first, now);
                    }
                    self.previous = Some(done);
                }
            }
        }
    }

    fn delay_sample(&mut self, prev: Group, cur: Group, first_arrival: i64, now: Instant) {
        let send_ms = cur
            .last_send
            .saturating_duration_since(prev.last_send)
            .as_secs_f64()
            * 1e3;
        let arrival_ms = (cur.last_arrival_us - prev.last_arrival_us) as f64 / 1e3;
        self.accumulated_ms += arrival_ms - send_ms;
        self.smoothed_ms = SMOOTHING * self.smoothed_ms + (1.0 - SMOOTHING) * self.accumulated_ms;
        let x = (cur.last_arrival_us - first_arrival) as f64 / 1e3;
        self.trend[self.trend_at] = (x, self.smoothed_ms);
        self.trend_at = (self.trend_at + 1) % TREND_WINDOW;
        self.trend_len = (self.trend_len + 1).min(TREND_WINDOW);
        if self.trend_len < TREND_WINDOW {
            return;
        }
        let slope = self.slope();
        let trend = slope * TREND_WINDOW as f64 * TREND_GAIN;
        self.detect(trend, send_ms, now);
        self.previous_trend = trend;
    }

    /// Least-squares slope of smoothed delay over arrival time.
    fn slope(&self) -> f64 {
        let n = self.trend_len as f64;
        let (sx, sy) = self.trend[..self.trend_len]
            .iter()
            .fold((0.0, 0.0), |(a, b), (x, y)| (a + x, b + y));
        let (mx, my) = (sx / n, sy / n);
        let (num, den) = self.trend[..self.trend_len]
            .iter()
            .fold((0.0, 0.0), |(a, b), (x, y)| {
                (a + (x - mx) * (y - my), b + (x - mx) * (x - mx))
            });
        if den == 0.0 {
            0.0
        } else {
            num / den
        }
    }

    fn detect(&mut self, trend: f64, send_delta_ms: f64, now: Instant) {
        if trend > self.threshold_ms {
            let since = *self.overuse_since.get_or_insert(now);
            let long_enough = now.saturating_duration_since(since) >= Duration::from_millis(10)
                || send_delta_ms > 10.0;
            if long_enough && trend >= self.previous_trend {
                self.usage = Usage::Overusing;
            }
        } else if trend < -self.threshold_ms {
            self.overuse_since = None;
            self.usage = Usage::Underusing;
        } else {
            self.overuse_since = None;
            self.usage = Usage::Normal;
        }
        // The threshold follows the trend, slowly up and faster down, so that a competing
        // flow's steady queue does not starve this one (GCC §5.4).
        let dt = self
            .last_threshold_update
            .map_or(0.0, |t| {
                now.saturating_duration_since(t).as_secs_f64() * 1e3
            })
            .min(100.0);
        self.last_threshold_update = Some(now);
        if (trend.abs() - self.threshold_ms) < 15.0 {
            let k = if trend.abs() < self.threshold_ms {
                0.039
            } else {
                0.0087
            };
            self.threshold_ms += k * (trend.abs() - self.threshold_ms) * dt;
            self.threshold_ms = self.threshold_ms.clamp(6.0, 600.0);
        }
    }

    /// The feedback packet is read: the estimate moves.
    pub fn on_feedback(&mut self, now: Instant) {
        if self.batch_received > 0 {
            self.acked[self.acked_at] = Batch {
                first: self.batch_first_arrival_us.min(self.newest_arrival_us),
                first_size: self.batch_first_size,
                last: self.newest_arrival_us,
                bytes: self.batch_bytes,
            };
            self.acked_at = (self.acked_at + 1) % self.acked.len();
        }
        let total = self.batch_received + self.batch_lost;
        if total > 0 {
            let batch = f64::from(self.batch_lost) / f64::from(total);
            self.last_batch_loss = batch as f32;
            self.loss = 0.7 * self.loss + 0.3 * batch;
        }
        let (received, bytes) = (self.batch_received, self.batch_bytes);
        self.batch_received = 0;
        self.batch_lost = 0;
        self.batch_bytes = 0;
        self.batch_first_arrival_us = i64::MAX;
        let Some(acked) = self.acked_bps() else {
            return;
        };
        if received == 0 && bytes == 0 && self.estimate_bps.is_none() {
            return;
        }
        let dt = self
            .last_update
            .map_or(0.0, |t| now.saturating_duration_since(t).as_secs_f64())
            .min(1.0);
        self.last_update = Some(now);
        let mut estimate = self.estimate_bps.unwrap_or(acked.max(MIN_BPS));
        let may_decrease = self
            .last_decrease
            .is_none_or(|t| now.saturating_duration_since(t) >= REACTION);
        match self.usage {
            Usage::Overusing if may_decrease => {
                estimate = (0.85 * acked).min(estimate);
                self.last_decrease = Some(now);
            }
            Usage::Normal if self.loss < 0.1 => {
                // What demonstrably got through without a queue fits; beyond it, grow slowly.
                let grown = (estimate * 1.08f64.powf(dt)).max(acked);
                estimate = grown.min((1.5 * acked + 10_000.0).max(estimate));
            }
            _ => {}
        }
        if self.loss > 0.1 && may_decrease {
            // What got through is evidence too: loss that outlasts the sender's own cut (its
            // queue draining, retransmissions) must not talk the estimate down to nothing.
            let cut = estimate.min(acked.max(estimate * 0.5)) * (1.0 - 0.5 * self.loss);
            estimate = cut.max(0.5 * acked).min(estimate);
            self.last_decrease = Some(now);
        }
        self.estimate_bps = Some(estimate.clamp(MIN_BPS, MAX_BPS));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sends `bps` for `secs` as 1200-byte packets through a link of `link_bps` (a queue when
    /// slower) losing every `lose_every`-th packet, with feedback every 50 ms. Returns the
    /// estimator.
    fn run(bps: f64, link_bps: f64, secs: f64, lose_every: u32) -> BandwidthEstimator {
        let t0 = Instant::now();
        let mut e = BandwidthEstimator::default();
        let size = 1200u16;
        let interval = f64::from(size) * 8.0 / bps;
        let service = f64::from(size) * 8.0 / link_bps;
        let mut queue_free_at = 0.0f64;
        let mut next_feedback = 0.05;
        let mut n = 0u32;
        let mut t = 0.0;
        while t < secs {
            n += 1;
            let sent_at = t0 + Duration::from_secs_f64(t);
            let lost = lose_every > 0 && n.is_multiple_of(lose_every);
            let arrival = queue_free_at.max(t) + service;
            if !lost {
                queue_free_at = arrival;
            }
            e.on_packet(
                &PacketResult {
                    sent_at,
                    size,
                    arrival_us: (!lost).then_some(((arrival + 0.02) * 1e6) as i64),
                },
                sent_at,
            );
            t += interval;
            if t >= next_feedback {
                e.on_feedback(t0 + Duration::from_secs_f64(t + 0.03));
                next_feedback += 0.05;
            }
        }
        e
    }

    #[test]
    fn a_clear_link_is_estimated_near_what_is_sent() {
        let e = run(1_000_000.0, 10_000_000.0, 6.0, 0);
        let est = e.estimate_bps().unwrap() as f64;
        assert!((900_000.0..=1_600_000.0).contains(&est), "{est}");
        assert_eq!(e.usage(), Usage::Normal);
        assert!(e.loss() < 0.01);
        let acked = e.acked_bps().unwrap();
        assert!((900_000.0..1_100_000.0).contains(&acked), "{acked}");
    }

    #[test]
    fn a_narrow_link_is_found_by_its_growing_queue() {
        // 1 Mbit/s into a 500 kbit/s link: the queue grows by half the sending rate.
        let e = run(1_000_000.0, 500_000.0, 4.0, 0);
        let est = e.estimate_bps().unwrap() as f64;
        assert!(
            est < 500_000.0,
            "the estimate fell below the link's rate: {est}"
        );
        assert!(est > 100_000.0, "but not to nothing: {est}");
    }

    #[test]
    fn heavy_loss_cuts_the_estimate() {
        let clear = run(1_000_000.0, 10_000_000.0, 4.0, 0)
            .estimate_bps()
            .unwrap();
        let lossy = run(1_000_000.0, 10_000_000.0, 4.0, 4);
        assert!(lossy.loss() > 0.15, "{}", lossy.loss());
        let est = lossy.estimate_bps().unwrap();
        assert!(est < clear * 8 / 10, "lossy {est} vs clear {clear}");
    }

    #[test]
    fn no_feedback_no_estimate() {
        let mut e = BandwidthEstimator::default();
        e.on_feedback(Instant::now());
        assert_eq!(e.estimate_bps(), None);
    }
}
