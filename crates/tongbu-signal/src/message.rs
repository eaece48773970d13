//! The messages. Every message is a JSON object with a `type` field.

use serde::{Deserialize, Serialize};
use tongbu_schedule::{Deck, DeckId, Role, SessionKind, SessionState};

/// Which of a participant's two transports an SDP belongs to.
///
/// A participant publishes on its `send` transport (the client offers, the server answers) and
/// receives on its `recv` transport (the server offers, the client answers). With one offerer
/// per transport, offers never collide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransportKind {
    Send,
    Recv,
}

/// Audio or video.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrackKind {
    Audio,
    Video,
}

/// Someone in the session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParticipantInfo {
    pub id: u64,
    pub name: String,
    pub role: Role,
    /// The classroom's school, when the participant is a classroom.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub school: Option<String>,
    /// The classroom's id, when the participant is a classroom (or the host's room).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classroom: Option<i64>,
    #[serde(default)]
    pub hand_raised: bool,
    /// An observer the host has given the floor: it may publish its camera and microphone.
    #[serde(default)]
    pub floor: bool,
    /// The host muted its microphone: the server forwards none of its audio until unmuted.
    #[serde(default)]
    pub muted: bool,
}

/// A relay the browser may use (`RTCIceServer`): a TURN server with a credential minted for
/// this participant, valid for hours.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IceServer {
    pub urls: Vec<String>,
    pub username: String,
    pub credential: String,
}

/// A published track as the receiving client sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrackInfo {
    pub id: u64,
    /// Who publishes it.
    pub participant: u64,
    pub kind: TrackKind,
    /// What a video shows: a camera, or a shared screen or courseware.
    #[serde(default)]
    pub source: TrackSource,
    /// The media line that carries it on the receiver's `recv` transport, once negotiated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mid: Option<String>,
}

/// What a track carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrackSource {
    /// A camera or a microphone.
    #[default]
    Camera,
    /// A shared screen or courseware (video).
    Screen,
}

/// The session a participant joined.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionInfo {
    pub id: i64,
    pub title: String,
    pub state: SessionState,
    /// `lesson`, `research` or `lecture`.
    #[serde(default = "lesson")]
    pub kind: SessionKind,
    /// 同课异构: the two lessons a research session compares, left then right (else empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub comparison: Vec<ComparedLessonInfo>,
}

fn lesson() -> SessionKind {
    SessionKind::Lesson
}

/// One of the two lessons of a 同课异构 comparison.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComparedLessonInfo {
    /// The classroom where it is taught (a participant's `classroom`).
    pub classroom: i64,
    /// "School · classroom".
    pub classroom_name: String,
    pub title: String,
    pub teacher: String,
}

/// Client → server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientMessage {
    /// First message: the protocol version the client speaks.
    Join {
        version: u32,
    },
    /// SDP offer for the client's `send` transport (publish, or change what it publishes).
    Offer {
        transport: TransportKind,
        sdp: String,
        /// The `mid` of the media line that carries a screen or courseware share, if one does.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        screen: Option<String>,
    },
    /// SDP answer to the server's offer on the `recv` transport.
    Answer {
        transport: TransportKind,
        sdp: String,
    },
    /// A trickled ICE candidate. The server is ICE-lite and learns the client's address from its
    /// connectivity checks, so candidates are accepted and need not be sent.
    Candidate {
        transport: TransportKind,
        candidate: String,
    },
    /// The highest video layer the client wants (0 = lowest).
    SetPreferences {
        max_layer: u8,
    },
    RaiseHand {
        raised: bool,
    },
    Chat {
        text: String,
    },
    /// Host only: mute a participant's microphone for everyone (`muted: false` lifts it). The
    /// server stops forwarding its audio, whatever its page does; it stays muted if it rejoins
    /// with the same link, until the host lifts it.
    Mute {
        participant: u64,
        #[serde(default = "yes")]
        muted: bool,
    },
    /// Host only: remove a participant from the session. Its connection closes (code 4003)
    /// and its link no longer opens this session: a classroom's no link of that classroom, a
    /// personal link that link. One who came by a shared link (a lecture's audience) is only
    /// disconnected.
    Remove {
        participant: u64,
    },
    /// Host only: spotlight a classroom (`null` clears the spotlight).
    Spotlight {
        participant: Option<u64>,
    },
    /// Host only: give an observer the floor (it may publish camera and microphone), or take it
    /// back (its media ends).
    GrantFloor {
        participant: u64,
        granted: bool,
    },
    /// Host only: show a page of an uploaded courseware deck to everyone (`deck: null` puts
    /// the slides away). Pages count from 0.
    ShowSlide {
        deck: Option<DeckId>,
        #[serde(default)]
        page: u32,
    },
    /// Host only: the lesson starts.
    Start,
    /// Host only: the lesson ends for everyone.
    End,
    /// Host only: record the session from now on (`true`), or stop and finish the files.
    Record {
        on: bool,
    },
}

impl ClientMessage {
    /// Every `type` a client may send.
    pub const TYPES: &'static [&'static str] = &[
        "join",
        "offer",
        "answer",
        "candidate",
        "set_preferences",
        "raise_hand",
        "chat",
        "mute",
        "remove",
        "spotlight",
        "grant_floor",
        "show_slide",
        "start",
        "end",
        "record",
    ];
}

/// How a participant's link is doing, as the server measures it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkQuality {
    Good,
    Weak,
    Lost,
}

/// Machine-readable error codes. The accompanying message says what to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Not JSON, or not a JSON object.
    MalformedJson,
    /// `type` missing or not one of the known types.
    UnknownType,
    /// A known type with missing or mistyped fields.
    InvalidMessage,
    /// The client speaks another protocol version.
    UnsupportedVersion,
    /// The message came before `join`, or `join` came twice.
    OutOfOrder,
    /// The participant's role may not do this.
    Forbidden,
    /// The SDP could not be used.
    NegotiationFailed,
    /// The join token was refused.
    InvalidToken,
    /// The session has ended (or is unknown): no more joins.
    SessionClosed,
    /// The session's join window has not opened yet; the message says when it starts.
    NotYetOpen,
    /// Something failed on the server; the session goes on.
    Internal,
    /// The host removed this link's classroom or person from the session: it cannot rejoin.
    Removed,
    /// A lecture's audience fills the seats it was scheduled with; a seat may free up later.
    Full,
}

fn yes() -> bool {
    true
}

/// Server → client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    Joined {
        version: u32,
        you: ParticipantInfo,
        session: SessionInfo,
        /// Who is in and matters to the room: in a lecture, the audience (observers) is left
        /// out but for those with a raised hand or the floor; `audience` counts them.
        roster: Vec<ParticipantInfo>,
        /// A lecture's listeners not in the roster.
        #[serde(default)]
        audience: u32,
        tracks: Vec<TrackInfo>,
        /// Relays for networks that block the media port (give them to both peer connections).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        ice_servers: Vec<IceServer>,
    },
    /// The network check's first message: the relays its connection may use.
    IceServers {
        ice_servers: Vec<IceServer>,
    },
    /// SDP offer on the `recv` transport; `tracks` says which publisher each media line carries.
    /// With `new_transport`, the offer starts a fresh transport: drop the old one first.
    Offer {
        transport: TransportKind,
        sdp: String,
        tracks: Vec<TrackInfo>,
        #[serde(default)]
        new_transport: bool,
    },
    Answer {
        transport: TransportKind,
        sdp: String,
    },
    /// Someone entered the roster: joined, or (a lecture's listener) raised a hand or was given
    /// the floor.
    ParticipantJoined {
        participant: ParticipantInfo,
    },
    /// Someone left the roster: left the session, or (a lecture's listener) lowered the hand
    /// without the floor and went back to the audience.
    ParticipantLeft {
        participant: u64,
    },
    /// How many listeners a lecture has outside the roster; sent at most once a second, when
    /// it changed (joins and leaves of a crowd are counted, not announced one by one).
    Audience {
        count: u32,
    },
    TrackPublished {
        track: TrackInfo,
    },
    TrackUnpublished {
        track: u64,
    },
    /// Who speaks now: the participant whose microphone is the loudest (from the audio level
    /// its packets carry) once that has held for half a second; `null` after two seconds of
    /// quiet. To everyone in the session.
    ActiveSpeaker {
        participant: Option<u64>,
    },
    /// Dynacast, to the publisher of a simulcast track: which of its encodings (lowest first)
    /// to send; nobody receives the others, so the page sets `active: false` on them until a
    /// later message wants them again.
    PublishLayers {
        track: u64,
        active: Vec<bool>,
    },
    /// The layer of a simulcast track the server now sends the client (0 the lowest), chosen
    /// from its downlink estimate; `null`: no layer fits its link, that video is paused and its
    /// audio goes on. Sent to the client that receives it.
    LayerChanged {
        track: u64,
        layer: Option<u8>,
    },
    SessionState {
        state: SessionState,
    },
    /// The session is being recorded (`true`, from now on) or no longer; `reason` says why a
    /// recording stopped by itself (the disk is full) — the lesson goes on. To everyone.
    Recording {
        recording: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// The session's courseware decks (after `joined` when it has any, and to everyone when
    /// one is uploaded): fetch their pages ahead, `GET /api/courseware/pages/{digest}`, so that
    /// a page turn needs nothing but the `slide` message.
    Courseware {
        decks: Vec<Deck>,
    },
    /// The page of a deck the host shows (`deck: null`: none). To everyone; after `joined`,
    /// the current one.
    Slide {
        deck: Option<DeckId>,
        page: u32,
    },
    Chat {
        from: u64,
        name: String,
        text: String,
    },
    HandRaised {
        participant: u64,
        raised: bool,
    },
    /// The host muted (or unmuted) a participant's microphone. To everyone.
    Muted {
        participant: u64,
        #[serde(default = "yes")]
        muted: bool,
    },
    /// The host removed this participant from the session: the connection then closes with
    /// code 4003. Do not rejoin: the link no longer opens this session.
    Removed,
    Spotlight {
        participant: Option<u64>,
    },
    /// An observer was given the floor, or it was taken back (sent to everyone).
    Floor {
        participant: u64,
        granted: bool,
    },
    /// A participant's link changed state (sent to it and to the hosts; on joining, a host gets
    /// everyone's current state).
    LinkHealth {
        participant: u64,
        health: LinkQuality,
        /// Why it is not good, in English words (the client shows its own text).
        reasons: Vec<String>,
    },
    /// Audio first: the video sent to `participant` is paused (its link cannot carry video and
    /// audio together; its audio goes on), or back. Sent to it and to the hosts.
    VideoPaused {
        participant: u64,
        paused: bool,
    },
    /// Pre-lesson network check (`/ws/check`): what the server measures of the media the
    /// client sends it, once a second.
    CheckStats {
        /// The UDP port media goes to (for the school's network administrator).
        udp_port: u16,
        /// Whether the client's media reached the server (ICE and DTLS over UDP).
        connected: bool,
        rtt_ms: Option<f32>,
        loss_up_pct: Option<f32>,
        kbps_in: f32,
        jitter_ms: Option<f32>,
    },
    /// The same host or classroom link joined again elsewhere (another tab or computer): this
    /// connection has left the session and closes (code 4001). Do not rejoin by yourself.
    Replaced,
    /// The server is stopping (a restart or an update): the connection then closes with code
    /// 1012, and the client rejoins with the same link a few seconds later, its media with it.
    ServerRestarting,
    Error {
        code: ErrorCode,
        message: String,
    },
}

impl ServerMessage {
    /// An error message.
    pub fn error(code: ErrorCode, message: impl Into<String>) -> Self {
        ServerMessage::Error {
            code,
            message: message.into(),
        }
    }

    /// The JSON text of this message.
    pub fn to_json(&self) -> String {
        // Serializing these types cannot fail: no maps with non-string keys, no foreign types.
        serde_json::to_string(self).unwrap_or_else(|e| {
            format!(r#"{{"type":"error","code":"internal","message":"encoding failed: {e}"}}"#)
        })
    }
}
