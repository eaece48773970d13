//! The join storm: a lecture's audience arriving and leaving all at once, as at the start and
//! the end of an expert lecture. One speaker publishes (VP8 clip + opus); N listeners join with
//! the audience link, spread evenly over `join_secs`; every stream must then flow and is counted
//! for `hold_secs`; the listeners leave, spread over `leave_secs`. Through both storms the
//! speaker moves the spotlight every 250 ms (on itself, then off): each listener notes when
//! each change reached it, so the run reports how long a host's control message took to reach
//! the room while the crowd came and went, and whether the server dropped any listener that
//! read promptly (all of them do: each reads on its own task).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tongbu_signal::{ClientMessage, ServerMessage, TransportKind};

use crate::latency::percentiles;
use crate::procstat;
use crate::swarm::SwarmHandle;
use crate::workload::{participant_task, Probe, Signaling, SpotlightLog};
use crate::{ClientError, SignalClient};

/// How often the speaker moves the spotlight.
const CONTROL_EVERY: Duration = Duration::from_millis(250);

/// A storm run.
#[derive(Debug, Clone)]
pub struct StormConfig {
    pub publisher_url: String,
    pub listener_url: String,
    pub n: usize,
    pub join_secs: f64,
    pub hold_secs: f64,
    pub leave_secs: f64,
    pub clip: Vec<u8>,
    pub server_pid: Option<u32>,
    /// How long to wait, after the last join, for every stream to flow.
    pub settle: Duration,
    pub decrypt_all: bool,
}

/// One phase's control-message delivery: how long the spotlight changes took to reach the
/// listeners (ms) and how many listeners the server closed.
#[derive(Debug, Clone, Default)]
pub struct Phase {
    pub deliveries: usize,
    pub latency_ms: Option<[f64; 4]>,
    pub dropped: usize,
}

impl Phase {
    fn to_json(&self) -> serde_json::Value {
        json!({
            "deliveries": self.deliveries,
            "control_latency_ms": self.latency_ms.map(|[a, b, c, d]| json!({
                "p50": a, "p95": b, "p99": c, "max": d,
            })),
            "listeners_dropped": self.dropped,
        })
    }
}

/// What a storm measured.
#[derive(Debug, Clone)]
pub struct StormReport {
    pub n: usize,
    pub joined: usize,
    pub join_errors: usize,
    pub joined_in_secs: f64,
    pub streams_expected: usize,
    pub streams_flowing: usize,
    pub flowing_after_secs: f64,
    pub hold: crate::swarm::SwarmReport,
    pub arriving: Phase,
    pub holding: Phase,
    pub leaving: Phase,
    pub server_cpu_s_per_s: Option<f64>,
    pub server_rss_mib_full: Option<f64>,
    pub server_rss_mib_after: Option<f64>,
}

impl StormReport {
    pub fn loss_pct(&self) -> f64 {
        let e = self.hold.packets_expected;
        if e == 0 {
            return 0.0;
        }
        e.saturating_sub(self.hold.packets_received) as f64 * 100.0 / e as f64
    }

    pub fn to_json(&self) -> serde_json::Value {
        let r2 = |x: f64| (x * 100.0).round() / 100.0;
        json!({
            "workload": "storm",
            "n": self.n,
            "joined": self.joined,
            "join_errors": self.join_errors,
            "joined_in_s": r2(self.joined_in_secs),
            "streams_expected": self.streams_expected,
            "streams_flowing": self.streams_flowing,
            "all_flowing_after_s": r2(self.flowing_after_secs),
            "hold": {
                "packets_expected": self.hold.packets_expected,
                "packets_received": self.hold.packets_received,
                "loss_pct": (self.loss_pct() * 10_000.0).round() / 10_000.0,
            },
            "arriving": self.arriving.to_json(),
            "holding": self.holding.to_json(),
            "leaving": self.leaving.to_json(),
            "server": {
                "cpu_s_per_s_over_the_run": self.server_cpu_s_per_s.map(|x| (x * 10_000.0).round() / 10_000.0),
                "rss_mib_full": self.server_rss_mib_full.map(r2),
                "rss_mib_after": self.server_rss_mib_after.map(r2),
            },
        })
    }
}

/// One listener: its signaling task and what it noted.
struct Listener {
    task: JoinHandle<()>,
    probe: Probe,
    joined_at: Instant,
}

async fn join_listener(
    swarm: Arc<SwarmHandle>,
    url: String,
    report: Signaling,
) -> Result<Listener, ClientError> {
    let mut signal = SignalClient::connect(&url).await?;
    let ServerMessage::Joined { you, .. } = signal.join().await? else {
        return Err(ClientError::Refused("no joined message".into()));
    };
    let probe = Probe::default();
    let task = participant_task(swarm, signal, you.id, None, report, Some(probe.clone()));
    Ok(Listener {
        task,
        probe,
        joined_at: Instant::now(),
    })
}

/// How long each spotlight change a listener saw took, in `[from, to)`; the state a listener
/// is sent when it joins (a change from before it joined) is not a delivery.
fn deliveries(
    sent: &[(Instant, Option<u64>)],
    listeners: &[Listener],
    from: Instant,
    to: Instant,
) -> Vec<u32> {
    let mut out = Vec::new();
    for l in listeners {
        let Ok(seen) = l.probe.spotlights.lock() else {
            continue;
        };
        for &(at, value) in seen.iter().filter(|(at, _)| *at >= from && *at < to) {
            // The latest change to this value sent before it arrived.
            let Some(&(sent_at, _)) = sent.iter().rev().find(|(s, v)| *s <= at && *v == value)
            else {
                continue;
            };
            if sent_at < l.joined_at {
                continue;
            }
            out.push(
                at.duration_since(sent_at)
                    .as_micros()
                    .min(u128::from(u32::MAX)) as u32,
            );
        }
    }
    out
}

fn phase(
    sent: &[(Instant, Option<u64>)],
    listeners: &[Listener],
    from: Instant,
    to: Instant,
    dropped: usize,
) -> Phase {
    let mut d = deliveries(sent, listeners, from, to);
    let ms = |us: u32| (f64::from(us) / 10.0).round() / 100.0;
    Phase {
        deliveries: d.len(),
        latency_ms: percentiles(&mut d).map(|[a, b, c, m]| [ms(a), ms(b), ms(c), ms(m)]),
        dropped,
    }
}

fn closed(listeners: &[Listener]) -> usize {
    listeners
        .iter()
        .filter(|l| l.probe.closed_by_server.load(Ordering::Relaxed))
        .count()
}

/// Runs the storm and reports what it measured.
pub async fn run(cfg: StormConfig) -> Result<StormReport, ClientError> {
    let swarm = Arc::new(SwarmHandle::start(&cfg.clip, cfg.decrypt_all)?);
    let (etx, mut erx) = mpsc::unbounded_channel::<String>();
    let signaling = Signaling {
        errors: etx,
        video_paused: Arc::new(AtomicU64::new(0)),
    };
    let server0 = procstat::cpu(cfg.server_pid);

    // The speaker publishes, and moves the spotlight every 250 ms from now to the end.
    let mut speaker = SignalClient::connect(&cfg.publisher_url).await?;
    let ServerMessage::Joined { you, .. } = speaker.join().await? else {
        return Err(ClientError::Refused(
            "the speaker got no joined message".into(),
        ));
    };
    let me = you.id;
    let (id, sdp) = swarm.publish().await?;
    speaker.send(&ClientMessage::Offer {
        transport: TransportKind::Send,
        sdp,
        screen: None,
    });
    let control = speaker.sender();
    let speaker_task = participant_task(
        swarm.clone(),
        speaker,
        me,
        Some(id),
        signaling.clone(),
        None,
    );
    swarm.media(true)?;
    let sent: SpotlightLog = Arc::default();
    let mover = {
        let sent = sent.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(CONTROL_EVERY);
            let mut on = false;
            loop {
                tick.tick().await;
                on = !on;
                let participant = on.then_some(me);
                if let Ok(mut s) = sent.lock() {
                    s.push((Instant::now(), participant));
                }
                control.send(&ClientMessage::Spotlight { participant });
            }
        })
    };

    // The audience arrives, evenly over join_secs.
    let start = Instant::now();
    let gap = Duration::from_secs_f64(cfg.join_secs / cfg.n.max(1) as f64);
    let mut joining = Vec::with_capacity(cfg.n);
    for i in 0..cfg.n {
        tokio::time::sleep_until((start + gap * i as u32).into()).await;
        joining.push(tokio::spawn(join_listener(
            swarm.clone(),
            cfg.listener_url.clone(),
            signaling.clone(),
        )));
    }
    let mut listeners = Vec::with_capacity(cfg.n);
    let mut join_errors = 0;
    for j in joining {
        match j.await {
            Ok(Ok(l)) => listeners.push(l),
            Ok(Err(e)) => {
                join_errors += 1;
                tracing::warn!("a listener could not join: {e}");
            }
            Err(e) => {
                join_errors += 1;
                tracing::warn!("a listener's join failed: {e}");
            }
        }
    }
    let joined_at = Instant::now();
    let arriving_dropped = closed(&listeners);

    // Every stream flows.
    let expected = 2 * listeners.len();
    let mut flowing = 0;
    while joined_at.elapsed() < cfg.settle {
        flowing = swarm.streams_flowing().await?;
        if flowing >= expected {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let flowing_at = Instant::now();
    swarm.measure()?;
    tokio::time::sleep(Duration::from_secs_f64(cfg.hold_secs)).await;
    let hold = swarm.report().await?;
    let rss_full = procstat::rss_mib(cfg.server_pid);
    let held_at = Instant::now();
    let holding_dropped = closed(&listeners) - arriving_dropped;

    // The audience leaves, evenly over leave_secs (its WebSocket closes; its media stops).
    let gap = Duration::from_secs_f64(cfg.leave_secs / listeners.len().max(1) as f64);
    for (i, l) in listeners.iter().enumerate() {
        tokio::time::sleep_until((held_at + gap * i as u32).into()).await;
        l.task.abort();
    }
    // The last changes reach whoever is still there; then the speaker stops.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let left_at = Instant::now();
    mover.abort();
    speaker_task.abort();
    swarm.media(false)?;
    let server1 = procstat::cpu(cfg.server_pid);
    let rss_after = procstat::rss_mib(cfg.server_pid);
    // A listener the tool took away never notes a close (its task is aborted): any other close
    // is the server's.
    let leaving_dropped = closed(&listeners).saturating_sub(arriving_dropped + holding_dropped);

    let sent = sent.lock().map(|s| s.clone()).unwrap_or_default();
    drop(signaling);
    while let Ok(e) = erx.try_recv() {
        tracing::warn!("{e}");
    }
    Ok(StormReport {
        n: cfg.n,
        joined: listeners.len(),
        join_errors,
        joined_in_secs: joined_at.duration_since(start).as_secs_f64(),
        streams_expected: expected,
        streams_flowing: flowing.min(expected),
        flowing_after_secs: flowing_at.duration_since(joined_at).as_secs_f64(),
        hold,
        arriving: phase(&sent, &listeners, start, joined_at, arriving_dropped),
        holding: phase(&sent, &listeners, flowing_at, held_at, holding_dropped),
        leaving: phase(&sent, &listeners, held_at, left_at, leaving_dropped),
        server_cpu_s_per_s: server0
            .zip(server1)
            .map(|(a, b)| procstat::cpu_per_second(a, b)),
        server_rss_mib_full: rss_full,
        server_rss_mib_after: rss_after,
    })
}
