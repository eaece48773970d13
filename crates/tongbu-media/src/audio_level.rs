//! How loud a published microphone is, from the audio-level header extension (RFC 6464) its
//! packets carry: each says the level of its frame in −dBov (0 the loudest, −127 silence). The
//! level is turned into a linear amplitude held at its peak and falling off over about
//! [`WINDOW`], as a level meter does: speech comes in syllables, so an average would sit near
//! zero between them. Who speaks in a session is decided from these by the server, which also
//! asks that it last (a click does not make a speaker).
//!
//! Plain state over levels and `Instant`s; nothing per packet but a few float operations.

use std::time::{Duration, Instant};

/// Roughly how far back the smoothed level looks.
pub const WINDOW: Duration = Duration::from_millis(300);

/// A level below this (dBov) is silence: room noise on a classroom microphone.
pub const SILENCE_DBOV: f32 = -50.0;

/// One microphone's smoothed loudness.
#[derive(Debug, Clone, Copy, Default)]
pub struct AudioLevel {
    /// Peak amplitude, 0 (silent) to 1 (full scale), as of `at`.
    amplitude: f32,
    at: Option<Instant>,
}

impl AudioLevel {
    /// A packet whose frame was at `dbov` (0 to −127).
    pub fn on_packet(&mut self, dbov: i8, now: Instant) {
        let db = f32::from(dbov.clamp(-127, 0));
        let amplitude = if db <= SILENCE_DBOV {
            0.0
        } else {
            10f32.powf(db / 20.0)
        };
        self.amplitude = self.decayed(now).max(amplitude);
        self.at = Some(now);
    }

    /// The held amplitude at `now` (0 to 1): it falls off between syllables and when packets
    /// stop (muted, gone).
    pub fn amplitude(&self, now: Instant) -> f32 {
        self.decayed(now)
    }

    fn decayed(&self, now: Instant) -> f32 {
        let Some(at) = self.at else {
            return 0.0;
        };
        let idle = now.saturating_duration_since(at).as_secs_f32();
        self.amplitude * (-idle / WINDOW.as_secs_f32()).exp()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speech_rises_silence_and_stopped_packets_fade() {
        let t0 = Instant::now();
        let ms = |m: u64| t0 + Duration::from_millis(m);
        let mut a = AudioLevel::default();
        assert_eq!(a.amplitude(t0), 0.0);
        // A voice at −20 dBov (amplitude 0.1), a packet every 40 ms.
        for i in 0..25 {
            a.on_packet(-20, ms(40 * i));
        }
        let speaking = a.amplitude(ms(960));
        assert!((0.099..=0.1).contains(&speaking), "{speaking}");
        // Between syllables it holds: 200 ms of silence frames later, still above a third.
        let mut c = a;
        for i in 0..5 {
            c.on_packet(-127, ms(1000 + 40 * i));
        }
        assert!(c.amplitude(ms(1160)) > speaking / 3.0);
        // Room noise at −60 dBov is silence.
        let mut b = AudioLevel::default();
        for i in 0..25 {
            b.on_packet(-60, ms(40 * i));
        }
        assert_eq!(b.amplitude(ms(960)), 0.0);
        // The voice stops sending (muted): gone within a second.
        assert!(a.amplitude(ms(1960)) < speaking / 10.0);
    }
}
