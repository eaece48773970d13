//! The once-a-second health sample of every live session: the media edge's link statistics
//! joined with the rooms' rosters, judged by [`crate::health::classify`], kept for
//! `/api/sessions/{id}/health` and fed to the metrics.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tongbu_schedule::{Role, SessionId};
use utoipa::ToSchema;

use crate::health::{classify, connection, Connection, Health};
use crate::server::{now_utc, AppState};

/// How often sessions are sampled (as often as str0m reports).
pub const SAMPLE_EVERY: Duration = Duration::from_millis(250);

/// How often a sample goes into the session's quality report (a tick's jitter is allowed for).
const REPORT_EVERY: Duration = Duration::from_millis(990);

/// One participant's health.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ParticipantHealth {
    pub participant: u64,
    pub name: String,
    pub role: Role,
    pub school: Option<String>,
    pub health: Health,
    /// Why it is not good.
    pub reasons: Vec<&'static str>,
    pub connection: Connection,
    /// Times a transport came back after losing its connection.
    pub reconnects: u32,
    pub rtt_ms: Option<f32>,
    /// Loss of what it publishes, on the way in, percent.
    pub loss_up_pct: Option<f32>,
    /// Loss of what it receives, percent.
    pub loss_down_pct: Option<f32>,
    pub kbps_in: f32,
    pub kbps_out: f32,
    /// What its downlink can carry, as estimated from its transport-wide feedback (or its
    /// REMB), kbit/s; absent until its first feedback.
    pub bwe_down_kbps: Option<f32>,
    pub nacks: u64,
    pub plis: u64,
    pub jitter_ms: Option<f32>,
    /// The video it receives: `flowing`, `frozen` (for over 500 ms it has waited for a keyframe
    /// while the publisher's stream kept coming), `paused` (held back to keep its audio, its
    /// link cannot carry both) or `none` (no video reaches it yet).
    pub video: VideoState,
    /// The best simulcast layer of a camera it receives now (0 the lowest: 180p, 360p, 720p from
    /// the pages), as the bandwidth allocator chose it from `bwe_down_kbps`; absent while it
    /// receives no camera published in layers.
    pub video_layer: Option<u8>,
    /// How many layers that camera is published in.
    pub video_layers: Option<u8>,
    /// How loud its microphone is now, from the audio level its packets carry (0 silent to 1
    /// full scale, smoothed over about 300 ms): the loudest above a threshold is the active
    /// speaker.
    pub voice: f32,
    /// Video freezes in what it received since it joined: it waited over 500 ms for a
    /// keyframe (its publisher's own pauses not counted).
    pub freezes: u64,
    /// Freezes of the video it publishes and gaps (over 200 ms) of its audio, as the server
    /// received them.
    pub freezes_up: u64,
    pub audio_gaps_up: u64,
    /// The codec of the video it publishes (`VP8`, `H.264`), if it publishes any.
    pub video_codec: Option<&'static str>,
}

#[cfg(test)]
impl ParticipantHealth {
    /// A connected classroom on a good link with nothing measured yet (tests change what they
    /// need with struct update syntax).
    pub(crate) fn fixture(participant: u64, name: &str) -> Self {
        Self {
            participant,
            name: name.into(),
            role: Role::Classroom,
            school: None,
            health: Health::Good,
            reasons: vec![],
            connection: Connection::Connected,
            reconnects: 0,
            rtt_ms: None,
            loss_up_pct: None,
            loss_down_pct: None,
            kbps_in: 0.0,
            kbps_out: 0.0,
            bwe_down_kbps: None,
            nacks: 0,
            plis: 0,
            jitter_ms: None,
            video: VideoState::Flowing,
            video_layer: None,
            video_layers: None,
            voice: 0.0,
            freezes: 0,
            freezes_up: 0,
            audio_gaps_up: 0,
            video_codec: None,
        }
    }
}

#[cfg(test)]
impl SessionHealth {
    /// Session 1's sample with these participants, as the sampler hands it on (tests).
    pub(crate) fn fixture(
        participants: Vec<ParticipantHealth>,
    ) -> HashMap<SessionId, SessionHealth> {
        HashMap::from([(
            SessionId(1),
            SessionHealth {
                session: SessionId(1),
                sampled_utc: 0,
                health: Health::Good,
                participants,
            },
        )])
    }
}

/// What a participant's picture is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum VideoState {
    Flowing,
    Frozen,
    /// Paused on purpose to keep its audio (audio first).
    Paused,
    None,
}

impl VideoState {
    fn of(link: &tongbu_rtc::LinkStats) -> Self {
        if link.video_paused {
            return VideoState::Paused;
        }
        match (link.receiving_video, link.frozen) {
            (false, _) => VideoState::None,
            (true, true) => VideoState::Frozen,
            (true, false) => VideoState::Flowing,
        }
    }
}

/// A session's health at one moment.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SessionHealth {
    pub session: SessionId,
    /// When it was sampled (UTC seconds).
    pub sampled_utc: i64,
    /// The worst participant's state (good when nobody is there).
    pub health: Health,
    pub participants: Vec<ParticipantHealth>,
}

/// Samples every live session four times a second, forever.
pub async fn sample_forever(app: Arc<AppState>) {
    let mut tick = tokio::time::interval(SAMPLE_EVERY);
    let mut reported = Instant::now();
    let mut drafted = Instant::now();
    // Who speaks in each session: this task alone decides it.
    let mut speakers = crate::active_speaker::ActiveSpeakers::default();
    loop {
        tick.tick().await;
        let Ok(links) = app.edge.links().await else {
            continue;
        };
        let stats = app.edge.stats().await.ok();
        let now = Instant::now();
        let by_id: HashMap<u64, tongbu_rtc::LinkStats> =
            links.iter().map(|l| (l.participant.0, l.stats)).collect();
        let mut sessions = HashMap::new();
        let (mut roles, mut healths) = (HashMap::new(), HashMap::new());
        for (sid, roster) in app.rooms.rosters() {
            let mut participants = Vec::with_capacity(roster.len());
            for info in roster {
                let link = by_id.get(&info.id).copied().unwrap_or_default();
                let (health, reasons) = classify(&link, now, &app.config.health);
                app.metrics.observe_link(
                    link.rtt_ms(),
                    match (link.loss_up, link.loss_down) {
                        (Some(a), Some(b)) => Some(a.max(b)),
                        (a, b) => a.or(b),
                    },
                );
                *roles.entry(info.role.as_str()).or_insert(0i64) += 1;
                *healths.entry(health.as_str()).or_insert(0i64) += 1;
                let connection = connection(&link, now, &app.config.health);
                participants.push(ParticipantHealth {
                    participant: info.id,
                    name: info.name,
                    role: info.role,
                    school: info.school,
                    health,
                    reasons,
                    connection,
                    reconnects: link.reconnects,
                    rtt_ms: link.rtt_ms(),
                    loss_up_pct: link.loss_up.map(|l| l * 100.0),
                    loss_down_pct: link.loss_down.map(|l| l * 100.0),
                    kbps_in: link.kbps_in,
                    kbps_out: link.kbps_out,
                    bwe_down_kbps: link.estimate_kbps_down,
                    nacks: link.nacks,
                    plis: link.plis,
                    jitter_ms: link.jitter_ms,
                    video: VideoState::of(&link),
                    video_layer: link.video_layer.map(|(l, _)| l),
                    video_layers: link.video_layer.map(|(_, n)| n),
                    voice: link.voice,
                    freezes: link.freezes,
                    freezes_up: link.freezes_up,
                    audio_gaps_up: link.audio_gaps_up,
                    video_codec: link.video_codec.map(|c| c.name()),
                });
            }
            let health = participants
                .iter()
                .map(|p| p.health)
                .max()
                .unwrap_or(Health::Good);
            sessions.insert(
                sid,
                SessionHealth {
                    session: sid,
                    sampled_utc: now_utc(),
                    health,
                    participants,
                },
            );
        }
        let by_role: Vec<(&str, i64)> = ["host", "classroom", "observer", "operator"]
            .iter()
            .map(|r| (*r, roles.get(r).copied().unwrap_or(0)))
            .collect();
        let by_health: Vec<(&str, i64)> = ["good", "unknown", "weak", "lost"]
            .iter()
            .map(|h| (*h, healths.get(h).copied().unwrap_or(0)))
            .collect();
        // The reports take a sample a second, standing for the time since the previous one.
        let dt = now.saturating_duration_since(reported);
        if dt >= REPORT_EVERY {
            reported = now;
            let dt = dt.as_secs_f64().min(5.0);
            let mut reports = app.reports.lock().unwrap_or_else(|e| e.into_inner());
            for (sid, h) in &sessions {
                reports.add(*sid, now, dt, &h.participants);
            }
        }
        if now.saturating_duration_since(drafted) >= crate::quality_report::DRAFT_EVERY {
            drafted = now;
            crate::quality_report::save_drafts(&app).await;
        }
        let notices = app
            .link_notices
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .update(&sessions);
        for n in notices {
            app.rooms.send_to(n.session, &n.to, &n.message);
        }
        let decisions = app
            .audio_first
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .update(now, &sessions);
        for d in decisions {
            app.edge
                .pause_video(tongbu_rtc::ParticipantId(d.participant), d.paused)
                .await;
            let mut to = vec![d.participant];
            if let Some(h) = sessions.get(&d.session) {
                to.extend(
                    h.participants
                        .iter()
                        .filter(|p| p.role == Role::Host && p.participant != d.participant)
                        .map(|p| p.participant),
                );
            }
            let message = tongbu_signal::ServerMessage::VideoPaused {
                participant: d.participant,
                paused: d.paused,
            };
            app.rooms.send_to(d.session, &to, &message);
        }
        for (sid, participant) in speakers.update(now, &sessions) {
            app.rooms.broadcast(
                sid,
                &tongbu_signal::ServerMessage::ActiveSpeaker { participant },
            );
        }
        app.metrics.set_people(sessions.len(), &by_role, &by_health);
        if let Some(s) = stats {
            app.metrics.set_edge(&s);
        }
        *app.health.lock().unwrap_or_else(|e| e.into_inner()) = sessions;
    }
}

/// How often the live feed sends a session's health: once a second, not per sample or packet.
pub const FEED_EVERY: Duration = Duration::from_secs(1);

/// The latest sample of a session (empty when nobody is connected).
pub fn current(app: &AppState, sid: SessionId) -> SessionHealth {
    app.health
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&sid)
        .cloned()
        .unwrap_or(SessionHealth {
            session: sid,
            sampled_utc: now_utc(),
            health: Health::Good,
            participants: Vec::new(),
        })
}

/// `GET /api/sessions/{id}/health/live?ticket=<ticket>` (WebSocket): the session's health once a
/// second, for the operator dashboard. Browsers cannot set headers on a WebSocket and the
/// operator token must not be in a URL, so the dashboard brings a one-use ticket
/// (`POST /api/live-ticket`); other clients may send the credential in the usual header.
pub async fn live(
    axum::extract::State(app): axum::extract::State<Arc<AppState>>,
    crate::api::Id(id): crate::api::Id,
    axum::extract::Query(q): axum::extract::Query<LiveQuery>,
    req: axum::http::request::Parts,
    ws: axum::extract::WebSocketUpgrade,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let ticket = q
        .ticket
        .as_deref()
        .is_some_and(|t| app.tickets.redeem(t.trim(), std::time::Instant::now()));
    if !ticket {
        match crate::api::check_operator(&app, &req.headers, &req.extensions) {
            Ok(()) => {}
            Err(e @ crate::api::ApiError::TooManyTries(_)) => return e.into_response(),
            Err(_) => {
                return crate::api::ApiError::Unauthorized(
                    "the live health feed needs a ticket (POST /api/live-ticket with the \
                     operator credential, then ?ticket=) or the credential in the header",
                )
                .into_response()
            }
        }
    }
    let sid = SessionId(id);
    ws.on_upgrade(move |mut socket| async move {
        use axum::extract::ws::Message;
        let mut tick = tokio::time::interval(FEED_EVERY);
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    let text = serde_json::to_string(&current(&app, sid)).unwrap_or_default();
                    if socket.send(Message::Text(text.into())).await.is_err() {
                        break;
                    }
                }
                m = socket.recv() => match m {
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                    Some(Ok(_)) => {}
                },
            }
        }
    })
}

/// The live feed's ticket.
#[derive(Debug, serde::Deserialize)]
pub struct LiveQuery {
    ticket: Option<String>,
}
