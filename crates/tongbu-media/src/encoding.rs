//! An encoding: one RTP stream (one SSRC) of a producer — the whole track without simulcast, one
//! layer of it with — and what the router keeps per stream: its keyframe requests, the last
//! packets for NACKs, its continuity, the publisher's clock from its sender reports (each layer
//! has its own timestamps) and its bitrate, which the bandwidth allocator reads.

use std::time::{Duration, Instant};

use crate::packet_cache::{PacketCache, VIDEO_SLOTS};
use crate::{Continuity, KeyframeRequests, MediaKind, SenderClock};

/// Bytes an RTP packet costs on the wire beyond its payload: IPv4 and UDP headers, the RTP
/// header with the extensions Tongbu writes (mid, transport-wide sequence number) and the SRTP
/// tag.
pub const WIRE_OVERHEAD: u64 = 20 + 8 + 12 + 12 + 16;

/// How much of a new second's bitrate enters the smoothed one (keyframes make single seconds
/// jump).
const SMOOTHING: f64 = 0.5;

/// One RTP stream of a producer.
#[derive(Debug)]
pub struct Encoding {
    pub(crate) keyframes: KeyframeRequests,
    pub(crate) packets: u64,
    pub(crate) bytes: u64,
    pub(crate) continuity: Continuity,
    /// Video: the last packets, for every consumer's NACKs.
    pub(crate) cache: Option<PacketCache>,
    /// The publisher's clock from this stream's last sender report.
    pub(crate) sender_clock: Option<SenderClock>,
    /// H.264: the stream sends its parameter sets before each IDR (browsers do), so a decoder
    /// may start only at the packet carrying them, never at the IDR after.
    pub(crate) sends_parameter_sets: bool,
    /// Packets and bytes at the last measurement, and when it was.
    measured: (u64, u64, Option<Instant>),
    bitrate_bps: Option<f64>,
    /// The last seconds' bitrates above zero (newest at `recent_at`): their peak is what the
    /// stream costs, also while it is paused and when it starts again (a second cut short by
    /// a pause or a start measures low).
    recent: [u64; RECENT],
    recent_at: usize,
}

/// Seconds of bitrates kept for [`Encoding::nominal_bps`].
const RECENT: usize = 5;

impl Encoding {
    pub(crate) fn new(kind: MediaKind) -> Self {
        Self {
            keyframes: KeyframeRequests::default(),
            packets: 0,
            bytes: 0,
            continuity: Continuity::new(kind),
            cache: (kind == MediaKind::Video).then(|| PacketCache::new(VIDEO_SLOTS)),
            sender_clock: None,
            sends_parameter_sets: false,
            measured: (0, 0, None),
            bitrate_bps: None,
            recent: [0; RECENT],
            recent_at: 0,
        }
    }

    /// Updates its bitrate from what arrived since the last call (about once a second).
    pub(crate) fn measure(&mut self, now: Instant) {
        let (packets, bytes, at) = self.measured;
        self.measured = (self.packets, self.bytes, Some(now));
        let Some(at) = at else {
            return;
        };
        let elapsed = now.saturating_duration_since(at);
        if elapsed < Duration::from_millis(100) {
            self.measured = (packets, bytes, Some(at));
            return;
        }
        let wire = (self.bytes - bytes) + (self.packets - packets) * WIRE_OVERHEAD;
        let bps = wire as f64 * 8.0 / elapsed.as_secs_f64();
        self.bitrate_bps = Some(match self.bitrate_bps {
            // A stream that stopped is gone at once; one that starts counts at once.
            Some(old) if bps > 0.0 && old > 0.0 => old + SMOOTHING * (bps - old),
            _ => bps,
        });
        if let Some(b) = self.bitrate_bps().filter(|&b| b > 0) {
            self.recent_at = (self.recent_at + 1) % RECENT;
            self.recent[self.recent_at] = b;
        }
    }

    /// Its bitrate on the wire (smoothed, bits per second); `None` before two measurements.
    pub fn bitrate_bps(&self) -> Option<u64> {
        self.bitrate_bps.map(|b| b as u64)
    }

    /// What it costs: the peak of its last few seconds' bitrates while it arrived (`None`
    /// before any). Kept while it is paused, so resuming it is priced right.
    pub fn nominal_bps(&self) -> Option<u64> {
        self.recent.iter().copied().max().filter(|&b| b > 0)
    }

    /// Packets and bytes (payload) received.
    pub fn received(&self) -> (u64, u64) {
        (self.packets, self.bytes)
    }

    /// Pauses of what arrives on it.
    pub fn continuity(&self) -> &Continuity {
        &self.continuity
    }

    /// The publisher's clock as this stream's last sender report gave it.
    pub fn sender_clock(&self) -> Option<SenderClock> {
        self.sender_clock
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bitrate_counts_the_wire_and_smooths_seconds() {
        let t0 = Instant::now();
        let mut e = Encoding::new(MediaKind::Video);
        e.measure(t0);
        assert_eq!(e.bitrate_bps(), None);
        // 100 packets of 1000 bytes in a second.
        e.packets = 100;
        e.bytes = 100_000;
        e.measure(t0 + Duration::from_secs(1));
        let first = 100 * (1000 + WIRE_OVERHEAD) * 8;
        assert_eq!(e.bitrate_bps(), Some(first));
        // A second with twice as much moves it half way.
        e.packets += 200;
        e.bytes += 200_000;
        e.measure(t0 + Duration::from_secs(2));
        assert_eq!(e.bitrate_bps(), Some(first * 3 / 2));
        // Nothing: the stream stopped, and counts as nothing now; what it cost stays known.
        e.measure(t0 + Duration::from_secs(3));
        assert_eq!(e.bitrate_bps(), Some(0));
        assert_eq!(
            e.nominal_bps(),
            Some(first * 3 / 2),
            "the peak of the last seconds"
        );
    }
}
