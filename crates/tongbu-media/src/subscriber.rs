//! A subscription: one published track delivered to one subscriber.

use crate::continuity::Pauses;
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
    /// Video held back on purpose (audio first on the subscriber's weak link). A paused
    /// subscription also waits for a keyframe, so the fast path tests one flag.
    pub(crate) paused: bool,
    pub(crate) forwarded: u64,
    /// Its own pauses: packets of the track it skipped while waiting for a keyframe.
    pub(crate) pauses: Pauses,
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

    /// Whether its video is held back to keep the subscriber's audio.
    pub fn paused(&self) -> bool {
        self.paused
    }

    /// Its own pauses (video freezes while it waited for a keyframe), beyond the publisher's.
    pub fn pauses(&self) -> &Pauses {
        &self.pauses
    }

    /// Packets forwarded so far.
    pub fn forwarded(&self) -> u64 {
        self.forwarded
    }
}
