//! WHEP playback (the WebRTC-HTTP egress protocol, WHIP's twin): a player that only watches —
//! a hall's screen, a set-top box, a contest's relay — receives a session's speaker over HTTP
//! signaling instead of a page.
//!
//! `POST /whep/{session}` with `Authorization: Bearer <listener token>` (the token of an
//! observer's or a lecture audience's join link) and an SDP offer of receive-only audio and
//! video answers `201 Created` with the SDP answer and a `Location`; `DELETE` there ends it.
//! The player is in the room as an observer (a lecture counts it in its audience and its seats),
//! and in the media edge on the lines of its own offer: the speaker's camera and microphone are
//! bound to them as they come and go, never renegotiated. Trickle ICE is not offered, as for
//! WHIP. Each player is owned by one task, as each WHIP stream is ([`HttpStream`]).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use tokio::sync::mpsc;
use tongbu_media::ParticipantId;
use tongbu_rtc::EdgeEvent;
use tongbu_schedule::{JoinClaims, Role, SessionId};
use tongbu_signal::ParticipantInfo;
use tracing::{info, info_span, warn};

use crate::outbox::Outbox;
use crate::room::RoomShape;
use crate::server::AppState;
use crate::whip::WhipError;
use crate::whip::{admit, bearer_claims, end, refuse, resource_id, sdp_offer, HttpStream};

/// The bearer token's claims: a listener's of this session.
fn authorize(
    app: &AppState,
    headers: &HeaderMap,
    sid: SessionId,
) -> Result<(JoinClaims, String), WhipError> {
    let (claims, token) = bearer_claims(
        app,
        headers,
        sid,
        "send a listener's join token as `Authorization: Bearer <token>` (the token of the session's observer or audience link)",
        "WHEP",
    )?;
    if claims.role != Role::Observer {
        return Err(refuse(
            StatusCode::FORBIDDEN,
            format!(
                "a {} token takes part in the session; a player watches with an observer's or the audience's link token",
                claims.role
            ),
        ));
    }
    Ok((claims, token))
}

/// `POST /whep/{session}`: a player's offer; answers and starts sending it the speaker.
pub async fn play(
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
    let span = info_span!("whep", id, session = sid.0);
    let info = ParticipantInfo {
        id,
        name: claims.name.clone(),
        role: Role::Observer,
        school: None,
        classroom: None,
        hand_raised: false,
        floor: false,
        muted: false,
    };
    let outbox = Arc::new(Outbox::new(false));
    let shape = RoomShape {
        lecture: session.spec.kind == tongbu_schedule::SessionKind::Lecture,
        seats: session.spec.audience,
    };
    if let Err(full) = app.rooms.join(sid, info, None, outbox.clone(), shape) {
        return Err(refuse(StatusCode::SERVICE_UNAVAILABLE, full.to_string()));
    }
    let (etx, erx) = mpsc::channel::<EdgeEvent>(tongbu_rtc::EVENT_QUEUE);
    let pid = ParticipantId(id);
    let answer = match app.edge.join_watching(pid, sid.0, etx).await {
        Ok(_) => app.edge.watch(pid, offer).await,
        Err(e) => Err(e),
    };
    let answer = match answer {
        Ok(a) => a,
        Err(e) => {
            app.rooms.leave(sid, id);
            app.edge.leave(pid).await;
            warn!(parent: &span, "WHEP offer refused: {e}");
            return Err(refuse(
                StatusCode::BAD_REQUEST,
                format!("the offer could not be used: {e}; offer receive-only opus audio and VP8 or H.264 video"),
            ));
        }
    };
    info!(parent: &span, name = %claims.name, "WHEP player started");
    let player = HttpStream {
        app: app.clone(),
        session: sid,
        id,
        resource: resource_id(),
        plays: true,
    };
    Ok(player.start(erx, outbox, span, answer))
}

/// `DELETE /whep/{session}/{resource}`: the player stops.
pub async fn stop(
    State(app): State<Arc<AppState>>,
    Path((session, resource)): Path<(i64, String)>,
    headers: HeaderMap,
) -> Result<StatusCode, WhipError> {
    let sid = SessionId(session);
    authorize(&app, &headers, sid)?;
    end(&app.whep, sid, &resource)
}
