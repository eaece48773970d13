//! A synthetic publisher: joins over signaling, publishes a real VP8 or H.264 clip and a real opus tone
//! as RTP, records every packet it sent, and counts the keyframe requests it receives (answering
//! each with a keyframe, as a real encoder does).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use rtc::rtcp::payload_feedbacks::receiver_estimated_maximum_bitrate::ReceiverEstimatedMaximumBitrate;
use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tongbu_signal::{ClientMessage, ServerMessage, TransportKind};
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_local::{TrackLocal, TrackLocalEvent};
use webrtc::peer_connection::{PeerConnection, RTCSessionDescription};
use webrtc::rtp_transceiver::{RTCRtpTransceiverDirection, RTCRtpTransceiverInit};

use crate::media::{self, rtp_packet, IvfFrames, OpusTone, VideoClip};
use crate::peer::{self, Role, OPUS_PT};
use crate::{ClientError, SignalClient};

const VIDEO_SSRC: u32 = 0x7B00_0001;
const AUDIO_SSRC: u32 = 0x7B00_0002;
const SCREEN_SSRC: u32 = 0x7B00_0003;
/// First sequence numbers: close to the 16-bit wrap, so every test crosses it.
const FIRST_VIDEO_SEQ: u16 = 65_300;
const FIRST_AUDIO_SEQ: u16 = 65_450;
const MTU: usize = 1_200;

/// One RTP packet as the publisher sent it.
#[derive(Debug, Clone)]
pub struct SentPacket {
    pub seq: u16,
    pub timestamp: u32,
    pub payload: Bytes,
    pub at: Instant,
}

type Log = Arc<Mutex<Vec<SentPacket>>>;

fn record(log: &Log, seq: u16, timestamp: u32, payload: Bytes) {
    if let Ok(mut l) = log.lock() {
        l.push(SentPacket {
            seq,
            timestamp,
            payload,
            at: Instant::now(),
        });
    }
}

/// How a test publisher sends, beyond its clip.
#[derive(Debug, Clone, Copy, Default)]
pub struct PublishOptions {
    /// Offers redundant audio (RED) and, once answered with it, sends as browsers do: each
    /// packet carries the frame before it too. The log holds each packet's own opus frame.
    pub red: bool,
    /// Offers REMB and no transport-wide feedback; the REMBs received are kept
    /// ([`Publisher::rembs`]).
    pub remb_only: bool,
    /// Its uplink loses every n-th audio packet: logged as sent, never written.
    pub lose_audio_every: Option<u32>,
    /// The same for video packets.
    pub lose_video_every: Option<u32>,
    /// Also shares a screen: the clip again, on a second video line named in the offer as the
    /// screen share.
    pub screen: bool,
}

/// Whether packet `n` (counted from 1) of a stream is lost on an uplink losing every `every`-th.
fn lost(every: Option<u32>, n: u64) -> bool {
    every.is_some_and(|e| e > 0 && n.is_multiple_of(u64::from(e)))
}

/// A publishing test client.
pub struct Publisher {
    pub participant: u64,
    /// The server's answer to its offer (what it asked of this publisher's encoders).
    pub answer: String,
    pc: Arc<dyn PeerConnection>,
    video: Log,
    audio: Log,
    keyframe_requests: Arc<AtomicU64>,
    rembs: Rembs,
    running: Arc<AtomicBool>,
    tasks: Vec<JoinHandle<()>>,
    pub messages: mpsc::UnboundedReceiver<ServerMessage>,
    /// Its WHIP resource and bearer token, when published over WHIP.
    whip: Option<(String, String)>,
}

impl Publisher {
    /// Joins with the signaling URL (which carries the token) and starts publishing `ivf`.
    pub async fn connect(ws_url: &str, ivf: &[u8]) -> Result<Self, ClientError> {
        let frames = IvfFrames::parse(ivf).map_err(ClientError::Media)?;
        Self::connect_clip(ws_url, VideoClip::Vp8(frames)).await
    }

    /// Joins and publishes `clip` in its codec (offering only that codec for video).
    pub async fn connect_clip(ws_url: &str, frames: VideoClip) -> Result<Self, ClientError> {
        Self::connect_with(ws_url, frames, PublishOptions::default()).await
    }

    /// [`Publisher::connect_clip`], sending as `options` says.
    pub async fn connect_with(
        ws_url: &str,
        frames: VideoClip,
        options: PublishOptions,
    ) -> Result<Self, ClientError> {
        // webrtc-rs numbers the media lines in the order they are added: camera, audio, screen.
        let screen = options.screen.then(|| "2".to_string());
        let mut signal = SignalClient::connect(ws_url).await?;
        let ServerMessage::Joined { you, .. } = signal.join().await? else {
            return Err(ClientError::Refused("no joined message".into()));
        };
        let prepared = Prepared::new(frames, options).await?;
        signal.send(&ClientMessage::Offer {
            transport: TransportKind::Send,
            sdp: prepared.offer.clone(),
            screen,
        });
        let answer = signal
            .recv_until(Duration::from_secs(10), |m| match m {
                ServerMessage::Answer {
                    transport: TransportKind::Send,
                    sdp,
                } => Some(Ok(sdp.clone())),
                ServerMessage::Error { message, .. } => Some(Err(message.clone())),
                _ => None,
            })
            .await?
            .map_err(ClientError::Refused)?;
        // Other signaling messages, for the test to look at.
        let (mtx, messages) = mpsc::unbounded_channel();
        let (out, mut incoming) = signal.into_parts();
        let relay = tokio::spawn(async move {
            let _keep_open = out;
            while let Some(m) = incoming.recv().await {
                if mtx.send(m).is_err() {
                    break;
                }
            }
        });
        prepared
            .start(answer, you.id, messages, Some(relay), None)
            .await
    }

    /// Publishes `clip` over WHIP (RFC 9725) as an encoder does: the offer is POSTed to
    /// `endpoint` with the bearer `token`, the answer comes back with the stream's location
    /// ([`Publisher::whip_location`]); [`Publisher::close`] DELETEs it. A refusal is
    /// [`ClientError::Http`] with the status and the server's words.
    pub async fn connect_whip(
        endpoint: &str,
        token: &str,
        frames: VideoClip,
    ) -> Result<Self, ClientError> {
        let prepared = Prepared::new(frames, PublishOptions::default()).await?;
        let offer = prepared.offer.clone();
        let (body, resource) = match crate::http_signaling::post_offer(endpoint, token, offer).await
        {
            Ok(r) => r,
            Err(e) => {
                let _ = prepared.pc.close().await;
                return Err(e);
            }
        };
        let (_none, messages) = mpsc::unbounded_channel();
        prepared
            .start(body, 0, messages, None, Some((resource, token.to_string())))
            .await
    }

    /// The stream's WHIP resource (for `DELETE`), when published over WHIP.
    pub fn whip_location(&self) -> Option<&str> {
        self.whip.as_ref().map(|(url, _)| url.as_str())
    }
}

/// The REMBs a publisher received: when, and the bitrate (bit/s).
type Rembs = Arc<Mutex<Vec<(Instant, u64)>>>;

/// One video track's sending: the clip at its frame rate from the first keyframe, again from a
/// keyframe when the server asks for one (PLI/FIR), each packet logged before it is written.
struct VideoSender {
    track: Arc<TrackLocalStaticRTP>,
    ssrc: u32,
    log: Log,
    lose_every: Option<u32>,
}

impl VideoSender {
    /// Spawns the feedback reader (keyframe requests counted into `requests`, REMBs into
    /// `rembs` when given) and the sending loop.
    fn spawn(
        self,
        mut frames: VideoClip,
        pt: u8,
        running: &Arc<AtomicBool>,
        requests: &Arc<AtomicU64>,
        rembs: Option<&Rembs>,
    ) -> [JoinHandle<()>; 2] {
        let want = Arc::new(AtomicBool::new(false));
        let feedback = {
            let track = self.track.clone();
            let count = requests.clone();
            let want = want.clone();
            let rembs = rembs.cloned();
            tokio::spawn(async move {
                while let Some(ev) = track.poll().await {
                    let TrackLocalEvent::OnRtcpPacket(pkts) = ev else {
                        continue;
                    };
                    for p in pkts {
                        match p.as_any().downcast_ref::<ReceiverEstimatedMaximumBitrate>() {
                            Some(r) => {
                                if let Some(Ok(mut l)) = rembs.as_ref().map(|r| r.lock()) {
                                    l.push((Instant::now(), r.bitrate as u64));
                                }
                            }
                            None => {
                                count.fetch_add(1, Ordering::SeqCst);
                                want.store(true, Ordering::SeqCst);
                            }
                        }
                    }
                }
            })
        };
        let running = running.clone();
        let period = Duration::from_secs_f64(1.0 / frames.fps().clamp(1.0, 60.0));
        let ticks = (90_000.0 / frames.fps().clamp(1.0, 60.0)) as u32;
        let sending = tokio::spawn(async move {
            let mut n: u64 = 0;
            let mut seq = FIRST_VIDEO_SEQ;
            let mut ts: u32 = 1_000;
            let mut picture_id: u16 = 0;
            let mut tick = tokio::time::interval(period);
            while running.load(Ordering::SeqCst) {
                tick.tick().await;
                if want.swap(false, Ordering::SeqCst) {
                    frames.restart();
                }
                let payloads = frames.next_payloads(picture_id, MTU);
                if payloads.is_empty() {
                    continue;
                }
                picture_id = (picture_id + 1) & 0x7FFF;
                let last = payloads.len() - 1;
                for (i, p) in payloads.into_iter().enumerate() {
                    // Logged before it is written, so whatever a subscriber has is in the log.
                    record(&self.log, seq, ts, p.clone());
                    n += 1;
                    let pkt = rtp_packet(pt, self.ssrc, seq, ts, i == last, p);
                    seq = seq.wrapping_add(1);
                    if lost(self.lose_every, n) {
                        continue;
                    }
                    if self.track.write_rtp(pkt).await.is_err() {
                        return;
                    }
                }
                ts = ts.wrapping_add(ticks);
            }
        });
        [feedback, sending]
    }
}

/// A publisher's connection with its tracks and offer, before the answer.
struct Prepared {
    pc: Arc<dyn PeerConnection>,
    events: peer::Events,
    vtrack: Arc<TrackLocalStaticRTP>,
    atrack: Arc<TrackLocalStaticRTP>,
    /// The shared screen's track, when it shares one.
    strack: Option<Arc<TrackLocalStaticRTP>>,
    offer: String,
    frames: VideoClip,
    tone: OpusTone,
    options: PublishOptions,
}

impl Prepared {
    async fn new(frames: VideoClip, options: PublishOptions) -> Result<Self, ClientError> {
        let video_codec = frames.codec();
        let tone = OpusTone::new(32_000).map_err(ClientError::Media)?;
        let offering = peer::Offering {
            video: video_codec,
            red: options.red,
            remb_only: options.remb_only,
        };
        let (pc, mut events) = peer::build_offering(Role::Publisher, offering).await?;
        let track = |kind, ssrc| {
            Arc::new(TrackLocalStaticRTP::new(peer::send_track_of(
                "publisher",
                kind,
                ssrc,
                video_codec,
            )))
        };
        let vtrack = track(RtpCodecKind::Video, VIDEO_SSRC);
        let atrack = track(RtpCodecKind::Audio, AUDIO_SSRC);
        let strack = options.screen.then(|| {
            Arc::new(TrackLocalStaticRTP::new(peer::send_track_of(
                "screen",
                RtpCodecKind::Video,
                SCREEN_SSRC,
                video_codec,
            )))
        });
        for t in [vtrack.clone(), atrack.clone()]
            .into_iter()
            .chain(strack.clone())
        {
            pc.add_transceiver_from_track(
                t as Arc<dyn TrackLocal>,
                Some(RTCRtpTransceiverInit {
                    direction: RTCRtpTransceiverDirection::Sendonly,
                    ..Default::default()
                }),
            )
            .await
            .map_err(ClientError::webrtc)?;
        }
        let offer = pc.create_offer(None).await.map_err(ClientError::webrtc)?;
        let before = *events.gathered.borrow_and_update();
        pc.set_local_description(offer)
            .await
            .map_err(ClientError::webrtc)?;
        peer::wait_gathered(&mut events.gathered, before).await;
        let offer = pc
            .local_description()
            .await
            .ok_or(ClientError::Timeout("a local description"))?
            .sdp;
        Ok(Self {
            pc,
            events,
            vtrack,
            atrack,
            strack,
            offer,
            frames,
            tone,
            options,
        })
    }

    /// Applies the answer, waits for the connection, and starts sending.
    async fn start(
        self,
        answer: String,
        participant: u64,
        messages: mpsc::UnboundedReceiver<ServerMessage>,
        relay: Option<JoinHandle<()>>,
        whip: Option<(String, String)>,
    ) -> Result<Publisher, ClientError> {
        let Prepared {
            pc,
            mut events,
            vtrack,
            atrack,
            strack,
            offer: _,
            frames,
            mut tone,
            options,
        } = self;
        // RED only if the server answered with it.
        let red = options.red && answer.contains(&format!("a=rtpmap:{} red/", peer::RED_PT));
        let video_codec = frames.codec();
        pc.set_remote_description(
            RTCSessionDescription::answer(answer.clone()).map_err(ClientError::webrtc)?,
        )
        .await
        .map_err(ClientError::webrtc)?;
        peer::wait_connected(&mut events.state, Duration::from_secs(10)).await?;

        let video: Log = Arc::default();
        let audio: Log = Arc::default();
        let keyframe_requests = Arc::new(AtomicU64::new(0));
        let rembs: Rembs = Arc::default();
        let running = Arc::new(AtomicBool::new(true));
        let mut tasks = Vec::new();

        // Keyframe requests and REMBs from the server, and video at the clip's frame rate.
        let camera = VideoSender {
            track: vtrack,
            ssrc: VIDEO_SSRC,
            log: video.clone(),
            lose_every: options.lose_video_every,
        };
        tasks.extend(camera.spawn(
            frames.clone(),
            video_codec.payload_type(),
            &running,
            &keyframe_requests,
            Some(&rembs),
        ));
        if let Some(track) = strack {
            let screen = VideoSender {
                track,
                ssrc: SCREEN_SSRC,
                log: Log::default(),
                lose_every: None,
            };
            tasks.extend(screen.spawn(
                frames,
                video_codec.payload_type(),
                &running,
                &keyframe_requests,
                None,
            ));
        }
        // Audio, 20 ms frames.
        {
            let log = audio.clone();
            let running = running.clone();
            tasks.push(tokio::spawn(async move {
                let mut seq = FIRST_AUDIO_SEQ;
                let mut ts: u32 = 5_000;
                let mut n: u64 = 0;
                let mut previous: Option<Bytes> = None;
                let mut tick = tokio::time::interval(Duration::from_millis(20));
                while running.load(Ordering::SeqCst) {
                    tick.tick().await;
                    let Ok(p) = tone.next_frame() else {
                        return;
                    };
                    record(&log, seq, ts, p.clone());
                    n += 1;
                    let (pt, payload) = if red {
                        let frame = OpusTone::SAMPLES_PER_FRAME as u16;
                        let wrapped = media::red_payload(previous.as_deref(), frame, &p);
                        previous = Some(p);
                        (peer::RED_PT, wrapped)
                    } else {
                        (OPUS_PT, p)
                    };
                    let pkt = rtp_packet(pt, AUDIO_SSRC, seq, ts, false, payload);
                    seq = seq.wrapping_add(1);
                    ts = ts.wrapping_add(OpusTone::SAMPLES_PER_FRAME as u32);
                    if lost(options.lose_audio_every, n) {
                        continue;
                    }
                    if atrack.write_rtp(pkt).await.is_err() {
                        return;
                    }
                }
            }));
        }
        tasks.extend(relay);
        Ok(Publisher {
            participant,
            answer,
            pc,
            video,
            audio,
            keyframe_requests,
            rembs,
            running,
            tasks,
            messages,
            whip,
        })
    }
}

impl Publisher {
    /// Video packets sent so far.
    pub fn video_sent(&self) -> Vec<SentPacket> {
        self.video.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Audio packets sent so far.
    pub fn audio_sent(&self) -> Vec<SentPacket> {
        self.audio.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// The REMBs received from the server (when it sent, bits per second), oldest first.
    pub fn rembs(&self) -> Vec<(Instant, u64)> {
        self.rembs.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Keyframe requests (PLI/FIR) received from the server.
    pub fn keyframe_requests(&self) -> u64 {
        self.keyframe_requests.load(Ordering::SeqCst)
    }

    /// Stops sending, leaves (over WHIP: `DELETE`s its resource), and closes the connection.
    pub async fn close(self) {
        self.running.store(false, Ordering::SeqCst);
        if let Some((url, token)) = &self.whip {
            crate::http_signaling::delete(url, token).await;
        }
        let _ = self.pc.close().await;
        for t in self.tasks {
            t.abort();
        }
    }
}
