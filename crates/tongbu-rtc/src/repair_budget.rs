//! How much of a subscriber's downlink its NACK repairs may take. A congested link loses many
//! packets at once, its subscriber NACKs them all, and resending every one adds to the very
//! queue that lost them: after a cap on a classroom's link, repairs of the top layer's lost
//! packets kept the link overloaded for seconds after the switch to a lower layer. So repairs
//! draw on a token bucket filled at a share of the downlink estimate; what it cannot pay is not
//! resent (counted), and the subscriber's decoder asks for a keyframe if it must.
//!
//! Random loss on an uncongested link (the 5 % of a rural radio link) costs a small share and is
//! repaired in full. Without an estimate nothing is limited.

use std::time::Instant;

/// Share of the estimate repairs may use.
pub const SHARE: f64 = 0.25;
/// Seconds of that share the bucket holds (a burst of repairs after a short loss).
const DEPTH_SECS: f64 = 0.2;
/// The bucket holds at least this many bytes (a few packets on the slowest link).
const MIN_DEPTH: f64 = 6000.0;

/// One subscriber's repair budget.
#[derive(Debug, Clone, Copy)]
pub struct RepairBudget {
    tokens: f64,
    at: Option<Instant>,
}

impl Default for RepairBudget {
    fn default() -> Self {
        Self {
            tokens: MIN_DEPTH,
            at: None,
        }
    }
}

impl RepairBudget {
    /// Whether a repair of `bytes` may go now, for a downlink estimated at `estimate_bps`
    /// (`None`: unknown, so unlimited). Takes the bytes if so.
    pub fn allow(&mut self, bytes: usize, estimate_bps: Option<u64>, now: Instant) -> bool {
        let Some(bps) = estimate_bps else {
            return true;
        };
        let rate = bps as f64 / 8.0 * SHARE;
        let depth = (rate * DEPTH_SECS).max(MIN_DEPTH);
        if let Some(at) = self.at {
            let dt = now.saturating_duration_since(at).as_secs_f64();
            self.tokens = (self.tokens + rate * dt).min(depth);
        }
        self.at = Some(now);
        if self.tokens >= bytes as f64 {
            self.tokens -= bytes as f64;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn repairs_take_a_share_of_the_estimate_and_no_more() {
        let t0 = Instant::now();
        let mut b = RepairBudget::default();
        // 300 kbit/s: a quarter is 9.4 kB/s; the bucket starts with 6 kB.
        let mut sent = 0;
        for ms in 0..1000u64 {
            // A NACK storm: a 1200-byte repair asked for every millisecond.
            if b.allow(1200, Some(300_000), t0 + Duration::from_millis(ms)) {
                sent += 1200;
            }
        }
        assert!(
            (12_000..=16_800).contains(&sent),
            "{sent} bytes in a second"
        );
        // 5 % random loss of a 1.5 Mbit/s stream (8 repairs a second) all go.
        let mut b = RepairBudget::default();
        let allowed = (0..80u64)
            .filter(|i| b.allow(1200, Some(1_500_000), t0 + Duration::from_millis(125 * i)))
            .count();
        assert_eq!(allowed, 80);
        // No estimate: nothing is held back.
        assert!((0..100).all(|_| RepairBudget::default().allow(1200, None, t0)));
    }
}
