//! # tongbu-rtc — the media plane
//!
//! Owns the media sockets (one UDP port, and TCP on the same port for schools that block UDP),
//! every transport (one str0m [`str0m::Rtc`] each, RTP mode, ICE-lite), the demultiplexing of
//! datagrams to transports ([`demux`]), timers ([`timers`]), the negotiation of each
//! participant's `send` and `recv` transports ([`negotiation`], [`participant`]; a WHEP
//! player's `recv` transport on the lines of its own offer, [`client_lines`]), and the
//! subscribers' egress: Tongbu, not str0m, protects and sends what subscribers receive
//! ([`forward`]: each copy written by its consumer's [`send_stream`], protected with our own
//! [`srtp`] using the keys the DTLS handshake exported ([`key_capture`]) into a pooled
//! [`outbox`], sent in `sendmmsg` batches with UDP GSO ([`batch_send`])); sender reports,
//! receiver reports, NACKs answered from the producers' shared caches, keyframe requests
//! ([`rtcp`]), redundant audio passed on, stripped or rebuilt ([`redundancy`]), and transport-wide feedback into a per-subscriber bandwidth estimate ([`twcc`],
//! [`bandwidth_estimator`]); for publishers with REMB alone, an estimate of their uplink
//! ([`uplink_estimate`]). str0m remains each transport's control plane and the publishers'
//! inbound media. The sans-I/O [`worker::Worker`] holds all of it; [`socket_loop`] runs it.
//!
//! It must not decide policy (who may publish, session lifecycle: that is the server's) nor look
//! inside media payloads (that is the media core's, `tongbu-media`). The per-packet path takes no
//! lock and allocates nothing per copy. Linux only (`sendmmsg`, UDP GSO).

pub mod allocation;
pub mod bandwidth_estimator;
pub mod batch_send;
pub mod client_lines;
pub mod demux;
pub mod dynacast;
pub mod edge;
pub mod forward;
pub mod forward_latency;
pub mod handoff;
pub mod key_capture;
pub mod lab;
pub mod link_stats;
pub mod negotiation;
pub mod outbox;
pub mod participant;
pub mod publication;
pub mod recording_tap;
pub mod redundancy;
pub mod repair_budget;
pub mod rtc_events;
pub mod rtcp;
pub mod sdp_rewrite;
pub mod send_stream;
pub mod socket_loop;
pub mod srtp;
pub mod tcp;
pub mod timers;
pub mod transport;
pub mod twcc;
pub mod uplink_estimate;
pub mod worker;

pub use edge::{
    EdgeConfig, EdgeError, EdgeEvent, EdgeHandle, EdgeStats, MediaRole, ParticipantLink,
    PublishedTrackInfo, TrackSource, EVENT_QUEUE,
};
pub use forward_latency::LatencyHistogram;
pub use handoff::MAX_WORKERS;
pub use link_stats::LinkStats;
pub use recording_tap::{Tap, TapSender};
pub use tongbu_media::{MediaKind, ParticipantId, ProducerId};
pub use worker::Worker;
