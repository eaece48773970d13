//! Per-subscription rewrite of RTP sequence numbers and timestamps.
//!
//! A subscriber must see one continuous stream even though it joined mid-stream, waited for a
//! keyframe, or was switched between sources (a simulcast layer, a publisher that reconnected).
//! The rewriter keeps an offset from the source's numbering to the subscriber's and moves it at
//! each [`StreamRewriter::rebase`] so that the next packet follows the last one sent.

use std::time::Instant;

/// The first outgoing sequence number of every new stream. Far enough from zero that packets
/// reordered just before the first one keep a positive extended number, and with a rollover
/// counter of 0, which is what a fresh SRTP receiver assumes.
const INITIAL_SEQ: u64 = 1000;

#[derive(Debug, Clone, Copy)]
struct Mapping {
    seq_offset: u16,
    ts_offset: u32,
    /// Extended outgoing sequence number of the first packet of this mapping: older packets
    /// belong to a previous source and are dropped.
    floor: u64,
}

/// Rewrites one source's (sequence number, timestamp) into one subscriber's continuous numbering.
#[derive(Debug, Clone)]
pub struct StreamRewriter {
    clock_rate: u32,
    mapping: Option<Mapping>,
    highest_out: u64,
    last_out_ts: u32,
    last_out_at: Option<Instant>,
}

impl StreamRewriter {
    /// A rewriter for a stream with the given RTP clock rate (90 000 for video, 48 000 for opus).
    pub fn new(clock_rate: u32) -> Self {
        Self {
            clock_rate,
            mapping: None,
            highest_out: 0,
            last_out_ts: 0,
            last_out_at: None,
        }
    }

    /// The next packet starts a new mapping that continues after the last packet sent.
    pub fn rebase(&mut self) {
        self.mapping = None;
    }

    /// Whether a packet has been rewritten since the last rebase.
    pub fn is_mapped(&self) -> bool {
        self.mapping.is_some()
    }

    /// The offset added to the source's timestamps under the current mapping.
    pub fn ts_offset(&self) -> Option<u32> {
        self.mapping.map(|m| m.ts_offset)
    }

    /// For an outgoing sequence number the subscriber names (a NACK): its extended form, the
    /// source's sequence number it came from and the timestamp offset, if it was sent under the
    /// current mapping.
    pub fn source(&self, out_seq: u16) -> Option<(u64, u16, u32)> {
        let m = self.mapping?;
        let diff = i64::from(out_seq.wrapping_sub(self.highest_out as u16) as i16);
        let ext = self.highest_out as i64 + diff;
        if ext < m.floor as i64 || ext > self.highest_out as i64 {
            return None;
        }
        Some((ext as u64, out_seq.wrapping_sub(m.seq_offset), m.ts_offset))
    }

    /// Highest extended sequence number handed out so far (0 before the first packet).
    pub fn highest_seq(&self) -> u64 {
        self.highest_out
    }

    /// Rewrites one packet. Returns the extended outgoing sequence number and the outgoing
    /// timestamp, or `None` for a packet older than the current mapping (it belongs to a source
    /// the subscriber has already left, or precedes the keyframe it started on).
    pub fn rewrite(&mut self, seq: u16, timestamp: u32, now: Instant) -> Option<(u64, u32)> {
        let mapping = match self.mapping {
            Some(m) => m,
            None => {
                let m = self.new_mapping(seq, timestamp, now);
                self.mapping = Some(m);
                m
            }
        };
        let out16 = seq.wrapping_add(mapping.seq_offset);
        let diff = i64::from(out16.wrapping_sub(self.highest_out as u16) as i16);
        let ext = self.highest_out as i64 + diff;
        if ext < mapping.floor as i64 {
            return None;
        }
        let ext = ext as u64;
        let ts = timestamp.wrapping_add(mapping.ts_offset);
        if ext > self.highest_out || self.last_out_at.is_none() {
            self.highest_out = ext;
            self.last_out_ts = ts;
            self.last_out_at = Some(now);
        }
        Some((ext, ts))
    }

    fn new_mapping(&self, seq: u16, timestamp: u32, now: Instant) -> Mapping {
        let Some(last_at) = self.last_out_at else {
            return Mapping {
                seq_offset: (INITIAL_SEQ as u16).wrapping_sub(seq),
                ts_offset: 0,
                floor: INITIAL_SEQ,
            };
        };
        let next = self.highest_out + 1;
        // Advance the timestamp by the wall time since the last packet, at least one tick, so the
        // receiver's jitter buffer sees time move forward by as much as it really did.
        let elapsed = now.saturating_duration_since(last_at);
        let ticks = (elapsed.as_secs_f64() * f64::from(self.clock_rate)) as u64;
        let expected_ts = self
            .last_out_ts
            .wrapping_add(ticks.clamp(1, u64::from(u32::MAX)) as u32);
        Mapping {
            seq_offset: (next as u16).wrapping_sub(seq),
            ts_offset: expected_ts.wrapping_sub(timestamp),
            floor: next,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn continuous_from_any_starting_point() {
        let now = Instant::now();
        let mut rw = StreamRewriter::new(90_000);
        let first = rw.rewrite(50_000, 7, now).unwrap();
        assert_eq!(first, (INITIAL_SEQ, 7));
        for i in 1..100u16 {
            let (seq, ts) = rw
                .rewrite(50_000u16.wrapping_add(i), 7 + u32::from(i), now)
                .unwrap();
            assert_eq!(seq, INITIAL_SEQ + u64::from(i));
            assert_eq!(ts, 7 + u32::from(i));
        }
    }

    #[test]
    fn source_sequence_wrap_keeps_output_continuous() {
        let now = Instant::now();
        let mut rw = StreamRewriter::new(90_000);
        let mut last = 0;
        for i in 0..200u16 {
            let seq = 65_500u16.wrapping_add(i);
            let (out, _) = rw.rewrite(seq, 0, now).unwrap();
            if i > 0 {
                assert_eq!(out, last + 1);
            }
            last = out;
        }
    }

    #[test]
    fn output_rolls_over_into_the_next_cycle() {
        let now = Instant::now();
        let mut rw = StreamRewriter::new(48_000);
        let mut last = 0;
        for i in 0..70_000u32 {
            let (out, _) = rw.rewrite(i as u16, i, now).unwrap();
            last = out;
        }
        assert_eq!(last, INITIAL_SEQ + 69_999);
        assert!(
            last > u64::from(u16::MAX),
            "the extended number carries the rollover"
        );
    }

    #[test]
    fn reordered_and_late_packets_keep_their_place() {
        let now = Instant::now();
        let mut rw = StreamRewriter::new(90_000);
        rw.rewrite(10, 0, now).unwrap();
        rw.rewrite(12, 0, now).unwrap();
        assert_eq!(rw.rewrite(11, 0, now).unwrap().0, INITIAL_SEQ + 1);
        // Before the first forwarded packet: belongs to nothing the subscriber has.
        assert_eq!(rw.rewrite(9, 0, now), None);
        assert_eq!(rw.highest_seq(), INITIAL_SEQ + 2);
    }

    #[test]
    fn rebase_continues_after_the_last_packet_with_time_advanced() {
        let t0 = Instant::now();
        let mut rw = StreamRewriter::new(90_000);
        let (s, ts) = rw.rewrite(100, 1_000, t0).unwrap();
        rw.rebase();
        // A new source with unrelated numbering, 100 ms later.
        let t1 = t0 + Duration::from_millis(100);
        let (s2, ts2) = rw.rewrite(40_000, 123_456_789, t1).unwrap();
        assert_eq!(s2, s + 1);
        assert_eq!(ts2, ts + 9_000);
        // A packet of the new source from before the point the subscriber switched (reordered)
        // is dropped: it precedes the keyframe the subscriber starts on. Stragglers of the old
        // source are told apart by their SSRC at the edge, not by their number here.
        assert_eq!(rw.rewrite(39_999, 123_456_789 - 3_000, t1), None);
        let (s3, ts3) = rw.rewrite(40_001, 123_456_789 + 3_000, t1).unwrap();
        assert_eq!((s3, ts3), (s + 2, ts + 12_000));
    }

    #[test]
    fn a_nacked_number_maps_back_to_its_source_under_the_current_mapping_only() {
        let t0 = Instant::now();
        let mut rw = StreamRewriter::new(90_000);
        for i in 0..10u16 {
            rw.rewrite(65_530u16.wrapping_add(i), 500, t0).unwrap();
        }
        let out = (INITIAL_SEQ + 8) as u16;
        assert_eq!(
            rw.source(out),
            Some((INITIAL_SEQ + 8, 2, 0)),
            "across the wrap"
        );
        assert_eq!(rw.source((INITIAL_SEQ + 10) as u16), None, "not sent yet");
        rw.rebase();
        assert_eq!(rw.source(out), None, "no mapping until the next packet");
        rw.rewrite(7, 9_000, t0 + std::time::Duration::from_millis(10))
            .unwrap();
        assert_eq!(rw.source(out), None, "sent under the old mapping");
        let (ext, src, off) = rw.source((INITIAL_SEQ + 10) as u16).unwrap();
        assert_eq!((ext, src), (INITIAL_SEQ + 10, 7));
        assert_eq!(
            9_000u32.wrapping_add(off),
            rw.rewrite(7, 9_000, t0).unwrap().1
        );
    }
}
