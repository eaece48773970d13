//! The session lifecycle: scheduled → open → live → ended, or cancelled before it goes live
//! (DESIGN.md, "Session lifecycle").
//!
//! Every change of a session's state goes through here, whoever asks for it: the timetable (a
//! join window opens; end + grace passes), the first join, the host over signaling, an operator
//! or a teacher over REST. Each change is persisted first — compare-and-set in the store, so two
//! racing changes cannot move a session backwards — and only then announced: the room is told
//! the new state, and an ended session's quality report is finished. Which state may follow
//! which is the schedule's rule ([`SessionState::reached_from`]), not each caller's.

use std::sync::Arc;

use tongbu_schedule::{ScheduleError, Session, SessionId, SessionState, Store};
use tongbu_signal::ServerMessage;
use tracing::info;

use crate::server::AppState;

/// Who asked for a change, for the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// The session's join window opened, or its end plus grace passed.
    Timetable,
    /// The first participant joined inside the join window.
    FirstJoin,
    /// The host, over signaling.
    Host,
    /// An operator, over REST.
    Operator,
    /// A signed-in teacher of the host's school, over REST.
    Teacher,
}

/// Why a change could not be made.
#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    #[error(transparent)]
    Schedule(#[from] ScheduleError),
    #[error("the store's worker stopped ({0}); try again")]
    Worker(String),
}

/// What a requested change came to: whether it was made, and the session as it now is (when it
/// was not made, its state says why).
#[derive(Debug, Clone)]
pub struct Transition {
    pub changed: bool,
    pub session: Session,
}

/// Runs store calls off the async workers (they wait for fsync).
async fn blocking<T: Send + 'static>(
    app: &AppState,
    f: impl FnOnce(&dyn Store) -> Result<T, ScheduleError> + Send + 'static,
) -> Result<T, LifecycleError> {
    let store = app.store.clone();
    tokio::task::spawn_blocking(move || f(store.as_ref()))
        .await
        .map_err(|e| LifecycleError::Worker(e.to_string()))?
        .map_err(LifecycleError::from)
}

/// Moves the session to `to` if its state allows it; persisted, then announced.
pub async fn change(
    app: &Arc<AppState>,
    sid: SessionId,
    to: SessionState,
    cause: Cause,
) -> Result<Transition, LifecycleError> {
    let (changed, session) = blocking(app, move |store| {
        let changed = store.transition_session_state(sid, to.reached_from(), to)?;
        Ok((changed, store.session(sid)?))
    })
    .await?;
    if changed {
        announce(app, sid, to, cause).await;
        if to == SessionState::Live {
            crate::recording::as_scheduled(app, sid, session.spec.record).await;
        }
    }
    Ok(Transition { changed, session })
}

/// Tells the room of a persisted change, and finishes the report of an ended session.
async fn announce(app: &Arc<AppState>, sid: SessionId, state: SessionState, cause: Cause) {
    info!(
        session = sid.0,
        state = state.as_str(),
        ?cause,
        "session state changed"
    );
    if state == SessionState::Ended {
        crate::quality_report::finish(app, sid).await;
        // A recording ends with its session: its files are finished.
        if app.recordings.recording_since(sid).is_some() {
            if let Err(e) = crate::recording::stop(app, sid).await {
                tracing::warn!(session = sid.0, "recording not finished: {e}");
            }
        }
    }
    app.rooms
        .broadcast(sid, &ServerMessage::SessionState { state });
}

/// One look at the timetable: opens the sessions whose join window began and ends those whose
/// end plus `grace_secs` passed. Returns how many changed.
pub async fn follow_timetable(
    app: &Arc<AppState>,
    now_utc: i64,
    lead_secs: i64,
    grace_secs: i64,
) -> Result<usize, LifecycleError> {
    let (to_open, to_end) = blocking(app, move |store| {
        Ok((
            store.sessions_due_to_open(now_utc, lead_secs)?,
            store.sessions_due_to_end(now_utc, grace_secs)?,
        ))
    })
    .await?;
    let mut changed = 0;
    for (ids, to) in [(to_open, SessionState::Open), (to_end, SessionState::Ended)] {
        for sid in ids {
            changed += usize::from(change(app, sid, to, Cause::Timetable).await?.changed);
        }
    }
    Ok(changed)
}

/// Cancels sessions that have not gone live, all or none (one that went live meanwhile fails
/// the whole with "in use": it is kept for its report), then tells whoever waits in their rooms
/// that they will not take place and drops any report in the making.
pub async fn cancel(
    app: &Arc<AppState>,
    ids: Vec<SessionId>,
    cause: Cause,
) -> Result<Vec<SessionId>, LifecycleError> {
    let gone = ids.clone();
    blocking(app, move |store| {
        store.atomically(&mut |tx| {
            for &sid in &gone {
                tx.delete_session(sid)?;
            }
            Ok(true)
        })
    })
    .await?;
    for &sid in &ids {
        app.reports
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .discard(sid);
        info!(session = sid.0, ?cause, "session cancelled");
        app.rooms.broadcast(
            sid,
            &ServerMessage::SessionState {
                state: SessionState::Ended,
            },
        );
    }
    Ok(ids)
}
