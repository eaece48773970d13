//! A consumer: one producer delivered to one subscriber, its stream rewritten so the subscriber
//! sees one continuous sequence of numbers and timestamps (the simple consumer: one source, no
//! layers).

use crate::continuity::Pauses;
use crate::{ConsumerId, ParticipantId, ProducerId, StreamRewriter};

/// The state of one producer forwarded to one subscriber.
#[derive(Debug)]
pub struct Consumer {
    pub(crate) id: ConsumerId,
    pub(crate) subscriber: ParticipantId,
    pub(crate) producer: ProducerId,
    pub(crate) pt: u8,
    pub(crate) rewriter: StreamRewriter,
    /// Video only: nothing is forwarded until a keyframe starts, since the subscriber could not
    /// decode it.
    pub(crate) waiting_for_keyframe: bool,
    /// Video held back on purpose (audio first on the subscriber's weak link). A paused
    /// consumer also waits for a keyframe, so the fast path tests one flag.
    pub(crate) paused: bool,
    pub(crate) forwarded: u64,
    pub(crate) resent: u64,
    /// Its own pauses: packets of the producer it skipped while waiting for a keyframe.
    pub(crate) pauses: Pauses,
}

impl Consumer {
    /// Its id.
    pub fn id(&self) -> ConsumerId {
        self.id
    }

    /// Who receives it.
    pub fn subscriber(&self) -> ParticipantId {
        self.subscriber
    }

    /// Which producer it carries.
    pub fn producer(&self) -> ProducerId {
        self.producer
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

    /// Packets sent again on its NACKs.
    pub fn resent(&self) -> u64 {
        self.resent
    }

    /// Its rewrite (sequence numbers and timestamps).
    pub fn rewriter(&self) -> &StreamRewriter {
        &self.rewriter
    }
}
