//! The packets of one producer kept for retransmission, shared by all its consumers (Galène's
//! packet cache): fixed slots allocated once, indexed by the publisher's sequence number. A
//! consumer's NACK is answered by mapping its own sequence number back through its rewrite
//! ([`crate::StreamRewriter::source`]) and looking the packet up here, so a thousand subscribers
//! cost one cache, not a thousand.

use std::sync::Arc;

/// Slots of a video producer's cache: about 3.5 s of a 1.2 Mbit/s stream, more than the round
/// trip of any link a lesson survives on.
pub const VIDEO_SLOTS: usize = 512;

/// One packet as the publisher sent it.
#[derive(Debug, Clone)]
pub struct CachedPacket {
    pub seq: u16,
    pub timestamp: u32,
    pub marker: bool,
    pub payload: Arc<[u8]>,
}

/// A ring of the last packets of one producer.
#[derive(Debug)]
pub struct PacketCache {
    slots: Box<[Option<CachedPacket>]>,
}

impl PacketCache {
    /// A cache of `slots` packets (rounded up to a power of two).
    pub fn new(slots: usize) -> Self {
        let n = slots.max(2).next_power_of_two();
        Self {
            slots: (0..n).map(|_| None).collect(),
        }
    }

    fn slot(&self, seq: u16) -> usize {
        usize::from(seq) & (self.slots.len() - 1)
    }

    /// Keeps a packet (an `Arc` clone of its payload, no copy), replacing the one that held its
    /// slot.
    #[inline]
    pub fn store(&mut self, seq: u16, timestamp: u32, marker: bool, payload: &Arc<[u8]>) {
        let i = self.slot(seq);
        match &mut self.slots[i] {
            Some(p) => {
                p.seq = seq;
                p.timestamp = timestamp;
                p.marker = marker;
                if !Arc::ptr_eq(&p.payload, payload) {
                    p.payload = payload.clone();
                }
            }
            empty => {
                *empty = Some(CachedPacket {
                    seq,
                    timestamp,
                    marker,
                    payload: payload.clone(),
                })
            }
        }
    }

    /// The packet with sequence number `seq`, if it is still kept.
    pub fn get(&self, seq: u16) -> Option<&CachedPacket> {
        self.slots[self.slot(seq)].as_ref().filter(|p| p.seq == seq)
    }

    /// Number of slots.
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_last_packets_and_forgets_older_ones() {
        let mut c = PacketCache::new(6);
        assert_eq!(c.capacity(), 8);
        let p: Arc<[u8]> = Arc::from(&b"vp8"[..]);
        for seq in 65_530u16..=65_535 {
            c.store(seq, u32::from(seq), false, &p);
        }
        for seq in 0u16..4 {
            c.store(seq, u32::from(seq) + 7, seq == 3, &p);
        }
        // Ten stored in eight slots across the wrap: the first two are gone.
        assert!(c.get(65_530).is_none() && c.get(65_531).is_none());
        assert_eq!(c.get(65_532).unwrap().timestamp, 65_532);
        let last = c.get(3).unwrap();
        assert_eq!((last.timestamp, last.marker), (10, true));
        assert!(Arc::ptr_eq(&last.payload, &p), "the payload is shared");
        assert!(c.get(4).is_none(), "never stored");
    }
}
