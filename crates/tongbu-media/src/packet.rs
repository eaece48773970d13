//! The packets that go in and out of the router.

use std::sync::Arc;
use std::time::Instant;

use crate::h264;
use crate::vp8::{self, Descriptor, PictureIds};
use crate::ConsumerId;

/// A simulcast layer (one encoding of a producer), 0 the lowest: the order of the publisher's
/// encodings by resolution. A producer without simulcast has only layer 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Layer(pub u8);

impl Layer {
    /// The only layer of a producer without simulcast, the lowest of one with.
    pub const BASE: Layer = Layer(0);

    /// Its index in the producer's encodings.
    pub fn index(self) -> usize {
        usize::from(self.0)
    }
}

/// Audio or video.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaKind {
    Audio,
    Video,
}

/// The codecs the router forwards. Forwarding never decodes, so a subscriber must have negotiated
/// the publisher's codec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    Opus,
    Vp8,
    /// H.264, packetization mode 1 (constrained baseline or main profile).
    H264,
}

impl Codec {
    /// The codec Tongbu negotiates for `kind` (opus for audio, VP8 for video).
    pub fn for_kind(kind: MediaKind) -> Self {
        match kind {
            MediaKind::Audio => Codec::Opus,
            MediaKind::Video => Codec::Vp8,
        }
    }

    /// Its name as people write it.
    pub fn name(self) -> &'static str {
        match self {
            Codec::Opus => "opus",
            Codec::Vp8 => "VP8",
            Codec::H264 => "H.264",
        }
    }

    /// RTP clock rate of the codec.
    pub fn clock_rate(self) -> u32 {
        match self {
            Codec::Opus => 48_000,
            Codec::Vp8 | Codec::H264 => 90_000,
        }
    }

    /// Audio or video.
    pub fn kind(self) -> MediaKind {
        match self {
            Codec::Opus => MediaKind::Audio,
            Codec::Vp8 | Codec::H264 => MediaKind::Video,
        }
    }

    /// What the router reads of a payload: where a keyframe starts, and — for a VP8 simulcast
    /// producer, whose consumers renumber them across layers — the picture IDs.
    pub fn descriptor(self, payload: &[u8], simulcast: bool) -> Descriptor {
        match self {
            Codec::Vp8 if simulcast => vp8::descriptor(payload),
            Codec::Vp8 => Descriptor {
                keyframe_start: vp8::is_keyframe_start(payload),
                ..Descriptor::default()
            },
            Codec::H264 => {
                let start = h264::keyframe_start(payload);
                Descriptor {
                    keyframe_start: start != h264::KeyframeStart::No,
                    parameter_sets: start == h264::KeyframeStart::ParameterSets,
                    ..Descriptor::default()
                }
            }
            Codec::Opus => Descriptor::default(),
        }
    }
}

/// An RTP packet received from a publisher, after SRTP decryption and header parsing by the edge.
/// The payload is shared, never copied, with every subscriber it is forwarded to.
#[derive(Debug, Clone)]
pub struct RtpIn {
    /// RTP sequence number as sent by the publisher.
    pub seq: u16,
    /// RTP timestamp as sent by the publisher.
    pub timestamp: u32,
    /// RTP marker bit (end of a video frame).
    pub marker: bool,
    /// The encoding it came on (its SSRC's layer; [`Layer::BASE`] without simulcast).
    pub layer: Layer,
    /// The RTP payload (codec data), without the RTP header.
    pub payload: Arc<[u8]>,
}

/// One subscriber's copy of a packet: the output of [`crate::Router::forward`]. What the copies of
/// one packet share (payload, marker, kind) stays with the packet the caller passed in, so a copy
/// costs no reference count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Forward {
    /// The consumer, as given to [`crate::Router::add_consumer`].
    pub consumer: ConsumerId,
    /// Extended (64-bit) outgoing sequence number; its low 16 bits go in the header, the rest is
    /// the SRTP rollover counter. Continuous per consumer.
    pub seq: u64,
    /// Outgoing RTP timestamp, continuous per consumer.
    pub timestamp: u32,
    /// Outgoing payload type as negotiated with the subscriber.
    pub pt: u8,
    /// VP8 picture ID and TL0PICIDX to write into the payload's descriptor: a simulcast copy's
    /// renumbering across layer switches (`None`: the payload goes as it is).
    pub ids: Option<PictureIds>,
}

/// A packet sent again from a producer's cache on a subscriber's NACK: the output of
/// [`crate::Router::resend`].
#[derive(Debug, Clone)]
pub struct Resend {
    /// Its numbering, as the consumer first got it.
    pub forward: Forward,
    /// RTP marker bit.
    pub marker: bool,
    /// The cached payload (shared with the cache).
    pub payload: Arc<[u8]>,
}

/// A publisher's clock as its last RTCP sender report stated it: the NTP time (RFC 3550's 64-bit
/// fixed point) and the RTP timestamp of the same instant, and when the report arrived. A
/// subscriber's sender reports are derived from it, so browsers keep the publisher's audio and
/// video in sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SenderClock {
    pub ntp: u64,
    pub rtp: u32,
    pub at: Instant,
}
