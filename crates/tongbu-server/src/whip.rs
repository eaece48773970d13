//! WHIP ingest (RFC 9725): a studio encoder or OBS publishes a session's host stream over HTTP
//! instead of a browser tab.
//!
//! `POST /whip/{session}` with `Authorization: Bearer <host token>` (minted like a join link:
//! `tongbu token --whip …`) and an SDP offer (`application/sdp`) answers `201 Created` with the
//! SDP answer and a `Location` naming the stream; `DELETE` on that location ends it. Trickle ICE
//! is not offered (`PATCH` is 405): the server is ICE-lite, and its answer carries its one
//! candidate. The stream then is the host's camera and microphone for every subscriber: the
//! encoder is in the room as the host (without taking the host's seat, so the teacher's own page
//! stays), and in the media edge as a participant that only publishes.
//!
//! Each stream is owned by one task ([`Ingest`]); the map only holds how to stop it. The task
//! ends the stream when asked (`DELETE`), when the encoder's connection closes, or when the
//! server stops — and then the room and the edge forget it, so subscribers are told.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use tokio::sync::{mpsc, oneshot};
use tongbu_media::ParticipantId;
use tongbu_rtc::{EdgeEvent, MediaRole};
use tongbu_schedule::{JoinClaims, Pass, Role, SessionId};
use tongbu_signal::{ErrorCode, ParticipantInfo};
use tracing::{info, info_span, warn, Instrument};

use crate::outbox::Outbox;
use crate::room::RoomShape;
use crate::server::AppState;

/// The streams being ingested, by resource id: how to end each.
#[derive(Default)]
pub struct Ingests {
    streams: Mutex<HashMap<String, Stream>>,
}

struct Stream {
    session: SessionId,
    stop: oneshot::Sender<()>,
}

impl Ingests {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Stream>> {
        self.streams.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How many streams are being ingested.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A refusal, answered as plain text that says what to do.
#[derive(Debug, thiserror::Error)]
#[error("{status}: {message}")]
pub struct WhipError {
    status: StatusCode,
    message: String,
}

impl IntoResponse for WhipError {
    fn into_response(self) -> Response {
        let mut r = (self.status, self.message).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        r
    }
}

pub(crate) fn refuse(status: StatusCode, message: impl Into<String>) -> WhipError {
    WhipError {
        status,
        message: message.into(),
    }
}

/// The bearer token (any case of the scheme) and its claims, checked for session `sid`;
/// `missing` says what to send when there is none, `endpoint` names the protocol's URL.
pub(crate) fn bearer_claims(
    app: &AppState,
    headers: &HeaderMap,
    sid: SessionId,
    missing: &str,
    endpoint: &str,
) -> Result<(JoinClaims, String), WhipError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, rest) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then_some(rest)
        })
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| refuse(StatusCode::UNAUTHORIZED, missing))?;
    let claims = app
        .tokens
        .verify(token)
        .map_err(|e| refuse(StatusCode::UNAUTHORIZED, e.to_string()))?;
    if claims.sid != sid {
        return Err(refuse(
            StatusCode::FORBIDDEN,
            format!(
                "this token is for session {}, not {}; use that session's {endpoint} URL",
                claims.sid.0, sid.0
            ),
        ));
    }
    Ok((claims, token.to_string()))
}

/// The bearer token's claims, checked for this session and for publishing.
fn authorize(
    app: &AppState,
    headers: &HeaderMap,
    sid: SessionId,
) -> Result<(JoinClaims, String), WhipError> {
    let (claims, token) = bearer_claims(
        app,
        headers,
        sid,
        "send the stream's token as `Authorization: Bearer <token>` (tongbu token --whip prints it)",
        "WHIP",
    )?;
    if claims.role != Role::Host {
        return Err(refuse(
            StatusCode::FORBIDDEN,
            format!(
                "a {} token cannot publish over WHIP; mint a host's with tongbu token --whip",
                claims.role
            ),
        ));
    }
    Ok((claims, token))
}

/// The request's SDP offer: `application/sdp`, UTF-8 (WHIP and WHEP alike).
pub(crate) fn sdp_offer(headers: &HeaderMap, body: &Bytes) -> Result<String, WhipError> {
    let sdp_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/sdp"));
    if !sdp_type {
        return Err(refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the SDP offer as Content-Type: application/sdp",
        ));
    }
    String::from_utf8(body.to_vec())
        .map_err(|_| refuse(StatusCode::BAD_REQUEST, "the SDP offer is not UTF-8 text"))
}

/// The join window and removals, as for a page's join, answered in HTTP terms.
pub(crate) async fn admit(
    app: &Arc<AppState>,
    claims: &JoinClaims,
    token: &str,
) -> Result<tongbu_schedule::Session, WhipError> {
    let pass = Pass::of(claims, token);
    crate::ws::admit(app, claims, pass.as_ref())
        .await
        .map_err(|(code, message)| {
            let status = match code {
                ErrorCode::InvalidToken => StatusCode::UNAUTHORIZED,
                ErrorCode::Removed => StatusCode::FORBIDDEN,
                ErrorCode::SessionClosed | ErrorCode::NotYetOpen => StatusCode::CONFLICT,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            };
            refuse(status, message)
        })
}

/// A new stream resource's id: 128 random bits in hex.
pub(crate) fn resource_id() -> String {
    let bytes: [u8; 16] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A `201 Created` with the SDP answer and the stream's `Location`.
fn created(answer: String, location: &str) -> Response {
    let mut r = (StatusCode::CREATED, answer).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/sdp"),
    );
    if let Ok(v) = HeaderValue::from_str(location) {
        h.insert(header::LOCATION, v);
    }
    r
}

/// `POST /whip/{session}`: an encoder's offer; answers and starts ingesting.
pub async fn publish(
    State(app): State<Arc<AppState>>,
    Path(session): Path<i64>,
    headers: HeaderMap,
    offer: Bytes,
) -> Result<Response, WhipError> {
    let sid = SessionId(session);
    let (claims, token) = authorize(&app, &headers, sid)?;
    let offer = sdp_offer(&headers, &offer)?;
    let session = admit(&app, &claims, &token).await?;
    let id = app
        .next_participant
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let span = info_span!("whip", id, session = sid.0);
    let resource = resource_id();
    // In the room as the host, without the host's seat (classroom: none), so the teacher's own
    // page stays; its pages show the encoder as the speaker.
    let info = ParticipantInfo {
        id,
        name: claims.name.clone(),
        role: Role::Host,
        school: None,
        classroom: None,
        hand_raised: false,
        floor: false,
        muted: false,
    };
    let outbox = Arc::new(Outbox::new(true));
    let shape = RoomShape {
        lecture: session.spec.kind == tongbu_schedule::SessionKind::Lecture,
        seats: session.spec.audience,
    };
    if let Err(full) = app.rooms.join(sid, info, None, outbox.clone(), shape) {
        return Err(refuse(StatusCode::SERVICE_UNAVAILABLE, full.to_string()));
    }
    let (etx, erx) = mpsc::channel::<EdgeEvent>(tongbu_rtc::EVENT_QUEUE);
    let pid = ParticipantId(id);
    let joined = app
        .edge
        .join_publishing_only(pid, sid.0, MediaRole::Host, etx)
        .await;
    let answer = match joined {
        Ok(_) => app.edge.offer(pid, offer, None).await,
        Err(e) => Err(e),
    };
    let answer = match answer {
        Ok(a) => a,
        Err(e) => {
            app.rooms.leave(sid, id);
            app.edge.leave(pid).await;
            warn!(parent: &span, "WHIP offer refused: {e}");
            return Err(refuse(
                StatusCode::BAD_REQUEST,
                format!(
                    "the offer could not be used: {e}; offer H.264 or VP8 video and opus audio"
                ),
            ));
        }
    };
    info!(parent: &span, name = %claims.name, "WHIP stream started");
    let ingest = HttpStream {
        app: app.clone(),
        session: sid,
        id,
        resource,
        plays: false,
    };
    Ok(ingest.start(erx, outbox, span, answer))
}

/// `DELETE /whip/{session}/{resource}`: the encoder stops; subscribers are told.
pub async fn stop(
    State(app): State<Arc<AppState>>,
    Path((session, resource)): Path<(i64, String)>,
    headers: HeaderMap,
) -> Result<StatusCode, WhipError> {
    let sid = SessionId(session);
    authorize(&app, &headers, sid)?;
    end(&app.whip, sid, &resource)
}

/// Ends stream `resource` of session `sid` in `streams` (its task tells the room and the edge).
pub(crate) fn end(
    streams: &Ingests,
    sid: SessionId,
    resource: &str,
) -> Result<StatusCode, WhipError> {
    let stream = {
        let mut streams = streams.lock();
        match streams.get(resource) {
            Some(s) if s.session == sid => streams.remove(resource),
            _ => None,
        }
    };
    match stream {
        Some(s) => {
            let _ = s.stop.send(());
            Ok(StatusCode::OK)
        }
        None => Err(refuse(
            StatusCode::NOT_FOUND,
            "no such stream in this session (it has ended already?)",
        )),
    }
}

/// `PATCH`: trickle ICE and ICE restarts are not offered (ICE-lite; the answer has the
/// server's candidate).
pub async fn no_trickle() -> Response {
    let mut r = refuse(
        StatusCode::METHOD_NOT_ALLOWED,
        "trickle ICE is not offered: the answer carries the server's candidate",
    )
    .into_response();
    r.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("DELETE"));
    r
}

/// `OPTIONS /whip/{session}`: what the endpoint takes.
pub async fn options() -> Response {
    let mut r = StatusCode::NO_CONTENT.into_response();
    let h = r.headers_mut();
    h.insert(header::ALLOW, HeaderValue::from_static("POST, OPTIONS"));
    h.insert("accept-post", HeaderValue::from_static("application/sdp"));
    r
}

/// One stream over HTTP signaling — ingested (WHIP) or played (WHEP) — owned by its task.
pub(crate) struct HttpStream {
    pub app: Arc<AppState>,
    pub session: SessionId,
    pub id: u64,
    pub resource: String,
    /// A player's (WHEP): it receives; else an encoder's (WHIP): it publishes.
    pub plays: bool,
}

impl HttpStream {
    fn streams(&self) -> &Ingests {
        if self.plays {
            &self.app.whep
        } else {
            &self.app.whip
        }
    }

    /// Registers the stream under its resource, runs its task, and answers `201` with the
    /// SDP answer and the stream's `Location`.
    pub(crate) fn start(
        self,
        events: mpsc::Receiver<EdgeEvent>,
        outbox: Arc<Outbox>,
        span: tracing::Span,
        answer: String,
    ) -> Response {
        let (stop, stopped) = oneshot::channel();
        let stream = Stream {
            session: self.session,
            stop,
        };
        self.streams().lock().insert(self.resource.clone(), stream);
        let path = if self.plays { "whep" } else { "whip" };
        let location = format!("/{path}/{}/{}", self.session.0, self.resource);
        tokio::spawn(self.run(events, outbox, stopped).instrument(span));
        created(answer, &location)
    }

    async fn run(
        self,
        mut events: mpsc::Receiver<EdgeEvent>,
        outbox: Arc<Outbox>,
        mut stopped: oneshot::Receiver<()>,
    ) {
        let mut stopping = self.app.stopping.subscribe();
        let why = loop {
            tokio::select! {
                _ = &mut stopped => break "deleted by its client",
                _ = crate::ws::stopped(&mut stopping) => break "the server is stopping",
                e = events.recv() => match e {
                    Some(EdgeEvent::Connection { send, state: "closed" }) if send != self.plays => {
                        break "its connection closed";
                    }
                    None => break "its connection closed",
                    Some(_) => {}
                },
                // What the room says to its members means nothing to an encoder or a player.
                m = outbox.next() => if m.is_none() { break "the room closed" },
            }
        };
        self.streams().lock().remove(&self.resource);
        self.app.rooms.leave(self.session, self.id);
        self.app.edge.leave(ParticipantId(self.id)).await;
        info!(why, plays = self.plays, "stream over HTTP ended");
    }
}
