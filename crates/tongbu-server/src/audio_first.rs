//! Audio first: when what the server sends a participant is being lost (its downlink cannot carry
//! video and audio together), its video is paused and its audio goes on, rather than leaving it a
//! frozen picture and broken sound. The video comes back once the link has stayed clean for a
//! while; a link that fails again soon after waits twice as long the next time.
//!
//! This loss-based rule is for links without a bandwidth estimate (a client that sends no
//! transport-wide feedback nor REMB). Where there is one, the media edge's bandwidth allocator
//! decides: it pauses a picture when not even its lowest layer fits, and when none fits it tells
//! the participant and the hosts `video_paused` as this rule did.
//!
//! Plain bookkeeping over the health samples (time in, decisions out); the sampler carries the
//! decisions out (the media edge pauses the video, the participant and the hosts are told).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use tongbu_schedule::SessionId;

use crate::session_health::{SessionHealth, VideoState};

/// Loss of what is sent to it, in percent, at or above which its link counts as overloaded.
pub const PAUSE_LOSS_PCT: f32 = 10.0;
/// How long the loss must last before the video pauses (a burst does not pause it).
pub const PAUSE_AFTER: Duration = Duration::from_secs(2);
/// Loss, in percent, below which its link counts as clean again.
pub const RESUME_LOSS_PCT: f32 = 3.0;
/// How long the link must stay clean before the video comes back, the first time.
pub const FIRST_HOLD: Duration = Duration::from_secs(8);
/// The longest it waits (the hold doubles when the link fails again soon after a resume).
pub const LONGEST_HOLD: Duration = Duration::from_secs(64);
/// A pause this soon after a resume doubles the hold.
const RELAPSE_WITHIN: Duration = Duration::from_secs(60);

/// A participant's video is to be paused or resumed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub session: SessionId,
    pub participant: u64,
    pub paused: bool,
}

#[derive(Debug, Clone, Copy)]
struct Person {
    /// Since when its loss has been high (while its video flows).
    lossy_since: Option<Instant>,
    /// Paused: since when its link has been clean.
    paused: bool,
    clean_since: Option<Instant>,
    hold: Duration,
    resumed_at: Option<Instant>,
}

impl Default for Person {
    fn default() -> Self {
        Self {
            lossy_since: None,
            paused: false,
            clean_since: None,
            hold: FIRST_HOLD,
            resumed_at: None,
        }
    }
}

/// Every participant's audio-first state.
#[derive(Debug, Default)]
pub struct AudioFirst {
    people: HashMap<(SessionId, u64), Person>,
}

impl AudioFirst {
    /// Takes this tick's samples; returns what to pause and resume.
    pub fn update(
        &mut self,
        now: Instant,
        samples: &HashMap<SessionId, SessionHealth>,
    ) -> Vec<Decision> {
        self.people.retain(|(sid, pid), _| {
            samples
                .get(sid)
                .is_some_and(|s| s.participants.iter().any(|p| p.participant == *pid))
        });
        let mut out = Vec::new();
        for (sid, sample) in samples {
            for p in &sample.participants {
                let me = self.people.entry((*sid, p.participant)).or_default();
                let loss = p.loss_down_pct.unwrap_or(0.0);
                if me.paused {
                    if loss >= RESUME_LOSS_PCT {
                        me.clean_since = None;
                    } else if now.saturating_duration_since(*me.clean_since.get_or_insert(now))
                        >= me.hold
                    {
                        *me = Person {
                            resumed_at: Some(now),
                            hold: me.hold,
                            ..Person::default()
                        };
                        out.push(Decision {
                            session: *sid,
                            participant: p.participant,
                            paused: false,
                        });
                    }
                    continue;
                }
                // Only a picture that flows (or stands frozen) can be paused; a link with a
                // bandwidth estimate is the media edge's allocator's, which pauses video when
                // none fits (and says so) and probes before it resumes.
                let has_video = matches!(p.video, VideoState::Flowing | VideoState::Frozen);
                if !has_video || loss < PAUSE_LOSS_PCT || p.bwe_down_kbps.is_some() {
                    me.lossy_since = None;
                    continue;
                }
                if now.saturating_duration_since(*me.lossy_since.get_or_insert(now)) < PAUSE_AFTER {
                    continue;
                }
                let relapse = me
                    .resumed_at
                    .is_some_and(|r| now.saturating_duration_since(r) < RELAPSE_WITHIN);
                me.hold = if relapse {
                    (me.hold * 2).min(LONGEST_HOLD)
                } else {
                    FIRST_HOLD
                };
                me.paused = true;
                me.lossy_since = None;
                me.clean_since = None;
                out.push(Decision {
                    session: *sid,
                    participant: p.participant,
                    paused: true,
                });
            }
        }
        out
    }

    /// Whether a participant's video is paused now.
    pub fn is_paused(&self, session: SessionId, participant: u64) -> bool {
        self.people
            .get(&(session, participant))
            .is_some_and(|p| p.paused)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session_health::ParticipantHealth;

    fn sample(loss_down: f32, video: VideoState) -> HashMap<SessionId, SessionHealth> {
        let p = ParticipantHealth {
            rtt_ms: Some(40.0),
            loss_up_pct: Some(0.0),
            loss_down_pct: Some(loss_down),
            video,
            ..ParticipantHealth::fixture(7, "呼和浩特一中 · 初二(3)班")
        };
        SessionHealth::fixture(vec![p])
    }

    /// Feeds one sample every 250 ms from `from` for `secs`; returns the decisions with times.
    fn run(
        a: &mut AudioFirst,
        t0: Instant,
        from_ms: u64,
        secs: u64,
        loss: f32,
        video: VideoState,
    ) -> Vec<(u64, bool)> {
        let mut out = Vec::new();
        for i in 0..secs * 4 {
            let at = from_ms + i * 250;
            for d in a.update(t0 + Duration::from_millis(at), &sample(loss, video)) {
                out.push((at, d.paused));
            }
        }
        out
    }

    #[test]
    fn sustained_loss_pauses_video_a_burst_does_not() {
        let t0 = Instant::now();
        let mut a = AudioFirst::default();
        assert!(run(&mut a, t0, 0, 1, 25.0, VideoState::Flowing).is_empty());
        assert!(run(&mut a, t0, 1000, 1, 0.0, VideoState::Flowing).is_empty());
        let d = run(&mut a, t0, 2000, 5, 25.0, VideoState::Flowing);
        assert_eq!(d, vec![(4000, true)], "paused after 2 s of loss");
        assert!(a.is_paused(SessionId(1), 7));
    }

    #[test]
    fn a_link_with_an_estimate_is_left_to_the_allocator() {
        let t0 = Instant::now();
        let mut a = AudioFirst::default();
        let mut s = sample(25.0, VideoState::Flowing);
        for h in s.values_mut() {
            h.participants[0].bwe_down_kbps = Some(250.0);
        }
        for i in 0..40 {
            assert!(a.update(t0 + Duration::from_millis(250 * i), &s).is_empty());
        }
        assert!(!a.is_paused(SessionId(1), 7));
    }

    #[test]
    fn resumes_after_a_clean_hold_and_waits_longer_after_a_relapse() {
        let t0 = Instant::now();
        let mut a = AudioFirst::default();
        run(&mut a, t0, 0, 3, 25.0, VideoState::Flowing);
        // Still lossy on audio alone: stays paused.
        assert!(run(&mut a, t0, 3000, 20, 20.0, VideoState::Paused).is_empty());
        // Clean: back after the first hold (8 s).
        let d = run(&mut a, t0, 23_000, 10, 0.5, VideoState::Paused);
        assert_eq!(d, vec![(31_000, false)]);
        // Fails again soon: paused, and now it waits 16 s.
        let d = run(&mut a, t0, 33_000, 3, 25.0, VideoState::Flowing);
        assert_eq!(d, vec![(35_000, true)]);
        let d = run(&mut a, t0, 36_000, 20, 0.0, VideoState::Paused);
        assert_eq!(d, vec![(52_000, false)]);
    }

    #[test]
    fn nothing_to_pause_without_video() {
        let t0 = Instant::now();
        let mut a = AudioFirst::default();
        assert!(run(&mut a, t0, 0, 10, 40.0, VideoState::None).is_empty());
    }
}
