//! Folding many subscribers' keyframe requests (PLI/FIR) into few for the publisher.
//!
//! Every subscriber that loses a picture asks for a keyframe; a classroom of fifty observers
//! joining at once must not make the teacher's encoder send fifty keyframes. Per publisher track
//! at most one request goes out per interval; a request that arrives inside the interval is kept
//! and sent when the interval ends, so nobody waits for a keyframe that never comes. A request
//! that no keyframe answers (a PLI lost on the publisher's lossy uplink) is sent again after
//! [`RETRY_AFTER`], a few times.

use std::time::{Duration, Instant};

/// The default minimum interval between two keyframe requests to one publisher track.
pub const DEFAULT_MIN_INTERVAL: Duration = Duration::from_millis(500);

/// How long a request waits for its keyframe before it is sent again.
pub const RETRY_AFTER: Duration = Duration::from_secs(2);

/// Requests sent again for one that no keyframe answers, at most.
const RETRIES: u8 = 5;

/// Keyframe request aggregation for one publisher track.
#[derive(Debug, Clone)]
pub struct KeyframeRequests {
    min_interval: Duration,
    last_sent: Option<Instant>,
    pending: bool,
    /// Retries left for the last request sent while no keyframe has come.
    unanswered: u8,
    requested: u64,
    sent: u64,
}

impl Default for KeyframeRequests {
    fn default() -> Self {
        Self::new(DEFAULT_MIN_INTERVAL)
    }
}

impl KeyframeRequests {
    /// Aggregation with the given minimum interval between requests sent upstream.
    pub fn new(min_interval: Duration) -> Self {
        Self {
            min_interval,
            last_sent: None,
            pending: false,
            unanswered: 0,
            requested: 0,
            sent: 0,
        }
    }

    /// A subscriber (or the router itself) wants a keyframe. Returns `true` if a request should
    /// be sent to the publisher now; otherwise it is held until [`Self::poll`] releases it.
    pub fn request(&mut self, now: Instant) -> bool {
        self.requested += 1;
        if self.may_send(now) {
            self.mark_sent(now);
            true
        } else {
            self.pending = true;
            false
        }
    }

    /// Releases a held request once the interval has passed. Returns `true` if one should be
    /// sent now.
    pub fn poll(&mut self, now: Instant) -> bool {
        if self.next_due().is_some_and(|due| now >= due) {
            let retries = self.unanswered;
            let retry = !self.pending;
            self.mark_sent(now);
            if retry {
                self.unanswered = retries - 1;
            }
            true
        } else {
            false
        }
    }

    /// When a held request becomes due, if one is held. A request is only held after one was
    /// sent, so the due time follows from that one: no clock is read here.
    pub fn next_due(&self) -> Option<Instant> {
        let after = if self.pending {
            self.min_interval
        } else if self.unanswered > 0 {
            RETRY_AFTER
        } else {
            return None;
        };
        self.last_sent.map(|t| t + after)
    }

    /// A keyframe arrived from the publisher: requests held or sent so far are answered by it.
    pub fn keyframe_received(&mut self) {
        self.pending = false;
        self.unanswered = 0;
    }

    /// How many requests came in, and how many went out to the publisher.
    pub fn counts(&self) -> (u64, u64) {
        (self.requested, self.sent)
    }

    fn may_send(&self, now: Instant) -> bool {
        self.last_sent
            .is_none_or(|t| now.saturating_duration_since(t) >= self.min_interval)
    }

    fn mark_sent(&mut self, now: Instant) {
        self.last_sent = Some(now);
        self.pending = false;
        self.unanswered = RETRIES;
        self.sent += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn many_requests_within_the_interval_become_one_now_and_one_later() {
        let t0 = Instant::now();
        let mut k = KeyframeRequests::default();
        assert!(k.request(t0));
        for i in 1..50 {
            assert!(!k.request(t0 + Duration::from_millis(i)));
        }
        assert_eq!(k.next_due(), Some(t0 + DEFAULT_MIN_INTERVAL));
        assert!(!k.poll(t0 + Duration::from_millis(499)));
        assert!(k.poll(t0 + Duration::from_millis(500)));
        assert!(
            !k.poll(t0 + Duration::from_millis(2000)),
            "released only once"
        );
        assert_eq!(k.counts(), (50, 2));
    }

    #[test]
    fn a_keyframe_answers_held_requests() {
        let t0 = Instant::now();
        let mut k = KeyframeRequests::default();
        assert!(k.request(t0));
        assert!(!k.request(t0 + Duration::from_millis(10)));
        k.keyframe_received();
        assert_eq!(k.next_due(), None);
        assert!(!k.poll(t0 + Duration::from_secs(1)));
    }

    #[test]
    fn an_unanswered_request_is_sent_again_a_few_times() {
        let t0 = Instant::now();
        let mut k = KeyframeRequests::default();
        assert!(k.request(t0));
        let mut at = t0;
        for _ in 0..RETRIES {
            let due = k.next_due().expect("a retry is due");
            assert_eq!(due, at + RETRY_AFTER);
            assert!(!k.poll(due - Duration::from_millis(1)));
            assert!(k.poll(due));
            at = due;
        }
        assert_eq!(k.next_due(), None, "it gives up");
        assert_eq!(k.counts(), (1, 1 + u64::from(RETRIES)));
        // A keyframe ends the retries.
        assert!(k.request(at + Duration::from_secs(1)));
        k.keyframe_received();
        assert_eq!(k.next_due(), None);
    }

    #[test]
    fn requests_spaced_by_the_interval_all_go_out() {
        let t0 = Instant::now();
        let mut k = KeyframeRequests::default();
        for i in 0..5u64 {
            assert!(k.request(t0 + Duration::from_millis(600 * i)));
        }
    }
}
