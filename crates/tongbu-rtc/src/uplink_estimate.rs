//! What a publisher's uplink carries, as the server sees it, for publishers whose WebRTC stack
//! offers REMB but not transport-wide feedback (older stacks, some studio encoders). A browser
//! with transport-wide feedback estimates its own uplink from the feedback str0m sends; one
//! with only REMB learns nothing unless the receiver tells it, and its encoder would send at its
//! start rate into a narrow or lossy link for the whole lesson.
//!
//! The estimate follows the loss-based controller of Google congestion control
//! (draft-ietf-rmcat-gcc §6), once a second: over 10 % lost, down by half the loss; under 2 %,
//! up 5 % (and at least to what arrived: the link carried that); in between, held. It never exceeds one and a half times what arrived (the bound GCC's
//! delay-based part puts on it), so that a publisher that sends little is not told it may send
//! a lot at once. The worker sends it to the publisher as REMB.

use std::time::{Duration, Instant};

/// How often the estimate moves and a REMB goes out.
pub const REMB_EVERY: Duration = Duration::from_secs(1);
/// Never below this: audio and the lowest picture still fit.
pub const MIN_BPS: f64 = 50_000.0;
/// Nor above this.
pub const MAX_BPS: f64 = 20_000_000.0;
/// Where it starts before anything was measured (what browsers start at).
const START_BPS: f64 = 300_000.0;

/// One publisher's uplink estimate.
#[derive(Debug, Clone)]
pub struct UplinkEstimate {
    estimate_bps: f64,
    /// Reports since the estimate last moved: the largest rate and loss they gave.
    received_bps: f64,
    loss: Option<f32>,
    moved_at: Option<Instant>,
}

impl Default for UplinkEstimate {
    fn default() -> Self {
        Self {
            estimate_bps: START_BPS,
            received_bps: 0.0,
            loss: None,
            moved_at: None,
        }
    }
}

impl UplinkEstimate {
    /// A report of one of the publisher's streams: the fraction lost on the way (the worst
    /// stream's counts).
    pub fn loss(&mut self, loss: f32) {
        self.loss = Some(self.loss.map_or(loss, |l| l.max(loss)));
    }

    /// A report of the publisher's transport: what arrived, bits per second. Returns the
    /// estimate to send as REMB once every [`REMB_EVERY`].
    pub fn observe(&mut self, received_bps: f64, now: Instant) -> Option<u64> {
        self.received_bps = self.received_bps.max(received_bps);
        let Some(at) = self.moved_at else {
            self.moved_at = Some(now);
            return None;
        };
        if now.saturating_duration_since(at) < REMB_EVERY {
            return None;
        }
        self.moved_at = Some(now);
        let loss = f64::from(self.loss.take().unwrap_or(0.0));
        let received = std::mem::take(&mut self.received_bps);
        let mut e = self.estimate_bps;
        if loss > 0.10 {
            e *= 1.0 - 0.5 * loss;
        } else if loss < 0.02 {
            // What arrived without loss the link carries.
            e = (e * 1.05).max(received);
        }
        if received > 0.0 {
            e = e.min(1.5 * received);
        }
        self.estimate_bps = e.clamp(MIN_BPS, MAX_BPS);
        Some(self.estimate_bps as u64)
    }

    /// The estimate now, bits per second.
    pub fn estimate_bps(&self) -> u64 {
        self.estimate_bps as u64
    }
}

/// Whether a publisher's offer asks for REMB and has no transport-wide feedback: a video section
/// with `goog-remb` feedback, and no section with the transport-wide sequence number.
pub fn wants_remb(offer: &str) -> bool {
    let remb = offer
        .lines()
        .any(|l| l.starts_with("a=rtcp-fb:") && l.trim_end().ends_with(" goog-remb"));
    let twcc = offer
        .lines()
        .any(|l| l.starts_with("a=extmap:") && l.contains("transport-wide-cc"));
    remb && !twcc
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reports four times a second for `secs` seconds; the REMBs they gave.
    fn run(
        e: &mut UplinkEstimate,
        t: &mut Instant,
        secs: u32,
        received: f64,
        loss: f32,
    ) -> Vec<u64> {
        let mut out = Vec::new();
        for _ in 0..secs * 4 {
            *t += Duration::from_millis(250);
            e.loss(loss);
            out.extend(e.observe(received, *t));
        }
        out
    }

    #[test]
    fn a_clean_link_lets_the_publisher_climb_to_what_it_sends() {
        let mut t = Instant::now();
        let mut e = UplinkEstimate::default();
        let rembs = run(&mut e, &mut t, 30, 1_200_000.0, 0.0);
        assert!(rembs.len() >= 29, "one a second: {}", rembs.len());
        assert!(rembs.windows(2).all(|w| w[1] >= w[0]), "{rembs:?}");
        let last = *rembs.last().expect("some");
        assert!(
            (1_200_000..=1_800_000).contains(&last),
            "above what it sends, within 1.5 times: {last}"
        );
    }

    #[test]
    fn loss_brings_it_down_and_a_clean_link_back_up() {
        let mut t = Instant::now();
        let mut e = UplinkEstimate::default();
        run(&mut e, &mut t, 30, 1_200_000.0, 0.0);
        let before = e.estimate_bps();
        // A third of it lost: each second down by a sixth.
        let rembs = run(&mut e, &mut t, 5, 800_000.0, 0.33);
        let after = *rembs.last().expect("some");
        assert!(after < before / 2, "{before} → {after}");
        // Moderate loss holds it (after the second that still saw the heavy loss).
        let held = run(&mut e, &mut t, 4, 800_000.0, 0.05);
        assert!(held[0] <= after, "{after}: {held:?}");
        assert!(held[1..].iter().all(|&b| b == held[0]), "{held:?}");
        let after = held[0];
        // Clean again: it climbs.
        let rembs = run(&mut e, &mut t, 10, 800_000.0, 0.0);
        assert!(*rembs.last().expect("some") > after);
        // It never goes below the floor.
        run(&mut e, &mut t, 60, 40_000.0, 0.9);
        assert_eq!(e.estimate_bps(), MIN_BPS as u64);
    }

    #[test]
    fn only_a_remb_only_offer_asks_for_it() {
        let remb = "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtcp-fb:96 goog-remb\r\n";
        assert!(wants_remb(remb));
        let both = format!(
            "{remb}a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01\r\n"
        );
        assert!(!wants_remb(&both));
        assert!(!wants_remb(
            "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtcp-fb:96 nack\r\n"
        ));
    }
}
