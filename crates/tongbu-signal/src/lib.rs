//! # tongbu-signal — the signaling protocol
//!
//! Owns the JSON messages a client and the server exchange over `GET /ws?token=…`: their types,
//! the protocol version, and the strict parsing that turns a bad message into an
//! [`ErrorCode`] instead of a dropped connection. The protocol is written down in
//! `docs/PROTOCOL.md`; this crate is its executable form.
//!
//! It must not touch sockets, media or storage (it takes `tongbu-schedule` without its `store`
//! and `tokens` features, for the domain's types; `scripts/test.sh` checks that SQLite and JWT
//! stay out of the load tool): the server's WebSocket handler feeds it text and
//! sends what it returns.

pub mod message;
pub mod parse;

pub use message::{
    ClientMessage, ComparedLessonInfo, ErrorCode, IceServer, LinkQuality, ParticipantInfo,
    ServerMessage, SessionInfo, TrackInfo, TrackKind, TrackSource, TransportKind,
};
pub use parse::{parse_client_message, ProtocolError};
pub use tongbu_schedule::{Role, SessionState};

/// The protocol version this server speaks. A client states it in `join`.
pub const PROTOCOL_VERSION: u32 = 1;
