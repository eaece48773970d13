//! The simulcast consumer: one layer at a time of a producer that publishes several (the same
//! camera at 320×180, 640×360, 1280×720, each with its own SSRC, sequence numbers, timestamps
//! and VP8 picture IDs), delivered to one subscriber as one continuous stream.
//!
//! Its rewrite rules beside the simple [`crate::Consumer`]'s: the subscriber's *target* layer
//! (chosen by the bandwidth allocator) may differ from the layer it *receives*; a switch happens
//! only on the first packet of a keyframe of the target layer, and at that packet the sequence
//! numbers, timestamps (through [`StreamRewriter::rebase`]), picture IDs and TL0PICIDX are all
//! rebased to follow the last ones sent, so the browser's decoder sees one stream that changed
//! resolution. Until the target's keyframe comes, the current layer keeps flowing; a keyframe of
//! the target is asked for once per change of target ([`SimulcastConsumer::take_keyframe_request`]).
//! No target: the video is paused, and resuming waits for a keyframe.
//!
//! Plain state over packets and `Instant`s; no allocation per packet.

use std::time::Instant;

use crate::vp8::{Descriptor, PictureIds};
use crate::{Layer, RtpIn, StreamRewriter};

/// What to write into a forwarded copy: its sequence number and timestamp, and the VP8 picture
/// ID and TL0PICIDX for its payload descriptor ([`vp8::set_ids`]), where it has them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimulcastCopy {
    /// Extended outgoing sequence number (its upper bits are the SRTP rollover counter).
    pub seq: u64,
    pub timestamp: u32,
    pub picture_id: Option<u16>,
    pub tl0picidx: Option<u8>,
}

impl SimulcastCopy {
    /// The renumbered IDs to write into the copy's descriptor, if it has any.
    pub fn ids(&self) -> Option<PictureIds> {
        (self.picture_id.is_some() || self.tl0picidx.is_some()).then(|| PictureIds {
            picture_id: self.picture_id.unwrap_or(0),
            tl0picidx: self.tl0picidx.unwrap_or(0),
        })
    }
}

/// Why a packet was not forwarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skipped {
    /// Its layer is neither the one received nor the target.
    OtherLayer,
    /// From the target layer, but the switch waits for that layer's keyframe.
    WaitingForKeyframe,
    /// No target: the video is paused.
    Paused,
    /// Older than the switch it would have to precede.
    Stale,
}

/// Renumbers one counter of the VP8 descriptor (picture ID or TL0PICIDX) across switches.
#[derive(Debug, Clone, Copy, Default)]
struct Renumber {
    offset: u16,
    /// The newest value sent (under its own modulus).
    last: Option<u16>,
}

impl Renumber {
    /// The next source value `value` starts a new mapping that follows the last one sent.
    fn rebase(&mut self, value: u16, modulus: u16) {
        self.offset = match self.last {
            Some(last) => (last + 1).wrapping_sub(value) % modulus,
            None => 0,
        };
    }

    /// `value` under the current mapping, without moving the newest sent (a packet sent again).
    fn peek(&self, value: u16, modulus: u16) -> u16 {
        (value + self.offset) % modulus
    }

    fn map(&mut self, value: u16, modulus: u16) -> u16 {
        let out = self.peek(value, modulus);
        // Newer than the last one sent when ahead by less than half the range.
        let newer = self
            .last
            .is_none_or(|last| (out + modulus - last) % modulus < modulus / 2);
        if newer {
            self.last = Some(out);
        }
        out
    }
}

/// One simulcast producer delivered to one subscriber.
#[derive(Debug, Clone)]
pub struct SimulcastConsumer {
    rewriter: StreamRewriter,
    target: Option<Layer>,
    current: Option<Layer>,
    keyframe_request: Option<Layer>,
    picture_ids: Renumber,
    tl0picidx: Renumber,
    switches: u64,
}

impl SimulcastConsumer {
    /// A consumer of a video producer with RTP clock rate `clock_rate` (90 000 for VP8), receiving
    /// nothing until a target is set.
    pub fn new(clock_rate: u32) -> Self {
        Self {
            rewriter: StreamRewriter::new(clock_rate),
            target: None,
            current: None,
            keyframe_request: None,
            picture_ids: Renumber::default(),
            tl0picidx: Renumber::default(),
            switches: 0,
        }
    }

    /// The layer the subscriber should receive (`None`: pause its video). A new target that is
    /// not the layer being received asks for a keyframe of it.
    pub fn set_target(&mut self, target: Option<Layer>) {
        if target == self.target {
            return;
        }
        self.target = target;
        if target.is_none() {
            self.current = None;
        }
        self.keyframe_request = target.filter(|&t| Some(t) != self.current);
    }

    /// The layer the subscriber should receive.
    pub fn target(&self) -> Option<Layer> {
        self.target
    }

    /// The layer it receives now.
    pub fn current(&self) -> Option<Layer> {
        self.current
    }

    /// Times it started or changed layers.
    pub fn switches(&self) -> u64 {
        self.switches
    }

    /// A keyframe of this layer is needed for the switch (handed out once per new target).
    pub fn take_keyframe_request(&mut self) -> Option<Layer> {
        self.keyframe_request.take()
    }

    /// The layer it waits for a keyframe of, if it waits.
    pub fn awaited(&self) -> Option<Layer> {
        self.target.filter(|&t| Some(t) != self.current)
    }

    /// Its sequence numbers and timestamps.
    pub fn rewriter(&self) -> &StreamRewriter {
        &self.rewriter
    }

    /// The publisher's encoder of `layer` restarted (a new SSRC): if that is the layer being
    /// received, the stream waits for the target's next keyframe, numbering continuing.
    pub fn restart(&mut self, layer: Layer) {
        if self.current == Some(layer) {
            self.current = None;
            self.keyframe_request = self.target;
        }
    }

    /// The IDs a packet of the current layer is sent again with (a NACK answered).
    pub fn ids_again(&self, d: &Descriptor) -> Option<PictureIds> {
        SimulcastCopy {
            seq: 0,
            timestamp: 0,
            picture_id: d
                .picture_id
                .map(|p| self.picture_ids.peek(p.value, p.modulus())),
            tl0picidx: d
                .tl0picidx
                .map(|t| self.tl0picidx.peek(u16::from(t), 256) as u8),
        }
        .ids()
    }

    /// A packet of `layer`, whose VP8 descriptor is `d`: what to send for it, or why not.
    pub fn forward(
        &mut self,
        layer: Layer,
        packet: &RtpIn,
        d: &Descriptor,
        now: Instant,
    ) -> Result<SimulcastCopy, Skipped> {
        let Some(target) = self.target else {
            return Err(Skipped::Paused);
        };
        let switch = layer == target && self.current != Some(target);
        if switch {
            if !d.keyframe_start {
                return Err(Skipped::WaitingForKeyframe);
            }
        } else if Some(layer) != self.current {
            return Err(Skipped::OtherLayer);
        }
        let (picture_id, tl0picidx) = (d.picture_id, d.tl0picidx);
        if switch {
            self.rewriter.rebase();
            if let Some(p) = picture_id {
                self.picture_ids.rebase(p.value, p.modulus());
            }
            if let Some(t) = tl0picidx {
                self.tl0picidx.rebase(u16::from(t), 256);
            }
        }
        let (seq, timestamp) = self
            .rewriter
            .rewrite(packet.seq, packet.timestamp, now)
            .ok_or(Skipped::Stale)?;
        if switch {
            self.current = Some(target);
            self.keyframe_request = None;
            self.switches += 1;
        }
        Ok(SimulcastCopy {
            seq,
            timestamp,
            picture_id: picture_id.map(|p| self.picture_ids.map(p.value, p.modulus())),
            tl0picidx: tl0picidx.map(|t| self.tl0picidx.map(u16::from(t), 256) as u8),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    /// One layer's packets: its own sequence numbers, timestamps and picture IDs (15-bit), a
    /// TL0PICIDX, and a frame of `per_frame` packets every 33 ms.
    struct Source {
        seq: u16,
        ts: u32,
        picture: u16,
        tl0: u8,
    }

    impl Source {
        fn new(seq: u16, ts: u32, picture: u16, tl0: u8) -> Self {
            Self {
                seq,
                ts,
                picture,
                tl0,
            }
        }

        /// The next frame's packets (the first carries the VP8 header: keyframe or not).
        fn frame(&mut self, keyframe: bool, per_frame: u16) -> Vec<RtpIn> {
            let out = (0..per_frame)
                .map(|i| {
                    let first = i == 0;
                    let pid = 0x8000 | self.picture;
                    let [p0, p1] = pid.to_be_bytes();
                    let s = if first { 0x90 } else { 0x80 };
                    let vp8_header = if keyframe { 0x50 } else { 0x51 };
                    let payload: Arc<[u8]> =
                        Arc::from(vec![s, 0xC0, p0, p1, self.tl0, vp8_header, 0xAA]);
                    RtpIn {
                        seq: self.seq.wrapping_add(i),
                        timestamp: self.ts,
                        marker: i + 1 == per_frame,
                        layer: Layer::BASE,
                        payload,
                    }
                })
                .collect();
            self.seq = self.seq.wrapping_add(per_frame);
            self.ts = self.ts.wrapping_add(3000);
            self.picture = (self.picture + 1) & 0x7FFF;
            self.tl0 = self.tl0.wrapping_add(1);
            out
        }
    }

    /// `c.forward` with the descriptor read from the packet, as the router does.
    fn fwd(
        c: &mut SimulcastConsumer,
        layer: Layer,
        p: &RtpIn,
        now: Instant,
    ) -> Result<SimulcastCopy, Skipped> {
        c.forward(layer, p, &crate::vp8::descriptor(&p.payload), now)
    }

    fn ms(t0: Instant, ms: u64) -> Instant {
        t0 + Duration::from_millis(ms)
    }

    #[test]
    fn starts_on_the_target_layers_keyframe_and_ignores_the_others() {
        let t0 = Instant::now();
        let mut c = SimulcastConsumer::new(90_000);
        let mut low = Source::new(100, 0, 10, 1);
        let mut high = Source::new(5000, 777, 300, 9);
        // No target yet: paused.
        assert_eq!(
            fwd(&mut c, Layer(0), &low.frame(true, 1)[0], t0),
            Err(Skipped::Paused)
        );
        c.set_target(Some(Layer(0)));
        assert_eq!(c.take_keyframe_request(), Some(Layer(0)));
        assert_eq!(c.take_keyframe_request(), None, "asked once");
        for p in low.frame(false, 2) {
            assert_eq!(
                fwd(&mut c, Layer(0), &p, t0),
                Err(Skipped::WaitingForKeyframe)
            );
        }
        for p in high.frame(true, 2) {
            assert_eq!(fwd(&mut c, Layer(2), &p, t0), Err(Skipped::OtherLayer));
        }
        let key = low.frame(true, 3);
        let first = fwd(&mut c, Layer(0), &key[0], t0).expect("the keyframe starts it");
        assert_eq!(c.current(), Some(Layer(0)));
        assert_eq!(c.switches(), 1);
        let rest: Vec<_> = key[1..]
            .iter()
            .map(|p| fwd(&mut c, Layer(0), p, t0).unwrap())
            .collect();
        assert_eq!(rest[0].seq, first.seq + 1);
        assert_eq!(rest[1].seq, first.seq + 2);
        assert!(rest.iter().all(|r| r.timestamp == first.timestamp));
        assert!(rest
            .iter()
            .all(|r| r.picture_id == first.picture_id && r.tl0picidx == first.tl0picidx));
    }

    /// Forwards `frames` of `layer` from `src` at 33 ms intervals from `at` ms; returns the copies
    /// (skipped packets are `None`).
    fn run(
        c: &mut SimulcastConsumer,
        layer: Layer,
        src: &mut Source,
        keyframe_first: bool,
        frames: usize,
        t0: Instant,
        at: &mut u64,
    ) -> Vec<Option<SimulcastCopy>> {
        let mut out = Vec::new();
        for f in 0..frames {
            for p in src.frame(keyframe_first && f == 0, 2) {
                out.push(fwd(c, layer, &p, ms(t0, *at)).ok());
            }
            *at += 33;
        }
        out
    }

    /// Nothing of `copies` was forwarded.
    fn none_sent(copies: &[Option<SimulcastCopy>]) -> bool {
        copies.iter().all(Option::is_none)
    }

    #[test]
    fn an_up_switch_waits_for_the_keyframe_and_continues_every_counter() {
        let t0 = Instant::now();
        let mut at = 0;
        let mut c = SimulcastConsumer::new(90_000);
        let mut low = Source::new(100, 0, 10, 1);
        let mut high = Source::new(60_000, 123_456, 0x7FFE, 250);
        c.set_target(Some(Layer(0)));
        let before = run(&mut c, Layer(0), &mut low, true, 3, t0, &mut at);
        let last = before.last().unwrap().unwrap();

        c.set_target(Some(Layer(2)));
        assert_eq!(c.take_keyframe_request(), Some(Layer(2)));
        // The high layer's delta frames wait; the low layer keeps flowing meanwhile.
        assert!(none_sent(&run(
            &mut c,
            Layer(2),
            &mut high,
            false,
            1,
            t0,
            &mut at
        )));
        let still_low = run(&mut c, Layer(0), &mut low, false, 1, t0, &mut at);
        assert!(still_low.iter().all(Option::is_some));
        let last = still_low.last().unwrap().unwrap_or(last);
        assert_eq!(c.current(), Some(Layer(0)));

        let after = run(&mut c, Layer(2), &mut high, true, 3, t0, &mut at);
        let after: Vec<SimulcastCopy> = after.into_iter().map(Option::unwrap).collect();
        assert_eq!(c.current(), Some(Layer(2)));
        assert_eq!(c.switches(), 2);
        assert_eq!(after[0].seq, last.seq + 1, "sequence numbers continue");
        assert!(
            after[0].timestamp.wrapping_sub(last.timestamp) > 0
                && after[0].timestamp.wrapping_sub(last.timestamp) <= 6000,
            "time moves forward by about the wall time between them"
        );
        assert_eq!(
            after[0].picture_id,
            last.picture_id.map(|p| p + 1),
            "picture IDs continue"
        );
        assert_eq!(
            after[0].tl0picidx,
            last.tl0picidx.map(|t| t.wrapping_add(1))
        );
        // The high layer's picture IDs wrap at 2^15 in the source; the copies stay continuous.
        let pids: Vec<u16> = after
            .iter()
            .step_by(2)
            .map(|a| a.picture_id.unwrap())
            .collect();
        assert_eq!(
            pids,
            [pids[0], (pids[0] + 1) & 0x7FFF, (pids[0] + 2) & 0x7FFF]
        );
        // The low layer is no longer forwarded.
        assert!(none_sent(&run(
            &mut c,
            Layer(0),
            &mut low,
            true,
            1,
            t0,
            &mut at
        )));
    }

    #[test]
    fn a_down_switch_and_a_pause() {
        let t0 = Instant::now();
        let mut at = 0;
        let mut c = SimulcastConsumer::new(90_000);
        let mut low = Source::new(9, 50, 5, 0);
        let mut high = Source::new(700, 9_000, 40, 0);
        c.set_target(Some(Layer(2)));
        let high_copies = run(&mut c, Layer(2), &mut high, true, 2, t0, &mut at);
        let last = high_copies.last().unwrap().unwrap();
        c.set_target(Some(Layer(0)));
        assert_eq!(c.take_keyframe_request(), Some(Layer(0)));
        let low_copies = run(&mut c, Layer(0), &mut low, true, 1, t0, &mut at);
        assert_eq!(low_copies[0].unwrap().seq, last.seq + 1);
        assert!(none_sent(&run(
            &mut c,
            Layer(2),
            &mut high,
            false,
            1,
            t0,
            &mut at
        )));

        // Paused: nothing, whatever comes; resuming on the current layer waits for its keyframe.
        c.set_target(None);
        assert_eq!(c.current(), None);
        let p = low.frame(true, 1);
        assert_eq!(
            fwd(&mut c, Layer(0), &p[0], ms(t0, at)),
            Err(Skipped::Paused)
        );
        c.set_target(Some(Layer(0)));
        assert_eq!(c.take_keyframe_request(), Some(Layer(0)));
        assert!(none_sent(&run(
            &mut c,
            Layer(0),
            &mut low,
            false,
            1,
            t0,
            &mut at
        )));
        let resumed = run(&mut c, Layer(0), &mut low, true, 1, t0, &mut at);
        assert_eq!(
            resumed[0].unwrap().seq,
            low_copies.last().unwrap().unwrap().seq + 1,
            "no gap in the numbering across the pause"
        );
    }

    #[test]
    fn a_packet_older_than_the_switch_is_stale() {
        let t0 = Instant::now();
        let mut c = SimulcastConsumer::new(90_000);
        let mut low = Source::new(100, 0, 1, 1);
        c.set_target(Some(Layer(0)));
        let delta = low.frame(false, 1);
        let key = low.frame(true, 1);
        fwd(&mut c, Layer(0), &key[0], t0).unwrap();
        // The delta frame before the keyframe arrives late (reordered).
        assert_eq!(fwd(&mut c, Layer(0), &delta[0], t0), Err(Skipped::Stale));
    }
}
