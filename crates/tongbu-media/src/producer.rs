//! A producer: one published (incoming) track, its encodings (one, or one per simulcast layer)
//! and the consumers it is delivered to.

use crate::dynacast::{self, LayerMask};
use crate::encoding::Encoding;
use crate::AudioLevel;
use crate::{Codec, ConsumerId, Continuity, Layer, ParticipantId, ProducerId, SenderClock};

/// The most simulcast layers a producer has (the pages publish three).
pub const MAX_LAYERS: u8 = 4;

/// One incoming track of a publisher, with the list of its consumers.
#[derive(Debug)]
pub struct Producer {
    pub(crate) id: ProducerId,
    pub(crate) owner: ParticipantId,
    pub(crate) codec: Codec,
    pub(crate) consumers: Vec<ConsumerId>,
    /// By [`Layer`]: one without simulcast.
    pub(crate) encodings: Vec<Encoding>,
    /// Layers its publisher was asked to send (dynacast): the others are paused on purpose.
    pub(crate) published: LayerMask,
    /// Audio: how loud the microphone is, from its packets' audio-level extension.
    pub(crate) level: AudioLevel,
    /// A microphone the host muted: its packets go to nobody.
    pub(crate) muted: bool,
}

impl Producer {
    pub(crate) fn new(id: ProducerId, owner: ParticipantId, codec: Codec, layers: u8) -> Self {
        let layers = layers.clamp(1, MAX_LAYERS);
        Self {
            id,
            owner,
            codec,
            consumers: Vec::new(),
            encodings: (0..layers).map(|_| Encoding::new(codec.kind())).collect(),
            published: dynacast::all(layers),
            level: AudioLevel::default(),
            muted: false,
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

    /// Whether the host muted it (a microphone): its packets go to nobody.
    pub fn muted(&self) -> bool {
        self.muted
    }

    /// Its codec.
    pub fn codec(&self) -> Codec {
        self.codec
    }

    /// How many layers it is published in (1: no simulcast).
    pub fn layers(&self) -> u8 {
        self.encodings.len() as u8
    }

    /// Audio: the microphone's smoothed amplitude at `now` (0 silent, 1 full scale).
    pub fn voice(&self, now: std::time::Instant) -> f32 {
        self.level.amplitude(now)
    }

    /// Whether its publisher was asked not to send `layer` (nobody received it).
    pub fn layer_paused(&self, layer: Layer) -> bool {
        self.published & (1 << layer.0) == 0
    }

    /// One of its encodings.
    pub fn encoding(&self, layer: Layer) -> Option<&Encoding> {
        self.encodings.get(layer.index())
    }

    /// Number of consumers.
    pub fn consumer_count(&self) -> usize {
        self.consumers.len()
    }

    /// Packets and bytes (payload) received from the publisher, all layers.
    pub fn received(&self) -> (u64, u64) {
        self.encodings
            .iter()
            .fold((0, 0), |(p, b), e| (p + e.packets, b + e.bytes))
    }

    /// Pauses of what arrives from the publisher (freezes for video, gaps for audio), on its
    /// lowest layer: the one every publisher keeps sending.
    pub fn continuity(&self) -> &Continuity {
        &self.encodings[0].continuity
    }

    /// Keyframe requests received from consumers, and sent to the publisher, all layers.
    pub fn keyframe_request_counts(&self) -> (u64, u64) {
        self.encodings.iter().fold((0, 0), |(r, s), e| {
            let (er, es) = e.keyframes.counts();
            (r + er, s + es)
        })
    }

    /// The publisher's clock as its last sender report on the lowest layer gave it.
    pub fn sender_clock(&self) -> Option<SenderClock> {
        self.encodings[0].sender_clock
    }
}
