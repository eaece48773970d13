//! Who speaks in each session: the participant whose microphone is the loudest above
//! [`SPEAKING`], once that has held for [`HOLD`] (a cough does not move the host's attention);
//! nobody once all have been quiet for [`QUIET_FOR`]. The host's console marks that classroom.
//!
//! Plain bookkeeping over the health samples (their `voice`, from the audio-level extension the
//! media edge reads); the sampler sends the changes as `active_speaker`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use tongbu_schedule::SessionId;

use crate::session_health::SessionHealth;

/// Held amplitude from which a microphone counts as speaking (about −40 dBov).
pub const SPEAKING: f32 = 0.01;
/// How long someone must be the loudest before they become the speaker.
pub const HOLD: Duration = Duration::from_millis(500);
/// How long everyone must be quiet before there is no speaker.
pub const QUIET_FOR: Duration = Duration::from_secs(2);

#[derive(Debug, Default)]
struct Room {
    current: Option<u64>,
    /// The loudest now, and since when it has been.
    candidate: Option<(u64, Instant)>,
    quiet_since: Option<Instant>,
}

/// Every session's speaker.
#[derive(Debug, Default)]
pub struct ActiveSpeakers {
    rooms: HashMap<SessionId, Room>,
}

impl ActiveSpeakers {
    /// Takes this tick's samples; returns the sessions whose speaker changed, with the new one.
    pub fn update(
        &mut self,
        now: Instant,
        samples: &HashMap<SessionId, SessionHealth>,
    ) -> Vec<(SessionId, Option<u64>)> {
        self.rooms.retain(|sid, _| samples.contains_key(sid));
        let mut out = Vec::new();
        for (sid, sample) in samples {
            let room = self.rooms.entry(*sid).or_default();
            let loudest = sample
                .participants
                .iter()
                .filter(|p| p.voice >= SPEAKING)
                .max_by(|a, b| a.voice.total_cmp(&b.voice))
                .map(|p| p.participant);
            let next = match loudest {
                Some(p) => {
                    room.quiet_since = None;
                    let since = match room.candidate {
                        Some((c, t)) if c == p => t,
                        _ => {
                            room.candidate = Some((p, now));
                            now
                        }
                    };
                    if now.saturating_duration_since(since) >= HOLD {
                        Some(p)
                    } else {
                        room.current
                    }
                }
                None => {
                    room.candidate = None;
                    let since = *room.quiet_since.get_or_insert(now);
                    (now.saturating_duration_since(since) < QUIET_FOR)
                        .then_some(room.current)
                        .flatten()
                }
            };
            if next != room.current {
                room.current = next;
                out.push((*sid, next));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session_health::ParticipantHealth;

    fn person(id: u64, voice: f32) -> ParticipantHealth {
        ParticipantHealth {
            voice,
            ..ParticipantHealth::fixture(id, &format!("classroom {id}"))
        }
    }

    fn sample(voices: &[(u64, f32)]) -> HashMap<SessionId, SessionHealth> {
        SessionHealth::fixture(voices.iter().map(|&(id, v)| person(id, v)).collect())
    }

    #[test]
    fn the_loudest_who_keeps_speaking_becomes_the_speaker_and_silence_clears_it() {
        let t0 = Instant::now();
        let ms = |m: u64| t0 + Duration::from_millis(m);
        let mut a = ActiveSpeakers::default();
        // Classroom 2 answers; classroom 3's room noise stays under the threshold.
        assert!(a
            .update(ms(0), &sample(&[(2, 0.05), (3, 0.002)]))
            .is_empty());
        assert_eq!(
            a.update(ms(500), &sample(&[(2, 0.05), (3, 0.002)])),
            vec![(SessionId(1), Some(2))]
        );
        // Classroom 3 coughs for a moment: no change.
        assert!(a
            .update(ms(750), &sample(&[(2, 0.05), (3, 0.2)]))
            .is_empty());
        assert!(a
            .update(ms(1000), &sample(&[(2, 0.05), (3, 0.0)]))
            .is_empty());
        // Everyone quiet: the speaker stays a while, then there is none.
        assert!(a
            .update(ms(1250), &sample(&[(2, 0.0), (3, 0.0)]))
            .is_empty());
        assert_eq!(
            a.update(ms(3250), &sample(&[(2, 0.0), (3, 0.0)])),
            vec![(SessionId(1), None)]
        );
    }
}
