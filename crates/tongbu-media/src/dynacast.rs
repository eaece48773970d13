//! Dynacast: a simulcast layer that no subscriber receives is paused at its publisher, and
//! resumed as soon as one is to receive it. A remote classroom's camera goes to the host at its
//! lowest layer, and on a rural uplink its 720p layer would cost a megabit for nobody.
//!
//! One [`Dynacast`] per simulcast producer, kept by the worker that owns the publisher: it is
//! told which layers are wanted (targeted or received by some consumer, on any worker) and
//! answers with the layers the publisher should send. The lowest layer always goes (every
//! subscriber falls back to it at once, and it carries the producer's continuity); a layer is
//! resumed the moment it is wanted and paused once it has been unwanted for [`PAUSE_UNWANTED`],
//! so a subscriber moving between layers does not make the encoder start and stop.
//!
//! Sans-I/O: wanted layers and `Instant`s in, the publisher's layers out.

use std::time::{Duration, Instant};

use crate::MAX_LAYERS;

/// How long a layer must be unwanted before it is paused.
pub const PAUSE_UNWANTED: Duration = Duration::from_secs(5);

/// Layers as bits: bit `n` is layer `n`.
pub type LayerMask = u8;

/// The layers one producer's publisher is asked to send.
#[derive(Debug, Clone)]
pub struct Dynacast {
    layers: u8,
    /// What the publisher was last told to send.
    active: LayerMask,
    unwanted_since: [Option<Instant>; MAX_LAYERS as usize],
}

impl Dynacast {
    /// A producer of `layers` layers, all of which its publisher sends at first.
    pub fn new(layers: u8) -> Self {
        let layers = layers.clamp(1, MAX_LAYERS);
        Self {
            layers,
            active: all(layers),
            unwanted_since: [None; MAX_LAYERS as usize],
        }
    }

    /// The layers the publisher sends now.
    pub fn active(&self) -> LayerMask {
        self.active
    }

    /// Layers `wanted` now: the layers the publisher should send, if that changed.
    pub fn update(&mut self, wanted: LayerMask, now: Instant) -> Option<LayerMask> {
        let mut active = 1;
        for l in 1..self.layers {
            let bit = 1 << l;
            let since = &mut self.unwanted_since[usize::from(l)];
            if wanted & bit != 0 {
                *since = None;
                active |= bit;
                continue;
            }
            let t = *since.get_or_insert(now);
            if self.active & bit != 0 && now.saturating_duration_since(t) < PAUSE_UNWANTED {
                active |= bit;
            }
        }
        (active != self.active).then(|| {
            self.active = active;
            active
        })
    }

    /// When [`Dynacast::update`] may next pause a layer, if one is waiting to.
    pub fn next_due(&self) -> Option<Instant> {
        (1..self.layers)
            .filter(|&l| self.active & (1 << l) != 0)
            .filter_map(|l| self.unwanted_since[usize::from(l)])
            .map(|t| t + PAUSE_UNWANTED)
            .min()
    }
}

/// Every layer of a producer of `layers` layers.
pub fn all(layers: u8) -> LayerMask {
    ((1u16 << layers.min(MAX_LAYERS)) - 1) as LayerMask
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unwanted_layers_pause_after_a_while_and_resume_at_once() {
        let t0 = Instant::now();
        let s = |n: u64| t0 + Duration::from_secs(n);
        let mut d = Dynacast::new(3);
        assert_eq!(d.active(), 0b111);
        // Only the lowest layer is wanted (the host takes a classroom at 180p).
        assert_eq!(d.update(0b001, s(0)), None, "not yet");
        assert_eq!(d.next_due(), Some(s(0) + PAUSE_UNWANTED));
        assert_eq!(d.update(0b001, s(3)), None);
        assert_eq!(d.update(0b001, s(5)), Some(0b001), "the upper layers pause");
        assert_eq!(d.next_due(), None);
        // A classroom is spotlit: its 720p is wanted again, at once.
        assert_eq!(d.update(0b100, s(6)), Some(0b101), "the lowest always goes");
        // Wanted off and on again within the wait: no stop and start.
        assert_eq!(d.update(0b001, s(7)), None);
        assert_eq!(d.update(0b100, s(9)), None);
        assert_eq!(d.update(0b001, s(10)), None);
        assert_eq!(d.update(0b001, s(15)), Some(0b001));
        assert_eq!(all(3), 0b111);
        assert_eq!(
            Dynacast::new(1).update(0, s(100)),
            None,
            "one layer: nothing to pause"
        );
    }
}
