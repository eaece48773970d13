//! The pre-lesson network check (`GET /ws/check?token=…`): a classroom PC sends its camera and
//! microphone to the media server, as in a lesson but in a session of its own, and is told once
//! a second what arrives (connected over UDP, RTT, loss, bitrate, jitter), so that its page can
//! give a plain verdict before the lesson. Opened with the classroom's timetable link or any of
//! its join links, at any time (not only in a session's window); it ends after
//! [`CHECK_LIMIT`] or when the page closes.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket};
use axum::extract::{Query, State, WebSocketUpgrade};
use axum::response::Response;
use tokio::sync::mpsc;
use tongbu_rtc::{EdgeEvent, ParticipantId};
use tongbu_signal::{parse_client_message, ClientMessage, ErrorCode, ServerMessage, TransportKind};
use tracing::{info, info_span, Instrument};

use crate::server::AppState;
use crate::ws::{answer_offer, limited, send, WsQuery};

/// A check lasts at most this long.
pub const CHECK_LIMIT: Duration = Duration::from_secs(60);

/// How often the client is told what arrives.
const REPORT_EVERY: Duration = Duration::from_secs(1);

/// `GET /ws/check?token=…` (WebSocket).
pub async fn handler(
    State(app): State<Arc<AppState>>,
    Query(q): Query<WsQuery>,
    ws: WebSocketUpgrade,
) -> Response {
    limited(ws).on_upgrade(move |socket| check(socket, app, q.token.unwrap_or_default()))
}

/// Who may check: a classroom's timetable link, or a join link of a classroom or host.
fn classroom_of(app: &AppState, token: &str) -> Result<i64, String> {
    if let Ok(c) = app.tokens.verify_schedule(token) {
        return Ok(c.classroom.0);
    }
    match app.tokens.verify(token) {
        Ok(c) => c.classroom.map(|c| c.0).ok_or_else(|| {
            "the network check is for classrooms: open it with the classroom's timetable or join link"
                .to_string()
        }),
        Err(e) => Err(e.to_string()),
    }
}

async fn check(mut socket: WebSocket, app: Arc<AppState>, token: String) {
    let classroom = match classroom_of(&app, &token) {
        Ok(c) => c,
        Err(e) => {
            let _ = send(
                &mut socket,
                &ServerMessage::error(ErrorCode::InvalidToken, e),
            )
            .await;
            let _ = socket.send(Message::Close(None)).await;
            return;
        }
    };
    // A school checks a classroom's PC, not hundreds of them at once on one link.
    let Some(_place) = app.budgets.start_check(classroom) else {
        let _ = send(
            &mut socket,
            &ServerMessage::error(
                ErrorCode::InvalidMessage,
                format!(
                    "{} network checks of this classroom are running already; try again when one has ended",
                    crate::budgets::MAX_CHECKS
                ),
            ),
        )
        .await;
        let _ = socket.send(Message::Close(None)).await;
        return;
    };
    let id = app.next_participant.fetch_add(1, Ordering::Relaxed);
    // A session of its own, which no real session id (positive) can be.
    let session = -(id as i64) - 1;
    let span = info_span!("network_check", id, classroom);
    async move {
        let (etx, mut erx) = mpsc::channel::<EdgeEvent>(tongbu_rtc::EVENT_QUEUE);
        if let Err(e) = app
            .edge
            .join(
                ParticipantId(id),
                session,
                tongbu_rtc::MediaRole::Observer,
                etx,
            )
            .await
        {
            let _ = send(
                &mut socket,
                &ServerMessage::error(ErrorCode::Internal, e.to_string()),
            )
            .await;
            return;
        }
        info!("network check started");
        let relays = ServerMessage::IceServers {
            ice_servers: crate::turn::ice_servers(
                app.config.turn.as_ref(),
                id,
                crate::server::now_utc(),
            ),
        };
        if !send(&mut socket, &relays).await {
            app.edge.leave(ParticipantId(id)).await;
            return;
        }
        let udp_port = app.edge.local_addr().port();
        let mut tick = tokio::time::interval(REPORT_EVERY);
        let deadline = tokio::time::sleep(CHECK_LIMIT);
        tokio::pin!(deadline);
        let mut stopping = app.stopping.subscribe();
        loop {
            tokio::select! {
                _ = &mut deadline => break,
                _ = crate::ws::stopped(&mut stopping) => {
                    crate::ws::restarting(&mut socket).await;
                    break;
                }
                _ = tick.tick() => {
                    let link = app
                        .edge
                        .links()
                        .await
                        .ok()
                        .and_then(|ls| ls.into_iter().find(|l| l.participant.0 == id))
                        .map(|l| l.stats)
                        .unwrap_or_default();
                    let stats = ServerMessage::CheckStats {
                        udp_port,
                        connected: link.send_connected,
                        rtt_ms: link.rtt_up_ms,
                        loss_up_pct: link.loss_up.map(|l| l * 100.0),
                        kbps_in: link.kbps_in,
                        jitter_ms: link.jitter_ms,
                    };
                    if !send(&mut socket, &stats).await {
                        break;
                    }
                }
                m = socket.recv() => {
                    let text = match m {
                        Some(Ok(Message::Text(t))) => t,
                        Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                        Some(Ok(_)) => continue,
                    };
                    let reply = match parse_client_message(&text) {
                        Ok(ClientMessage::Offer { transport: TransportKind::Send, sdp, .. }) => {
                            answer_offer(&app, id, sdp, None).await
                        }
                        Ok(ClientMessage::Candidate { .. }) => continue,
                        Ok(_) => ServerMessage::error(
                            ErrorCode::InvalidMessage,
                            "a network check takes one offer on the send transport",
                        ),
                        Err(e) => ServerMessage::error(e.code(), e.to_string()),
                    };
                    if !send(&mut socket, &reply).await {
                        break;
                    }
                }
                // Nothing is subscribed in a check session; edge events need no answer.
                Some(_) = erx.recv() => {}
            }
        }
        app.edge.leave(ParticipantId(id)).await;
        info!("network check ended");
    }
    .instrument(span)
    .await
}
