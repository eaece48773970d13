//! Where a track's frames fall on its recording's one timeline (nanoseconds since the recording
//! began). A track's first frame is placed by its publisher's last sender report where it has
//! one — the report ties the track's RTP clock to the publisher's wall clock, which its audio and
//! video share, so a camera and its microphone start together — else by when it arrived; every
//! later frame follows from its RTP timestamp, so the publisher's pacing, not the network's
//! jitter, spaces the frames.

/// A publisher's sender report on the recording's timeline: the RTP timestamp of an instant and
/// that instant's time (nanoseconds since the recording began).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportedTime {
    pub rtp: u32,
    pub ns: i64,
}

/// One track's clock.
#[derive(Debug, Clone)]
pub struct TrackClock {
    rate: u32,
    /// The last frame's RTP timestamp and time.
    last: Option<(u32, i64)>,
}

impl TrackClock {
    /// A track whose RTP clock runs at `rate` Hz.
    pub fn new(rate: u32) -> Self {
        Self {
            rate: rate.max(1),
            last: None,
        }
    }

    /// The time of a frame with RTP timestamp `rtp` that arrived at `arrived_ns`; `report` is
    /// the publisher's last sender report, if any. Never before 0.
    pub fn time_of(&mut self, rtp: u32, arrived_ns: i64, report: Option<ReportedTime>) -> u64 {
        let ns = match self.last {
            Some((last_rtp, last_ns)) => last_ns + self.ticks_ns(rtp.wrapping_sub(last_rtp) as i32),
            None => match report {
                Some(r) => r.ns + self.ticks_ns(rtp.wrapping_sub(r.rtp) as i32),
                None => arrived_ns,
            },
        };
        self.last = Some((rtp, ns));
        ns.max(0) as u64
    }

    fn ticks_ns(&self, ticks: i32) -> i64 {
        i64::from(ticks) * 1_000_000_000 / i64::from(self.rate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_follow_their_timestamps_from_where_the_first_arrived() {
        let mut c = TrackClock::new(90_000);
        assert_eq!(c.time_of(1_000, 2_000_000_000, None), 2_000_000_000);
        // 1/15 s later by the RTP clock, whatever the network did.
        assert_eq!(c.time_of(7_000, 2_300_000_000, None), 2_066_666_666);
        // Across the 32-bit wrap.
        let mut c = TrackClock::new(48_000);
        c.time_of(u32::MAX - 479, 0, None);
        assert_eq!(c.time_of(480, 0, None), 20_000_000);
    }

    #[test]
    fn a_sender_report_places_the_first_frame() {
        // Audio and video of one publisher, reported at the same instant (5 s into the
        // recording): their first frames line up, though the video arrived 300 ms later.
        let mut audio = TrackClock::new(48_000);
        let mut video = TrackClock::new(90_000);
        let a = audio.time_of(
            48_000,
            5_020_000_000,
            Some(ReportedTime {
                rtp: 47_040,
                ns: 5_000_000_000,
            }),
        );
        let v = video.time_of(
            9_900,
            5_320_000_000,
            Some(ReportedTime {
                rtp: 9_000,
                ns: 5_000_000_000,
            }),
        );
        assert_eq!((a, v), (5_020_000_000, 5_010_000_000));
        // A report that puts a frame before the recording began is clamped.
        let mut c = TrackClock::new(90_000);
        assert_eq!(
            c.time_of(0, 0, Some(ReportedTime { rtp: 90_000, ns: 0 })),
            0
        );
    }
}
