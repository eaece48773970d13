//! Added latency: when each packet was sent, found again when it arrives, and percentiles.
//!
//! The server rewrites sequence numbers and timestamps per subscriber but forwards payloads
//! unchanged, so a packet is recognised by a fingerprint of its payload. Publishers make every
//! payload distinct (VP8 picture ids, a wandering opus tone, an offset per publisher).

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

/// A 64-bit fingerprint of a payload: its length, first 32 and last 16 bytes, mixed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint(u64);

impl Fingerprint {
    pub fn of(payload: &[u8]) -> Self {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ payload.len() as u64;
        let head = &payload[..payload.len().min(32)];
        let tail = &payload[payload.len().saturating_sub(16)..];
        for chunk in head.chunks(8).chain(tail.chunks(8)) {
            let mut w = [0u8; 8];
            w[..chunk.len()].copy_from_slice(chunk);
            h = (h ^ u64::from_le_bytes(w)).wrapping_mul(0x0100_0000_01b3);
            h ^= h >> 29;
        }
        Self(h)
    }
}

/// Which packet a publisher sent: its stream, sequence number, timestamp and payload size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin {
    pub ssrc: u32,
    pub seq: u16,
    pub timestamp: u32,
    pub payload_len: usize,
}

/// A packet the publisher sent, and when (real-time clock, ns).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
    pub ns: u64,
    pub origin: Origin,
}

/// Send stamps of the last few seconds of packets, found by payload fingerprint or by the
/// publisher's stream and sequence number.
pub struct SendStamps {
    keep_ns: u64,
    by_print: HashMap<Fingerprint, Sent>,
    by_seq: HashMap<(u32, u16), Sent>,
    order: VecDeque<(u64, Fingerprint, (u32, u16))>,
}

impl SendStamps {
    pub fn new(keep: Duration) -> Self {
        Self {
            keep_ns: keep.as_nanos() as u64,
            by_print: HashMap::new(),
            by_seq: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    /// Records that the packet `origin` with payload fingerprint `print` was sent at `ns`.
    pub fn insert(&mut self, print: Fingerprint, origin: Origin, ns: u64) {
        while let Some(&(t, p, k)) = self.order.front() {
            if t + self.keep_ns > ns {
                break;
            }
            self.order.pop_front();
            if self.by_print.get(&p).is_some_and(|s| s.ns == t) {
                self.by_print.remove(&p);
            }
            if self.by_seq.get(&k).is_some_and(|s| s.ns == t) {
                self.by_seq.remove(&k);
            }
        }
        let sent = Sent { ns, origin };
        let key = (origin.ssrc, origin.seq);
        self.by_print.insert(print, sent);
        self.by_seq.insert(key, sent);
        self.order.push_back((ns, print, key));
    }

    /// The packet with this payload.
    pub fn get(&self, print: &Fingerprint) -> Option<Sent> {
        self.by_print.get(print).copied()
    }

    /// The packet the publisher's stream `ssrc` sent as `seq`.
    pub fn by_seq(&self, ssrc: u32, seq: u16) -> Option<Sent> {
        self.by_seq.get(&(ssrc, seq)).copied()
    }

    pub fn len(&self) -> usize {
        self.by_print.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_print.is_empty()
    }
}

/// p50, p95, p99 and max of samples (sorted in place); `None` without samples.
pub fn percentiles(samples: &mut [u32]) -> Option<[u32; 4]> {
    if samples.is_empty() {
        return None;
    }
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    Some([at(0.50), at(0.95), at(0.99), samples[samples.len() - 1]])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_are_found_by_payload_or_sequence_and_expire() {
        let mut s = SendStamps::new(Duration::from_secs(5));
        let a = Fingerprint::of(b"first packet payload with some bytes in it");
        let b = Fingerprint::of(b"second packet payload with other bytes in it");
        assert_ne!(a, b);
        let origin = |seq| Origin {
            ssrc: 7,
            seq,
            timestamp: 900 * u32::from(seq),
            payload_len: 40,
        };
        s.insert(a, origin(1), 1_000);
        s.insert(b, origin(2), 2_000);
        assert_eq!(
            s.get(&a).map(|x| (x.ns, x.origin)),
            Some((1_000, origin(1)))
        );
        assert_eq!(s.get(&b).map(|x| x.ns), Some(2_000));
        assert_eq!(s.by_seq(7, 2).map(|x| x.ns), Some(2_000));
        assert_eq!(
            s.by_seq(8, 2),
            None,
            "another stream's sequence numbers are its own"
        );
        // Six seconds later both have expired, by either key.
        s.insert(Fingerprint::of(b"x"), origin(3), 6_000_002_000);
        assert_eq!((s.get(&a), s.get(&b)), (None, None));
        assert_eq!((s.by_seq(7, 1), s.by_seq(7, 2)), (None, None));
        assert_eq!(s.len(), 1);
    }

    #[test]
    fn percentiles_of_a_known_set() {
        let mut v: Vec<u32> = (1..=1000).rev().collect();
        assert_eq!(percentiles(&mut v), Some([501, 950, 990, 1000]));
        assert_eq!(percentiles(&mut []), None);
    }

    #[test]
    fn vp8_packets_of_one_frame_differ() {
        let frame: Vec<u8> = (0..5000u32).map(|i| (i * 7 % 251) as u8).collect();
        let pkts = crate::media::packetize_vp8(&frame, 7, 1200);
        let prints: std::collections::HashSet<_> =
            pkts.iter().map(|p| Fingerprint::of(p)).collect();
        assert_eq!(prints.len(), pkts.len());
    }
}
