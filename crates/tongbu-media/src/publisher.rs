//! A published (incoming) track and who receives it.

use crate::{Codec, Continuity, KeyframeRequests, ParticipantId, TrackId};

/// One incoming track of a publisher, with the list of its subscriptions.
#[derive(Debug)]
pub struct PublishedTrack {
    pub(crate) id: TrackId,
    pub(crate) owner: ParticipantId,
    pub(crate) codec: Codec,
    /// Indexes into the router's subscription table.
    pub(crate) subscriptions: Vec<usize>,
    pub(crate) keyframes: KeyframeRequests,
    pub(crate) packets: u64,
    pub(crate) bytes: u64,
    /// Pauses of the publisher's own stream.
    pub(crate) continuity: Continuity,
}

impl PublishedTrack {
    pub(crate) fn new(id: TrackId, owner: ParticipantId, codec: Codec) -> Self {
        Self {
            id,
            owner,
            codec,
            subscriptions: Vec::new(),
            keyframes: KeyframeRequests::default(),
            packets: 0,
            bytes: 0,
            continuity: Continuity::new(codec.kind()),
        }
    }

    /// The track's id.
    pub fn id(&self) -> TrackId {
        self.id
    }

    /// Who publishes it.
    pub fn owner(&self) -> ParticipantId {
        self.owner
    }

    /// Its codec.
    pub fn codec(&self) -> Codec {
        self.codec
    }

    /// Number of subscriptions.
    pub fn subscriber_count(&self) -> usize {
        self.subscriptions.len()
    }

    /// Packets and bytes (payload) received from the publisher.
    pub fn received(&self) -> (u64, u64) {
        (self.packets, self.bytes)
    }

    /// Pauses of what arrives from the publisher (freezes for video, gaps for audio).
    pub fn continuity(&self) -> &Continuity {
        &self.continuity
    }

    /// Keyframe requests received from subscribers, and sent to the publisher.
    pub fn keyframe_request_counts(&self) -> (u64, u64) {
        self.keyframes.counts()
    }
}
