//! Continuity: whether a stream keeps flowing. A video picture that stops for more than half a
//! second is a freeze, and audio that stops for a fifth of a second is a gap: both are what a
//! classroom notices. Each published track keeps a [`Continuity`] of what arrives from its
//! publisher (once per packet, not per subscriber). A subscription only pauses on its own when it
//! skips packets the track received (it waits for a keyframe after a loss of picture or a stream
//! restart); [`Pauses`] times those, off the per-packet fast path, so that a pause of the
//! publisher's own stream is never blamed on its subscribers.

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

    /// A packet of the stream (its RTP timestamp names its frame). Returns the pause it ended,
    /// if that was long enough to count.
    #[inline]
    pub fn packet(&mut self, timestamp: u32, now: Instant) -> Option<Duration> {
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
        self.gaps += 1;
        self.gap_time += pause;
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

/// A subscription's own pauses: from the first packet it skipped (while the track kept coming)
/// to the next one it was forwarded.
#[derive(Debug, Clone, Copy, Default)]
pub struct Pauses {
    since: Option<Instant>,
    count: u64,
    total: Duration,
}

impl Pauses {
    /// A packet of the track was not forwarded to it.
    #[inline]
    pub fn skipped(&mut self, now: Instant) {
        self.since.get_or_insert(now);
    }

    /// A packet was forwarded to it again; a pause longer than `threshold` counts, less
    /// `excused`: a pause of the publisher's own stream that this same packet ended.
    #[inline]
    pub fn resumed(&mut self, now: Instant, threshold: Duration, excused: Option<Duration>) {
        if let Some(since) = self.since.take() {
            let pause = now
                .saturating_duration_since(since)
                .saturating_sub(excused.unwrap_or_default());
            if pause > threshold {
                self.count += 1;
                self.total += pause;
            }
        }
    }

    /// Whether it has been paused for longer than `threshold` now.
    pub fn stalled(&self, now: Instant, threshold: Duration) -> bool {
        self.since
            .is_some_and(|at| now.saturating_duration_since(at) > threshold)
    }

    /// Pauses counted so far, and their total length.
    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn total(&self) -> Duration {
        self.total
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
                assert_eq!(c.packet(ts, now), None);
            }
            now += ms(33);
            ts = ts.wrapping_add(3000);
        }
        assert!(!c.stalled(now));
        now += ms(800);
        assert!(c.stalled(now));
        assert_eq!(c.packet(ts, now), Some(ms(833)));
        assert_eq!(c.gaps(), 1);
        assert_eq!(c.gap_time(), ms(833));
        assert!(!c.stalled(now));
        // A slow 400 ms frame interval is not a freeze.
        now += ms(400);
        assert_eq!(c.packet(ts.wrapping_add(3000), now), None);
        assert_eq!(c.gaps(), 1);
    }

    #[test]
    fn a_subscriptions_own_pause_counts_when_it_ends() {
        let t0 = Instant::now();
        let mut p = Pauses::default();
        p.resumed(t0, FREEZE_AFTER, None);
        p.skipped(t0 + ms(33));
        p.skipped(t0 + ms(66));
        assert!(!p.stalled(t0 + ms(400), FREEZE_AFTER));
        assert!(p.stalled(t0 + ms(600), FREEZE_AFTER));
        p.resumed(t0 + ms(733), FREEZE_AFTER, None);
        assert_eq!((p.count(), p.total()), (1, ms(700)));
        p.skipped(t0 + ms(800));
        p.resumed(t0 + ms(900), FREEZE_AFTER, None);
        assert_eq!(p.count(), 1, "a short wait is not a freeze");
        // The publisher itself went quiet for most of the wait: not the subscriber's freeze.
        p.skipped(t0 + ms(1000));
        p.resumed(t0 + ms(2000), FREEZE_AFTER, Some(ms(900)));
        assert_eq!(p.count(), 1);
    }

    #[test]
    fn audio_gaps_count_from_a_fifth_of_a_second() {
        let t0 = Instant::now();
        let mut c = Continuity::new(MediaKind::Audio);
        c.packet(0, t0);
        c.packet(960, t0 + ms(20));
        c.packet(1920, t0 + ms(190));
        assert_eq!(c.gaps(), 0);
        c.packet(2880, t0 + ms(420));
        assert_eq!(c.gaps(), 1);
        assert!(!Continuity::new(MediaKind::Audio).started());
    }
}
