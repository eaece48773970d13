//! A participant's transports and the negotiation state of the producers it receives.
//!
//! Each participant has up to two transports: `send`, on which it publishes (the client offers,
//! the server answers), and `recv`, on which it receives (the server offers, the client answers).
//! One offerer per transport means offers never collide. The `recv` transport's media lines
//! follow the [`OutState`] machine below; the edge moves tracks along it.

use str0m::change::SdpPendingOffer;
use str0m::media::Mid;
use tokio::sync::mpsc::Sender;
use tongbu_media::{ConsumerId, Layer, MediaKind, ParticipantId, ProducerId, MAX_LAYERS};

use crate::edge::MediaRole;
use crate::link_stats::LinkStats;
use crate::transport::TransportId;
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

/// How a participant receives the session's tracks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Receiving {
    /// The server offers a media line per track on its `recv` transport (a page, the load tool).
    #[default]
    Offered,
    /// Nothing (an encoder that only publishes, over WHIP).
    Nothing,
    /// On the media lines of the client's own offer, never renegotiated (a WHEP player): the
    /// speaker's camera and microphone are bound to free lines of their kind as they come.
    ClientLines(Vec<(Mid, MediaKind)>),
}

/// One producer delivered (or to be delivered) to this participant.
#[derive(Debug, Clone)]
pub struct OutTrack {
    pub producer: ProducerId,
    pub owner: ParticipantId,
    pub kind: MediaKind,
    pub codec: tongbu_media::Codec,
    pub state: OutState,
    /// Its consumer, once negotiated and connected (the router forwards to it).
    pub consumer: Option<ConsumerId>,
    /// The publisher left while this track was being negotiated: stop it once answered.
    pub cancelled: bool,
}

/// A participant as the edge knows it.
#[derive(Debug)]
pub struct Participant {
    pub id: ParticipantId,
    pub session: i64,
    events: Sender<EdgeEvent>,
    pub send: Option<TransportId>,
    pub recv: Option<TransportId>,
    pub published: Vec<ProducerId>,
    pub out: Vec<OutTrack>,
    pub pending: Option<SdpPendingOffer>,
    /// Its link as last measured.
    pub link: LinkStats,
    /// Events its signaling connection did not take in time (its queue was full).
    pub events_dropped: u64,
    /// The highest simulcast layer it wants (its `set_preferences`).
    pub max_layer: Layer,
    /// What it is to the media policy.
    pub role: MediaRole,
    /// The allocator found no picture fits its link: all its video is paused.
    pub bandwidth_paused: bool,
    /// How it receives the session's tracks.
    pub receiving: Receiving,
}

impl Participant {
    pub fn new(id: ParticipantId, session: i64, events: Sender<EdgeEvent>) -> Self {
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
            events_dropped: 0,
            max_layer: Layer(MAX_LAYERS - 1),
            role: MediaRole::default(),
            bandwidth_paused: false,
            receiving: Receiving::Offered,
        }
    }

    /// Tells its signaling connection, through its bounded queue: a connection that does not
    /// read loses the event (counted) rather than holding the worker up.
    pub fn tell(&mut self, event: EdgeEvent) {
        if self.events.try_send(event).is_err() {
            self.events_dropped += 1;
        }
    }

    /// Whether the `recv` transport needs a new offer.
    pub fn needs_offer(&self) -> bool {
        self.receiving == Receiving::Offered
            && self.pending.is_none()
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

    /// The producer is gone. Returns the consumer that was live on it. (On a client's own lines
    /// the line is simply free again: nothing is renegotiated.)
    pub fn producer_gone(&mut self, producer: ProducerId) -> Option<ConsumerId> {
        let fixed = matches!(self.receiving, Receiving::ClientLines(_));
        let mut live = None;
        self.out.retain_mut(|o| {
            if o.producer != producer {
                return true;
            }
            match o.state {
                OutState::ToOpen => false,
                OutState::Negotiating(_) => {
                    o.cancelled = true;
                    true
                }
                OutState::Open(m) => {
                    live = o.consumer.take();
                    o.state = OutState::ToStop(m);
                    !fixed
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

    fn out(producer: u64, state: OutState) -> OutTrack {
        OutTrack {
            producer: ProducerId(producer),
            owner: ParticipantId(1),
            kind: MediaKind::Video,
            codec: tongbu_media::Codec::Vp8,
            state,
            consumer: None,
            cancelled: false,
        }
    }

    #[test]
    fn a_track_whose_publisher_leaves_mid_negotiation_is_stopped_after_the_answer() {
        let (tx, _rx) = tokio::sync::mpsc::channel(4);
        let mut p = Participant::new(ParticipantId(2), 1, tx);
        let m: Mid = "0".into();
        p.out.push(out(5, OutState::Negotiating(m)));
        p.out.push(out(6, OutState::ToOpen));
        assert_eq!(p.producer_gone(ProducerId(5)), None);
        assert_eq!(p.producer_gone(ProducerId(6)), None);
        assert_eq!(p.out.len(), 1, "a track never offered is simply dropped");
        assert!(p.answer_accepted().is_empty());
        assert_eq!(p.out[0].state, OutState::ToStop(m));
        assert!(p.needs_offer());
    }

    #[test]
    fn open_tracks_report_their_live_consumer_when_gone() {
        let (tx, _rx) = tokio::sync::mpsc::channel(4);
        let mut p = Participant::new(ParticipantId(2), 1, tx);
        let m: Mid = "1".into();
        let mut o = out(5, OutState::Open(m));
        o.consumer = Some(ConsumerId(7));
        p.out.push(o);
        assert_eq!(p.producer_gone(ProducerId(5)), Some(ConsumerId(7)));
        assert_eq!(p.out[0].state, OutState::ToStop(m));
    }

    #[test]
    fn a_players_own_line_is_freed_not_stopped_and_never_offered() {
        let (tx, _rx) = tokio::sync::mpsc::channel(4);
        let mut p = Participant::new(ParticipantId(2), 1, tx);
        let m: Mid = "1".into();
        p.receiving = Receiving::ClientLines(vec![(m, MediaKind::Video)]);
        let mut o = out(5, OutState::Open(m));
        o.consumer = Some(ConsumerId(7));
        p.out.push(o);
        p.out.push(out(6, OutState::ToOpen));
        assert_eq!(p.producer_gone(ProducerId(5)), Some(ConsumerId(7)));
        assert_eq!(p.out.len(), 1, "the line is free for the next track");
        assert!(!p.needs_offer(), "a player's lines are never renegotiated");
    }
}
