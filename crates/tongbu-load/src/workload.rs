//! The load workloads, run against a live server over real WebRTC, and their one-line report.
//!
//! - **W1, lecture**: one publisher (VP8 clip + opus) and N subscribers that do not decode.
//! - **W2, meeting**: N participants (12 by default), each publishing and receiving everyone else.
//!
//! Signaling is async (one WebSocket per participant on the tokio runtime); media runs on the
//! [`crate::swarm`] thread. A run: everyone joins, publishers start, the run waits until every
//! expected stream is flowing, then counts for the chosen number of seconds.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::json;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tongbu_signal::{ClientMessage, ServerMessage, TransportKind};

use crate::latency::percentiles;
use crate::media::IvfFrames;
use crate::procstat;
use crate::swarm::{ClientId, Stalled, SwarmHandle, SwarmReport};
use crate::{ClientError, SignalClient};

/// Which workload to run.
#[derive(Debug, Clone)]
pub enum Workload {
    /// One publisher joining with `publisher_url`, `n` subscribers joining with
    /// `subscriber_url` (one link may be used by many participants, like an observer link).
    Lecture {
        publisher_url: String,
        subscriber_url: String,
        n: usize,
    },
    /// `n` participants, each publishing and receiving all others; they join with `urls` in turn.
    Meeting { urls: Vec<String>, n: usize },
}

/// A load run.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    pub workload: Workload,
    /// How long to count, once every stream flows.
    pub seconds: f64,
    /// The VP8 clip (IVF) publishers loop.
    pub clip: Vec<u8>,
    /// The server's process, for its CPU time and memory.
    pub server_pid: Option<u32>,
    /// How long to wait for every stream to flow before giving up.
    pub settle: Duration,
    /// Receivers decrypt every packet, rather than only those that teach them a stream's
    /// offsets (see [`crate::clear_header`]).
    pub decrypt_all: bool,
}

/// What a run measured.
#[derive(Debug, Clone)]
pub struct LoadReport {
    pub workload: &'static str,
    pub n: usize,
    pub seconds: f64,
    pub clip_kbps: f64,
    pub swarm: SwarmReport,
    /// p50, p95, p99, max added latency, microseconds.
    pub latency_us: Option<[u32; 4]>,
    pub server_pid: Option<u32>,
    pub server_cpu_s_per_s: Option<f64>,
    /// Of which in the kernel (see [`procstat::CpuSample::sys_s`]).
    pub server_sys_s_per_s: Option<f64>,
    pub server_rss_mib: Option<f64>,
    pub tool_cpu_s_per_s: Option<f64>,
    pub tool_rss_mib: Option<f64>,
    /// Streams that were flowing when the count started, of those expected.
    pub streams_flowing: usize,
    pub streams_expected: usize,
    /// The receivers whose streams had not all started when the count began, and why.
    pub stalled: Vec<Stalled>,
    pub signaling_errors: u64,
    /// Times the server paused a participant's video to keep its audio (audio first): it
    /// judged that participant's link weak, so the run did not measure full forwarding.
    pub video_paused: u64,
}

impl LoadReport {
    /// Lost packets as a percentage of those expected.
    pub fn loss_pct(&self) -> f64 {
        let e = self.swarm.packets_expected;
        if e == 0 {
            return 0.0;
        }
        e.saturating_sub(self.swarm.packets_received) as f64 * 100.0 / e as f64
    }

    /// Subscribers one fully used server core would carry at this cost per subscriber, if the
    /// run lost under 0.1 %, every stream flowed and no video was paused (W1 only).
    pub fn subscribers_per_core(&self) -> Option<f64> {
        let cpu = self.server_cpu_s_per_s?;
        let clean = self.loss_pct() < 0.1 && self.all_flowing() && self.video_paused == 0;
        (self.workload == "w1" && clean && cpu > 0.0).then(|| self.n as f64 / cpu)
    }

    /// Every expected stream flowed.
    pub fn all_flowing(&self) -> bool {
        self.streams_flowing == self.streams_expected
    }

    pub fn to_json(&self) -> serde_json::Value {
        let ms = |us: u32| (f64::from(us) / 1000.0 * 1000.0).round() / 1000.0;
        let r2 = |x: f64| (x * 100.0).round() / 100.0;
        let r4 = |x: f64| (x * 10_000.0).round() / 10_000.0;
        json!({
            "workload": self.workload,
            "n": self.n,
            "seconds": self.seconds,
            "clip_kbps": self.clip_kbps.round(),
            "receivers": self.swarm.receivers,
            "streams_expected": self.streams_expected,
            "streams_flowing": self.streams_flowing,
            "packets_sent": self.swarm.packets_sent,
            "packets_expected": self.swarm.packets_expected,
            "packets_received": self.swarm.packets_received,
            "loss_pct": r4(self.loss_pct()),
            "latency_ms": self.latency_us.map(|[a, b, c, d]| json!({
                "p50": ms(a), "p95": ms(b), "p99": ms(c), "max": ms(d),
            })),
            "unmatched": self.swarm.unmatched,
            "decrypted": self.swarm.decrypted,
            "header_counted": self.swarm.header_counted,
            "relearned": self.swarm.relearned,
            "receivers_without_media": self.swarm.receivers_without_media,
            "keyframe_requests": self.swarm.keyframe_requests,
            "send_failures": self.swarm.send_failures,
            "signaling_errors": self.signaling_errors,
            "video_paused": self.video_paused,
            "server": {
                "pid": self.server_pid,
                "cpu_s_per_s": self.server_cpu_s_per_s.map(r4),
                "sys_s_per_s": self.server_sys_s_per_s.map(r4),
                "rss_mib": self.server_rss_mib.map(r2),
            },
            "tool": {
                "cpu_s_per_s": self.tool_cpu_s_per_s.map(r4),
                "rss_mib": self.tool_rss_mib.map(r2),
            },
            "subscribers_per_core": self.subscribers_per_core().map(|x| x.round()),
            "stalled": {
                "receivers": self.stalled.len(),
                "first": self.stalled.iter().take(10).map(|s| json!({
                    "client": s.client,
                    "port": s.port,
                    "offers": s.offers,
                    "connected": s.connected,
                    "video": s.video,
                    "audio": s.audio,
                    "reason": s.reason(),
                })).collect::<Vec<_>>(),
            },
        })
    }
}

/// What the participants' signaling tasks report.
#[derive(Clone)]
pub(crate) struct Signaling {
    pub(crate) errors: mpsc::UnboundedSender<String>,
    pub(crate) video_paused: Arc<AtomicU64>,
}

/// Spotlight changes and when they were sent or seen.
pub(crate) type SpotlightLog = Arc<std::sync::Mutex<Vec<(Instant, Option<u64>)>>>;

/// What a listener of the join storm notes (see [`crate::storm`]): when each spotlight change
/// reached it, and whether the server closed its connection.
#[derive(Clone, Default)]
pub(crate) struct Probe {
    pub(crate) spotlights: SpotlightLog,
    pub(crate) closed_by_server: Arc<std::sync::atomic::AtomicBool>,
}

/// One participant's signaling: answers the server's offers on its receiving client, applies
/// the answer to its publishing client, counts errors and the pauses of its own video.
pub(crate) fn participant_task(
    swarm: Arc<SwarmHandle>,
    signal: SignalClient,
    me: u64,
    publisher: Option<ClientId>,
    report: Signaling,
    probe: Option<Probe>,
) -> JoinHandle<()> {
    let errors = report.errors;
    let (out, mut incoming) = signal.into_parts();
    tokio::spawn(async move {
        let mut recv: Option<ClientId> = None;
        while let Some(m) = incoming.recv().await {
            match m {
                ServerMessage::Offer {
                    transport: TransportKind::Recv,
                    sdp,
                    new_transport,
                    ..
                } => {
                    if let (Some(old), true) = (recv, new_transport) {
                        let _ = swarm.close(old);
                    }
                    let answer = match recv {
                        Some(id) if !new_transport => swarm.renegotiate(id, sdp).await,
                        _ => swarm.receive(sdp).await.map(|(id, a)| {
                            recv = Some(id);
                            a
                        }),
                    };
                    match answer {
                        Ok(sdp) => {
                            let msg = ClientMessage::Answer {
                                transport: TransportKind::Recv,
                                sdp,
                            };
                            if let Ok(text) = serde_json::to_string(&msg) {
                                let _ = out.send(Message::Text(text.into()));
                            }
                        }
                        Err(e) => {
                            let _ = errors.send(format!("answering the server's offer: {e}"));
                        }
                    }
                }
                ServerMessage::Answer {
                    transport: TransportKind::Send,
                    sdp,
                } => {
                    if let Some(id) = publisher {
                        if let Err(e) = swarm.answered(id, sdp).await {
                            let _ = errors.send(format!("applying the server's answer: {e}"));
                        }
                    }
                }
                ServerMessage::Error { code, message } => {
                    let _ = errors.send(format!("{code:?}: {message}"));
                }
                ServerMessage::VideoPaused {
                    participant,
                    paused: true,
                } if participant == me => {
                    report.video_paused.fetch_add(1, Ordering::Relaxed);
                }
                ServerMessage::Spotlight { participant } => {
                    if let Some(Ok(mut s)) = probe.as_ref().map(|p| p.spotlights.lock()) {
                        s.push((Instant::now(), participant));
                    }
                }
                _ => {}
            }
        }
        // The server closed the connection (this task is aborted when the tool leaves).
        if let Some(p) = &probe {
            p.closed_by_server.store(true, Ordering::Relaxed);
        }
        drop(out);
    })
}

/// Joins one participant; with `publish`, it offers VP8 + opus on its send transport.
async fn join(
    swarm: Arc<SwarmHandle>,
    url: String,
    publish: bool,
    report: Signaling,
) -> Result<JoinHandle<()>, ClientError> {
    let mut signal = SignalClient::connect(&url).await?;
    let ServerMessage::Joined { you, .. } = signal.join().await? else {
        return Err(ClientError::Refused("no joined message".into()));
    };
    let publisher = if publish {
        let (id, sdp) = swarm.publish().await?;
        signal.send(&ClientMessage::Offer {
            transport: TransportKind::Send,
            sdp,
            screen: None,
        });
        Some(id)
    } else {
        None
    };
    Ok(participant_task(
        swarm, signal, you.id, publisher, report, None,
    ))
}

/// Joins `urls` (with `publish` each) at most 32 at a time.
async fn join_all(
    swarm: &Arc<SwarmHandle>,
    urls: Vec<(String, bool)>,
    report: &Signaling,
) -> Result<Vec<JoinHandle<()>>, ClientError> {
    let joins = futures_util::stream::iter(
        urls.into_iter()
            .map(|(url, publish)| join(swarm.clone(), url, publish, report.clone())),
    )
    .buffer_unordered(32)
    .collect::<Vec<_>>()
    .await;
    joins.into_iter().collect()
}

/// Runs a workload and reports what it measured.
pub async fn run(cfg: LoadConfig) -> Result<LoadReport, ClientError> {
    let clip_kbps = IvfFrames::parse(&cfg.clip)
        .map_err(ClientError::Media)?
        .bitrate_kbps();
    let swarm = Arc::new(SwarmHandle::start(&cfg.clip, cfg.decrypt_all)?);
    let (etx, mut erx) = mpsc::unbounded_channel::<String>();
    let signaling = Signaling {
        errors: etx,
        video_paused: Arc::new(AtomicU64::new(0)),
    };
    let (name, n, expected, mut tasks) = match &cfg.workload {
        Workload::Lecture {
            publisher_url,
            subscriber_url,
            n,
        } => {
            let subs = vec![(subscriber_url.clone(), false); *n];
            let mut tasks = join_all(&swarm, subs, &signaling).await?;
            tasks.extend(join_all(&swarm, vec![(publisher_url.clone(), true)], &signaling).await?);
            ("w1", *n, 2 * n, tasks)
        }
        Workload::Meeting { urls, n } => {
            if urls.is_empty() {
                return Err(ClientError::Media(
                    "a meeting needs at least one join link".into(),
                ));
            }
            let all = (0..*n)
                .map(|i| (urls[i % urls.len()].clone(), true))
                .collect();
            let tasks = join_all(&swarm, all, &signaling).await?;
            ("w2", *n, 2 * n * n.saturating_sub(1), tasks)
        }
    };
    swarm.media(true)?;

    // Wait until every expected stream flows (a subscriber's video starts on a keyframe).
    let deadline = Instant::now() + cfg.settle;
    let mut flowing = 0;
    while Instant::now() < deadline {
        flowing = swarm.streams_flowing().await?;
        if flowing >= expected {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Who is missing what, and why, when not every stream started.
    let per_receiver = match &cfg.workload {
        Workload::Lecture { .. } => 2,
        Workload::Meeting { n, .. } => 2 * n.saturating_sub(1),
    };
    let stalled = if flowing < expected {
        swarm.stalled(per_receiver).await?
    } else {
        Vec::new()
    };
    for s in stalled.iter().take(20) {
        tracing::warn!(
            client = s.client,
            port = s.port,
            offers = s.offers,
            "streams did not start: {}",
            s.reason()
        );
    }
    swarm.measure()?;
    let server0 = procstat::cpu(cfg.server_pid);
    let tool0 = procstat::cpu(None);
    tokio::time::sleep(Duration::from_secs_f64(cfg.seconds)).await;
    let server1 = procstat::cpu(cfg.server_pid);
    let tool1 = procstat::cpu(None);
    let server_rss = procstat::rss_mib(cfg.server_pid);
    let tool_rss = procstat::rss_mib(None);
    swarm.media(false)?;
    // What is in flight arrives.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut report = swarm.report().await?;
    for t in tasks.drain(..) {
        t.abort();
    }
    let video_paused = signaling.video_paused.load(Ordering::Relaxed);
    drop(signaling);
    let mut signaling_errors = 0;
    while let Ok(e) = erx.try_recv() {
        tracing::warn!("{e}");
        signaling_errors += 1;
    }
    let latency_us = percentiles(&mut report.latency_us);
    Ok(LoadReport {
        workload: name,
        n,
        seconds: cfg.seconds,
        clip_kbps,
        swarm: report,
        latency_us,
        server_pid: cfg.server_pid,
        server_cpu_s_per_s: server0
            .zip(server1)
            .map(|(a, b)| procstat::cpu_per_second(a, b)),
        server_sys_s_per_s: server0
            .zip(server1)
            .map(|(a, b)| procstat::sys_per_second(a, b)),
        server_rss_mib: server_rss,
        tool_cpu_s_per_s: tool0
            .zip(tool1)
            .map(|(a, b)| procstat::cpu_per_second(a, b)),
        tool_rss_mib: tool_rss,
        streams_flowing: flowing.min(expected),
        streams_expected: expected,
        stalled,
        signaling_errors,
        video_paused,
    })
}
