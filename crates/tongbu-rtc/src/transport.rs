//! A transport: one ICE/DTLS connection of one participant, either the `send` transport it
//! publishes on (its producers) or the `recv` transport it receives on (its consumers).
//!
//! str0m's [`Rtc`] is every transport's control plane: ICE-lite, DTLS, SDP, SCTP, and on a send
//! transport the publisher's inbound media (SRTP, NACKs and TWCC feedback to the publisher). On
//! a recv transport Tongbu sends the media itself ([`SubscriberEgress`]), with the SRTP keys the
//! handshake exported ([`crate::key_capture`]); str0m is set never to send RTP or RTCP there.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use str0m::media::{Mid, Rid};
use str0m::net::Protocol;
use str0m::rtp::Ssrc;
use str0m::{Candidate, IceCreds, Rtc};
use tongbu_media::{BandwidthAllocator, ConsumerId, Layer, ParticipantId, ProducerId};
use tracing::warn;

use crate::bandwidth_estimator::BandwidthEstimator;
use crate::key_capture::{self, KeySlot};
use crate::link_stats::{Meter, STATS_INTERVAL};
use crate::repair_budget::RepairBudget;
use crate::srtp::{SrtpContext, SrtpError, TransportKeys};
use crate::twcc::TwccSender;
use crate::uplink_estimate::UplinkEstimate;

/// A transport's slot in its worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TransportId(pub u32);

impl TransportId {
    /// The slot index.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// Which way media flows on a transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportRole {
    /// The participant publishes on it (it offers, the server answers).
    Send,
    /// The participant receives on it (the server offers, it answers).
    Recv,
}

/// How often sender reports go out on a recv transport.
pub const REPORT_INTERVAL: Duration = Duration::from_secs(1);

/// str0m's own sender reports are pushed beyond any transport's life on recv transports:
/// Tongbu writes those itself.
const NEVER: Duration = Duration::from_secs(365 * 24 * 3600);

/// H.264 payload types (with their RTX) and `profile-level-id`s: constrained baseline 3.1, main
/// 3.1 (the numbers browsers use for them, so that str0m rarely has to renumber).
const H264_PTS: [(u8, u8, u32); 2] = [(108, 109, 0x42e01f), (123, 119, 0x4d001f)];

/// One transport of one participant.
pub struct Transport {
    pub rtc: Rtc,
    pub keys: KeySlot,
    pub participant: ParticipantId,
    pub role: TransportRole,
    pub ufrag: String,
    /// Addresses the demux learnt for it (forgotten with it).
    pub addrs: Vec<SocketAddr>,
    pub connected: bool,
    /// Where its media goes: the address str0m sends its DTLS and SCTP to (the nominated
    /// candidate pair), corrected by its statistics.
    pub remote: Option<(Protocol, SocketAddr)>,
    /// Byte counters at str0m's last report, for bitrates.
    pub meter: Meter,
    // Send transports.
    /// The media line that carries a screen share, as the client said.
    pub screen_mid: Option<Mid>,
    /// Incoming SSRC → producer and simulcast layer (filled lazily from the mid and rid).
    pub producer_by_ssrc: HashMap<Ssrc, (ProducerId, Layer)>,
    pub producer_by_mid: HashMap<Mid, ProducerId>,
    /// A simulcast line's RIDs, in layer order (the order of the client's offer: lowest
    /// resolution first).
    pub rids: HashMap<Mid, Vec<Rid>>,
    pub mid_by_producer: HashMap<ProducerId, Mid>,
    /// The payload type the publisher sends redundant audio (RED) on, once negotiated.
    pub red_pt: Option<u8>,
    /// The last sequence number of each RED stream, to find the packets its uplink lost.
    pub red_seq: HashMap<Ssrc, u16>,
    /// The publisher's uplink as the server sees it, told to it as REMB: only for a stack that
    /// asked for REMB and has no transport-wide feedback ([`crate::uplink_estimate`]).
    pub uplink: Option<UplinkEstimate>,
    // Recv transports.
    pub consumer_by_mid: HashMap<Mid, ConsumerId>,
    /// Its send state once connected: an index into the worker's egress table, which keeps the
    /// per-copy state of all recv transports close together (a transport, with its `Rtc`, is
    /// kilobytes; a thousand of them apart would cost a cache and TLB miss per copy).
    pub egress: Option<usize>,
}

impl Transport {
    /// A transport of worker `worker` whose ICE candidates name `candidate` (and a passive TCP
    /// one if `tcp`). Its ICE ufrag begins with the worker's index in two hex digits, so that
    /// any worker's socket can tell whose a STUN request is.
    pub fn new(
        participant: ParticipantId,
        role: TransportRole,
        worker: usize,
        candidate: SocketAddr,
        tcp: bool,
        now: Instant,
    ) -> Self {
        let mut creds = IceCreds::new();
        creds.ufrag = format!("{:02x}{}", worker & 0xff, creds.ufrag);
        let mut config = Rtc::builder()
            .set_local_ice_credentials(creds)
            .set_ice_lite(true)
            .set_rtp_mode(true)
            .clear_codecs()
            .enable_vp8(true)
            .set_stats_interval(Some(STATS_INTERVAL));
        // H.264 after VP8 (a publisher offering both sends VP8): packetization mode 1 only, in
        // the constrained baseline and main profiles browsers and studio encoders send.
        for (pt, rtx, profile_level_id) in H264_PTS {
            config
                .codec_config()
                .add_h264(pt.into(), Some(rtx.into()), true, profile_level_id);
        }
        // Opus (111) with in-band FEC, and redundant audio (RED, 63) where the client offers
        // it. str0m 0.25 links RED to opus only through `enable_opus`, whose format has no DTX:
        // the answers ask for it instead (`sdp_rewrite`).
        config.codec_config().enable_opus(true, true);
        if role == TransportRole::Recv {
            config = config
                .set_rtcp_report_interval_audio(NEVER)
                .set_rtcp_report_interval_video(NEVER);
        }
        let (mut rtc, keys) = key_capture::build(config, now);
        match Candidate::host(candidate, "udp") {
            Ok(c) => {
                rtc.add_local_candidate(c);
            }
            Err(e) => warn!("invalid ICE candidate address {candidate}: {e}"),
        }
        if tcp {
            let c = Candidate::builder()
                .tcp()
                .host(candidate)
                .tcptype(str0m::net::TcpType::Passive)
                .build();
            match c {
                Ok(c) => {
                    rtc.add_local_candidate(c);
                }
                Err(e) => warn!("invalid TCP ICE candidate {candidate}: {e}"),
            }
        }
        let ufrag = rtc.direct_api().local_ice_credentials().ufrag.clone();
        Transport {
            rtc,
            keys,
            participant,
            role,
            ufrag,
            addrs: Vec::new(),
            connected: false,
            remote: None,
            meter: Meter::default(),
            screen_mid: None,
            producer_by_ssrc: HashMap::new(),
            rids: HashMap::new(),
            producer_by_mid: HashMap::new(),
            mid_by_producer: HashMap::new(),
            red_pt: None,
            red_seq: HashMap::new(),
            uplink: None,
            consumer_by_mid: HashMap::new(),
            egress: None,
        }
    }
}

impl Transport {
    /// Tells the publisher its uplink carries `bps` (REMB, on its first video stream: the
    /// value is for everything it sends).
    pub fn send_remb(&mut self, bps: u64) {
        let mut ssrcs: Vec<Ssrc> = self.producer_by_ssrc.keys().copied().collect();
        ssrcs.sort_unstable();
        let mids: Vec<(Ssrc, Mid)> = ssrcs
            .into_iter()
            .filter_map(|s| Some((s, self.rtc.direct_api().stream_rx(&s)?.mid())))
            .collect();
        let video = mids.into_iter().find(|(_, mid)| {
            self.rtc
                .media(*mid)
                .is_some_and(|m| m.kind() == str0m::media::MediaKind::Video)
        });
        if let Some((ssrc, _)) = video {
            if let Some(rx) = self.rtc.direct_api().stream_rx(&ssrc) {
                rx.request_remb(str0m::bwe::Bitrate::bps(bps));
            }
        }
    }
}

/// What Tongbu keeps to send a subscriber its media: where it goes, SRTP both ways (ours out,
/// its RTCP in), transport-wide sequence numbers with the estimate their feedback gives, and
/// the SSRCs of its consumers' streams.
#[derive(Debug)]
pub struct SubscriberEgress {
    pub transport: TransportId,
    /// The transport's route (kept equal to [`Transport::remote`]).
    pub remote: Option<(Protocol, SocketAddr)>,
    pub srtp_out: SrtpContext,
    pub srtp_in: SrtpContext,
    pub twcc: TwccSender,
    /// Read on feedback only: kept out of the per-copy cache lines.
    pub estimate: Box<BandwidthEstimator>,
    /// The subscriber's REMB, if it sends one (stacks without transport-wide feedback).
    pub remb_bps: Option<u64>,
    /// Chooses its simulcast layers from the estimate ([`crate::allocation`]).
    pub allocator: Box<BandwidthAllocator>,
    /// What the chosen layers and the audio take, bits per second.
    pub allocated_bps: u64,
    /// A probe under way: pad up to this rate until then.
    pub probe: Option<(u64, Instant)>,
    /// `bytes_sent` at the last padding, and when.
    pub padded: (u64, Instant),
    /// What its NACK repairs may still send.
    pub repairs: RepairBudget,
    /// Whether redundant audio goes to it as it came (where its streams negotiated RED): only
    /// while its link carries the teacher's picture at its best layer and pauses no video; on a
    /// full link the redundancy would take what the picture needs ([`crate::allocation`]).
    pub redundancy: bool,
    /// SSRC (main or RTX) → consumer, for the subscriber's RTCP.
    ssrcs: Vec<(u32, ConsumerId)>,
    pub bytes_sent: u64,
    /// `bytes_sent` at the last sender reports, and when: the downlink's bitrate.
    pub reported_bytes: u64,
    pub reported_at: Instant,
}

impl SubscriberEgress {
    /// Egress of `transport` (routed to `remote`) with its keys.
    pub fn new(
        transport: TransportId,
        remote: Option<(Protocol, SocketAddr)>,
        keys: &TransportKeys,
        now: Instant,
    ) -> Result<Self, SrtpError> {
        Ok(Self {
            transport,
            remote,
            srtp_out: SrtpContext::new(&keys.local)?,
            srtp_in: SrtpContext::new(&keys.remote)?,
            twcc: TwccSender::default(),
            estimate: Box::default(),
            remb_bps: None,
            allocator: Box::new(BandwidthAllocator::new()),
            allocated_bps: 0,
            probe: None,
            padded: (0, now),
            repairs: RepairBudget::default(),
            redundancy: true,
            ssrcs: Vec::new(),
            bytes_sent: 0,
            reported_bytes: 0,
            reported_at: now,
        })
    }

    /// A consumer's stream sends on these SSRCs.
    pub fn add_ssrcs(&mut self, consumer: ConsumerId, ssrcs: impl IntoIterator<Item = u32>) {
        for s in ssrcs {
            self.ssrcs.retain(|(x, _)| *x != s);
            self.ssrcs.push((s, consumer));
        }
    }

    /// A consumer is gone.
    pub fn remove_consumer(&mut self, consumer: ConsumerId) {
        self.ssrcs.retain(|(_, c)| *c != consumer);
    }

    /// The consumer whose stream sends on `ssrc`.
    pub fn consumer_of(&self, ssrc: u32) -> Option<ConsumerId> {
        self.ssrcs.iter().find(|(s, _)| *s == ssrc).map(|(_, c)| *c)
    }
}
