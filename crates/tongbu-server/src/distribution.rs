//! A bounded summary of a stream of non-negative samples (loss %, RTT and jitter in ms,
//! kbit/s): the count, mean and maximum exactly, the 95th percentile to within one bucket (5 %
//! of its value, never below the true one). A quality report keeps one per measure per
//! participant for the whole session at four samples a second; keeping the samples themselves
//! grew by 80 B a second per participant — in the soak, a lecture's 200 listeners took 1 MiB a
//! minute, and 2,000 for an hour would have taken 550 MiB, copied again for every 10-s draft.
//!
//! Hand-written rather than a sketch crate (DDSketch, t-digest) for its size: one `u32` count
//! per bucket, buckets allocated only up to the largest value seen (none while a link loses
//! nothing), at most 1.6 KiB; the crates keep `u64` or `f64` bins for a precision a report does
//! not show.

use tongbu_schedule::report::Spread;

/// A positive sample at or below this counts in the first bucket.
const FLOOR: f32 = 0.01;
/// Each bucket's upper bound is this times the one before.
const RATIO: f32 = 1.05;
/// Buckets up to `FLOOR × RATIO^(BUCKETS - 1)` ≈ 3 × 10⁶; larger samples count in the last.
const BUCKETS: usize = 400;

/// Samples summarised: see the module's documentation.
#[derive(Debug, Clone, Default)]
pub struct Distribution {
    count: u32,
    sum: f64,
    max: f32,
    zeros: u32,
    /// `buckets[i]` counts samples in `(upper(i - 1), upper(i)]` (the first: `(0, FLOOR]`).
    buckets: Vec<u32>,
}

impl Distribution {
    /// Counts one sample (a negative one as 0; one that is not a number is ignored).
    pub fn add(&mut self, v: f32) {
        if !v.is_finite() {
            return;
        }
        let v = v.max(0.0);
        self.count = self.count.saturating_add(1);
        self.sum += f64::from(v);
        self.max = self.max.max(v);
        if v == 0.0 {
            self.zeros = self.zeros.saturating_add(1);
            return;
        }
        let i = bucket(v);
        if self.buckets.len() <= i {
            self.buckets.resize(i + 1, 0);
        }
        self.buckets[i] = self.buckets[i].saturating_add(1);
    }

    /// Mean and 95th percentile (nearest rank, as the bucket's upper bound but at most the
    /// largest sample); both `None` without samples.
    pub fn spread(&self) -> Spread {
        if self.count == 0 {
            return Spread::default();
        }
        let rank = ((0.95 * f64::from(self.count)).ceil() as u32).clamp(1, self.count);
        let mut seen = self.zeros;
        let mut p95 = 0.0;
        if seen < rank {
            p95 = self.max;
            for (i, n) in self.buckets.iter().enumerate() {
                seen = seen.saturating_add(*n);
                if seen >= rank {
                    // The last bucket has no upper bound but the largest sample.
                    p95 = if i + 1 == BUCKETS {
                        self.max
                    } else {
                        upper(i).min(self.max)
                    };
                    break;
                }
            }
        }
        Spread {
            mean: Some((self.sum / f64::from(self.count)) as f32),
            p95: Some(p95),
        }
    }
}

/// The bucket of a positive sample.
fn bucket(v: f32) -> usize {
    if v <= FLOOR {
        return 0;
    }
    let i = ((v / FLOOR).ln() / RATIO.ln()).ceil();
    (i as usize).min(BUCKETS - 1)
}

/// The largest sample bucket `i` holds.
fn upper(i: usize) -> f32 {
    FLOOR * RATIO.powi(i as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The exact nearest-rank 95th percentile, for comparison.
    fn exact_p95(mut v: Vec<f32>) -> f32 {
        v.sort_by(f32::total_cmp);
        let rank = ((0.95 * v.len() as f32).ceil() as usize).clamp(1, v.len());
        v[rank - 1]
    }

    #[test]
    fn equal_samples_and_zeros_read_exactly() {
        let mut d = Distribution::default();
        assert_eq!(d.spread(), Spread::default());
        for _ in 0..100 {
            d.add(20.0);
        }
        assert_eq!(d.spread().p95, Some(20.0));
        assert_eq!(d.spread().mean, Some(20.0));
        let mut lossless = Distribution::default();
        for _ in 0..1000 {
            lossless.add(0.0);
        }
        lossless.add(f32::NAN);
        assert_eq!(lossless.spread().p95, Some(0.0));
        assert!(
            lossless.buckets.is_empty(),
            "no buckets while nothing is lost"
        );
        // 96 % lossless: the 95th percentile is 0.
        let mut mostly = Distribution::default();
        for i in 0..100 {
            mostly.add(if i < 96 { 0.0 } else { 50.0 });
        }
        assert_eq!(mostly.spread().p95, Some(0.0));
        assert_eq!(mostly.spread().mean, Some(2.0));
    }

    #[test]
    fn the_95th_percentile_is_within_five_percent_above_the_exact_one() {
        // A deterministic spread of RTT-like values over four decades.
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        for n in [10usize, 400, 14_400] {
            let mut d = Distribution::default();
            let mut all = Vec::new();
            for _ in 0..n {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let v = 0.05 * 10f32.powf((x % 10_000) as f32 / 2_500.0);
                d.add(v);
                all.push(v);
            }
            let exact = exact_p95(all.clone());
            let got = d.spread().p95.unwrap();
            assert!(
                got >= exact && got <= exact * 1.051,
                "n = {n}: {got} against {exact}"
            );
            let mean = all.iter().map(|v| f64::from(*v)).sum::<f64>() / n as f64;
            assert!((f64::from(d.spread().mean.unwrap()) - mean).abs() < mean * 1e-5);
            assert!(d.buckets.len() <= BUCKETS);
        }
    }

    #[test]
    fn huge_samples_share_the_last_bucket() {
        let mut d = Distribution::default();
        d.add(1e12);
        d.add(-3.0);
        assert_eq!(d.buckets.len(), BUCKETS);
        assert_eq!(d.spread().p95, Some(1e12));
    }
}
