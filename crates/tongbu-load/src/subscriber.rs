//! A synthetic subscriber: joins, answers the server's offers, and records every RTP packet it
//! receives per track. It can send PLI and NACK like a browser does.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtcp::transport_feedbacks::transport_layer_nack::{
    nack_pairs_from_sequence_numbers, TransportLayerNack,
};
use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tongbu_signal::{ClientMessage, ServerMessage, TransportKind};
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::{PeerConnection, RTCSessionDescription};
use webrtc::rtp_transceiver::{RTCRtpTransceiverDirection, RTCRtpTransceiverInit};

use crate::peer::{self, Role};
use crate::{ClientError, SignalClient};

/// One RTP packet as the subscriber received it.
#[derive(Debug, Clone)]
pub struct ReceivedPacket {
    pub seq: u16,
    pub timestamp: u32,
    pub payload_type: u8,
    pub payload: Bytes,
    pub at: Instant,
}

#[derive(Default)]
struct TrackLog {
    video: bool,
    stream_id: String,
    packets: Vec<ReceivedPacket>,
}

type Logs = Arc<Mutex<HashMap<u32, TrackLog>>>;
/// Remote tracks: (is video, SSRC, handle).
type Remotes = Arc<Mutex<Vec<(bool, u32, Arc<dyn TrackRemote>)>>>;

/// A receiving test client.
pub struct Subscriber {
    pub participant: u64,
    /// When `joined` arrived.
    pub joined_at: Instant,
    pc: Arc<dyn PeerConnection>,
    logs: Logs,
    remotes: Remotes,
    tasks: Vec<JoinHandle<()>>,
    pub messages: mpsc::UnboundedReceiver<ServerMessage>,
    /// Its WHEP resource and bearer token, when it plays over WHEP.
    whep: Option<(String, String)>,
}

impl Subscriber {
    /// Joins with the signaling URL (which carries the token) and receives what is published.
    pub async fn connect(ws_url: &str) -> Result<Self, ClientError> {
        Self::connect_as(ws_url, Role::Subscriber).await
    }

    /// Like [`Subscriber::connect`], answering redundant audio (RED) as browsers do.
    pub async fn connect_red(ws_url: &str) -> Result<Self, ClientError> {
        let offering = peer::Offering {
            red: true,
            ..Default::default()
        };
        Self::connect_offering(ws_url, Role::Subscriber, offering).await
    }

    /// Like [`Subscriber::connect`], on a link that loses every `drop_every`-th packet.
    pub async fn connect_lossy(ws_url: &str, drop_every: u32) -> Result<Self, ClientError> {
        Self::connect_as(ws_url, Role::LossySubscriber { drop_every }).await
    }

    /// Like [`Subscriber::connect`], on a link losing `loss_pct` % at random, repairing it as a
    /// browser does (NACKs, transport-wide feedback).
    pub async fn connect_repairing(ws_url: &str, loss_pct: u32) -> Result<Self, ClientError> {
        Self::connect_as(ws_url, Role::RepairingSubscriber { loss_pct }).await
    }

    async fn connect_as(ws_url: &str, role: Role) -> Result<Self, ClientError> {
        Self::connect_offering(ws_url, role, peer::Offering::default()).await
    }

    async fn connect_offering(
        ws_url: &str,
        role: Role,
        offering: peer::Offering,
    ) -> Result<Self, ClientError> {
        let mut signal = SignalClient::connect(ws_url).await?;
        let ServerMessage::Joined { you, .. } = signal.join().await? else {
            return Err(ClientError::Refused("no joined message".into()));
        };
        let joined_at = Instant::now();
        let (pc, events) = peer::build_offering(role, offering).await?;
        let logs: Logs = Arc::default();
        let remotes: Remotes = Arc::default();
        let mut tasks = vec![log_tracks(events.tracks, &logs, &remotes)];

        // Answer the server's offers on the recv transport; pass everything else on.
        let (mtx, messages) = mpsc::unbounded_channel();
        {
            let pc = pc.clone();
            let mut gathered = events.gathered.clone();
            let (out, mut incoming) = signal.into_parts();
            let signal_out = out.clone();
            tasks.push(tokio::spawn(async move {
                while let Some(m) = incoming.recv().await {
                    if let ServerMessage::Offer {
                        transport: TransportKind::Recv,
                        sdp,
                        ..
                    } = &m
                    {
                        match answer(&pc, &mut gathered, sdp.clone()).await {
                            Ok(sdp) => {
                                let msg = ClientMessage::Answer {
                                    transport: TransportKind::Recv,
                                    sdp,
                                };
                                if let Ok(text) = serde_json::to_string(&msg) {
                                    let _ = signal_out.send(
                                        tokio_tungstenite::tungstenite::Message::Text(text.into()),
                                    );
                                }
                            }
                            Err(e) => tracing::warn!("cannot answer the server's offer: {e}"),
                        }
                    }
                    if mtx.send(m).is_err() {
                        break;
                    }
                }
                drop(out);
            }));
        }

        Ok(Self {
            participant: you.id,
            joined_at,
            pc,
            logs,
            remotes,
            tasks,
            messages,
            whep: None,
        })
    }

    /// Plays a session over WHEP as a player that only watches: one receive-only audio and one
    /// video line offered, POSTed to `endpoint` with the bearer `token` (a listener's join
    /// token); [`Subscriber::close`] DELETEs the resource. A refusal is [`ClientError::Http`].
    pub async fn connect_whep(endpoint: &str, token: &str) -> Result<Self, ClientError> {
        let (pc, mut events) =
            peer::build_offering(Role::Subscriber, peer::Offering::default()).await?;
        for kind in [RtpCodecKind::Audio, RtpCodecKind::Video] {
            pc.add_transceiver_from_kind(
                kind,
                Some(RTCRtpTransceiverInit {
                    direction: RTCRtpTransceiverDirection::Recvonly,
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
        let (body, resource) = match crate::http_signaling::post_offer(endpoint, token, offer).await
        {
            Ok(r) => r,
            Err(e) => {
                let _ = pc.close().await;
                return Err(e);
            }
        };
        pc.set_remote_description(
            RTCSessionDescription::answer(body).map_err(ClientError::webrtc)?,
        )
        .await
        .map_err(ClientError::webrtc)?;
        let logs: Logs = Arc::default();
        let remotes: Remotes = Arc::default();
        let tasks = vec![log_tracks(events.tracks, &logs, &remotes)];
        let (_none, messages) = mpsc::unbounded_channel();
        Ok(Self {
            participant: 0,
            joined_at: Instant::now(),
            pc,
            logs,
            remotes,
            tasks,
            messages,
            whep: Some((resource, token.to_string())),
        })
    }

    /// The WHEP resource it plays, if it plays over WHEP.
    pub fn whep_location(&self) -> Option<&str> {
        self.whep.as_ref().map(|(l, _)| l.as_str())
    }
}

/// Records every track's packets, one task per track so none waits for another.
fn log_tracks(
    mut tracks: mpsc::UnboundedReceiver<Arc<dyn TrackRemote>>,
    logs: &Logs,
    remotes: &Remotes,
) -> JoinHandle<()> {
    let logs = logs.clone();
    let remotes = remotes.clone();
    tokio::spawn(async move {
        while let Some(t) = tracks.recv().await {
            let logs = logs.clone();
            let remotes = remotes.clone();
            tokio::spawn(async move {
                let video = t.kind().await == RtpCodecKind::Video;
                let ssrc = t.ssrcs().await.first().copied().unwrap_or(0);
                let stream_id = t.stream_id().await.to_string();
                if let Ok(mut r) = remotes.lock() {
                    r.push((video, ssrc, t.clone()));
                }
                while let Some(ev) = t.poll().await {
                    match ev {
                        TrackRemoteEvent::OnRtpPacket(p) => {
                            let rp = ReceivedPacket {
                                seq: p.header.sequence_number,
                                timestamp: p.header.timestamp,
                                payload_type: p.header.payload_type,
                                payload: p.payload,
                                at: Instant::now(),
                            };
                            if let Ok(mut l) = logs.lock() {
                                let log = l.entry(ssrc).or_default();
                                log.video = video;
                                log.stream_id.clone_from(&stream_id);
                                log.packets.push(rp);
                            }
                        }
                        TrackRemoteEvent::OnEnded => break,
                        _ => {}
                    }
                }
            });
        }
    })
}

impl Subscriber {
    /// Reads the log of the first track that `pick` accepts.
    fn with_log<T>(
        &self,
        pick: impl Fn(&TrackLog) -> bool,
        read: impl Fn(&TrackLog) -> T,
    ) -> Option<T> {
        let logs = self.logs.lock().ok()?;
        logs.values().find(|t| pick(t)).map(read)
    }

    /// Packets received on the first video (or audio) track, in arrival order.
    pub fn packets(&self, video: bool) -> Vec<ReceivedPacket> {
        self.with_log(|t| t.video == video, |t| t.packets.clone())
            .unwrap_or_default()
    }

    /// Packets received from one publisher's track of a kind (its stream id is `p<participant>`).
    pub fn packets_from(&self, participant: u64, video: bool) -> Vec<ReceivedPacket> {
        let want = format!("p{participant}");
        self.with_log(
            |t| t.video == video && t.stream_id == want,
            |t| t.packets.clone(),
        )
        .unwrap_or_default()
    }

    /// The stream id (`p<publisher>`) of the first track of a kind.
    pub fn stream_id(&self, video: bool) -> Option<String> {
        self.with_log(|t| t.video == video, |t| t.stream_id.clone())
    }

    fn video_remote(&self) -> Option<(u32, Arc<dyn TrackRemote>)> {
        self.remotes
            .lock()
            .ok()?
            .iter()
            .find(|(v, _, _)| *v)
            .map(|(_, s, t)| (*s, t.clone()))
    }

    /// Sends one RTCP feedback packet about the video track, made for its SSRC.
    async fn video_feedback(
        &self,
        make: impl FnOnce(u32) -> Box<dyn rtc::rtcp::Packet>,
    ) -> Result<(), ClientError> {
        let (ssrc, t) = self
            .video_remote()
            .ok_or(ClientError::Timeout("a video track"))?;
        t.write_rtcp(vec![make(ssrc)])
            .await
            .map_err(ClientError::webrtc)
    }

    /// Sends a PLI for the video track.
    pub async fn send_pli(&self) -> Result<(), ClientError> {
        self.video_feedback(|media_ssrc| {
            Box::new(PictureLossIndication {
                sender_ssrc: 1,
                media_ssrc,
            })
        })
        .await
    }

    /// Sends a NACK for the given video sequence numbers (ascending).
    pub async fn send_nack(&self, seqs: &[u16]) -> Result<(), ClientError> {
        let nacks = nack_pairs_from_sequence_numbers(seqs);
        self.video_feedback(|media_ssrc| {
            Box::new(TransportLayerNack {
                sender_ssrc: 1,
                media_ssrc,
                nacks,
            })
        })
        .await
    }

    /// Waits until at least `n` packets of a kind have arrived.
    pub async fn wait_for_packets(
        &self,
        video: bool,
        n: usize,
        within: Duration,
    ) -> Result<(), ClientError> {
        self.wait_until(within, || self.packets(video).len() >= n)
            .await
    }

    /// Waits until at least `n` packets of a kind have arrived from one publisher.
    pub async fn wait_for_packets_from(
        &self,
        participant: u64,
        video: bool,
        n: usize,
        within: Duration,
    ) -> Result<(), ClientError> {
        self.wait_until(within, || self.packets_from(participant, video).len() >= n)
            .await
    }

    async fn wait_until(
        &self,
        within: Duration,
        done: impl Fn() -> bool,
    ) -> Result<(), ClientError> {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if done() {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Err(ClientError::Timeout("packets to arrive"))
    }

    /// Leaves and closes the connection (a WHEP player DELETEs its resource first).
    pub async fn close(self) {
        if let Some((url, token)) = &self.whep {
            crate::http_signaling::delete(url, token).await;
        }
        let _ = self.pc.close().await;
        for t in self.tasks {
            t.abort();
        }
    }
}

async fn answer(
    pc: &Arc<dyn PeerConnection>,
    gathered: &mut tokio::sync::watch::Receiver<u64>,
    offer: String,
) -> Result<String, ClientError> {
    pc.set_remote_description(RTCSessionDescription::offer(offer).map_err(ClientError::webrtc)?)
        .await
        .map_err(ClientError::webrtc)?;
    let answer = pc.create_answer(None).await.map_err(ClientError::webrtc)?;
    let before = *gathered.borrow_and_update();
    pc.set_local_description(answer)
        .await
        .map_err(ClientError::webrtc)?;
    peer::wait_gathered(gathered, before).await;
    Ok(pc
        .local_description()
        .await
        .ok_or(ClientError::Timeout("a local description"))?
        .sdp)
}
