//! The media plane's boundary with signaling: what the server asks ([`EdgeHandle`], cheap to
//! clone), what it is told ([`EdgeEvent`], through each participant's bounded queue), and the
//! types both sides share. The work happens in the [`Worker`](crate::worker::Worker), run by the
//! socket loop ([`crate::socket_loop`]).

use std::net::SocketAddr;

use tokio::sync::{mpsc, oneshot};
use tongbu_media::{MediaKind, ParticipantId, ProducerId, RouterStats};

use crate::forward_latency::LatencyHistogram;
use crate::link_stats::LinkStats;

/// Where the edge listens and what it tells peers.
#[derive(Debug, Clone, Copy)]
pub struct EdgeConfig {
    /// The one UDP port (and address) for all media.
    pub bind: SocketAddr,
    /// The address put in ICE candidates (the public IP for clients behind NAT). Its port is
    /// replaced by the bound port.
    pub public_ip: std::net::IpAddr,
}

/// Errors the edge reports to signaling. Each says what the client should do.
#[derive(Debug, thiserror::Error)]
pub enum EdgeError {
    #[error("cannot bind the media UDP socket on {addr}: {source}; is the port free (TONGBU_MEDIA_UDP_PORT)?")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("participant has not joined the media session")]
    NotJoined,
    #[error("the SDP could not be parsed: {0}")]
    BadSdp(String),
    #[error("the SDP was refused: {0}")]
    Rejected(String),
    #[error("no offer is waiting for an answer")]
    NoPendingOffer,
    #[error("the media edge has stopped")]
    Closed,
}

/// A published track (a producer) as the edge announces it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublishedTrackInfo {
    pub track: ProducerId,
    pub owner: ParticipantId,
    pub kind: MediaKind,
    pub source: TrackSource,
}

/// What a video track shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TrackSource {
    /// A camera or a microphone.
    #[default]
    Camera,
    /// A shared screen or courseware.
    Screen,
}

/// What the edge tells a participant's signaling connection.
#[derive(Debug, Clone)]
pub enum EdgeEvent {
    /// An SDP offer for the participant's `recv` transport, with the track each media line
    /// carries.
    RecvOffer {
        sdp: String,
        tracks: Vec<(String, PublishedTrackInfo)>,
        /// The offer starts a new `recv` transport: the client must drop its old one, if any.
        new_transport: bool,
    },
    /// Someone in the session published a track.
    TrackPublished(PublishedTrackInfo),
    /// A track is gone.
    TrackUnpublished(PublishedTrackInfo),
    /// A transport's connection changed state (`connected`, `disconnected`, `closed`).
    Connection { send: bool, state: &'static str },
}

/// Events a participant's queue holds before new ones are dropped (and counted): a signaling
/// connection that does not read must not hold the media plane up.
pub const EVENT_QUEUE: usize = 256;

/// One participant's link, for health.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ParticipantLink {
    pub participant: ParticipantId,
    pub session: i64,
    pub stats: LinkStats,
}

/// Counters of the edge.
#[derive(Debug, Default, Clone, Copy)]
pub struct EdgeStats {
    pub participants: usize,
    pub transports: usize,
    pub datagrams_in: u64,
    pub datagrams_out: u64,
    /// Datagrams from an address no transport knows (dropped).
    pub dropped_unknown_source: u64,
    /// Datagrams a transport could not parse, or whose SRTCP did not authenticate (dropped).
    pub dropped_malformed: u64,
    /// RTP packets received from publishers.
    pub rtp_in: u64,
    /// RTP from a stream that maps to no published track (dropped).
    pub dropped_unmapped_rtp: u64,
    pub send_errors: u64,
    /// `sendmmsg` calls (or single sends) made for `datagrams_out`.
    pub send_batches: u64,
    /// Messages those calls carried: fewer than datagrams where UDP GSO joined a subscriber's
    /// packets into one.
    pub send_messages: u64,
    /// RTCP packets received from subscribers (after SRTCP).
    pub rtcp_in: u64,
    /// Packets sent again on a subscriber's NACK.
    pub retransmitted: u64,
    /// RTP or RTCP str0m produced on a recv transport, where Tongbu sends all media: dropped.
    /// Stays 0 on the pinned str0m (a test checks it); anything else means str0m changed.
    pub str0m_media_on_recv: u64,
    /// Recv transports that connected without DTLS-SRTP keys to send with.
    pub keys_missing: u64,
    /// Recv transports holding SRTP keys and send state now.
    pub egress_transports: usize,
    /// Events dropped because a participant's signaling queue was full.
    pub events_dropped: u64,
    pub router: RouterStats,
    /// Received RTP packets by the time from socket read to the kernel taking their copies.
    pub forward_latency: LatencyHistogram,
}

/// What signaling asks of the edge.
pub(crate) enum Command {
    Join {
        participant: ParticipantId,
        session: i64,
        events: mpsc::Sender<EdgeEvent>,
        reply: oneshot::Sender<Vec<PublishedTrackInfo>>,
    },
    Offer {
        participant: ParticipantId,
        sdp: String,
        screen: Option<String>,
        reply: oneshot::Sender<Result<String, EdgeError>>,
    },
    Answer {
        participant: ParticipantId,
        sdp: String,
        reply: oneshot::Sender<Result<(), EdgeError>>,
    },
    Leave {
        participant: ParticipantId,
    },
    Stats {
        reply: oneshot::Sender<EdgeStats>,
    },
    Links {
        reply: oneshot::Sender<Vec<ParticipantLink>>,
    },
    PauseVideo {
        participant: ParticipantId,
        paused: bool,
    },
    StopPublishing {
        participant: ParticipantId,
    },
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Command")
    }
}

/// How signaling talks to the edge. Cheap to clone.
#[derive(Debug, Clone)]
pub struct EdgeHandle {
    pub(crate) commands: mpsc::Sender<Command>,
    pub(crate) local: SocketAddr,
}

impl EdgeHandle {
    /// The bound media socket address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    async fn call<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, EdgeError> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(make(tx))
            .await
            .map_err(|_| EdgeError::Closed)?;
        rx.await.map_err(|_| EdgeError::Closed)
    }

    /// A participant joins a session's media. Returns the tracks already published there.
    /// `events` should hold [`EVENT_QUEUE`] events.
    pub async fn join(
        &self,
        participant: ParticipantId,
        session: i64,
        events: mpsc::Sender<EdgeEvent>,
    ) -> Result<Vec<PublishedTrackInfo>, EdgeError> {
        self.call(|reply| Command::Join {
            participant,
            session,
            events,
            reply,
        })
        .await
    }

    /// The participant's offer for its `send` transport; returns the answer. `screen` names the
    /// media line that carries a screen share, if one does.
    pub async fn offer(
        &self,
        participant: ParticipantId,
        sdp: String,
        screen: Option<String>,
    ) -> Result<String, EdgeError> {
        self.call(|reply| Command::Offer {
            participant,
            sdp,
            screen,
            reply,
        })
        .await?
    }

    /// The participant's answer to the `recv` offer.
    pub async fn answer(&self, participant: ParticipantId, sdp: String) -> Result<(), EdgeError> {
        self.call(|reply| Command::Answer {
            participant,
            sdp,
            reply,
        })
        .await?
    }

    /// The participant left: its tracks are unpublished, its transports closed.
    pub async fn leave(&self, participant: ParticipantId) {
        let _ = self.commands.send(Command::Leave { participant }).await;
    }

    /// Current counters.
    pub async fn stats(&self) -> Result<EdgeStats, EdgeError> {
        self.call(|reply| Command::Stats { reply }).await
    }

    /// Audio first: stop (or restart) every video the participant receives while its audio goes
    /// on, for a link that cannot carry both.
    pub async fn pause_video(&self, participant: ParticipantId, paused: bool) {
        let _ = self
            .commands
            .send(Command::PauseVideo {
                participant,
                paused,
            })
            .await;
    }

    /// The participant may no longer publish: its tracks end, its `send` transport closes.
    pub async fn stop_publishing(&self, participant: ParticipantId) {
        let _ = self
            .commands
            .send(Command::StopPublishing { participant })
            .await;
    }

    /// Every participant's link as last measured.
    pub async fn links(&self) -> Result<Vec<ParticipantLink>, EdgeError> {
        self.call(|reply| Command::Links { reply }).await
    }
}
