//! A subscription: one published track delivered to one subscriber.

use crate::{Continuity, MediaKind, ParticipantId, SinkId, StreamRewriter, TrackId};

/// The state of one track forwarded to one subscriber.
#[derive(Debug)]
pub struct Subscription {
    pub(crate) sink: SinkId,
    pub(crate) subscriber: ParticipantId,
    pub(crate) track: TrackId,
    pub(crate) pt: u8,
    pub(crate) rewriter: StreamRewriter,
    /// Video only: nothing is forwarded until a keyframe starts, since the subscriber could not
    /// decode it.
    pub(crate) waiting_for_keyframe: bool,
    pub(crate) forwarded: u64,
    pub(crate) kind: MediaKind,
    /// Pauses of what is forwarded to the subscriber that were not the publisher's.
    pub(crate) continuity: Continuity,
}

impl Subscription {
    /// Where its packets go.
    pub fn sink(&self) -> SinkId {
        self.sink
    }

    /// Who receives it.
    pub fn subscriber(&self) -> ParticipantId {
        self.subscriber
    }

    /// Which published track it carries.
    pub fn track(&self) -> TrackId {
        self.track
    }

    /// Whether it still waits for a keyframe before forwarding.
    pub fn waiting_for_keyframe(&self) -> bool {
        self.waiting_for_keyframe
    }

    /// Audio or video.
    pub fn kind(&self) -> MediaKind {
        self.kind
    }

    /// Freezes (video) or gaps (audio) of what it was forwarded, beyond the publisher's own.
    pub fn continuity(&self) -> &Continuity {
        &self.continuity
    }

    /// Packets forwarded so far.
    pub fn forwarded(&self) -> u64 {
        self.forwarded
    }
}
