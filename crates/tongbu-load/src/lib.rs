//! # tongbu-load — test clients and load generation on a second WebRTC stack
//!
//! Owns the synthetic participants that the end-to-end tests (and the load tool) put in front
//! of a Tongbu server: a [`Publisher`] that sends real VP8 (from an IVF file) and real opus audio
//! as RTP, and a [`Subscriber`] that receives and records every packet. They are built on the
//! `webrtc` crate (webrtc-rs), not on str0m, so every test is an interop test between two
//! independent WebRTC implementations. They speak the signaling protocol through
//! [`SignalClient`].
//!
//! It must not depend on the server's crates beyond the wire protocol (`tongbu-signal`): a test
//! client knows only what a real client knows.

pub mod clear_header;
pub mod h264_clip;
mod http_signaling;
pub mod latency;
pub mod media;
pub mod peer;
pub mod probe;
pub mod procstat;
pub mod publisher;
pub mod signal;
pub mod storm;
pub mod subscriber;
pub mod swarm;
pub mod workload;

pub use publisher::{PublishOptions, Publisher, SentPacket};
pub use signal::{SignalClient, SignalError};
pub use subscriber::{ReceivedPacket, Subscriber};

/// Errors of the test clients.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(transparent)]
    Signal(#[from] SignalError),
    #[error("webrtc: {0}")]
    Webrtc(String),
    #[error("media source: {0}")]
    Media(String),
    #[error("timed out waiting for {0}")]
    Timeout(&'static str),
    #[error("server refused: {0}")]
    Refused(String),
    /// An HTTP call (WHIP) answered with this status and text.
    #[error("HTTP {0}: {1}")]
    Http(u16, String),
}

impl ClientError {
    pub(crate) fn webrtc(e: impl std::fmt::Display) -> Self {
        ClientError::Webrtc(e.to_string())
    }
}
