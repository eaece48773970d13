//! Moderation the server enforces: a host's mute stops a participant's microphone at the
//! router, whatever its page does.

use super::Router;
use crate::consumer::Rules;
use crate::{MediaKind, ParticipantId};

impl Router {
    /// The host muted (`true`) or unmuted a participant: its microphone's packets reach nobody,
    /// for the tracks it publishes now and later, until unmuted. Unmuted, each consumer's
    /// numbering continues from the last packet it got, so subscribers see no gap to count as
    /// lost. Returns whether anything changed. Walks the producers: for a host's click, never
    /// per packet.
    pub fn set_muted(&mut self, owner: ParticipantId, muted: bool) -> bool {
        let changed = if muted {
            self.muted.insert(owner)
        } else {
            self.muted.remove(&owner)
        };
        if !changed {
            return false;
        }
        for p in self.producers.values_mut() {
            if p.owner != owner || p.codec.kind() != MediaKind::Audio {
                continue;
            }
            p.muted = muted;
            if muted {
                continue;
            }
            for &c in &p.consumers {
                let Some(c) = self.consumers.get_mut(c.index()).and_then(Option::as_mut) else {
                    continue;
                };
                if let Rules::Simple(s) = &mut c.rules {
                    s.rewriter.rebase();
                }
            }
        }
        true
    }

    /// Whether the host muted this participant's microphone.
    pub fn is_muted(&self, owner: ParticipantId) -> bool {
        self.muted.contains(&owner)
    }

    /// Forgets a participant that left (a muted one leaves no trace).
    pub fn forget_participant(&mut self, owner: ParticipantId) {
        self.muted.remove(&owner);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use crate::{Codec, ConsumerId, Layer, ParticipantId, ProducerId, Router, RtpIn};

    fn opus(seq: u16) -> RtpIn {
        RtpIn {
            seq,
            timestamp: u32::from(seq) * 960,
            marker: false,
            layer: Layer::BASE,
            payload: Arc::from(&[0xfc, 0xff, 0xfe][..]),
        }
    }

    #[test]
    fn a_muted_microphone_reaches_nobody_and_resumes_without_a_gap() {
        let t0 = Instant::now();
        let at = |n: u16| t0 + Duration::from_millis(u64::from(n) * 20);
        let (classroom, listener) = (ParticipantId(7), ParticipantId(8));
        let mut r = Router::new();
        r.add_producer(ProducerId(1), classroom, Codec::Opus)
            .unwrap();
        r.add_producer(ProducerId(2), classroom, Codec::Vp8)
            .unwrap();
        r.add_consumer(ProducerId(1), listener, ConsumerId(1), 111, t0)
            .unwrap();
        let mut out = Vec::new();
        let mut seqs = Vec::new();
        for seq in 1..=10 {
            out.clear();
            r.forward(ProducerId(1), &opus(seq), at(seq), &mut out)
                .unwrap();
            seqs.extend(out.iter().map(|f| f.seq));
        }
        assert!(r.set_muted(classroom, true));
        assert!(
            !r.set_muted(classroom, true),
            "muting twice changes nothing"
        );
        assert!(r.producer(ProducerId(1)).unwrap().muted());
        assert!(
            !r.producer(ProducerId(2)).unwrap().muted(),
            "video is not muted"
        );
        for seq in 11..=60 {
            out.clear();
            let n = r
                .forward(ProducerId(1), &opus(seq), at(seq), &mut out)
                .unwrap();
            assert_eq!(n, 0, "packet {seq} of a muted microphone was forwarded");
        }
        assert_eq!(r.stats().dropped_muted, 50);
        assert!(r.set_muted(classroom, false));
        for seq in 61..=70 {
            out.clear();
            r.forward(ProducerId(1), &opus(seq), at(seq), &mut out)
                .unwrap();
            seqs.extend(out.iter().map(|f| f.seq));
        }
        assert_eq!(seqs.len(), 20);
        assert!(
            seqs.windows(2).all(|w| w[1] == w[0] + 1),
            "numbering continues without a gap: {seqs:?}"
        );
    }

    #[test]
    fn a_microphone_published_while_muted_starts_muted() {
        let classroom = ParticipantId(7);
        let mut r = Router::new();
        r.set_muted(classroom, true);
        r.add_producer(ProducerId(3), classroom, Codec::Opus)
            .unwrap();
        r.add_producer(ProducerId(4), ParticipantId(9), Codec::Opus)
            .unwrap();
        assert!(r.producer(ProducerId(3)).unwrap().muted());
        assert!(!r.producer(ProducerId(4)).unwrap().muted());
        r.forget_participant(classroom);
        assert!(!r.is_muted(classroom));
    }
}
