//! One WebSocket signaling connection: token check, `join`, then messages both ways until the
//! participant leaves. A bad message gets an `error` and the connection goes on.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::ws::{Message, WebSocket};
use axum::extract::{Query, State, WebSocketUpgrade};
use axum::response::Response;
use serde::Deserialize;
use tokio::sync::mpsc;
use tongbu_rtc::{EdgeEvent, MediaKind, ParticipantId, PublishedTrackInfo};
use tongbu_schedule::time::{local_datetime, DEFAULT_ZONE};
use tongbu_schedule::{JoinClaims, Pass, Role, Session, SessionId, SessionKind, SessionState};
use tongbu_signal::{
    parse_client_message, ClientMessage, ComparedLessonInfo, ErrorCode, ParticipantInfo,
    ServerMessage, SessionInfo, TrackInfo, TrackKind, TrackSource, TransportKind, PROTOCOL_VERSION,
};
use tracing::{info, info_span, warn, Instrument};

use crate::budgets::RateLimit;
use crate::lifecycle::{self, Cause};
use crate::outbox::{Outbox, Then};
use crate::room::RoomShape;
use crate::server::AppState;

/// Longest chat message accepted, in characters.
const MAX_CHAT_CHARS: usize = 2000;
/// Largest signaling message accepted (an SDP offer with many media lines is a few tens of KiB).
const MAX_MESSAGE_BYTES: usize = 256 * 1024;

#[derive(Debug, Deserialize)]
pub struct WsQuery {
    pub(crate) token: Option<String>,
}

/// `GET /ws?token=…`
pub async fn handler(
    State(app): State<Arc<AppState>>,
    Query(q): Query<WsQuery>,
    ws: WebSocketUpgrade,
) -> Response {
    limited(ws).on_upgrade(move |socket| connection(socket, app, q.token))
}

/// Read buffer of a signaling connection. The WebSocket library's default (128 KiB, taken at
/// once) made an idle connection cost the server ≈ 200 kB; signaling messages are mostly far
/// below a kilobyte, and a larger one (an SDP offer) grows the buffer as it arrives.
const READ_BUFFER: usize = 4 * 1024;
/// Bytes a connection may have unwritten after failed writes before it counts as broken.
const MAX_UNWRITTEN: usize = 1 << 20;

/// A WebSocket upgrade with the signaling message size limits and small buffers.
pub(crate) fn limited(ws: WebSocketUpgrade) -> WebSocketUpgrade {
    ws.max_message_size(MAX_MESSAGE_BYTES)
        .max_frame_size(MAX_MESSAGE_BYTES)
        .read_buffer_size(READ_BUFFER)
        // Each message is written as it is sent (signaling messages are whole messages).
        .write_buffer_size(0)
        .max_write_buffer_size(MAX_UNWRITTEN)
}

/// The answer to a participant's offer on its `send` transport (or why there is none).
pub(crate) async fn answer_offer(
    app: &AppState,
    participant: u64,
    sdp: String,
    screen: Option<String>,
) -> ServerMessage {
    match app
        .edge
        .offer(ParticipantId(participant), sdp, screen)
        .await
    {
        Ok(sdp) => ServerMessage::Answer {
            transport: TransportKind::Send,
            sdp,
        },
        Err(e) => ServerMessage::error(ErrorCode::NegotiationFailed, e.to_string()),
    }
}

/// The close code of a connection whose link joined again elsewhere.
pub const REPLACED_CLOSE: u16 = 4001;
/// The close code of a connection whose participant the host removed.
pub const REMOVED_CLOSE: u16 = 4003;

/// Resolves once the server is stopping (at once if it already is).
pub(crate) async fn stopped(rx: &mut tokio::sync::watch::Receiver<bool>) {
    let already = *rx.borrow_and_update();
    if !already {
        // Only ever set to true; a dropped sender means the server is gone too.
        let _ = rx.changed().await;
    }
}

/// Tells the client the server is stopping and closes with 1012 (service restart).
pub(crate) async fn restarting(socket: &mut WebSocket) {
    let _ = send(socket, &ServerMessage::ServerRestarting).await;
    let close = axum::extract::ws::CloseFrame {
        code: axum::extract::ws::close_code::RESTART,
        reason: "the server is restarting; rejoin in a few seconds".into(),
    };
    let _ = socket.send(Message::Close(Some(close))).await;
}

pub(crate) async fn send(socket: &mut WebSocket, msg: &ServerMessage) -> bool {
    socket
        .send(Message::Text(msg.to_json().into()))
        .await
        .is_ok()
}

/// Closes the connection with a code of ours and its reason (the page acts on the code).
async fn close(socket: &mut WebSocket, code: u16, reason: &'static str) {
    let frame = axum::extract::ws::CloseFrame {
        code,
        reason: reason.into(),
    };
    let _ = socket.send(Message::Close(Some(frame))).await;
}

async fn refuse(mut socket: WebSocket, code: ErrorCode, message: String) {
    let _ = send(&mut socket, &ServerMessage::error(code, message)).await;
    let _ = socket.send(Message::Close(None)).await;
}

/// How a zone is named to the people of the programme.
fn zone_label(zone: &str) -> &str {
    if zone == DEFAULT_ZONE {
        "北京时间, Beijing time"
    } else {
        zone
    }
}

/// How long a new connection may take to send `join`.
const JOIN_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// Whether `claims` may be in their session now: it exists, is not over, its join window is
/// open, the token's classroom still has the role it claims (a session edited after the
/// link was issued no longer lets a removed classroom in, nor an old host moderate), and the
/// host has not removed its `pass` from the session. Checked when the connection opens and
/// again when `join` arrives.
pub(crate) async fn admit(
    app: &Arc<AppState>,
    claims: &JoinClaims,
    pass: Option<&Pass>,
) -> Result<Session, (ErrorCode, String)> {
    let store = app.store.clone();
    let sid = claims.sid;
    let pass = pass.cloned();
    let loaded = tokio::task::spawn_blocking(move || {
        let removal = match &pass {
            Some(p) => store.removal(sid, p)?,
            None => None,
        };
        Ok::<_, tongbu_schedule::ScheduleError>((store.session(sid)?, removal))
    })
    .await;
    let session = match loaded {
        Ok(Ok((_, Some(removal)))) => {
            return Err((
                ErrorCode::Removed,
                format!(
                    "the host removed {} from this session; this link no longer opens it (ask the teacher if that was a mistake)",
                    removal.name
                ),
            ))
        }
        Ok(Ok((s, None))) => s,
        Ok(Err(e)) => {
            return Err((
                ErrorCode::SessionClosed,
                format!("this session is unknown or was cancelled: {e}"),
            ))
        }
        Err(e) => return Err((ErrorCode::Internal, e.to_string())),
    };
    let (opens, closes) = session.join_window(app.config.join_lead_secs, app.config.grace_secs);
    let now = crate::server::now_utc();
    if session.state.is_over() || now >= closes {
        return Err((
            ErrorCode::SessionClosed,
            format!("\"{}\" has ended; no more joins", session.spec.title),
        ));
    }
    if now < opens {
        return Err((
            ErrorCode::NotYetOpen,
            format!(
                "\"{}\" starts at {} ({}); joining opens {} minutes before, at {}",
                session.spec.title,
                local_datetime(session.start_utc, &session.zone),
                zone_label(&session.zone),
                app.config.join_lead_secs / 60,
                local_datetime(opens, &session.zone),
            ),
        ));
    }
    let still = match (claims.role, claims.classroom) {
        (Role::Host, Some(c)) => session.spec.host == c,
        (Role::Host, None) => false,
        (Role::Classroom, Some(c)) => session.spec.classrooms.contains(&c),
        (Role::Classroom, None) => false,
        (Role::Observer | Role::Operator, _) => true,
    };
    if !still {
        return Err((
            ErrorCode::InvalidToken,
            format!(
                "this link is for a classroom that no longer takes part in \"{}\" as {}; ask for a new link",
                session.spec.title, claims.role
            ),
        ));
    }
    Ok(session)
}

async fn connection(socket: WebSocket, app: Arc<AppState>, token: Option<String>) {
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return refuse(
            socket,
            ErrorCode::InvalidToken,
            "no join token: open the link you were given, it ends with ?token=…".into(),
        )
        .await;
    };
    let claims = match app.tokens.verify(&token) {
        Ok(c) => c,
        Err(e) => return refuse(socket, ErrorCode::InvalidToken, e.to_string()).await,
    };
    let pass = Pass::of(&claims, &token);
    let session = match admit(&app, &claims, pass.as_ref()).await {
        Ok(s) => s,
        Err((code, message)) => return refuse(socket, code, message).await,
    };
    let id = app.next_participant.fetch_add(1, Ordering::Relaxed);
    let span = info_span!("participant", id, session = claims.sid.0, role = %claims.role);
    Participant {
        app,
        claims,
        pass,
        id,
        title: session.spec.title,
        talk: RateLimit::new(10.0, 2.0),
        link: token,
    }
    .run(socket)
    .instrument(span)
    .await
}

struct Participant {
    app: Arc<AppState>,
    claims: JoinClaims,
    /// What its link stands for (`None`: a shared link).
    pass: Option<Pass>,
    id: u64,
    title: String,
    /// Chat and hand messages a participant may send: a burst, then a steady rate (and its
    /// link's and session's budgets, shared with their other sockets: [`crate::budgets`]).
    talk: RateLimit,
    /// Its link's token, which names the link's shared budget.
    link: String,
}

impl Participant {
    fn sid(&self) -> SessionId {
        self.claims.sid
    }

    async fn run(mut self, mut socket: WebSocket) {
        // Before anything else: `join` with the protocol version.
        let deadline = tokio::time::Instant::now() + JOIN_WAIT;
        loop {
            let msg = match tokio::time::timeout_at(deadline, socket.recv()).await {
                Ok(Some(Ok(msg))) => msg,
                Ok(_) => return,
                Err(_) => {
                    let m = format!("send join within {} seconds", JOIN_WAIT.as_secs());
                    return refuse(socket, ErrorCode::OutOfOrder, m).await;
                }
            };
            let text = match msg {
                Message::Text(t) => t,
                Message::Close(_) => return,
                Message::Binary(_) => {
                    let m = ServerMessage::error(ErrorCode::MalformedJson, "send JSON text frames");
                    if !send(&mut socket, &m).await {
                        return;
                    }
                    continue;
                }
                _ => continue,
            };
            let reply = match parse_client_message(text.as_str()) {
                Ok(ClientMessage::Join { version }) if version == PROTOCOL_VERSION => break,
                Ok(ClientMessage::Join { version }) => ServerMessage::error(
                    ErrorCode::UnsupportedVersion,
                    format!("this server speaks protocol version {PROTOCOL_VERSION}, not {version}; reload the page"),
                ),
                Ok(_) => ServerMessage::error(
                    ErrorCode::OutOfOrder,
                    "send {\"type\":\"join\",\"version\":1} first",
                ),
                Err(e) => ServerMessage::error(e.code(), e.to_string()),
            };
            if !send(&mut socket, &reply).await {
                return;
            }
        }

        // The session may have ended, or changed, while the client took its time.
        let session = match admit(&self.app, &self.claims, self.pass.as_ref()).await {
            Ok(s) => s,
            Err((code, message)) => return refuse(socket, code, message).await,
        };
        let store = self.app.store.clone();
        let classroom = self.claims.classroom;
        let compared = session.spec.comparison.clone();
        let (school, comparison) = tokio::task::spawn_blocking(move || {
            let school = classroom.and_then(|c| store.classroom(c).ok().map(|c| c.school_name));
            let comparison: Vec<ComparedLessonInfo> = compared
                .iter()
                .flat_map(|c| [&c.left, &c.right])
                .map(|l| ComparedLessonInfo {
                    classroom: l.classroom.0,
                    classroom_name: store
                        .classroom(l.classroom)
                        .map(|c| c.display_name())
                        .unwrap_or_default(),
                    title: l.title.clone(),
                    teacher: l.teacher.clone(),
                })
                .collect();
            (school, comparison)
        })
        .await
        .unwrap_or_default();
        let mut me = ParticipantInfo {
            id: self.id,
            name: self.claims.name.clone(),
            role: self.claims.role,
            school,
            classroom: classroom.map(|c| c.0),
            hand_raised: false,
            floor: false,
            muted: false,
        };
        let outbox = Arc::new(Outbox::new(self.claims.role == Role::Host));
        let shape = RoomShape {
            lecture: session.spec.kind == SessionKind::Lecture,
            seats: session.spec.audience,
        };
        let pass = self.pass.clone();
        let entry = match self
            .app
            .rooms
            .join(self.sid(), me.clone(), pass, outbox.clone(), shape)
        {
            Ok(entry) => entry,
            Err(full) => {
                info!(seats = full.seats, "turned away: the lecture is full");
                return refuse(socket, ErrorCode::Full, full.to_string()).await;
            }
        };
        me.muted = entry.muted;
        let (etx, mut erx) = mpsc::channel::<EdgeEvent>(tongbu_rtc::EVENT_QUEUE);
        let tracks = match self
            .app
            .edge
            .join(
                ParticipantId(self.id),
                self.sid().0,
                media_role(self.claims.role),
                etx,
            )
            .await
        {
            Ok(t) => t,
            Err(e) => {
                warn!("media edge refused join: {e}");
                self.app.rooms.leave(self.sid(), self.id);
                return refuse(socket, ErrorCode::Internal, e.to_string()).await;
            }
        };
        if me.muted {
            // Muted by the host before it rejoined: its microphone stays stopped.
            self.app.edge.set_muted(ParticipantId(self.id), true).await;
        }
        let mut state = session.state;
        if state == SessionState::Scheduled {
            // The first join inside the window opens the session.
            let opened =
                lifecycle::change(&self.app, self.sid(), SessionState::Open, Cause::FirstJoin)
                    .await;
            match opened {
                Ok(t) => state = t.session.state,
                Err(e) => warn!("cannot open the session: {e}"),
            }
        }
        if state == SessionState::Live {
            // Live before this server started (a restart): its scheduled recording resumes.
            crate::recording::as_scheduled(&self.app, self.sid(), session.spec.record).await;
        }
        info!(name = %me.name, "joined");
        let joined = ServerMessage::Joined {
            version: PROTOCOL_VERSION,
            you: me,
            session: SessionInfo {
                id: self.sid().0,
                title: self.title.clone(),
                state,
                kind: session.spec.kind,
                comparison,
            },
            roster: entry.roster,
            audience: u32::try_from(entry.audience).unwrap_or(u32::MAX),
            tracks: tracks.iter().map(|t| track_info(*t, None)).collect(),
            ice_servers: crate::turn::ice_servers(
                self.app.config.turn.as_ref(),
                self.id,
                crate::server::now_utc(),
            ),
        };
        let mut open = send(&mut socket, &joined).await;
        if open && entry.spotlight.is_some() {
            open = send(
                &mut socket,
                &ServerMessage::Spotlight {
                    participant: entry.spotlight,
                },
            )
            .await;
        }
        // The courseware, to fetch ahead, and the page on show.
        let sid = self.sid();
        let decks = crate::api::db(&self.app, move |s| s.decks(sid)).await;
        match decks {
            Ok(decks) if open && !decks.is_empty() => {
                open = send(&mut socket, &ServerMessage::Courseware { decks }).await;
            }
            Ok(_) => {}
            Err(e) => warn!("cannot read the session's courseware: {e:?}"),
        }
        if let (true, Some((deck, page))) = (open, entry.slide) {
            let m = ServerMessage::Slide {
                deck: Some(deck),
                page,
            };
            open = send(&mut socket, &m).await;
        }
        // A session being recorded says so to whoever joins.
        if open && self.app.recordings.recording_since(sid).is_some() {
            let m = ServerMessage::Recording {
                recording: true,
                reason: None,
            };
            open = send(&mut socket, &m).await;
        }

        let mut stopping = self.app.stopping.subscribe();
        while open {
            tokio::select! {
                _ = stopped(&mut stopping) => {
                    restarting(&mut socket).await;
                    open = false;
                }
                msg = socket.recv() => match msg {
                    Some(Ok(Message::Text(t))) => {
                        if let Some(reply) = self.handle(t.as_str()).await {
                            open = send(&mut socket, &reply).await;
                        }
                    }
                    Some(Ok(Message::Binary(_))) => {
                        let m = ServerMessage::error(ErrorCode::MalformedJson, "send JSON text frames");
                        open = send(&mut socket, &m).await;
                    }
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => open = false,
                    Some(Ok(_)) => {}
                },
                m = outbox.next() => match m {
                    Some(m) => {
                        open = socket.send(Message::Text(m.text)).await.is_ok();
                        match m.then {
                            Then::Continue => {}
                            // The room exists only while the session does: once it is over,
                            // the participant is told, then its connection and media close.
                            Then::End => {
                                info!("session over; closing the connection");
                                open = false;
                            }
                            Then::Replaced => {
                                info!("the same link joined elsewhere; closing this connection");
                                close(&mut socket, REPLACED_CLOSE, "this link joined the lesson elsewhere").await;
                                open = false;
                            }
                            Then::Removed => {
                                info!("removed by the host; closing this connection");
                                close(&mut socket, REMOVED_CLOSE, "the host removed you from this session").await;
                                open = false;
                            }
                        }
                    }
                    None => {
                        // This connection fell behind (see `outbox`).
                        let m = ServerMessage::error(
                            ErrorCode::Internal,
                            "this connection fell too far behind; reconnecting",
                        );
                        let _ = send(&mut socket, &m).await;
                        open = false;
                    }
                },
                Some(e) = erx.recv() => {
                    if let EdgeEvent::VideoPaused { paused } = e {
                        // The allocator's last step (no picture fits its link): it and the
                        // hosts are told, as audio first always told them.
                        let mut to = self.app.rooms.hosts(self.sid());
                        to.retain(|&h| h != self.id);
                        to.push(self.id);
                        let m = ServerMessage::VideoPaused { participant: self.id, paused };
                        self.app.rooms.send_to(self.sid(), &to, &m);
                    } else if let Some(m) = edge_message(e) {
                        open = send(&mut socket, &m).await;
                    }
                }
            }
        }
        if self.app.rooms.leave(self.sid(), self.id) {
            // Its mute leaves with it on every worker.
            self.app.edge.set_muted(ParticipantId(self.id), false).await;
        }
        self.app.edge.leave(ParticipantId(self.id)).await;
        info!("left");
    }

    /// Handles one text frame; returns the direct reply, if any.
    async fn handle(&mut self, text: &str) -> Option<ServerMessage> {
        let msg = match parse_client_message(text) {
            Ok(m) => m,
            Err(e) => return Some(ServerMessage::error(e.code(), e.to_string())),
        };
        let role = self.claims.role;
        if matches!(
            msg,
            ClientMessage::Chat { .. } | ClientMessage::RaiseHand { .. }
        ) && !(self.talk.allow() && self.app.budgets.talk(&self.link, self.sid()))
        {
            return Some(ServerMessage::error(
                ErrorCode::InvalidMessage,
                "too many messages; wait a moment before sending more",
            ));
        }
        let forbidden = |what: &str| {
            Some(ServerMessage::error(
                ErrorCode::Forbidden,
                format!("a {role} may not {what}"),
            ))
        };
        match msg {
            ClientMessage::Join { .. } => Some(ServerMessage::error(
                ErrorCode::OutOfOrder,
                "already joined",
            )),
            ClientMessage::Offer {
                transport,
                sdp,
                screen,
            } => {
                if transport != TransportKind::Send {
                    return Some(ServerMessage::error(
                        ErrorCode::InvalidMessage,
                        "offers are for the send transport; the server offers on recv",
                    ));
                }
                if !role.may_publish() && !self.app.rooms.has_floor(self.sid(), self.id) {
                    return forbidden("publish without being granted the floor");
                }
                Some(answer_offer(&self.app, self.id, sdp, screen).await)
            }
            ClientMessage::Answer { transport, sdp } => {
                if transport != TransportKind::Recv {
                    return Some(ServerMessage::error(
                        ErrorCode::InvalidMessage,
                        "answers are for the recv transport",
                    ));
                }
                match self.app.edge.answer(ParticipantId(self.id), sdp).await {
                    Ok(()) => None,
                    Err(e) => Some(ServerMessage::error(
                        ErrorCode::NegotiationFailed,
                        e.to_string(),
                    )),
                }
            }
            // ICE-lite: the server learns the client's address from its connectivity checks.
            ClientMessage::Candidate { .. } => None,
            ClientMessage::SetPreferences { max_layer } => {
                self.app
                    .edge
                    .set_max_layer(ParticipantId(self.id), max_layer)
                    .await;
                None
            }
            ClientMessage::RaiseHand { raised } => {
                self.app.rooms.set_hand(self.sid(), self.id, raised);
                None
            }
            ClientMessage::Chat { text } => {
                let text = text.trim();
                if text.is_empty() || text.chars().count() > MAX_CHAT_CHARS {
                    return Some(ServerMessage::error(
                        ErrorCode::InvalidMessage,
                        format!("chat text must be 1 to {MAX_CHAT_CHARS} characters"),
                    ));
                }
                self.app.rooms.broadcast(
                    self.sid(),
                    &ServerMessage::Chat {
                        from: self.id,
                        name: self.claims.name.clone(),
                        text: text.to_string(),
                    },
                );
                None
            }
            ClientMessage::Mute { participant, muted } => {
                if !role.may_moderate() {
                    return forbidden("mute others");
                }
                if let Err(why) = self.app.rooms.set_muted(self.sid(), participant, muted) {
                    return Some(ServerMessage::error(ErrorCode::InvalidMessage, why));
                }
                // Enforced here, not by the page: its audio stops at the router.
                self.app
                    .edge
                    .set_muted(ParticipantId(participant), muted)
                    .await;
                info!(participant, muted, "microphone muted by the host");
                None
            }
            ClientMessage::Remove { participant } => {
                if !role.may_moderate() {
                    return forbidden("remove participants");
                }
                self.remove(participant).await
            }
            ClientMessage::Spotlight { participant } => {
                if !role.may_moderate() {
                    return forbidden("spotlight a classroom");
                }
                if !self.app.rooms.set_spotlight(self.sid(), participant) {
                    return Some(ServerMessage::error(
                        ErrorCode::InvalidMessage,
                        "that participant is not in this session",
                    ));
                }
                // The spotlit classroom's camera goes at its best layer to everyone.
                self.app
                    .edge
                    .set_spotlight(self.sid().0, participant.map(ParticipantId))
                    .await;
                None
            }
            ClientMessage::GrantFloor {
                participant,
                granted,
            } => {
                if !role.may_moderate() {
                    return forbidden("give or take the floor");
                }
                if let Err(why) = self.app.rooms.set_floor(self.sid(), participant, granted) {
                    return Some(ServerMessage::error(ErrorCode::InvalidMessage, why));
                }
                if !granted {
                    self.app
                        .edge
                        .stop_publishing(ParticipantId(participant))
                        .await;
                }
                info!(participant, granted, "floor");
                None
            }
            ClientMessage::ShowSlide { deck, page } => {
                if !role.may_moderate() {
                    return forbidden("turn the courseware's pages");
                }
                let Some(deck) = deck else {
                    self.app.rooms.set_slide(self.sid(), None);
                    return None;
                };
                let sid = self.sid();
                let Ok(decks) = crate::api::db(&self.app, move |s| s.decks(sid)).await else {
                    return Some(ServerMessage::error(
                        ErrorCode::Internal,
                        "the courseware could not be read; try again",
                    ));
                };
                match tongbu_schedule::courseware::find_page(&decks, deck, page) {
                    Ok(slide) => {
                        self.app.rooms.set_slide(sid, Some(slide));
                        None
                    }
                    Err(why) => Some(ServerMessage::error(ErrorCode::InvalidMessage, why)),
                }
            }
            ClientMessage::Start => {
                self.transition(SessionState::Live, "start the session")
                    .await
            }
            ClientMessage::End => {
                self.transition(SessionState::Ended, "end the session")
                    .await
            }
            ClientMessage::Record { on } => {
                if !role.may_moderate() {
                    return forbidden("record the session");
                }
                let result = if on {
                    crate::recording::start(&self.app, self.sid()).await
                } else {
                    crate::recording::stop(&self.app, self.sid())
                        .await
                        .map(|_| ())
                };
                match result {
                    Ok(()) => None,
                    Err(
                        e @ (crate::recording::RecordingError::AlreadyRecording(_)
                        | crate::recording::RecordingError::NotRecording(_)),
                    ) => Some(ServerMessage::error(
                        ErrorCode::InvalidMessage,
                        e.to_string(),
                    )),
                    Err(e) => Some(ServerMessage::error(ErrorCode::Internal, e.to_string())),
                }
            }
        }
    }

    /// The host removes a participant: its pass is barred from the session first (so that a
    /// rejoin racing the removal is refused), then it is told and leaves.
    async fn remove(&self, participant: u64) -> Option<ServerMessage> {
        let invalid = |why: String| Some(ServerMessage::error(ErrorCode::InvalidMessage, why));
        if participant == self.id {
            return invalid("you cannot remove yourself; leave the page instead".into());
        }
        let Some((info, pass)) = self.app.rooms.member(self.sid(), participant) else {
            return invalid(format!("participant {participant} is not in this session"));
        };
        if info.role == Role::Host {
            return invalid("a host cannot be removed from the session".into());
        }
        if let Some(pass) = pass {
            let (sid, name) = (self.sid(), info.name.clone());
            let now = crate::server::now_utc();
            let kept =
                crate::api::db(&self.app, move |s| s.add_removal(sid, &pass, &name, now)).await;
            if let Err(e) = kept {
                warn!(participant, "removal not recorded: {e:?}");
                return Some(ServerMessage::error(
                    ErrorCode::Internal,
                    "the removal could not be saved, so they are still here; try again",
                ));
            }
        }
        let info = match self.app.rooms.remove(self.sid(), participant) {
            Ok(info) => info,
            // It left meanwhile; its pass is barred all the same.
            Err(_) => info,
        };
        if info.muted {
            self.app
                .edge
                .set_muted(ParticipantId(participant), false)
                .await;
        }
        info!(participant, name = %info.name, "removed by the host");
        None
    }

    /// The host starts or ends the session (see [`crate::lifecycle`]).
    async fn transition(&self, state: SessionState, what: &str) -> Option<ServerMessage> {
        if !self.claims.role.may_moderate() {
            return Some(ServerMessage::error(
                ErrorCode::Forbidden,
                format!("a {} may not {what}", self.claims.role),
            ));
        }
        match lifecycle::change(&self.app, self.sid(), state, Cause::Host).await {
            Ok(t) if t.changed => None,
            Ok(t) => Some(ServerMessage::error(
                ErrorCode::InvalidMessage,
                format!("cannot {what}: the session is {}", t.session.state.as_str()),
            )),
            Err(e) => Some(ServerMessage::error(ErrorCode::Internal, e.to_string())),
        }
    }
}

/// What a role is to the media policy (who is the teacher; operators only watch).
fn media_role(role: Role) -> tongbu_rtc::MediaRole {
    match role {
        Role::Host => tongbu_rtc::MediaRole::Host,
        Role::Classroom => tongbu_rtc::MediaRole::Classroom,
        Role::Observer | Role::Operator => tongbu_rtc::MediaRole::Observer,
    }
}

fn track_info(t: PublishedTrackInfo, mid: Option<String>) -> TrackInfo {
    TrackInfo {
        id: t.track.0,
        participant: t.owner.0,
        kind: match t.kind {
            MediaKind::Audio => TrackKind::Audio,
            MediaKind::Video => TrackKind::Video,
        },
        source: match t.source {
            tongbu_rtc::TrackSource::Camera => TrackSource::Camera,
            tongbu_rtc::TrackSource::Screen => TrackSource::Screen,
        },
        mid,
    }
}

fn edge_message(e: EdgeEvent) -> Option<ServerMessage> {
    Some(match e {
        EdgeEvent::RecvOffer {
            sdp,
            tracks,
            new_transport,
        } => ServerMessage::Offer {
            transport: TransportKind::Recv,
            sdp,
            tracks: tracks
                .into_iter()
                .map(|(mid, t)| track_info(t, Some(mid)))
                .collect(),
            new_transport,
        },
        EdgeEvent::TrackPublished(t) => ServerMessage::TrackPublished {
            track: track_info(t, None),
        },
        EdgeEvent::TrackUnpublished(t) => ServerMessage::TrackUnpublished { track: t.track.0 },
        EdgeEvent::Connection { .. } | EdgeEvent::VideoPaused { .. } => return None,
        EdgeEvent::PublishLayers { track, active } => ServerMessage::PublishLayers {
            track: track.0,
            active,
        },
        EdgeEvent::LayerChanged { track, layer } => ServerMessage::LayerChanged {
            track: track.0,
            layer,
        },
    })
}
