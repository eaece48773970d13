//! What a subscriber got, compared with what the publisher sent: payloads byte for byte,
//! sequence numbers continuous, and how much of what was sent arrived.

use std::time::Instant;

use tongbu_load::{ReceivedPacket, SentPacket};

/// What a subscriber got, compared with what the publisher sent.
pub struct Delivery {
    pub received: usize,
    pub expected: usize,
    pub gaps: usize,
}

impl Delivery {
    /// More than `min_sent` packets were sent, and at least 99 % of them arrived.
    pub fn at_least_99_pct(&self, min_sent: usize, what: &str) {
        eprintln!(
            "{what}: {}/{} packets, {} gaps",
            self.received, self.expected, self.gaps
        );
        assert!(
            self.expected > min_sent,
            "{what}: only {} packets were sent",
            self.expected
        );
        assert!(
            self.received * 100 >= self.expected * 99,
            "{what}: {} of {} packets arrived (< 99%)",
            self.received,
            self.expected
        );
    }
}

/// Checks one subscriber's copy of one track: byte-identical payloads, continuous sequence
/// numbers, and how much of what was sent (up to `cutoff`) arrived.
pub fn compare(
    sent: &[SentPacket],
    recv: &[ReceivedPacket],
    cutoff: Instant,
    what: &str,
) -> Delivery {
    assert!(!recv.is_empty(), "{what}: nothing received");
    // Extend the 16-bit sequence numbers in arrival order.
    let mut ext = Vec::with_capacity(recv.len());
    let mut last: i64 = i64::from(recv[0].seq);
    for p in recv {
        let d = i64::from(p.seq.wrapping_sub(last as u16) as i16);
        last += d;
        ext.push(last);
    }
    let mut order: Vec<usize> = (0..recv.len()).collect();
    order.sort_by_key(|&i| ext[i]);
    let first = order[0];
    let base = ext[first];
    // Where in what was sent the copy begins: the first payload, and the next ones after it (an
    // H.264 clip restarted on a keyframe request repeats its first frames byte for byte; VP8's
    // picture IDs differ).
    let fits = |i0: usize| {
        order.iter().take(64).all(|&j| {
            sent.get(i0 + (ext[j] - base) as usize)
                .is_some_and(|s| s.payload == recv[j].payload)
        })
    };
    let i0 = (0..sent.len())
        .find(|&i| fits(i))
        .unwrap_or_else(|| panic!("{what}: first received payloads were never sent"));
    let mut seen = std::collections::HashSet::new();
    for (i, p) in recv.iter().enumerate() {
        assert!(
            seen.insert(ext[i]),
            "{what}: sequence number {} received twice",
            p.seq
        );
        let idx = i0 + (ext[i] - base) as usize;
        let s = sent.get(idx).unwrap_or_else(|| {
            panic!(
                "{what}: packet {} maps past the end of what was sent",
                p.seq
            )
        });
        assert_eq!(
            s.payload,
            p.payload,
            "{what}: payload of packet {} differs (copy's {i}th, sent's {idx}th of {}, begins at {i0})",
            p.seq,
            sent.len()
        );
    }
    let expected = sent[i0..].iter().filter(|s| s.at <= cutoff).count();
    let received = recv
        .iter()
        .zip(&ext)
        .filter(|(_, &e)| sent[i0 + (e - base) as usize].at <= cutoff)
        .count();
    let span = (ext[order[order.len() - 1]] - base + 1) as usize;
    Delivery {
        received,
        expected,
        gaps: span - recv.len(),
    }
}
