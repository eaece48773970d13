//! A webrtc-rs peer connection set up the way every test client needs it: VP8 and H.264 (each
//! with RTX) and opus, loopback only, no mDNS, events delivered to channels.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rtc::interceptor::{Attribute, Interceptor, Packet, Registry, Slot, StreamInfo, TaggedPacket};
use rtc::media_stream::MediaStreamTrack;
use rtc::rtcp::payload_feedbacks::full_intra_request::FullIntraRequest;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtcp::payload_feedbacks::receiver_estimated_maximum_bitrate::ReceiverEstimatedMaximumBitrate;
use rtc::rtp_transceiver::rtp_sender::{
    RTCPFeedback, RTCRtpCodec, RTCRtpCodecParameters, RtpCodecKind,
};
use rtc::sansio::Protocol;
use tokio::sync::{mpsc, watch};
use webrtc::media_stream::track_remote::TrackRemote;
use webrtc::peer_connection::{
    configure_nack, configure_rtcp_reports, register_default_interceptors, MediaEngine,
    PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler, RTCConfigurationBuilder,
    RTCIceGatheringState, RTCPeerConnectionState, SettingEngineBuilder,
};

use crate::ClientError;

pub const VP8_PT: u8 = 96;
pub const RTX_PT: u8 = 97;
/// H.264 constrained baseline, packetization mode 1, and its RTX.
pub const H264_PT: u8 = 102;
pub const H264_RTX_PT: u8 = 103;
const H264_FMTP: &str = "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f";

/// The video codec a client sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VideoCodec {
    /// VP8 (the server's first choice); a receiving client also offers H.264.
    #[default]
    Vp8,
    /// H.264 only, as a studio encoder offers it.
    H264,
}

impl VideoCodec {
    pub fn payload_type(self) -> u8 {
        match self {
            VideoCodec::Vp8 => VP8_PT,
            VideoCodec::H264 => H264_PT,
        }
    }
}
pub const OPUS_PT: u8 = 111;
/// Redundant audio (RED, RFC 2198) around opus, at the payload type browsers give it.
pub const RED_PT: u8 = 63;

/// What a client offers: its video codec, and what some stacks have beyond it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Offering {
    pub video: VideoCodec,
    /// Redundant audio around opus, as browsers offer it.
    pub red: bool,
    /// REMB and no transport-wide feedback, as older stacks and some studio encoders offer.
    pub remb_only: bool,
}

impl From<VideoCodec> for Offering {
    fn from(video: VideoCodec) -> Self {
        Offering {
            video,
            ..Default::default()
        }
    }
}

fn fb(typ: &str, parameter: &str) -> RTCPFeedback {
    RTCPFeedback {
        typ: typ.into(),
        parameter: parameter.into(),
    }
}

pub(crate) fn media_engine() -> Result<MediaEngine, ClientError> {
    media_engine_for(Offering::default())
}

/// The codecs a client offers: for VP8, VP8 then H.264 (a subscriber takes either); for H.264,
/// H.264 alone (so that the server's answer leaves it no other); opus, and RED if asked.
pub(crate) fn media_engine_for(offering: Offering) -> Result<MediaEngine, ClientError> {
    use rtc::peer_connection::configuration::media_engine::{
        MIME_TYPE_H264, MIME_TYPE_OPUS, MIME_TYPE_RTX, MIME_TYPE_VP8,
    };
    let mut me = MediaEngine::default();
    let vp8 = (VP8_PT, RTX_PT, MIME_TYPE_VP8, "");
    let h264 = (H264_PT, H264_RTX_PT, MIME_TYPE_H264, H264_FMTP);
    let codecs = match offering.video {
        VideoCodec::Vp8 => vec![vp8, h264],
        VideoCodec::H264 => vec![h264],
    };
    let mut feedback = vec![fb("nack", ""), fb("nack", "pli"), fb("ccm", "fir")];
    if offering.remb_only {
        feedback.push(fb("goog-remb", ""));
    }
    for (pt, rtx, mime, fmtp) in codecs {
        me.register_codec(
            RTCRtpCodecParameters {
                payload_type: pt,
                rtp_codec: RTCRtpCodec {
                    mime_type: mime.into(),
                    clock_rate: 90_000,
                    channels: 0,
                    sdp_fmtp_line: fmtp.into(),
                    rtcp_feedback: feedback.clone(),
                },
            },
            RtpCodecKind::Video,
        )
        .map_err(ClientError::webrtc)?;
        me.register_codec(
            RTCRtpCodecParameters {
                payload_type: rtx,
                rtp_codec: RTCRtpCodec {
                    mime_type: MIME_TYPE_RTX.into(),
                    clock_rate: 90_000,
                    channels: 0,
                    sdp_fmtp_line: format!("apt={pt}"),
                    rtcp_feedback: vec![],
                },
            },
            RtpCodecKind::Video,
        )
        .map_err(ClientError::webrtc)?;
    }
    me.register_codec(
        RTCRtpCodecParameters {
            payload_type: OPUS_PT,
            rtp_codec: RTCRtpCodec {
                mime_type: MIME_TYPE_OPUS.into(),
                clock_rate: 48_000,
                channels: 2,
                sdp_fmtp_line: "minptime=10;useinbandfec=1".into(),
                rtcp_feedback: vec![],
            },
        },
        RtpCodecKind::Audio,
    )
    .map_err(ClientError::webrtc)?;
    if offering.red {
        me.register_codec(
            RTCRtpCodecParameters {
                payload_type: RED_PT,
                rtp_codec: RTCRtpCodec {
                    mime_type: "audio/red".into(),
                    clock_rate: 48_000,
                    channels: 2,
                    sdp_fmtp_line: format!("{OPUS_PT}/{OPUS_PT}"),
                    rtcp_feedback: vec![],
                },
            },
            RtpCodecKind::Audio,
        )
        .map_err(ClientError::webrtc)?;
    }
    Ok(me)
}

/// A track this client sends, with the codec of its kind (VP8 or opus, as [`media_engine`]
/// registers them) on one SSRC: its id is `<stream_id>-video` or `<stream_id>-audio`.
pub fn send_track(stream_id: &str, kind: RtpCodecKind, ssrc: u32) -> MediaStreamTrack {
    send_track_of(stream_id, kind, ssrc, VideoCodec::Vp8)
}

/// [`send_track`], its video in `video`.
pub fn send_track_of(
    stream_id: &str,
    kind: RtpCodecKind,
    ssrc: u32,
    video: VideoCodec,
) -> MediaStreamTrack {
    use rtc::peer_connection::configuration::media_engine::{
        MIME_TYPE_H264, MIME_TYPE_OPUS, MIME_TYPE_VP8,
    };
    use rtc::rtp_transceiver::rtp_sender::{RTCRtpCodingParameters, RTCRtpEncodingParameters};
    let (mime, clock_rate, channels, fmtp) = match (kind, video) {
        (RtpCodecKind::Video, VideoCodec::Vp8) => (MIME_TYPE_VP8, 90_000, 0, ""),
        (RtpCodecKind::Video, VideoCodec::H264) => (MIME_TYPE_H264, 90_000, 0, H264_FMTP),
        _ => (MIME_TYPE_OPUS, 48_000, 2, ""),
    };
    let name = if kind == RtpCodecKind::Video {
        "video"
    } else {
        "audio"
    };
    MediaStreamTrack::new(
        stream_id.into(),
        format!("{stream_id}-{name}"),
        name.into(),
        kind,
        vec![RTCRtpEncodingParameters {
            rtp_coding_parameters: RTCRtpCodingParameters {
                ssrc: Some(ssrc),
                ..Default::default()
            },
            codec: RTCRtpCodec {
                mime_type: mime.into(),
                clock_rate,
                channels,
                sdp_fmtp_line: fmtp.into(),
                ..Default::default()
            },
            ..Default::default()
        }],
    )
}

/// Which interceptors a client runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Sends media: answers NACKs, sends reports, and surfaces PLI/FIR to the application.
    Publisher,
    /// Receives media: sends receiver reports only. It sends its own NACKs and PLIs when a test
    /// asks, so that what the server answers is exactly what the test requested.
    Subscriber,
    /// A subscriber on a lossy link: every `n`-th incoming RTP packet is dropped before
    /// anything sees it, so its receiver reports tell the server about the loss.
    LossySubscriber { drop_every: u32 },
    /// A subscriber as a browser is, on a link losing `loss_pct` % of its RTP at random: it
    /// asks for what it lost (NACK generator) and sends transport-wide feedback.
    RepairingSubscriber { loss_pct: u32 },
}

/// Connection events of one peer connection.
pub struct Events {
    pub gathered: watch::Receiver<u64>,
    pub state: watch::Receiver<RTCPeerConnectionState>,
    pub tracks: mpsc::UnboundedReceiver<Arc<dyn TrackRemote>>,
}

struct Handler {
    gathered: watch::Sender<u64>,
    state: watch::Sender<RTCPeerConnectionState>,
    tracks: mpsc::UnboundedSender<Arc<dyn TrackRemote>>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_gathering_state_change(&self, s: RTCIceGatheringState) {
        if s == RTCIceGatheringState::Complete {
            self.gathered.send_modify(|n| *n += 1);
        }
    }
    async fn on_connection_state_change(&self, s: RTCPeerConnectionState) {
        self.state.send_replace(s);
    }
    async fn on_track(&self, t: Arc<dyn TrackRemote>) {
        let _ = self.tracks.send(t);
    }
}

/// Builds a peer connection bound to 127.0.0.1 only.
pub async fn build(role: Role) -> Result<(Arc<dyn PeerConnection>, Events), ClientError> {
    build_offering(role, Offering::default()).await
}

/// [`build`], offering what `offering` says (see [`media_engine_for`]).
pub async fn build_offering(
    role: Role,
    offering: Offering,
) -> Result<(Arc<dyn PeerConnection>, Events), ClientError> {
    let mut me = media_engine_for(offering)?;
    let registry = match role {
        // Without transport-wide feedback: NACKs and reports only.
        Role::Publisher if offering.remb_only => {
            configure_rtcp_reports(configure_nack(Registry::new(), &mut me))
                .with(Slot::from(14_000), feedback_to_app())
        }
        Role::Publisher => register_default_interceptors(Registry::new(), &mut me)
            .map_err(ClientError::webrtc)?
            .with(Slot::from(14_000), feedback_to_app()),
        Role::Subscriber => configure_rtcp_reports(Registry::new()),
        Role::LossySubscriber { drop_every } => configure_rtcp_reports(Registry::new()).with(
            // Below every other interceptor: the wire side of the read path.
            Slot::from(500),
            drop_incoming(drop_every.max(2)),
        ),
        Role::RepairingSubscriber { loss_pct } => {
            register_default_interceptors(Registry::new(), &mut me)
                .map_err(ClientError::webrtc)?
                .with(Slot::from(500), drop_at_random(loss_pct))
                // Below the NACK generator: a repair counts as arrived, as in a browser.
                .with(Slot::from(6_500), RtxUnwrap::default())
        }
    };
    let se = SettingEngineBuilder::new()
        .with_multicast_dns_mode(rtc::ice::mdns::MulticastDnsMode::Disabled)
        .build();
    let (gtx, grx) = watch::channel(0u64);
    let (stx, srx) = watch::channel(RTCPeerConnectionState::New);
    let (ttx, trx) = mpsc::unbounded_channel();
    let pc = PeerConnectionBuilder::new()
        .with_configuration(RTCConfigurationBuilder::new().build())
        .with_media_engine(me)
        .with_setting_engine(se)
        .with_interceptor_registry(registry)
        .with_handler(Arc::new(Handler {
            gathered: gtx,
            state: stx,
            tracks: ttx,
        }))
        .with_udp_addrs(vec!["127.0.0.1:0"])
        .build()
        .await
        .map_err(ClientError::webrtc)?;
    Ok((
        Arc::new(pc),
        Events {
            gathered: grx,
            state: srx,
            tracks: trx,
        },
    ))
}

/// Waits for ICE gathering to complete after a `set_local_description`.
pub async fn wait_gathered(rx: &mut watch::Receiver<u64>, before: u64) {
    let _ = tokio::time::timeout(Duration::from_secs(5), rx.wait_for(|n| *n > before)).await;
}

/// Waits until the connection is connected.
pub async fn wait_connected(
    rx: &mut watch::Receiver<RTCPeerConnectionState>,
    within: Duration,
) -> Result<(), ClientError> {
    match tokio::time::timeout(
        within,
        rx.wait_for(|s| *s == RTCPeerConnectionState::Connected),
    )
    .await
    {
        Ok(Ok(_)) => Ok(()),
        _ => Err(ClientError::Timeout("the peer connection to connect")),
    }
}

/// Interceptor that passes the read path's packets through `keep`, which may change a packet
/// or return false to drop it; the write path passes untouched.
struct ReadFilter<F> {
    keep: F,
    read: VecDeque<TaggedPacket>,
    write: VecDeque<TaggedPacket>,
}

impl<F> ReadFilter<F> {
    fn new(keep: F) -> Self {
        Self {
            keep,
            read: VecDeque::new(),
            write: VecDeque::new(),
        }
    }
}

impl<F: FnMut(&mut TaggedPacket) -> bool> Protocol<TaggedPacket, TaggedPacket, ()>
    for ReadFilter<F>
{
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = rtc::shared::error::Error;
    type Time = Instant;

    fn handle_read(&mut self, mut m: TaggedPacket) -> Result<(), Self::Error> {
        if (self.keep)(&mut m) {
            self.read.push_back(m);
        }
        Ok(())
    }
    fn poll_read(&mut self) -> Option<TaggedPacket> {
        self.read.pop_front()
    }
    fn handle_write(&mut self, m: TaggedPacket) -> Result<(), Self::Error> {
        self.write.push_back(m);
        Ok(())
    }
    fn poll_write(&mut self) -> Option<TaggedPacket> {
        self.write.pop_front()
    }
}

impl<F: FnMut(&mut TaggedPacket) -> bool + Send + Sync> Interceptor for ReadFilter<F> {
    fn bind_local_stream(&mut self, _: &StreamInfo) {}
    fn unbind_local_stream(&mut self, _: &StreamInfo) {}
    fn bind_remote_stream(&mut self, _: &StreamInfo) {}
    fn unbind_remote_stream(&mut self, _: &StreamInfo) {}
}

/// Hands PLI, FIR and REMB received for our send tracks to the application (the default chain
/// consumes all inbound RTCP).
pub(crate) fn feedback_to_app() -> impl Interceptor {
    ReadFilter::new(|m: &mut TaggedPacket| {
        if let Packet::Rtcp(pkts) = &m.message.packet {
            let keep: Vec<Box<dyn rtc::rtcp::Packet>> = pkts
                .iter()
                .filter(|p| {
                    let p = p.as_any();
                    p.is::<PictureLossIndication>()
                        || p.is::<FullIntraRequest>()
                        || p.is::<ReceiverEstimatedMaximumBitrate>()
                })
                .cloned()
                .collect();
            if keep.is_empty() {
                return false;
            }
            m.message.packet = Packet::Rtcp(keep);
            m.message.add(Attribute::DeliverToApplication);
        }
        true
    })
}

/// Turns retransmissions (RFC 4588) back into the packets they repair before the NACK generator
/// looks, as a browser does; webrtc-rs would unwrap them only above its interceptors, so its
/// generator never sees a repair and asks again and again.
#[derive(Default)]
struct RtxUnwrap {
    /// RTX SSRC → (primary SSRC, primary payload type).
    streams: std::collections::HashMap<u32, (u32, u8)>,
    read: VecDeque<TaggedPacket>,
    write: VecDeque<TaggedPacket>,
}

impl Protocol<TaggedPacket, TaggedPacket, ()> for RtxUnwrap {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = rtc::shared::error::Error;
    type Time = Instant;

    fn handle_read(&mut self, mut m: TaggedPacket) -> Result<(), Self::Error> {
        if let Packet::Rtp(p) = &mut m.message.packet {
            if let Some(&(ssrc, pt)) = self.streams.get(&p.header.ssrc) {
                if p.payload.len() < 2 {
                    return Ok(()); // padding only: nothing to repair
                }
                let osn = u16::from_be_bytes([p.payload[0], p.payload[1]]);
                p.payload = p.payload.slice(2..);
                p.header.ssrc = ssrc;
                p.header.payload_type = pt;
                p.header.sequence_number = osn;
            }
        }
        self.read.push_back(m);
        Ok(())
    }
    fn poll_read(&mut self) -> Option<TaggedPacket> {
        self.read.pop_front()
    }
    fn handle_write(&mut self, m: TaggedPacket) -> Result<(), Self::Error> {
        self.write.push_back(m);
        Ok(())
    }
    fn poll_write(&mut self) -> Option<TaggedPacket> {
        self.write.pop_front()
    }
}

impl Interceptor for RtxUnwrap {
    fn bind_local_stream(&mut self, _: &StreamInfo) {}
    fn unbind_local_stream(&mut self, _: &StreamInfo) {}
    fn bind_remote_stream(&mut self, info: &StreamInfo) {
        if let Some(rtx) = info.ssrc_rtx {
            self.streams.insert(rtx, (info.ssrc, info.payload_type));
        }
    }
    fn unbind_remote_stream(&mut self, info: &StreamInfo) {
        if let Some(rtx) = info.ssrc_rtx {
            self.streams.remove(&rtx);
        }
    }
}

/// Loses `pct` % of incoming RTP packets at random (a fixed-seed generator, so a run repeats),
/// as a congested rural link would.
fn drop_at_random(pct: u32) -> impl Interceptor {
    let mut state = 0x2545_f491_u32;
    ReadFilter::new(move |m: &mut TaggedPacket| {
        if matches!(m.message.packet, Packet::Rtp(_)) {
            // xorshift32
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            return state % 100 >= pct;
        }
        true
    })
}

/// Loses every `every`-th incoming RTP packet, as a bad link would.
fn drop_incoming(every: u32) -> impl Interceptor {
    let mut seen = 0u32;
    ReadFilter::new(move |m: &mut TaggedPacket| {
        if matches!(m.message.packet, Packet::Rtp(_)) {
            seen += 1;
            return !seen.is_multiple_of(every);
        }
        true
    })
}
