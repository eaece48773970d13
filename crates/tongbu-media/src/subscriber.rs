//! A subscription: one published track delivered to one subscriber.

use crate::{ParticipantId, SinkId, StreamRewriter, TrackId};

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

    /// Packets forwarded so far.
    pub fn forwarded(&self) -> u64 {
        self.forwarded
    }
}
