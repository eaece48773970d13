//! Forwarding latency: how long a received RTP packet spends inside the server, from the moment
//! its datagram is read from the socket to the moment its copies are handed to the kernel. A
//! fixed-bucket histogram, so that recording costs a few comparisons and the metrics can export
//! it as a Prometheus histogram.

use std::time::Duration;

/// Upper bounds of the buckets, in microseconds (the last bucket is everything above).
pub const BOUNDS_US: [u64; 10] = [
    50, 100, 250, 500, 1_000, 2_000, 5_000, 10_000, 25_000, 100_000,
];

/// Packets by how long they took.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LatencyHistogram {
    /// Packets per bucket (not cumulative); the extra one is above the last bound.
    pub counts: [u64; BOUNDS_US.len() + 1],
    /// Sum of all latencies, microseconds.
    pub sum_us: u64,
}

impl LatencyHistogram {
    /// `packets` that each took `latency`.
    pub fn observe(&mut self, latency: Duration, packets: u64) {
        if packets == 0 {
            return;
        }
        let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        let bucket = BOUNDS_US
            .iter()
            .position(|&b| us <= b)
            .unwrap_or(BOUNDS_US.len());
        self.counts[bucket] += packets;
        self.sum_us = self.sum_us.saturating_add(us.saturating_mul(packets));
    }

    /// Adds another histogram's packets.
    pub fn add(&mut self, o: &LatencyHistogram) {
        for (a, b) in self.counts.iter_mut().zip(o.counts) {
            *a += b;
        }
        self.sum_us = self.sum_us.saturating_add(o.sum_us);
    }

    /// Packets recorded.
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// The bound under which at least `q` (0–1) of the packets fall (`None` when empty or when
    /// that quantile is above the last bound).
    pub fn quantile_bound_us(&self, q: f64) -> Option<u64> {
        let total = self.count();
        if total == 0 {
            return None;
        }
        let want = (q * total as f64).ceil() as u64;
        let mut seen = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= want {
                return BOUNDS_US.get(i).copied();
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packets_fall_into_the_bucket_of_their_latency() {
        let mut h = LatencyHistogram::default();
        h.observe(Duration::from_micros(30), 90);
        h.observe(Duration::from_micros(700), 9);
        h.observe(Duration::from_millis(300), 1);
        h.observe(Duration::from_millis(1), 0);
        assert_eq!(h.count(), 100);
        assert_eq!(h.counts[0], 90);
        assert_eq!(h.counts[4], 9);
        assert_eq!(h.counts[BOUNDS_US.len()], 1);
        assert_eq!(h.sum_us, 90 * 30 + 9 * 700 + 300_000);
        assert_eq!(h.quantile_bound_us(0.5), Some(50));
        assert_eq!(h.quantile_bound_us(0.99), Some(1_000));
        assert_eq!(h.quantile_bound_us(1.0), None);
    }
}
