//! Rooms: who is in which session, and relaying messages among them.
//!
//! Held under a mutex that is taken per signaling message (join, chat, hand), never per packet.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use tokio::sync::mpsc::UnboundedSender;
use tongbu_schedule::SessionId;
use tongbu_signal::{ParticipantInfo, ServerMessage};

struct Member {
    info: ParticipantInfo,
    tx: UnboundedSender<ServerMessage>,
}

#[derive(Default)]
struct Room {
    members: BTreeMap<u64, Member>,
    spotlight: Option<u64>,
}

/// All rooms of the server.
#[derive(Default)]
pub struct Rooms {
    inner: Mutex<HashMap<SessionId, Room>>,
}

impl Rooms {
    fn with<R>(&self, f: impl FnOnce(&mut HashMap<SessionId, Room>) -> R) -> R {
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut g)
    }

    /// Adds a participant; tells the others. Returns the roster (including the newcomer) and the
    /// current spotlight.
    pub fn join(
        &self,
        session: SessionId,
        info: ParticipantInfo,
        tx: UnboundedSender<ServerMessage>,
    ) -> (Vec<ParticipantInfo>, Option<u64>) {
        self.with(|rooms| {
            let room = rooms.entry(session).or_default();
            let msg = ServerMessage::ParticipantJoined {
                participant: info.clone(),
            };
            for m in room.members.values() {
                let _ = m.tx.send(msg.clone());
            }
            room.members.insert(info.id, Member { info, tx });
            (
                room.members.values().map(|m| m.info.clone()).collect(),
                room.spotlight,
            )
        })
    }

    /// Removes a participant; tells the others.
    pub fn leave(&self, session: SessionId, id: u64) {
        self.with(|rooms| {
            let Some(room) = rooms.get_mut(&session) else {
                return;
            };
            room.members.remove(&id);
            if room.spotlight == Some(id) {
                room.spotlight = None;
            }
            let msg = ServerMessage::ParticipantLeft { participant: id };
            for m in room.members.values() {
                let _ = m.tx.send(msg.clone());
            }
            if room.members.is_empty() {
                rooms.remove(&session);
            }
        })
    }

    /// Sends a message to everyone in the session.
    pub fn broadcast(&self, session: SessionId, msg: &ServerMessage) {
        self.with(|rooms| {
            if let Some(room) = rooms.get(&session) {
                for m in room.members.values() {
                    let _ = m.tx.send(msg.clone());
                }
            }
        })
    }

    /// Records a raised (or lowered) hand and tells everyone.
    pub fn set_hand(&self, session: SessionId, id: u64, raised: bool) {
        self.with(|rooms| {
            if let Some(room) = rooms.get_mut(&session) {
                if let Some(m) = room.members.get_mut(&id) {
                    m.info.hand_raised = raised;
                }
                let msg = ServerMessage::HandRaised {
                    participant: id,
                    raised,
                };
                for m in room.members.values() {
                    let _ = m.tx.send(msg.clone());
                }
            }
        })
    }

    /// Sets the spotlight and tells everyone. Returns false if the participant is not there.
    pub fn set_spotlight(&self, session: SessionId, id: Option<u64>) -> bool {
        self.with(|rooms| {
            let Some(room) = rooms.get_mut(&session) else {
                return false;
            };
            if let Some(p) = id {
                if !room.members.contains_key(&p) {
                    return false;
                }
            }
            room.spotlight = id;
            let msg = ServerMessage::Spotlight { participant: id };
            for m in room.members.values() {
                let _ = m.tx.send(msg.clone());
            }
            true
        })
    }

    /// Whether a participant is in the session.
    pub fn contains(&self, session: SessionId, id: u64) -> bool {
        self.with(|rooms| {
            rooms
                .get(&session)
                .is_some_and(|r| r.members.contains_key(&id))
        })
    }

    /// Number of participants in a session.
    pub fn count(&self, session: SessionId) -> usize {
        self.with(|rooms| rooms.get(&session).map_or(0, |r| r.members.len()))
    }
}
