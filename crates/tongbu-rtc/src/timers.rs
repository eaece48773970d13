//! When each transport next needs time to pass, without scanning all of them.
//!
//! A binary heap of (deadline, key). A key's deadline changes often; instead of removing the old
//! entry, the heap keeps it and skips it when popped if it no longer matches the key's current
//! deadline (lazy deletion). Each change costs O(log n).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::hash::Hash;
use std::time::Instant;

/// Deadlines of many keys (transports, in a worker).
#[derive(Debug)]
pub struct Timers<K> {
    heap: BinaryHeap<Reverse<(Instant, K)>>,
    current: HashMap<K, Instant>,
}

impl<K> Default for Timers<K> {
    fn default() -> Self {
        Self {
            heap: BinaryHeap::new(),
            current: HashMap::new(),
        }
    }
}

impl<K: Copy + Eq + Hash + Ord> Timers<K> {
    /// Sets (or moves) a key's deadline.
    pub fn set(&mut self, peer: K, at: Instant) {
        if self.current.insert(peer, at) != Some(at) {
            self.heap.push(Reverse((at, peer)));
        }
        // Keep stale entries bounded: rebuild when they dominate.
        if self.heap.len() > 64 && self.heap.len() > 4 * self.current.len() {
            self.heap = self
                .current
                .iter()
                .map(|(&p, &t)| Reverse((t, p)))
                .collect();
        }
    }

    /// Forgets a key.
    pub fn remove(&mut self, peer: K) {
        self.current.remove(&peer);
    }

    /// The earliest deadline.
    pub fn earliest(&mut self) -> Option<Instant> {
        while let Some(Reverse((t, p))) = self.heap.peek().copied() {
            if self.current.get(&p) == Some(&t) {
                return Some(t);
            }
            self.heap.pop();
        }
        None
    }

    /// Pops one key whose deadline is at or before `now`.
    pub fn pop_due(&mut self, now: Instant) -> Option<K> {
        let t = self.earliest()?;
        if t > now {
            return None;
        }
        let Reverse((_, p)) = self.heap.pop()?;
        self.current.remove(&p);
        Some(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
    struct PeerKey(u64);

    #[test]
    fn pops_due_peers_in_order_and_skips_moved_deadlines() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut t = Timers::default();
        t.set(PeerKey(1), t0 + ms(30));
        t.set(PeerKey(2), t0 + ms(10));
        t.set(PeerKey(3), t0 + ms(20));
        t.set(PeerKey(2), t0 + ms(40)); // moved later
        t.remove(PeerKey(3));
        assert_eq!(t.earliest(), Some(t0 + ms(30)));
        assert_eq!(t.pop_due(t0 + ms(35)), Some(PeerKey(1)));
        assert_eq!(t.pop_due(t0 + ms(35)), None);
        assert_eq!(t.pop_due(t0 + ms(40)), Some(PeerKey(2)));
        assert_eq!(t.earliest(), None);
    }

    #[test]
    fn many_moves_stay_bounded() {
        let t0 = Instant::now();
        let mut t = Timers::default();
        for i in 0..10_000u64 {
            t.set(PeerKey(i % 10), t0 + Duration::from_micros(i));
        }
        // Rebuilt once stale entries pass 64 and outnumber live ones four to one.
        assert!(t.heap.len() <= 65);
        assert_eq!(t.earliest(), Some(t0 + Duration::from_micros(9_990)));
    }
}
