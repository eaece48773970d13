//! # tongbu-media — the sans-I/O selective-forwarding core
//!
//! Owns what happens to a media packet between the moment it leaves a publisher and the moment it
//! is handed to a subscriber's transport: which subscribers get it ([`Router`]), how its sequence
//! number and timestamp are rewritten so that each subscriber sees one continuous stream
//! ([`StreamRewriter`]), when a new subscriber may start (on a keyframe, see [`vp8`]), and how
//! keyframe requests from many subscribers are folded into few for the publisher
//! ([`KeyframeRequests`]), whether each stream keeps flowing ([`Continuity`]: freezes and
//! audio gaps), and how one layer at a time of a simulcast producer reaches a subscriber as one
//! stream ([`SimulcastConsumer`]: switches on keyframes, picture IDs renumbered), each
//! producer's encodings ([`Encoding`]: one per simulcast layer, with its bitrate), and what
//! the payload formats say that forwarding needs ([`vp8`], [`h264`], redundant audio in [`red`]).
//!
//! It must not touch sockets, tasks, locks, clocks or any WebRTC stack: every call takes the
//! packet and the current [`std::time::Instant`] as input and returns packets and
//! [`RouterEvent`]s as output, so it is tested and benched without a network. SRTP, ICE, DTLS,
//! RTCP reports and NACK retransmission belong to the WebRTC edge (`tongbu-rtc`).

pub mod audio_level;
pub mod bandwidth_allocator;
pub mod consumer;
pub mod continuity;
pub mod dynacast;
pub mod encoding;
pub mod h264;
pub mod ids;
pub mod keyframe_requests;
pub mod packet;
pub mod packet_cache;
pub mod producer;
pub mod red;
pub mod rewriter;
pub mod router;
pub mod simulcast_consumer;
pub mod vp8;

pub use audio_level::AudioLevel;
pub use bandwidth_allocator::{Allocation, BandwidthAllocator, Demand, Link, Priority, Target};
pub use consumer::{Consumer, Rules, SimpleRules};
pub use continuity::Continuity;
pub use dynacast::{Dynacast, LayerMask};
pub use encoding::Encoding;
pub use ids::{ConsumerId, ParticipantId, ProducerId};
pub use keyframe_requests::KeyframeRequests;
pub use packet::{Codec, Forward, Layer, MediaKind, Resend, RtpIn, SenderClock};
pub use packet_cache::PacketCache;
pub use producer::{Producer, MAX_LAYERS};
pub use red::Red;
pub use rewriter::StreamRewriter;
pub use router::{Router, RouterError, RouterEvent, RouterStats};
pub use simulcast_consumer::{SimulcastConsumer, SimulcastCopy, Skipped};
