//! Continuity: whether a stream keeps flowing. A video picture that stops for more than half a
//! second is a freeze, and audio that stops for a fifth of a second is a gap: both are what a
//! classroom notices. A silence the sender means is neither: with opus DTX a quiet microphone
//! sends a packet every 400 ms, its RTP timestamp advanced by the time that passed and no
//! sequence number missing, and that is told from audio lost or held up on the way. Each published track keeps a [`Continuity`] of what arrives from its
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

/// The RTP clock of audio: opus's is 48 kHz whatever it samples at (RFC 7587).
const AUDIO_CLOCK_HZ: f64 = 48_000.0;

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
    /// Audio: a pause its timestamps account for is the sender's (DTX), not a gap.
    dtx: bool,
    last_frame: Option<Instant>,
    last_timestamp: u32,
    last_seq: u16,
    gaps: u64,
    gap_time: Duration,
}

impl Continuity {
    /// A stream of `kind` that has not started.
    pub fn new(kind: MediaKind) -> Self {
        Self {
            threshold: threshold(kind),
            dtx: kind == MediaKind::Audio,
            last_frame: None,
            last_timestamp: 0,
            last_seq: 0,
            gaps: 0,
            gap_time: Duration::ZERO,
        }
    }

    /// A packet of the stream (its sequence number, and its RTP timestamp, which names its
    /// frame). Returns the pause it ended, if that was long enough to count.
    #[inline]
    pub fn packet(&mut self, seq: u16, timestamp: u32, now: Instant) -> Option<Duration> {
        let next = seq == self.last_seq.wrapping_add(1);
        self.last_seq = seq;
        let Some(last) = self.last_frame else {
            self.last_frame = Some(now);
            self.last_timestamp = timestamp;
            return None;
        };
        if timestamp == self.last_timestamp {
            return None;
        }
        let media = timestamp.wrapping_sub(self.last_timestamp);
        self.last_timestamp = timestamp;
        self.last_frame = Some(now);
        let pause = now.saturating_duration_since(last);
        if pause <= self.threshold {
            return None;
        }
        // Nothing missing, and the sender's clock moved on as much as the wall's: it sent
        // nothing because there was nothing to send (DTX).
        let meant = Duration::from_secs_f64(f64::from(media) / AUDIO_CLOCK_HZ) + self.threshold;
        if self.dtx && next && meant >= pause {
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
        let mut seq = 0u16;
        for _ in 0..30 {
            for _ in 0..3 {
                seq += 1;
                assert_eq!(c.packet(seq, ts, now), None);
            }
            now += ms(33);
            ts = ts.wrapping_add(3000);
        }
        assert!(!c.stalled(now));
        now += ms(800);
        assert!(c.stalled(now));
        assert_eq!(c.packet(seq + 1, ts, now), Some(ms(833)));
        assert_eq!(c.gaps(), 1);
        assert_eq!(c.gap_time(), ms(833));
        assert!(!c.stalled(now));
        // A slow 400 ms frame interval is not a freeze.
        now += ms(400);
        assert_eq!(c.packet(seq + 2, ts.wrapping_add(3000), now), None);
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
        c.packet(1, 0, t0);
        c.packet(2, 960, t0 + ms(20));
        c.packet(3, 1920, t0 + ms(190));
        assert_eq!(c.gaps(), 0);
        // Held up on the way: the next packet, 20 ms of audio later, came 230 ms late.
        c.packet(4, 2880, t0 + ms(420));
        assert_eq!(c.gaps(), 1);
        assert!(!Continuity::new(MediaKind::Audio).started());
    }

    #[test]
    fn a_quiet_microphone_under_dtx_has_no_gaps_but_lost_audio_does() {
        let t0 = Instant::now();
        let mut c = Continuity::new(MediaKind::Audio);
        c.packet(10, 0, t0);
        // DTX: a packet every 400 ms, each 400 ms of audio on, none missing.
        for i in 1..=10u16 {
            c.packet(10 + i, u32::from(i) * 19_200, t0 + ms(400 * u64::from(i)));
        }
        assert_eq!(c.gaps(), 0, "silence the sender meant");
        // 300 ms of packets lost: the timestamps account for it, the sequence numbers do not.
        c.packet(21 + 15, 10 * 19_200 + 15 * 960, t0 + ms(4300));
        assert_eq!(c.gaps(), 1);
        // A video that stops is a freeze, whatever its timestamps say.
        let mut v = Continuity::new(MediaKind::Video);
        v.packet(1, 0, t0);
        v.packet(2, 90_000, t0 + ms(1000));
        assert_eq!(v.gaps(), 1);
    }
}
