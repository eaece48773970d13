//! The media plane's boundary with signaling: what the server asks ([`EdgeHandle`], cheap to
//! clone), what it is told ([`EdgeEvent`], through each participant's bounded queue), and the
//! types both sides share. The work happens in the [`Worker`](crate::worker::Worker), run by the
//! socket loop ([`crate::socket_loop`]).

use std::net::SocketAddr;

use tokio::sync::{mpsc, oneshot};
use tongbu_media::{MediaKind, ParticipantId, ProducerId, RouterStats};

use crate::forward_latency::LatencyHistogram;
use crate::link_stats::LinkStats;
use crate::participant::Receiving;

/// Where the edge listens and what it tells peers.
#[derive(Debug, Clone, Copy)]
pub struct EdgeConfig {
    /// The one UDP port (and address) for all media.
    pub bind: SocketAddr,
    /// The address put in ICE candidates (the public IP for clients behind NAT). Its port is
    /// replaced by the bound port.
    pub public_ip: std::net::IpAddr,
    /// Media workers (threads, each pinned to a core); 0: one per core.
    pub workers: usize,
    /// Join a subscriber's packets of a frame into one UDP GSO message (off: one message
    /// each, for devices or hypervisors that mishandle GSO).
    pub gso: bool,
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
    /// What its publisher sends (a subscriber must have negotiated it: nothing is transcoded).
    pub codec: tongbu_media::Codec,
    pub source: TrackSource,
    /// Simulcast layers it is published in (1: none).
    pub layers: u8,
    /// What its publisher is to the media policy.
    pub owner_role: MediaRole,
}

/// What a participant is to the media policy: the teacher's classroom, a remote classroom, or
/// someone who watches (research participants, a lecture's audience).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MediaRole {
    Host,
    #[default]
    Classroom,
    Observer,
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
    /// Not even the lowest layer of any video it receives fits the participant's link: all its
    /// video is paused for want of bandwidth, its audio goes on (or it is back).
    VideoPaused { paused: bool },
    /// Dynacast: which layers of its simulcast track (lowest first) the participant's page
    /// should send; the others nobody receives.
    PublishLayers {
        track: ProducerId,
        active: Vec<bool>,
    },
    /// The bandwidth allocator chose another layer of a simulcast track for the participant
    /// (`None`: none fits its link; that video is paused, its audio goes on).
    LayerChanged {
        track: ProducerId,
        layer: Option<u8>,
    },
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
    /// Redundant audio (RED) packets received from publishers.
    pub red_in: u64,
    /// Publishers' packets lost on their uplink and rebuilt from the redundant audio (RED) of
    /// the next.
    pub red_recovered: u64,
    /// Packets sent again on a subscriber's NACK.
    pub retransmitted: u64,
    /// NACKed packets not sent again: the subscriber's repairs had used their share of its
    /// downlink (it was congested).
    pub retransmits_skipped: u64,
    /// RTP or RTCP str0m produced on a recv transport, where Tongbu sends all media: dropped.
    /// Stays 0 on the pinned str0m (a test checks it); anything else means str0m changed.
    pub str0m_media_on_recv: u64,
    /// Recv transports that connected without DTLS-SRTP keys to send with.
    pub keys_missing: u64,
    /// Recv transports holding SRTP keys and send state now.
    pub egress_transports: usize,
    /// Events dropped because a participant's signaling queue was full.
    pub events_dropped: u64,
    /// Datagrams this worker's socket received for another worker's transport, passed on.
    pub handed_off: u64,
    /// Publishers' packets received from other workers, for consumers here.
    pub handoffs_in: u64,
    /// Handoffs dropped because the ring to a worker was full.
    pub handoffs_dropped: u64,
    /// Workers adding up to these counters.
    pub workers: usize,
    pub router: RouterStats,
    /// Received RTP packets by the time from socket read to the kernel taking their copies.
    pub forward_latency: LatencyHistogram,
}

impl EdgeStats {
    /// Adds another worker's counters.
    pub fn add(&mut self, o: &EdgeStats) {
        self.participants += o.participants;
        self.transports += o.transports;
        self.datagrams_in += o.datagrams_in;
        self.datagrams_out += o.datagrams_out;
        self.dropped_unknown_source += o.dropped_unknown_source;
        self.dropped_malformed += o.dropped_malformed;
        self.rtp_in += o.rtp_in;
        self.dropped_unmapped_rtp += o.dropped_unmapped_rtp;
        self.send_errors += o.send_errors;
        self.send_batches += o.send_batches;
        self.send_messages += o.send_messages;
        self.rtcp_in += o.rtcp_in;
        self.red_in += o.red_in;
        self.red_recovered += o.red_recovered;
        self.retransmitted += o.retransmitted;
        self.retransmits_skipped += o.retransmits_skipped;
        self.str0m_media_on_recv += o.str0m_media_on_recv;
        self.keys_missing += o.keys_missing;
        self.egress_transports += o.egress_transports;
        self.events_dropped += o.events_dropped;
        self.handed_off += o.handed_off;
        self.handoffs_in += o.handoffs_in;
        self.handoffs_dropped += o.handoffs_dropped;
        self.workers += o.workers;
        self.router.add(&o.router);
        self.forward_latency.add(&o.forward_latency);
    }
}

/// What signaling asks of the edge.
pub(crate) enum Command {
    Join {
        participant: ParticipantId,
        session: i64,
        role: MediaRole,
        receiving: Receiving,
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
    Watch {
        participant: ParticipantId,
        sdp: String,
        reply: oneshot::Sender<Result<String, EdgeError>>,
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
    SetMaxLayer {
        participant: ParticipantId,
        max_layer: u8,
    },
    Spotlight {
        session: i64,
        participant: Option<ParticipantId>,
    },
    StopPublishing {
        participant: ParticipantId,
    },
    Mute {
        participant: ParticipantId,
        muted: bool,
    },
    /// Start (`Some`) or stop handing a session's packets to its recorder.
    Record {
        session: i64,
        tap: Option<crate::recording_tap::TapSender>,
    },
    /// Media over TCP, for the worker whose transport the connection reaches.
    Tcp(crate::tcp::TcpEvent),
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Command")
    }
}

/// One worker's door: its command queue and its wake-up.
#[derive(Debug, Clone)]
pub(crate) struct Inbox {
    pub(crate) commands: mpsc::Sender<Command>,
    pub(crate) waker: std::sync::Arc<mio::Waker>,
}

impl Inbox {
    /// Queues a command (waiting while the queue is full) and wakes the worker.
    pub(crate) async fn send(&self, cmd: Command) -> Result<(), EdgeError> {
        self.commands
            .send(cmd)
            .await
            .map_err(|_| EdgeError::Closed)?;
        let _ = self.waker.wake();
        Ok(())
    }
}

/// How signaling talks to the media plane. Cheap to clone. A participant lives on worker
/// `id mod workers`: its commands go there; statistics and links are gathered from all.
#[derive(Debug, Clone)]
pub struct EdgeHandle {
    pub(crate) workers: std::sync::Arc<[Inbox]>,
    pub(crate) local: SocketAddr,
}

impl EdgeHandle {
    /// The bound media socket address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Media workers running.
    pub fn workers(&self) -> usize {
        self.workers.len()
    }

    fn worker_of(&self, p: ParticipantId) -> &Inbox {
        &self.workers[(p.0 % self.workers.len() as u64) as usize]
    }

    async fn call<T>(
        &self,
        to: &Inbox,
        make: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, EdgeError> {
        let (tx, rx) = oneshot::channel();
        to.send(make(tx)).await?;
        rx.await.map_err(|_| EdgeError::Closed)
    }

    /// A participant joins a session's media. Returns the tracks already published there.
    /// `events` should hold [`EVENT_QUEUE`] events.
    pub async fn join(
        &self,
        participant: ParticipantId,
        session: i64,
        role: MediaRole,
        events: mpsc::Sender<EdgeEvent>,
    ) -> Result<Vec<PublishedTrackInfo>, EdgeError> {
        self.join_receiving(participant, session, role, Receiving::Offered, events)
            .await
    }

    /// [`Edge::join`] for a participant that only publishes (a WHIP encoder): it is offered
    /// none of the session's tracks.
    pub async fn join_publishing_only(
        &self,
        participant: ParticipantId,
        session: i64,
        role: MediaRole,
        events: mpsc::Sender<EdgeEvent>,
    ) -> Result<Vec<PublishedTrackInfo>, EdgeError> {
        self.join_receiving(participant, session, role, Receiving::Nothing, events)
            .await
    }

    /// [`Edge::join`] for a player that receives on the media lines of its own offer (WHEP):
    /// nothing is offered to it; [`Edge::watch`] answers its offer.
    pub async fn join_watching(
        &self,
        participant: ParticipantId,
        session: i64,
        events: mpsc::Sender<EdgeEvent>,
    ) -> Result<Vec<PublishedTrackInfo>, EdgeError> {
        let lines = Receiving::ClientLines(Vec::new());
        self.join_receiving(participant, session, MediaRole::Observer, lines, events)
            .await
    }

    /// A WHEP player's offer (receive-only media lines): its `recv` transport is built from it;
    /// returns the answer. The speaker's camera and microphone go to its lines as they come.
    pub async fn watch(
        &self,
        participant: ParticipantId,
        sdp: String,
    ) -> Result<String, EdgeError> {
        self.call(self.worker_of(participant), |reply| Command::Watch {
            participant,
            sdp,
            reply,
        })
        .await?
    }

    async fn join_receiving(
        &self,
        participant: ParticipantId,
        session: i64,
        role: MediaRole,
        receiving: Receiving,
        events: mpsc::Sender<EdgeEvent>,
    ) -> Result<Vec<PublishedTrackInfo>, EdgeError> {
        self.call(self.worker_of(participant), |reply| Command::Join {
            participant,
            session,
            role,
            receiving,
            events,
            reply,
        })
        .await
    }

    /// The host spotlit a classroom (or nobody): its camera goes to everyone at the best layer
    /// their links carry, the host's included.
    pub async fn set_spotlight(&self, session: i64, participant: Option<ParticipantId>) {
        for w in self.workers.iter() {
            let _ = w
                .send(Command::Spotlight {
                    session,
                    participant,
                })
                .await;
        }
    }

    /// The participant's offer for its `send` transport; returns the answer. `screen` names the
    /// media line that carries a screen share, if one does.
    pub async fn offer(
        &self,
        participant: ParticipantId,
        sdp: String,
        screen: Option<String>,
    ) -> Result<String, EdgeError> {
        self.call(self.worker_of(participant), |reply| Command::Offer {
            participant,
            sdp,
            screen,
            reply,
        })
        .await?
    }

    /// The participant's answer to the `recv` offer.
    pub async fn answer(&self, participant: ParticipantId, sdp: String) -> Result<(), EdgeError> {
        self.call(self.worker_of(participant), |reply| Command::Answer {
            participant,
            sdp,
            reply,
        })
        .await?
    }

    /// The participant left: its tracks are unpublished, its transports closed.
    pub async fn leave(&self, participant: ParticipantId) {
        let _ = self
            .worker_of(participant)
            .send(Command::Leave { participant })
            .await;
    }

    /// Current counters, summed over the workers.
    pub async fn stats(&self) -> Result<EdgeStats, EdgeError> {
        let mut total = EdgeStats::default();
        for w in self.workers.iter() {
            let s = self.call(w, |reply| Command::Stats { reply }).await?;
            total.add(&s);
        }
        Ok(total)
    }

    /// Audio first: stop (or restart) every video the participant receives while its audio goes
    /// on, for a link that cannot carry both.
    pub async fn pause_video(&self, participant: ParticipantId, paused: bool) {
        let _ = self
            .worker_of(participant)
            .send(Command::PauseVideo {
                participant,
                paused,
            })
            .await;
    }

    /// The highest simulcast layer the participant wants to receive (0 the lowest); the
    /// allocator never chooses more.
    pub async fn set_max_layer(&self, participant: ParticipantId, max_layer: u8) {
        let _ = self
            .worker_of(participant)
            .send(Command::SetMaxLayer {
                participant,
                max_layer,
            })
            .await;
    }

    /// The host muted (or unmuted) a participant: its microphone's packets are forwarded to
    /// nobody until unmuted, on every worker (each forwards the producers it mirrors).
    pub async fn set_muted(&self, participant: ParticipantId, muted: bool) {
        for w in self.workers.iter() {
            let _ = w.send(Command::Mute { participant, muted }).await;
        }
    }

    /// The participant may no longer publish: its tracks end, its `send` transport closes.
    pub async fn stop_publishing(&self, participant: ParticipantId) {
        let _ = self
            .worker_of(participant)
            .send(Command::StopPublishing { participant })
            .await;
    }

    /// Each worker's own counters.
    /// Hands session `session`'s packets, from every worker, to a recorder (`Some`), or stops
    /// (`None`: the workers drop their senders, and the recorder's channel closes once the last
    /// has).
    pub async fn record(&self, session: i64, tap: Option<crate::recording_tap::TapSender>) {
        for w in self.workers.iter() {
            let _ = w
                .send(Command::Record {
                    session,
                    tap: tap.clone(),
                })
                .await;
        }
    }

    pub async fn worker_stats(&self) -> Result<Vec<EdgeStats>, EdgeError> {
        let mut all = Vec::with_capacity(self.workers.len());
        for w in self.workers.iter() {
            all.push(self.call(w, |reply| Command::Stats { reply }).await?);
        }
        Ok(all)
    }

    /// Every participant's link as last measured, from every worker.
    pub async fn links(&self) -> Result<Vec<ParticipantLink>, EdgeError> {
        let mut all = Vec::new();
        for w in self.workers.iter() {
            all.extend(self.call(w, |reply| Command::Links { reply }).await?);
        }
        Ok(all)
    }
}
