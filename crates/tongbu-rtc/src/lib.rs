//! # tongbu-rtc — the WebRTC edge
//!
//! Owns the one UDP socket every peer shares, one str0m [`str0m::Rtc`] per transport (RTP mode,
//! ICE-lite), the demultiplexing of datagrams to transports ([`demux`]: ICE ufrag on STUN, then
//! remote address, both hash lookups), timers ([`timers`]), and SDP negotiation of each
//! participant's `send` and `recv` transports ([`participant`]). It feeds received RTP to the
//! media core's [`tongbu_media::Router`] and writes what the router returns to the subscribers'
//! transports, which encrypt it; [`egress`] sends each turn's datagrams in `sendmmsg` batches, and
//! [`forward_latency`] records how long packets stay inside. [`tcp`] carries the same packets over
//! TCP (ICE-TCP, passive) for schools whose firewall blocks UDP.
//!
//! It must not decide policy (who may publish, session lifecycle: that is the server's) nor look
//! inside media payloads (that is the media core's). It runs as one task: the per-packet path
//! takes no lock.

pub mod bandwidth_estimator;
pub mod demux;
pub mod edge;
pub mod egress;
pub mod forward_latency;
pub mod link_stats;
pub mod participant;
pub mod rtcp;
pub mod srtp;
pub mod tcp;
pub mod timers;
pub mod twcc;

pub use edge::{
    Edge, EdgeConfig, EdgeError, EdgeEvent, EdgeHandle, EdgeStats, ParticipantLink,
    PublishedTrackInfo, TrackSource,
};
pub use forward_latency::LatencyHistogram;
pub use link_stats::LinkStats;
pub use tongbu_media::{MediaKind, ParticipantId, TrackId};
