//! Many WebRTC clients on one thread: the load tool's media engine.
//!
//! Each client is a sans-I/O `rtc::RTCPeerConnection` (the `webrtc` crate's core) with its own
//! UDP socket on 127.0.0.1 — the server tells peers apart by address, so each needs its own
//! port — and one thread drives them all: `epoll` says which sockets are readable, `recvmmsg`
//! drains each in batches, and a timer heap wakes only the connections whose timers are due.
//! Nothing here spawns a task or a thread per client, so a thousand subscribers cost one thread.
//!
//! Receivers can count packets without decrypting them ([`crate::clear_header`]): each stream's
//! first packets are decrypted and authenticated by webrtc-rs and matched to what the publisher
//! sent, which teaches the server's sequence and timestamp offsets; after that a datagram is
//! matched by its clear header (sequence number, timestamp, size) alone and never reaches the
//! WebRTC stack, which still handles STUN, DTLS and RTCP. That keeps a subscriber at the cost of
//! a `recvmmsg` slot and a hash lookup, so the tool is not what limits a run.
//!
//! Receiving sockets ask for UDP GRO: a run of datagrams the server sent as one GSO message
//! arrives as one buffer with its segment size, which the swarm cuts up again. On loopback the
//! receiver's half of the kernel path runs on the sender's CPU and is charged to the server;
//! without GRO the kernel re-segments every GSO message there, work a real network card and the
//! receivers' own machines would do. Both servers of an A/B run meet the same tool.
//!
//! The kernel stamps every datagram as it is queued on the socket (`SO_TIMESTAMPNS`), and the
//! publisher stamps every packet as it hands it to its connection, both on the real-time clock.
//! The difference is the latency the server added, whatever the load tool's own thread was doing
//! in between. A packet is matched to its send stamp by a fingerprint of its payload, which the
//! server forwards unchanged.
//!
//! The signaling side (async, in [`crate::workload`]) talks to this thread through
//! [`SwarmHandle`]: commands in over a channel plus an `eventfd` wake-up, replies back on
//! oneshot channels.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::BytesMut;
use rtc::interceptor::Registry;
use rtc::peer_connection::configuration::interceptor_registry::{
    configure_rtcp_reports, configure_twcc_receiver_only, register_default_interceptors,
};
use rtc::peer_connection::configuration::setting_engine::SettingEngineBuilder;
use rtc::peer_connection::configuration::RTCConfigurationBuilder;
use rtc::peer_connection::event::RTCPeerConnectionEvent;
use rtc::peer_connection::message::RTCMessage;
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::peer_connection::state::RTCPeerConnectionState;
use rtc::peer_connection::transport::{CandidateConfig, CandidateHostConfig, RTCIceCandidate};
use rtc::peer_connection::{RTCPeerConnection, RTCPeerConnectionBuilder};
use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use rtc::rtp_transceiver::{RTCRtpSenderId, RTCRtpTransceiverDirection, RTCRtpTransceiverInit};
use rtc::sansio::Protocol;
use rtc::shared::{TaggedBytesMut, TransportContext, TransportProtocol};
use tokio::sync::oneshot;

use crate::clear_header::{rtp_view, Match, RtpView, StreamMap};
use crate::latency::{Fingerprint, Origin, SendStamps};
use crate::media::{packetize_vp8, rtp_packet, IvfFrames, OpusTone};
use crate::peer::{self, OPUS_PT, VP8_PT};
use crate::ClientError;

/// A client of the swarm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientId(pub usize);

const MTU: usize = 1_200;
/// Datagrams read per `recvmmsg` call.
const BATCH: usize = 32;
/// A receive buffer: room for a GRO run of datagrams.
const GRO_BUFFER: usize = 65_536;
const WAKE_TOKEN: u64 = u64::MAX;

/// What the signaling side asks of the swarm thread.
enum Command {
    /// A receiving client for the server's offer; replies with its id and answer.
    Receive {
        offer: String,
        reply: oneshot::Sender<Result<(ClientId, String), String>>,
    },
    /// A new offer on a receiving client's transport; replies with the answer.
    Renegotiate {
        client: ClientId,
        offer: String,
        reply: oneshot::Sender<Result<String, String>>,
    },
    /// A publishing client (VP8 + opus); replies with its id and offer.
    Publish {
        reply: oneshot::Sender<Result<(ClientId, String), String>>,
    },
    /// The server's answer to a publisher's offer.
    Answered {
        client: ClientId,
        answer: String,
        reply: oneshot::Sender<Result<(), String>>,
    },
    /// The server replaced a receiving client's transport: the old one is closed and no longer
    /// counted.
    Close(ClientId),
    /// Publishers start (or stop) sending frames.
    Media(bool),
    /// Forget what was counted so far: the measurement starts now.
    Measure,
    /// How many received streams have delivered a packet.
    Flowing(oneshot::Sender<usize>),
    /// Receivers with fewer flowing streams than the number given, and why.
    Stalled(usize, oneshot::Sender<Vec<Stalled>>),
    Report(oneshot::Sender<SwarmReport>),
    Shutdown,
}

/// What the swarm counted since the last [`SwarmHandle::measure`].
#[derive(Debug, Clone, Default)]
pub struct SwarmReport {
    pub receivers: usize,
    pub streams: usize,
    /// RTP packets handed to the publishers' connections.
    pub packets_sent: u64,
    /// Unique RTP packets the receivers got.
    pub packets_received: u64,
    /// Packets the receivers' sequence numbers say they should have got.
    pub packets_expected: u64,
    /// Receivers that got nothing at all in the measurement.
    pub receivers_without_media: usize,
    /// Added latency of each received packet, microseconds (kernel receive stamp minus the
    /// publisher's send stamp).
    pub latency_us: Vec<u32>,
    /// Received packets whose payload matched no send stamp (should be 0).
    pub unmatched: u64,
    /// Datagrams the swarm could not send (socket buffer full).
    pub send_failures: u64,
    /// Keyframe requests (PLI/FIR) the publishers got.
    pub keyframe_requests: u64,
    /// Received packets that webrtc-rs decrypted and authenticated.
    pub decrypted: u64,
    /// Received packets matched by their clear header alone.
    pub header_counted: u64,
    /// Times a stream's header disagreed with the record and its offsets were learnt anew.
    pub relearned: u64,
}

/// A receiver whose streams did not all start, and what it saw (the load tool names each one
/// and the reason rather than only counting them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stalled {
    /// Its client index in the swarm and its local port (find it in the server's log).
    pub client: usize,
    pub port: u16,
    /// Offers (first and renegotiations) it answered.
    pub offers: u32,
    pub connected: bool,
    pub video: bool,
    pub audio: bool,
}

impl Stalled {
    /// Why, in words.
    pub fn reason(&self) -> &'static str {
        match (self.offers, self.connected, self.video, self.audio) {
            (0, ..) => "no offer reached it (signaling)",
            (_, false, ..) => "its media connection never came up (ICE/DTLS)",
            (_, true, false, false) => "connected, but no packet arrived",
            (_, true, false, true) => "connected; audio flows, video never started (no keyframe?)",
            (_, true, true, false) => "connected; video flows, audio never started",
            (_, true, true, true) => "connected; fewer streams than expected flow",
        }
    }
}

/// The signaling side's handle on the swarm thread.
pub struct SwarmHandle {
    tx: mpsc::Sender<Command>,
    wake: Arc<OwnedFd>,
    thread: Option<JoinHandle<()>>,
}

impl SwarmHandle {
    /// Starts the swarm thread; publishers will loop `clip` (IVF, VP8) and an opus tone. With
    /// `decrypt_all`, receivers decrypt every packet; else only what teaches them a stream's
    /// offsets (see the module's doc).
    pub fn start(clip: &[u8], decrypt_all: bool) -> Result<Self, ClientError> {
        let frames = IvfFrames::parse(clip).map_err(ClientError::Media)?;
        // SAFETY: plain syscalls; every returned descriptor is checked and owned at once.
        let epoll = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if epoll < 0 {
            return Err(ClientError::Media(format!(
                "epoll_create1: {}",
                std::io::Error::last_os_error()
            )));
        }
        // SAFETY: `epoll` is a fresh descriptor we own.
        let epoll = unsafe { OwnedFd::from_raw_fd(epoll) };
        // SAFETY: as above.
        let wake = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if wake < 0 {
            return Err(ClientError::Media(format!(
                "eventfd: {}",
                std::io::Error::last_os_error()
            )));
        }
        // SAFETY: `wake` is a fresh descriptor we own.
        let wake = Arc::new(unsafe { OwnedFd::from_raw_fd(wake) });
        epoll_add(epoll.as_raw_fd(), wake.as_raw_fd(), WAKE_TOKEN)
            .map_err(|e| ClientError::Media(format!("epoll_ctl: {e}")))?;
        let (tx, rx) = mpsc::channel();
        let wake_fd = wake.clone();
        let thread = std::thread::Builder::new()
            .name("tongbu-load-swarm".into())
            .spawn(move || Swarm::new(epoll, wake_fd, rx, frames, decrypt_all).run())
            .map_err(|e| ClientError::Media(format!("cannot start the swarm thread: {e}")))?;
        Ok(Self {
            tx,
            wake,
            thread: Some(thread),
        })
    }

    fn send(&self, c: Command) -> Result<(), ClientError> {
        self.tx
            .send(c)
            .map_err(|_| ClientError::Media("the swarm thread has stopped".into()))?;
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a valid u64 to our eventfd.
        unsafe {
            libc::write(
                self.wake.as_raw_fd(),
                (&one as *const u64).cast(),
                std::mem::size_of::<u64>(),
            );
        }
        Ok(())
    }

    async fn ask<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, ClientError> {
        let (reply, rx) = oneshot::channel();
        self.send(make(reply))?;
        rx.await
            .map_err(|_| ClientError::Media("the swarm thread has stopped".into()))
    }

    /// A new receiving client answering `offer`: its id and SDP answer.
    pub async fn receive(&self, offer: String) -> Result<(ClientId, String), ClientError> {
        self.ask(|reply| Command::Receive { offer, reply })
            .await?
            .map_err(ClientError::Webrtc)
    }

    /// Answers a new offer on a receiving client's transport.
    pub async fn renegotiate(
        &self,
        client: ClientId,
        offer: String,
    ) -> Result<String, ClientError> {
        self.ask(|reply| Command::Renegotiate {
            client,
            offer,
            reply,
        })
        .await?
        .map_err(ClientError::Webrtc)
    }

    /// A new publishing client: its id and SDP offer.
    pub async fn publish(&self) -> Result<(ClientId, String), ClientError> {
        self.ask(|reply| Command::Publish { reply })
            .await?
            .map_err(ClientError::Webrtc)
    }

    /// Applies the server's answer to a publisher's offer.
    pub async fn answered(&self, client: ClientId, answer: String) -> Result<(), ClientError> {
        self.ask(|reply| Command::Answered {
            client,
            answer,
            reply,
        })
        .await?
        .map_err(ClientError::Webrtc)
    }

    /// Closes a client whose transport the server replaced.
    pub fn close(&self, client: ClientId) -> Result<(), ClientError> {
        self.send(Command::Close(client))
    }

    /// Publishers start or stop sending.
    pub fn media(&self, on: bool) -> Result<(), ClientError> {
        self.send(Command::Media(on))
    }

    /// Starts the measurement: counters and latency samples so far are dropped.
    pub fn measure(&self) -> Result<(), ClientError> {
        self.send(Command::Measure)
    }

    /// Received streams (one per publisher track per receiver) that have delivered a packet.
    pub async fn streams_flowing(&self) -> Result<usize, ClientError> {
        self.ask(Command::Flowing).await
    }

    /// The receivers with fewer than `per_receiver` streams flowing.
    pub async fn stalled(&self, per_receiver: usize) -> Result<Vec<Stalled>, ClientError> {
        self.ask(|reply| Command::Stalled(per_receiver, reply))
            .await
    }

    pub async fn report(&self) -> Result<SwarmReport, ClientError> {
        self.ask(Command::Report).await
    }
}

impl Drop for SwarmHandle {
    fn drop(&mut self) {
        let _ = self.send(Command::Shutdown);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Sequence-number bookkeeping of one received stream.
#[derive(Debug, Default, Clone)]
struct StreamCount {
    /// Its payload type says video (VP8) rather than audio.
    video: bool,
    first: Option<i64>,
    highest: i64,
    last: u16,
    received: u64,
    /// How this stream relates to the publisher's, for counting by header.
    map: StreamMap,
}

impl StreamCount {
    fn add(&mut self, seq: u16) {
        let ext = match self.first {
            None => {
                self.first = Some(i64::from(seq));
                i64::from(seq)
            }
            Some(_) => self.highest + i64::from(seq.wrapping_sub(self.last) as i16),
        };
        if self.first.is_none_or(|f| ext >= f) {
            self.received += 1;
        }
        if ext > self.highest || self.received == 1 {
            self.highest = ext;
            self.last = seq;
        }
    }

    fn expected(&self) -> u64 {
        self.first
            .map(|f| (self.highest - f + 1).max(0) as u64)
            .unwrap_or(0)
    }
}

struct Sender {
    video: RTCRtpSenderId,
    audio: RTCRtpSenderId,
    video_ssrc: u32,
    audio_ssrc: u32,
    video_seq: u16,
    audio_seq: u16,
    video_ts: u32,
    audio_ts: u32,
    picture_id: u16,
    frames: IvfFrames,
    tone: OpusTone,
    want_keyframe: bool,
}

enum Part {
    Receiver {
        streams: HashMap<u32, StreamCount>,
    },
    Publisher(Box<Sender>),
    /// Replaced by the server; kept so that ids stay valid.
    Closed,
}

struct Client {
    pc: RTCPeerConnection,
    socket: UdpSocket,
    local: SocketAddr,
    part: Part,
    connected: bool,
    /// Offers from the server it answered.
    offers: u32,
    /// The deadline this client is filed under in the timer heap.
    timer: Option<Instant>,
}

struct Swarm {
    epoll: OwnedFd,
    wake: Arc<OwnedFd>,
    rx: mpsc::Receiver<Command>,
    clients: Vec<Client>,
    timers: BinaryHeap<Reverse<(Instant, usize)>>,
    clip: IvfFrames,
    media_on: bool,
    next_video: Instant,
    next_audio: Instant,
    video_period: Duration,
    stamps: SendStamps,
    report: SwarmReport,
    recv: RecvBatch,
    decrypt_all: bool,
    stop: bool,
}

impl Swarm {
    fn new(
        epoll: OwnedFd,
        wake: Arc<OwnedFd>,
        rx: mpsc::Receiver<Command>,
        clip: IvfFrames,
        decrypt_all: bool,
    ) -> Self {
        let now = Instant::now();
        let video_period = Duration::from_secs_f64(1.0 / clip.fps.clamp(1.0, 60.0));
        Self {
            epoll,
            wake,
            rx,
            clients: Vec::new(),
            timers: BinaryHeap::new(),
            clip,
            media_on: false,
            next_video: now,
            next_audio: now,
            video_period,
            stamps: SendStamps::new(Duration::from_secs(5)),
            report: SwarmReport::default(),
            recv: RecvBatch::new(),
            decrypt_all,
            stop: false,
        }
    }

    fn run(mut self) {
        let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 256];
        while !self.stop {
            let now = Instant::now();
            let mut next = now + Duration::from_millis(100);
            if let Some(Reverse((t, _))) = self.timers.peek() {
                next = next.min(*t);
            }
            if self.media_on {
                next = next.min(self.next_video).min(self.next_audio);
            }
            let wait_ms = next
                .saturating_duration_since(now)
                .as_micros()
                .div_ceil(1000)
                .min(1000) as i32;
            // SAFETY: `events` is a valid buffer of its length for the kernel to fill.
            let n = unsafe {
                libc::epoll_wait(
                    self.epoll.as_raw_fd(),
                    events.as_mut_ptr(),
                    events.len() as i32,
                    wait_ms,
                )
            };
            for ev in events.iter().take(n.max(0) as usize) {
                if ev.u64 == WAKE_TOKEN {
                    self.commands();
                } else {
                    self.read(ev.u64 as usize);
                }
            }
            let now = Instant::now();
            self.fire_timers(now);
            if self.media_on {
                self.send_media(now);
            }
        }
    }

    fn commands(&mut self) {
        let mut count = [0u8; 8];
        // SAFETY: reads at most 8 bytes into a valid buffer; EAGAIN is fine.
        unsafe {
            libc::read(self.wake.as_raw_fd(), count.as_mut_ptr().cast(), 8);
        }
        while let Ok(c) = self.rx.try_recv() {
            let now = Instant::now();
            match c {
                Command::Receive { offer, reply } => {
                    let r = self.new_receiver(offer, now);
                    let _ = reply.send(r);
                }
                Command::Renegotiate {
                    client,
                    offer,
                    reply,
                } => {
                    let r = self.renegotiate(client, offer, now);
                    let _ = reply.send(r);
                }
                Command::Publish { reply } => {
                    let r = self.new_publisher(now);
                    let _ = reply.send(r);
                }
                Command::Answered {
                    client,
                    answer,
                    reply,
                } => {
                    let r = self.answered(client, answer, now);
                    let _ = reply.send(r);
                }
                Command::Close(id) => {
                    if let Some(c) = self.clients.get_mut(id.0) {
                        let fd = c.socket.as_raw_fd();
                        // SAFETY: removes our own descriptor from our own epoll set.
                        unsafe {
                            libc::epoll_ctl(
                                self.epoll.as_raw_fd(),
                                libc::EPOLL_CTL_DEL,
                                fd,
                                std::ptr::null_mut(),
                            );
                        }
                        let _ = c.pc.close();
                        c.part = Part::Closed;
                        c.timer = None;
                        c.connected = false;
                    }
                }
                Command::Media(on) => {
                    self.media_on = on;
                    self.next_video = now;
                    self.next_audio = now;
                }
                Command::Measure => {
                    self.report = SwarmReport::default();
                    for c in &mut self.clients {
                        if let Part::Receiver { streams } = &mut c.part {
                            for s in streams.values_mut() {
                                *s = StreamCount {
                                    video: s.video,
                                    ..Default::default()
                                };
                            }
                        }
                    }
                }
                Command::Flowing(reply) => {
                    let _ = reply.send(self.streams_flowing());
                }
                Command::Stalled(per_receiver, reply) => {
                    let _ = reply.send(self.stalled(per_receiver));
                }
                Command::Report(reply) => {
                    let _ = reply.send(self.final_report());
                }
                Command::Shutdown => self.stop = true,
            }
        }
    }

    fn stalled(&self, per_receiver: usize) -> Vec<Stalled> {
        self.clients
            .iter()
            .enumerate()
            .filter_map(|(i, c)| {
                let Part::Receiver { streams } = &c.part else {
                    return None;
                };
                let flowing = streams.values().filter(|s| s.received > 0);
                if flowing.clone().count() >= per_receiver {
                    return None;
                }
                let (video, audio) =
                    flowing.fold((false, false), |(v, a), s| (v || s.video, a || !s.video));
                Some(Stalled {
                    client: i,
                    port: c.local.port(),
                    offers: c.offers,
                    connected: c.connected,
                    video,
                    audio,
                })
            })
            .collect()
    }

    fn streams_flowing(&self) -> usize {
        self.clients
            .iter()
            .map(|c| match &c.part {
                Part::Receiver { streams } => streams.values().filter(|x| x.received > 0).count(),
                _ => 0,
            })
            .sum()
    }

    fn final_report(&mut self) -> SwarmReport {
        let mut r = std::mem::take(&mut self.report);
        for c in &self.clients {
            if let Part::Receiver { streams } = &c.part {
                r.receivers += 1;
                r.streams += streams.len();
                let got: u64 = streams.values().map(|s| s.received).sum();
                r.packets_received += got;
                r.packets_expected += streams.values().map(StreamCount::expected).sum::<u64>();
                if got == 0 {
                    r.receivers_without_media += 1;
                }
            }
        }
        r
    }

    fn add_client(
        &mut self,
        pc: RTCPeerConnection,
        socket: UdpSocket,
        local: SocketAddr,
        part: Part,
    ) -> usize {
        let id = self.clients.len();
        if let Err(e) = epoll_add(self.epoll.as_raw_fd(), socket.as_raw_fd(), id as u64) {
            tracing::warn!("epoll_ctl: {e}");
        }
        self.clients.push(Client {
            pc,
            socket,
            local,
            part,
            connected: false,
            offers: 0,
            timer: None,
        });
        id
    }

    fn new_receiver(&mut self, offer: String, now: Instant) -> Result<(ClientId, String), String> {
        let socket = bind_socket()?;
        let mut me = peer::media_engine().map_err(|e| e.to_string())?;
        // Receiver reports and transport-wide feedback, as every browser sends them, only when
        // the stack sees every packet (`decrypt_all`). A receiver that counts by clear header
        // hands webrtc-rs only a stream's first packets, so its reports would stop at them and
        // its feedback would call the rest lost, and a server that believed them would judge
        // the link weak (the server before the media plane paused such subscribers' video
        // within seconds, audio first).
        let registry = if self.decrypt_all {
            configure_twcc_receiver_only(configure_rtcp_reports(Registry::new()), &mut me)
                .map_err(|e| e.to_string())?
        } else {
            Registry::new()
        };
        let mut pc = build_pc(&mut me, registry, now)?;
        let local = socket.local_addr().map_err(|e| e.to_string())?;
        pc.set_remote_description(now, offer_of(offer)?)
            .map_err(|e| format!("set_remote_description: {e}"))?;
        add_host_candidate(&mut pc, local)?;
        let answer = pc
            .create_answer(None)
            .map_err(|e| format!("create_answer: {e}"))?;
        pc.set_local_description(now, answer)
            .map_err(|e| format!("set_local_description: {e}"))?;
        let sdp = pc
            .local_description()
            .map(|d| d.sdp)
            .ok_or("no local description")?;
        let id = self.add_client(
            pc,
            socket,
            local,
            Part::Receiver {
                streams: HashMap::new(),
            },
        );
        self.clients[id].offers = 1;
        self.drive(id, now);
        Ok((ClientId(id), sdp))
    }

    fn renegotiate(&mut self, id: ClientId, offer: String, now: Instant) -> Result<String, String> {
        let c = self.clients.get_mut(id.0).ok_or("no such client")?;
        c.offers += 1;
        c.pc.set_remote_description(now, offer_of(offer)?)
            .map_err(|e| format!("set_remote_description: {e}"))?;
        let answer =
            c.pc.create_answer(None)
                .map_err(|e| format!("create_answer: {e}"))?;
        c.pc.set_local_description(now, answer)
            .map_err(|e| format!("set_local_description: {e}"))?;
        let sdp =
            c.pc.local_description()
                .map(|d| d.sdp)
                .ok_or("no local description")?;
        self.drive(id.0, now);
        Ok(sdp)
    }

    fn new_publisher(&mut self, now: Instant) -> Result<(ClientId, String), String> {
        let socket = bind_socket()?;
        let local = socket.local_addr().map_err(|e| e.to_string())?;
        let mut me = peer::media_engine().map_err(|e| e.to_string())?;
        let registry = register_default_interceptors(Registry::new(), &mut me)
            .map_err(|e| e.to_string())?
            .with(
                rtc::interceptor::Slot::from(14_000),
                peer::feedback_to_app(),
            );
        let mut pc = build_pc(&mut me, registry, now)?;
        let n = self
            .clients
            .iter()
            .filter(|c| matches!(c.part, Part::Publisher(_)))
            .count() as u32;
        let video_ssrc = 0x7C00_0000 + 2 * n;
        let audio_ssrc = video_ssrc + 1;
        let mut ids = Vec::new();
        for (kind, ssrc) in [
            (RtpCodecKind::Video, video_ssrc),
            (RtpCodecKind::Audio, audio_ssrc),
        ] {
            let track = peer::send_track(&format!("load-{n}"), kind, ssrc);
            let t = pc
                .add_transceiver_from_track(
                    track,
                    Some(RTCRtpTransceiverInit {
                        direction: RTCRtpTransceiverDirection::Sendonly,
                        ..Default::default()
                    }),
                )
                .map_err(|e| format!("add_transceiver_from_track: {e}"))?;
            ids.push(RTCRtpSenderId::from(t));
        }
        let offer = pc
            .create_offer(None)
            .map_err(|e| format!("create_offer: {e}"))?;
        pc.set_local_description(now, offer)
            .map_err(|e| format!("set_local_description: {e}"))?;
        add_host_candidate(&mut pc, local)?;
        let sdp = pc
            .local_description()
            .map(|d| d.sdp)
            .ok_or("no local description")?;
        let tone = OpusTone::new(32_000)?.skip(u64::from(n) * 97);
        let sender = Sender {
            video: ids[0],
            audio: ids[1],
            video_ssrc,
            audio_ssrc,
            video_seq: 1,
            audio_seq: 1,
            video_ts: 0,
            audio_ts: 0,
            // Distinct picture ids per publisher keep every publisher's packets distinct.
            picture_id: ((n * 2_731) & 0x7FFF) as u16,
            frames: self.clip.clone(),
            tone,
            want_keyframe: false,
        };
        let id = self.add_client(pc, socket, local, Part::Publisher(Box::new(sender)));
        Ok((ClientId(id), sdp))
    }

    fn answered(&mut self, id: ClientId, answer: String, now: Instant) -> Result<(), String> {
        let c = self.clients.get_mut(id.0).ok_or("no such client")?;
        let answer = RTCSessionDescription::answer(answer).map_err(|e| e.to_string())?;
        c.pc.set_remote_description(now, answer)
            .map_err(|e| format!("set_remote_description: {e}"))?;
        self.drive(id.0, now);
        Ok(())
    }

    /// Reads everything queued on a client's socket and feeds it to its connection.
    fn read(&mut self, id: usize) {
        let Some(c) = self.clients.get_mut(id) else {
            return;
        };
        let fd = c.socket.as_raw_fd();
        loop {
            let got = self.recv.recv(fd);
            if got == 0 {
                break;
            }
            let now = Instant::now();
            let segments = (0..got).flat_map(|i| {
                let (buf, from, stamp_ns, segment) = self.recv.datagram(i);
                segments(buf, segment).map(move |d| (d, from, stamp_ns))
            });
            for (data, from, stamp_ns) in segments {
                let Some(from) = from else { continue };
                let view = rtp_view(data);
                if let (Some(v), Part::Receiver { streams }) = (&view, &mut c.part) {
                    if !self.decrypt_all
                        && count_by_header(
                            streams,
                            v,
                            data.len(),
                            &self.stamps,
                            &mut self.report,
                            stamp_ns,
                        )
                    {
                        continue;
                    }
                }
                let msg = TaggedBytesMut {
                    now,
                    transport: TransportContext {
                        local_addr: c.local,
                        peer_addr: from,
                        ecn: None,
                        transport_protocol: TransportProtocol::UDP,
                    },
                    message: BytesMut::from(data),
                };
                if c.pc.handle_read(msg).is_err() {
                    continue;
                }
                let carried = view.map(|v| (v, data.len()));
                take_reads(c, &self.stamps, &mut self.report, stamp_ns, carried);
            }
            if got < BATCH {
                break;
            }
        }
        self.drive(id, Instant::now());
    }

    /// Lets a client's connection act: timers, events, reads and writes, then files its next
    /// deadline.
    fn drive(&mut self, id: usize, now: Instant) {
        let Some(c) = self.clients.get_mut(id) else {
            return;
        };
        if matches!(c.part, Part::Closed) {
            return;
        }
        if c.pc.poll_timeout().is_some_and(|t| t <= now) {
            let _ = c.pc.handle_timeout(now);
        }
        while let Some(ev) = c.pc.poll_event() {
            if let RTCPeerConnectionEvent::OnConnectionStateChangeEvent(s) = ev {
                c.connected = s == RTCPeerConnectionState::Connected;
            }
        }
        take_reads(c, &self.stamps, &mut self.report, realtime_ns(), None);
        flush(c, &mut self.report);
        if let Some(t) = c.pc.poll_timeout() {
            if c.timer != Some(t) {
                c.timer = Some(t);
                self.timers.push(Reverse((t, id)));
            }
        }
    }

    fn fire_timers(&mut self, now: Instant) {
        while let Some(&Reverse((t, id))) = self.timers.peek() {
            if t > now {
                break;
            }
            self.timers.pop();
            // Stale entries (the client was refiled since) are skipped.
            if self.clients.get(id).is_some_and(|c| c.timer == Some(t)) {
                self.clients[id].timer = None;
                self.drive(id, now);
            }
        }
    }

    fn send_media(&mut self, now: Instant) {
        let video = now >= self.next_video;
        let audio = now >= self.next_audio;
        if video {
            self.next_video += self.video_period;
            if self.next_video < now {
                self.next_video = now + self.video_period;
            }
        }
        if audio {
            self.next_audio += Duration::from_millis(20);
            if self.next_audio < now {
                self.next_audio = now + Duration::from_millis(20);
            }
        }
        if !video && !audio {
            return;
        }
        let ticks = (90_000.0 * self.video_period.as_secs_f64()) as u32;
        for id in 0..self.clients.len() {
            let c = &mut self.clients[id];
            if !c.connected {
                continue;
            }
            let Part::Publisher(s) = &mut c.part else {
                continue;
            };
            if video {
                if std::mem::take(&mut s.want_keyframe) {
                    s.frames.restart();
                }
                let (frame, _) = s.frames.next_frame();
                let payloads = packetize_vp8(&frame, s.picture_id, MTU);
                s.picture_id = (s.picture_id + 1) & 0x7FFF;
                let last = payloads.len().saturating_sub(1);
                for (i, p) in payloads.into_iter().enumerate() {
                    let pkt =
                        rtp_packet(VP8_PT, s.video_ssrc, s.video_seq, s.video_ts, i == last, p);
                    s.video_seq = s.video_seq.wrapping_add(1);
                    write(
                        &mut c.pc,
                        s.video,
                        pkt,
                        &mut self.stamps,
                        &mut self.report,
                        now,
                    );
                }
                s.video_ts = s.video_ts.wrapping_add(ticks);
            }
            if audio {
                if let Ok(p) = s.tone.next_frame() {
                    let pkt = rtp_packet(OPUS_PT, s.audio_ssrc, s.audio_seq, s.audio_ts, false, p);
                    s.audio_seq = s.audio_seq.wrapping_add(1);
                    write(
                        &mut c.pc,
                        s.audio,
                        pkt,
                        &mut self.stamps,
                        &mut self.report,
                        now,
                    );
                }
                s.audio_ts = s.audio_ts.wrapping_add(OpusTone::SAMPLES_PER_FRAME as u32);
            }
            self.drive(id, now);
        }
    }
}

fn write(
    pc: &mut RTCPeerConnection,
    sender: RTCRtpSenderId,
    pkt: rtc::rtp::Packet,
    stamps: &mut SendStamps,
    report: &mut SwarmReport,
    now: Instant,
) {
    let Some(mut s) = pc.rtp_sender(sender) else {
        return;
    };
    let fp = Fingerprint::of(&pkt.payload);
    let origin = Origin {
        ssrc: pkt.header.ssrc,
        seq: pkt.header.sequence_number,
        timestamp: pkt.header.timestamp,
        payload_len: pkt.payload.len(),
    };
    if s.write_rtp(now, pkt).is_ok() {
        stamps.insert(fp, origin, realtime_ns());
        report.packets_sent += 1;
    }
}

/// Counts a receiver's datagram (clear header `v`, `len` bytes, received at `stamp_ns`) by its
/// header if its stream's offsets are known; `false` if it must go to the WebRTC stack.
fn count_by_header(
    streams: &mut HashMap<u32, StreamCount>,
    v: &RtpView,
    len: usize,
    stamps: &SendStamps,
    report: &mut SwarmReport,
    stamp_ns: u64,
) -> bool {
    let Some(st) = streams.get_mut(&v.ssrc) else {
        return false;
    };
    match st.map.matched(v, len, stamps) {
        Match::Carries(sent) => {
            st.add(v.seq);
            report.header_counted += 1;
            report.latency_us.push(latency_us(stamp_ns, sent.ns));
            true
        }
        Match::Disagrees => {
            report.relearned += 1;
            false
        }
        Match::Learning => false,
    }
}

/// Added latency in microseconds: receive stamp minus send stamp.
fn latency_us(received_ns: u64, sent_ns: u64) -> u32 {
    let us = received_ns.saturating_sub(sent_ns) / 1_000;
    us.min(u64::from(u32::MAX)) as u32
}

/// Hands the application messages a connection has ready to the counters. `carried` is the clear
/// header and size of the datagram just read, which teaches its stream's offsets.
fn take_reads(
    c: &mut Client,
    stamps: &SendStamps,
    report: &mut SwarmReport,
    stamp_ns: u64,
    carried: Option<(RtpView, usize)>,
) {
    while let Some(m) = c.pc.poll_read() {
        match (&mut c.part, m.message) {
            (Part::Receiver { streams }, RTCMessage::RtpPacket(_, pkt)) => {
                let s = streams
                    .entry(pkt.header.ssrc)
                    .or_insert_with(|| StreamCount {
                        video: pkt.header.payload_type == crate::peer::VP8_PT,
                        ..Default::default()
                    });
                s.add(pkt.header.sequence_number);
                report.decrypted += 1;
                match stamps.get(&Fingerprint::of(&pkt.payload)) {
                    Some(sent) => {
                        report.latency_us.push(latency_us(stamp_ns, sent.ns));
                        if let Some((v, len)) = carried.filter(|(v, _)| v.ssrc == pkt.header.ssrc) {
                            s.map.learn(&v, len, &sent);
                        }
                    }
                    None => report.unmatched += 1,
                }
            }
            (Part::Publisher(s), RTCMessage::RtcpPacket(..)) => {
                // Only PLI and FIR reach the application (see `feedback_to_app`; these publishers offer no REMB).
                s.want_keyframe = true;
                report.keyframe_requests += 1;
            }
            _ => {}
        }
    }
}

/// Sends what a connection has queued.
fn flush(c: &mut Client, report: &mut SwarmReport) {
    while let Some(out) = c.pc.poll_write() {
        if c.socket
            .send_to(&out.message, out.transport.peer_addr)
            .is_err()
        {
            report.send_failures += 1;
        }
    }
}

fn offer_of(sdp: String) -> Result<RTCSessionDescription, String> {
    RTCSessionDescription::offer(sdp).map_err(|e| e.to_string())
}

fn build_pc(
    me: &mut rtc::peer_connection::configuration::media_engine::MediaEngine,
    registry: Registry,
    now: Instant,
) -> Result<RTCPeerConnection, String> {
    let se = SettingEngineBuilder::new()
        .with_multicast_dns_mode(rtc::ice::mdns::MulticastDnsMode::Disabled)
        .build();
    RTCPeerConnectionBuilder::new()
        .with_configuration(RTCConfigurationBuilder::new().build())
        .with_media_engine(std::mem::take(me))
        .with_setting_engine(se)
        .with_interceptor_registry(registry)
        .build(now)
        .map_err(|e| format!("peer connection: {e}"))
}

fn add_host_candidate(pc: &mut RTCPeerConnection, local: SocketAddr) -> Result<(), String> {
    let candidate = CandidateHostConfig {
        base_config: CandidateConfig {
            network: "udp".to_owned(),
            address: local.ip().to_string(),
            port: local.port(),
            component: 1,
            ..Default::default()
        },
        ..Default::default()
    }
    .new_candidate_host()
    .map_err(|e| format!("host candidate: {e}"))?;
    let init = RTCIceCandidate::from(&candidate)
        .to_json()
        .map_err(|e| format!("host candidate: {e}"))?;
    pc.add_local_candidate(init)
        .map_err(|e| format!("add_local_candidate: {e}"))
}

/// A non-blocking UDP socket on 127.0.0.1 with kernel receive stamps and room for bursts.
fn bind_socket() -> Result<UdpSocket, String> {
    let s = UdpSocket::bind("127.0.0.1:0").map_err(|e| format!("bind: {e}"))?;
    s.set_nonblocking(true).map_err(|e| e.to_string())?;
    let fd = s.as_raw_fd();
    setsockopt_int(fd, libc::SOL_SOCKET, libc::SO_TIMESTAMPNS, 1)?;
    // Best effort: the kernel caps it at net.core.rmem_max.
    let _ = setsockopt_int(fd, libc::SOL_SOCKET, libc::SO_RCVBUF, 1 << 20);
    // Best effort (Linux ≥ 5.0): runs of datagrams arrive joined, with their segment size.
    let _ = setsockopt_int(fd, libc::SOL_UDP, libc::UDP_GRO, 1);
    Ok(s)
}

fn setsockopt_int(fd: RawFd, level: i32, name: i32, value: i32) -> Result<(), String> {
    // SAFETY: passes a valid i32 and its size.
    let r = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (&value as *const i32).cast(),
            std::mem::size_of::<i32>() as libc::socklen_t,
        )
    };
    if r < 0 {
        return Err(format!("setsockopt: {}", std::io::Error::last_os_error()));
    }
    Ok(())
}

fn epoll_add(epoll: RawFd, fd: RawFd, token: u64) -> std::io::Result<()> {
    let mut ev = libc::epoll_event {
        events: libc::EPOLLIN as u32,
        u64: token,
    };
    // SAFETY: `ev` is a valid event for the duration of the call.
    if unsafe { libc::epoll_ctl(epoll, libc::EPOLL_CTL_ADD, fd, &mut ev) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Nanoseconds on the real-time clock, the clock of `SO_TIMESTAMPNS`.
pub fn realtime_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// Buffers for one `recvmmsg` call, allocated once.
struct RecvBatch {
    bufs: Vec<Box<[u8; GRO_BUFFER]>>,
    addrs: Vec<libc::sockaddr_storage>,
    /// Control buffers (u64 for alignment) for the timestamp message.
    ctrl: Vec<[u64; 8]>,
    iovs: Vec<libc::iovec>,
    msgs: Vec<libc::mmsghdr>,
}

impl RecvBatch {
    fn new() -> Self {
        // SAFETY: all-zero is a valid value of these plain C structs.
        let zero_addr: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
        let zero_msg: libc::mmsghdr = unsafe { std::mem::zeroed() };
        Self {
            bufs: (0..BATCH).map(|_| Box::new([0; GRO_BUFFER])).collect(),
            addrs: vec![zero_addr; BATCH],
            ctrl: vec![[0; 8]; BATCH],
            iovs: vec![
                libc::iovec {
                    iov_base: std::ptr::null_mut(),
                    iov_len: 0
                };
                BATCH
            ],
            msgs: vec![zero_msg; BATCH],
        }
    }

    /// Reads up to [`BATCH`] datagrams without blocking; returns how many.
    fn recv(&mut self, fd: RawFd) -> usize {
        for i in 0..BATCH {
            self.iovs[i] = libc::iovec {
                iov_base: self.bufs[i].as_mut_ptr().cast(),
                iov_len: GRO_BUFFER,
            };
            let h = &mut self.msgs[i].msg_hdr;
            h.msg_name = (&mut self.addrs[i] as *mut libc::sockaddr_storage).cast();
            h.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            h.msg_iov = &mut self.iovs[i];
            h.msg_iovlen = 1;
            h.msg_control = self.ctrl[i].as_mut_ptr().cast();
            h.msg_controllen = std::mem::size_of::<[u64; 8]>() as _;
            h.msg_flags = 0;
            self.msgs[i].msg_len = 0;
        }
        // SAFETY: every header points into buffers owned by `self` that outlive the call.
        let n = unsafe {
            libc::recvmmsg(
                fd,
                self.msgs.as_mut_ptr(),
                BATCH as u32,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        n.max(0) as usize
    }

    /// Buffer `i` of the last call: bytes, sender, kernel receive stamp (ns, real time), and
    /// the size of each datagram in it (GRO joined a run of them; 0: one datagram).
    fn datagram(&self, i: usize) -> (&[u8], Option<SocketAddr>, u64, usize) {
        let m = &self.msgs[i];
        let len = (m.msg_len as usize).min(GRO_BUFFER);
        let from = sockaddr_to_std(&self.addrs[i]);
        let mut stamp = 0u64;
        let mut segment = 0usize;
        // SAFETY: walks the control messages the kernel wrote into our buffer, within
        // `msg_controllen`, with the libc macros made for it.
        unsafe {
            let mut cmsg = libc::CMSG_FIRSTHDR(&m.msg_hdr);
            while !cmsg.is_null() {
                if (*cmsg).cmsg_level == libc::SOL_SOCKET
                    && (*cmsg).cmsg_type == libc::SCM_TIMESTAMPNS
                {
                    let ts: libc::timespec = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast());
                    stamp = ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64;
                }
                if (*cmsg).cmsg_level == libc::SOL_UDP && (*cmsg).cmsg_type == libc::UDP_GRO {
                    let size: libc::c_int = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast());
                    segment = usize::try_from(size).unwrap_or(0);
                }
                cmsg = libc::CMSG_NXTHDR(&m.msg_hdr, cmsg);
            }
        }
        if stamp == 0 {
            stamp = realtime_ns();
        }
        (&self.bufs[i][..len], from, stamp, segment)
    }
}

/// The datagrams in a received buffer: GRO joined a run of `segment`-byte datagrams (the last
/// may be shorter); a `segment` of 0 says the buffer is one datagram.
fn segments(buf: &[u8], segment: usize) -> std::slice::Chunks<'_, u8> {
    let size = if segment == 0 {
        buf.len().max(1)
    } else {
        segment
    };
    buf.chunks(size)
}

fn sockaddr_to_std(a: &libc::sockaddr_storage) -> Option<SocketAddr> {
    match i32::from(a.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says this storage holds a sockaddr_in.
            let v4: &libc::sockaddr_in = unsafe { &*(a as *const _ as *const libc::sockaddr_in) };
            Some(SocketAddr::from((
                u32::from_be(v4.sin_addr.s_addr).to_be_bytes(),
                u16::from_be(v4.sin_port),
            )))
        }
        libc::AF_INET6 => {
            // SAFETY: the family says this storage holds a sockaddr_in6.
            let v6: &libc::sockaddr_in6 = unsafe { &*(a as *const _ as *const libc::sockaddr_in6) };
            Some(SocketAddr::from((
                v6.sin6_addr.s6_addr,
                u16::from_be(v6.sin6_port),
            )))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_count_spans_the_sequence_wrap_and_counts_gaps() {
        let mut s = StreamCount::default();
        for seq in [65_533u16, 65_534, 65_535, 0, 2, 3] {
            s.add(seq);
        }
        assert_eq!(s.received, 6);
        assert_eq!(s.expected(), 7, "65533..=3 is seven packets; 1 is missing");
        // A late, reordered packet fills the gap.
        s.add(1);
        assert_eq!((s.received, s.expected()), (7, 7));
    }

    #[test]
    fn kernel_stamps_arrive_with_datagrams() {
        let rx = bind_socket().unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let before = realtime_ns();
        tx.send_to(b"hello", rx.local_addr().unwrap()).unwrap();
        tx.send_to(b"world!", rx.local_addr().unwrap()).unwrap();
        let mut batch = RecvBatch::new();
        let mut got = Vec::new();
        for _ in 0..100 {
            let n = batch.recv(rx.as_raw_fd());
            for i in 0..n {
                let (d, from, ns, segment) = batch.datagram(i);
                assert_eq!(segment, 0, "plain datagrams");
                got.push((d.to_vec(), from, ns));
            }
            if got.len() == 2 {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].0, b"hello");
        assert_eq!(got[1].0, b"world!");
        assert_eq!(got[0].1, Some(tx.local_addr().unwrap()));
        assert!(got.iter().all(|g| g.2 >= before && g.2 <= realtime_ns()));
    }

    /// One GSO message of three 100-byte datagrams and a 40-byte one arrives joined (GRO) with
    /// its segment size, and is cut into the four again.
    #[test]
    fn a_gso_run_arrives_joined_with_its_segment_size() {
        let rx = bind_socket().unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut payload = Vec::new();
        for b in [1u8, 2, 3] {
            payload.extend_from_slice(&[b; 100]);
        }
        payload.extend_from_slice(&[4; 40]);
        let to = match rx.local_addr().unwrap() {
            SocketAddr::V4(a) => libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(a.ip().octets()),
                },
                sin_zero: [0; 8],
            },
            SocketAddr::V6(_) => unreachable!("bound to 127.0.0.1"),
        };
        let mut iov = libc::iovec {
            iov_base: payload.as_mut_ptr().cast(),
            iov_len: payload.len(),
        };
        let mut ctrl = [0u64; 4];
        // SAFETY: a msghdr pointing at locals that outlive the call; one cmsg with a u16.
        let sent = unsafe {
            let mut h: libc::msghdr = std::mem::zeroed();
            h.msg_name = (&to as *const libc::sockaddr_in as *mut libc::sockaddr_in).cast();
            h.msg_namelen = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
            h.msg_iov = &mut iov;
            h.msg_iovlen = 1;
            h.msg_control = ctrl.as_mut_ptr().cast();
            h.msg_controllen = libc::CMSG_SPACE(2) as _;
            let c = libc::CMSG_FIRSTHDR(&h);
            (*c).cmsg_level = libc::SOL_UDP;
            (*c).cmsg_type = libc::UDP_SEGMENT;
            (*c).cmsg_len = libc::CMSG_LEN(2) as _;
            std::ptr::write_unaligned(libc::CMSG_DATA(c).cast::<u16>(), 100);
            libc::sendmsg(tx.as_raw_fd(), &h, 0)
        };
        if sent < 0 {
            // No GSO on this kernel: nothing to test.
            return;
        }
        let mut batch = RecvBatch::new();
        let mut got: Vec<Vec<u8>> = Vec::new();
        for _ in 0..100 {
            let n = batch.recv(rx.as_raw_fd());
            for i in 0..n {
                let (d, _, _, segment) = batch.datagram(i);
                got.extend(segments(d, segment).map(<[u8]>::to_vec));
            }
            if got.len() >= 4 {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let sizes: Vec<usize> = got.iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![100, 100, 100, 40]);
        assert!(got[3].iter().all(|&b| b == 4));
    }
}

#[cfg(test)]
mod stalled_tests {
    use super::Stalled;

    #[test]
    fn a_stalled_receiver_says_what_it_lacks() {
        let s = |offers, connected, video, audio| Stalled {
            client: 3,
            port: 40_000,
            offers,
            connected,
            video,
            audio,
        };
        assert!(s(0, false, false, false).reason().contains("no offer"));
        assert!(s(1, false, false, false).reason().contains("ICE/DTLS"));
        assert!(s(2, true, false, false).reason().contains("no packet"));
        assert!(s(1, true, false, true).reason().contains("keyframe"));
        assert!(s(1, true, true, false).reason().contains("audio never"));
    }
}
