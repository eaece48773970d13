//! A participant's transports and the negotiation state of the tracks it receives.
//!
//! Each participant has up to two transports: `send`, on which it publishes (the client offers,
//! the server answers), and `recv`, on which it receives (the server offers, the client answers).
//! One offerer per transport means offers never collide. The `recv` transport's media lines
//! follow the [`OutState`] machine below; the edge moves tracks along it.

use str0m::change::SdpPendingOffer;
use str0m::media::Mid;
use tokio::sync::mpsc::UnboundedSender;
use tongbu_media::{MediaKind, ParticipantId, SinkId, TrackId};

use crate::demux::PeerKey;
use crate::link_stats::{FeedbackTotals, LinkStats};
use crate::EdgeEvent;

/// Where an outgoing track is in the `recv` transport's negotiation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutState {
    /// Wanted, not yet in an offer.
    ToOpen,
    /// In an offer the client has not answered yet.
    Negotiating(Mid),
    /// Negotiated: packets flow once the transport is connected.
    Open(Mid),
    /// Its publisher left: to be stopped in the next offer.
    ToStop(Mid),
    /// Stopped in an offer the client has not answered yet.
    NegotiatingStop(Mid),
}

/// One published track delivered (or to be delivered) to this participant.
#[derive(Debug, Clone)]
pub struct OutTrack {
    pub track: TrackId,
    pub owner: ParticipantId,
    pub kind: MediaKind,
    pub sink: SinkId,
    pub state: OutState,
    /// The router forwards to it (negotiated and connected).
    pub subscribed: bool,
    /// The publisher left while this track was being negotiated: stop it once answered.
    pub cancelled: bool,
}

impl OutTrack {
    /// The media line, once it has one.
    pub fn mid(&self) -> Option<Mid> {
        match self.state {
            OutState::ToOpen => None,
            OutState::Negotiating(m)
            | OutState::Open(m)
            | OutState::ToStop(m)
            | OutState::NegotiatingStop(m) => Some(m),
        }
    }
}

/// A participant as the edge knows it.
#[derive(Debug)]
pub struct Participant {
    pub id: ParticipantId,
    pub session: i64,
    pub events: UnboundedSender<EdgeEvent>,
    pub send: Option<PeerKey>,
    pub recv: Option<PeerKey>,
    pub published: Vec<TrackId>,
    pub out: Vec<OutTrack>,
    pub pending: Option<SdpPendingOffer>,
    /// Its link as last measured.
    pub link: LinkStats,
    pub feedback: FeedbackTotals,
}

impl Participant {
    pub fn new(id: ParticipantId, session: i64, events: UnboundedSender<EdgeEvent>) -> Self {
        Self {
            id,
            session,
            events,
            send: None,
            recv: None,
            published: Vec::new(),
            out: Vec::new(),
            pending: None,
            link: LinkStats::default(),
            feedback: FeedbackTotals::default(),
        }
    }

    /// Whether the `recv` transport needs a new offer.
    pub fn needs_offer(&self) -> bool {
        self.pending.is_none()
            && self
                .out
                .iter()
                .any(|o| matches!(o.state, OutState::ToOpen | OutState::ToStop(_)))
    }

    /// The answer to the pending offer was accepted: negotiated lines open, stopped ones go.
    /// Returns the tracks that just opened.
    pub fn answer_accepted(&mut self) -> Vec<usize> {
        let mut opened = Vec::new();
        self.out
            .retain(|o| !matches!(o.state, OutState::NegotiatingStop(_)));
        for (i, o) in self.out.iter_mut().enumerate() {
            if let OutState::Negotiating(m) = o.state {
                if o.cancelled {
                    o.state = OutState::ToStop(m);
                } else {
                    o.state = OutState::Open(m);
                    opened.push(i);
                }
            }
        }
        opened
    }

    /// The publisher of `track` left. Returns the sink of a subscription that was live.
    pub fn track_gone(&mut self, track: TrackId) -> Option<SinkId> {
        let mut live = None;
        self.out.retain_mut(|o| {
            if o.track != track {
                return true;
            }
            match o.state {
                OutState::ToOpen => false,
                OutState::Negotiating(_) => {
                    o.cancelled = true;
                    true
                }
                OutState::Open(m) => {
                    if o.subscribed {
                        live = Some(o.sink);
                    }
                    o.subscribed = false;
                    o.state = OutState::ToStop(m);
                    true
                }
                OutState::ToStop(_) | OutState::NegotiatingStop(_) => true,
            }
        });
        live
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(track: u64, state: OutState) -> OutTrack {
        OutTrack {
            track: TrackId(track),
            owner: ParticipantId(1),
            kind: MediaKind::Video,
            sink: SinkId(track),
            state,
            subscribed: false,
            cancelled: false,
        }
    }

    #[test]
    fn a_track_whose_publisher_leaves_mid_negotiation_is_stopped_after_the_answer() {
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        let mut p = Participant::new(ParticipantId(2), 1, tx);
        let m: Mid = "0".into();
        p.out.push(out(5, OutState::Negotiating(m)));
        p.out.push(out(6, OutState::ToOpen));
        assert_eq!(p.track_gone(TrackId(5)), None);
        assert_eq!(p.track_gone(TrackId(6)), None);
        assert_eq!(p.out.len(), 1, "a track never offered is simply dropped");
        assert!(p.answer_accepted().is_empty());
        assert_eq!(p.out[0].state, OutState::ToStop(m));
        assert!(p.needs_offer());
    }

    #[test]
    fn open_tracks_report_their_live_sink_when_gone() {
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        let mut p = Participant::new(ParticipantId(2), 1, tx);
        let m: Mid = "1".into();
        let mut o = out(5, OutState::Open(m));
        o.subscribed = true;
        p.out.push(o);
        assert_eq!(p.track_gone(TrackId(5)), Some(SinkId(5)));
        assert_eq!(p.out[0].state, OutState::ToStop(m));
    }
}
