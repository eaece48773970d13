//! A producer: one published (incoming) track and the consumers it is delivered to.

use crate::packet_cache::{PacketCache, VIDEO_SLOTS};
use crate::{
    Codec, ConsumerId, Continuity, KeyframeRequests, MediaKind, ParticipantId, ProducerId,
    SenderClock,
};

/// One incoming track of a publisher, with the list of its consumers.
#[derive(Debug)]
pub struct Producer {
    pub(crate) id: ProducerId,
    pub(crate) owner: ParticipantId,
    pub(crate) codec: Codec,
    pub(crate) consumers: Vec<ConsumerId>,
    pub(crate) keyframes: KeyframeRequests,
    pub(crate) packets: u64,
    pub(crate) bytes: u64,
    /// Pauses of the publisher's own stream.
    pub(crate) continuity: Continuity,
    /// Video: the last packets, for every consumer's NACKs.
    pub(crate) cache: Option<PacketCache>,
    /// The publisher's clock from its last sender report.
    pub(crate) sender_clock: Option<SenderClock>,
}

impl Producer {
    pub(crate) fn new(id: ProducerId, owner: ParticipantId, codec: Codec) -> Self {
        let video = codec.kind() == MediaKind::Video;
        Self {
            id,
            owner,
            codec,
            consumers: Vec::new(),
            keyframes: KeyframeRequests::default(),
            packets: 0,
            bytes: 0,
            continuity: Continuity::new(codec.kind()),
            cache: video.then(|| PacketCache::new(VIDEO_SLOTS)),
            sender_clock: None,
        }
    }

    /// Its id.
    pub fn id(&self) -> ProducerId {
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

    /// Number of consumers.
    pub fn consumer_count(&self) -> usize {
        self.consumers.len()
    }

    /// Packets and bytes (payload) received from the publisher.
    pub fn received(&self) -> (u64, u64) {
        (self.packets, self.bytes)
    }

    /// Pauses of what arrives from the publisher (freezes for video, gaps for audio).
    pub fn continuity(&self) -> &Continuity {
        &self.continuity
    }

    /// Keyframe requests received from consumers, and sent to the publisher.
    pub fn keyframe_request_counts(&self) -> (u64, u64) {
        self.keyframes.counts()
    }

    /// The publisher's clock as its last sender report gave it.
    pub fn sender_clock(&self) -> Option<SenderClock> {
        self.sender_clock
    }
}
