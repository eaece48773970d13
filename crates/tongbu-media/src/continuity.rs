//! Continuity: whether a stream keeps flowing. A video picture that stops for more than half a
//! second is a freeze, and audio that stops for a fifth of a second is a gap: both are what a
//! classroom notices. Counted per published track (what arrives from the publisher) and per
//! subscription (what is forwarded to a subscriber), so that a pause of the publisher's own
//! stream is not blamed on its subscribers.

use std::time::{Duration, Instant};

use crate::MediaKind;

/// Video with no new frame for longer than this has frozen.
pub const FREEZE_AFTER: Duration = Duration::from_millis(500);

/// Audio with no packet for longer than this has a gap.
pub const AUDIO_GAP_AFTER: Duration = Duration::from_millis(200);

/// The pause that counts for a kind of media.
pub fn threshold(kind: MediaKind) -> Duration {
    match kind {
        MediaKind::Video => FREEZE_AFTER,
        MediaKind::Audio => AUDIO_GAP_AFTER,
    }
}

/// Frames of one stream and the pauses between them.
#[derive(Debug, Clone, Copy)]
pub struct Continuity {
    threshold: Duration,
    last_frame: Option<Instant>,
    last_timestamp: u32,
    gaps: u64,
    gap_time: Duration,
}

impl Continuity {
    /// A stream of `kind` that has not started.
    pub fn new(kind: MediaKind) -> Self {
        Self {
            threshold: threshold(kind),
            last_frame: None,
            last_timestamp: 0,
            gaps: 0,
            gap_time: Duration::ZERO,
        }
    }

    /// A packet of the stream (its RTP timestamp names its frame). `excused` is a pause of the
    /// source that ended just now (see [`Continuity::packet`]'s result on the publisher's side);
    /// that much of a pause here is not counted. Returns the pause this packet ended, if it was
    /// long enough to count.
    #[inline]
    pub fn packet(
        &mut self,
        timestamp: u32,
        now: Instant,
        excused: Option<Duration>,
    ) -> Option<Duration> {
        let Some(last) = self.last_frame else {
            self.last_frame = Some(now);
            self.last_timestamp = timestamp;
            return None;
        };
        if timestamp == self.last_timestamp {
            return None;
        }
        self.last_timestamp = timestamp;
        self.last_frame = Some(now);
        let pause = now.saturating_duration_since(last);
        if pause <= self.threshold {
            return None;
        }
        let own = pause.saturating_sub(excused.unwrap_or_default());
        if own <= self.threshold {
            return Some(pause);
        }
        self.gaps += 1;
        self.gap_time += own;
        Some(pause)
    }

    /// Pauses counted so far (freezes for video, gaps for audio).
    pub fn gaps(&self) -> u64 {
        self.gaps
    }

    /// Their total length.
    pub fn gap_time(&self) -> Duration {
        self.gap_time
    }

    /// Whether it has started and now stands still for longer than its threshold.
    pub fn stalled(&self, now: Instant) -> bool {
        self.last_frame
            .is_some_and(|at| now.saturating_duration_since(at) > self.threshold)
    }

    /// Whether any frame has passed yet.
    pub fn started(&self) -> bool {
        self.last_frame.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_pause_longer_than_half_a_second_is_one_freeze() {
        let t0 = Instant::now();
        let mut c = Continuity::new(MediaKind::Video);
        // 30 frames a second, three packets each, then 800 ms of nothing, then frames again.
        let mut now = t0;
        let mut ts = 0u32;
        for _ in 0..30 {
            for _ in 0..3 {
                assert_eq!(c.packet(ts, now, None), None);
            }
            now += ms(33);
            ts = ts.wrapping_add(3000);
        }
        assert!(!c.stalled(now));
        now += ms(800);
        assert!(c.stalled(now));
        assert_eq!(c.packet(ts, now, None), Some(ms(833)));
        assert_eq!(c.gaps(), 1);
        assert_eq!(c.gap_time(), ms(833));
        assert!(!c.stalled(now));
        // A slow 400 ms frame interval is not a freeze.
        now += ms(400);
        assert_eq!(c.packet(ts.wrapping_add(3000), now, None), None);
        assert_eq!(c.gaps(), 1);
    }

    #[test]
    fn the_publishers_own_pause_is_not_the_subscribers_freeze() {
        let t0 = Instant::now();
        let mut upstream = Continuity::new(MediaKind::Video);
        let mut sub = Continuity::new(MediaKind::Video);
        upstream.packet(0, t0, None);
        sub.packet(0, t0, None);
        // The teacher's camera stops for a second: everybody pauses, nobody is to blame.
        let now = t0 + ms(1000);
        let excused = upstream.packet(3000, now, None);
        assert_eq!(excused, Some(ms(1000)));
        assert_eq!(upstream.gaps(), 1);
        sub.packet(3000, now, excused);
        assert_eq!(sub.gaps(), 0);
    }

    #[test]
    fn audio_gaps_count_from_a_fifth_of_a_second() {
        let t0 = Instant::now();
        let mut c = Continuity::new(MediaKind::Audio);
        c.packet(0, t0, None);
        c.packet(960, t0 + ms(20), None);
        c.packet(1920, t0 + ms(190), None);
        assert_eq!(c.gaps(), 0);
        c.packet(2880, t0 + ms(420), None);
        assert_eq!(c.gaps(), 1);
        assert!(!Continuity::new(MediaKind::Audio).started());
    }
}
