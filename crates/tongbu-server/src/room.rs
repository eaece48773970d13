//! Rooms: who is in which session, and relaying messages among them.
//!
//! Held under a mutex that is taken per signaling message (join, chat, hand), never per packet.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::mpsc::Sender;
use tongbu_schedule::{DeckId, Role, SessionId};
use tongbu_signal::{ParticipantInfo, ServerMessage};
use tracing::warn;

/// Messages queued for one participant before it counts as not keeping up.
pub const OUTBOX: usize = 256;

struct Member {
    info: ParticipantInfo,
    tx: Sender<ServerMessage>,
}

/// Queues `msg` for every member. A member whose queue is full (its connection does not keep up)
/// is dropped from the room: its connection sees its queue close and ends, and the client
/// reconnects, rather than the server holding an ever-growing backlog for it.
fn send_all(members: &mut BTreeMap<u64, Member>, msg: &ServerMessage) {
    members.retain(|id, m| match m.tx.try_send(msg.clone()) {
        Ok(()) => true,
        Err(TrySendError::Full(_)) => {
            warn!(
                participant = id,
                "signaling queue full; disconnecting a slow receiver"
            );
            false
        }
        Err(TrySendError::Closed(_)) => false,
    });
}

/// The seat a participant's link stands for: a host's or classroom's link (its role, classroom
/// and name, as signed in the token) is one seat; observers (a lecture's shared link) are not
/// counted by seat.
fn seat(info: &ParticipantInfo) -> Option<(Role, i64, &str)> {
    match info.role {
        Role::Host | Role::Classroom => info.classroom.map(|c| (info.role, c, info.name.as_str())),
        Role::Observer | Role::Operator => None,
    }
}

#[derive(Default)]
struct Room {
    members: BTreeMap<u64, Member>,
    spotlight: Option<u64>,
    /// The courseware page the host shows.
    slide: Option<(DeckId, u32)>,
}

/// What a newcomer learns of the room it joined.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Everyone in, the newcomer included.
    pub roster: Vec<ParticipantInfo>,
    pub spotlight: Option<u64>,
    pub slide: Option<(DeckId, u32)>,
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

    /// Who is in each room now (for health and metrics; taken once a second, not per packet).
    pub fn rosters(&self) -> Vec<(SessionId, Vec<ParticipantInfo>)> {
        self.with(|rooms| {
            rooms
                .iter()
                .filter(|(_, r)| !r.members.is_empty())
                .map(|(s, r)| (*s, r.members.values().map(|m| m.info.clone()).collect()))
                .collect()
        })
    }

    /// The hosts in a session now.
    pub fn hosts(&self, session: SessionId) -> Vec<u64> {
        self.with(|rooms| {
            rooms.get(&session).map_or_else(Vec::new, |r| {
                r.members
                    .values()
                    .filter(|m| m.info.role == tongbu_schedule::Role::Host)
                    .map(|m| m.info.id)
                    .collect()
            })
        })
    }

    /// Adds a participant; tells the others. A host or classroom link is one seat: whoever
    /// still sits on it with an older connection (another tab, another computer, a copy of the
    /// link) is told `replaced` and leaves, so one link never counts, publishes or is rate-limited
    /// as several participants.
    pub fn join(
        &self,
        session: SessionId,
        info: ParticipantInfo,
        tx: Sender<ServerMessage>,
    ) -> Entry {
        self.with(|rooms| {
            let room = rooms.entry(session).or_default();
            let seat = seat(&info);
            let older: Vec<u64> = room
                .members
                .iter()
                .filter(|(_, m)| seat.is_some() && seat == self::seat(&m.info))
                .map(|(&id, _)| id)
                .collect();
            for id in older {
                if let Some(m) = room.members.remove(&id) {
                    let _ = m.tx.try_send(ServerMessage::Replaced);
                }
                if room.spotlight == Some(id) {
                    room.spotlight = Some(info.id);
                }
                send_all(
                    &mut room.members,
                    &ServerMessage::ParticipantLeft { participant: id },
                );
            }
            let msg = ServerMessage::ParticipantJoined {
                participant: info.clone(),
            };
            send_all(&mut room.members, &msg);
            room.members.insert(info.id, Member { info, tx });
            Entry {
                roster: room.members.values().map(|m| m.info.clone()).collect(),
                spotlight: room.spotlight,
                slide: room.slide,
            }
        })
    }

    /// Removes a participant; tells the others.
    pub fn leave(&self, session: SessionId, id: u64) {
        self.with(|rooms| {
            let Some(room) = rooms.get_mut(&session) else {
                return;
            };
            // One replaced by a newer connection has left already.
            if room.members.remove(&id).is_none() {
                return;
            }
            if room.spotlight == Some(id) {
                room.spotlight = None;
            }
            send_all(
                &mut room.members,
                &ServerMessage::ParticipantLeft { participant: id },
            );
            if room.members.is_empty() {
                rooms.remove(&session);
            }
        })
    }

    /// Sends a message to everyone in the session.
    pub fn broadcast(&self, session: SessionId, msg: &ServerMessage) {
        self.with(|rooms| {
            if let Some(room) = rooms.get_mut(&session) {
                send_all(&mut room.members, msg);
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
                send_all(&mut room.members, &msg);
            }
        })
    }

    /// Gives an observer the floor (it may publish) or takes it back, and tells everyone. Hosts
    /// and classrooms always may publish, so only an observer's floor can change.
    pub fn set_floor(&self, session: SessionId, id: u64, granted: bool) -> Result<(), String> {
        self.with(|rooms| {
            let room = rooms
                .get_mut(&session)
                .ok_or_else(|| "this session has no room".to_string())?;
            let m = room
                .members
                .get_mut(&id)
                .ok_or_else(|| format!("participant {id} is not in this session"))?;
            if m.info.role != Role::Observer {
                return Err(format!(
                    "only an observer's floor can be given or taken; a {} may always speak",
                    m.info.role
                ));
            }
            m.info.floor = granted;
            if granted {
                m.info.hand_raised = false;
            }
            send_all(
                &mut room.members,
                &ServerMessage::Floor {
                    participant: id,
                    granted,
                },
            );
            Ok(())
        })
    }

    /// Whether an observer has the floor now.
    pub fn has_floor(&self, session: SessionId, id: u64) -> bool {
        self.with(|rooms| {
            rooms
                .get(&session)
                .and_then(|r| r.members.get(&id))
                .is_some_and(|m| m.info.floor)
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
            send_all(
                &mut room.members,
                &ServerMessage::Spotlight { participant: id },
            );
            true
        })
    }

    /// Shows a courseware page (checked by the caller to be one of the session's) and tells
    /// everyone.
    pub fn set_slide(&self, session: SessionId, slide: Option<(DeckId, u32)>) {
        self.with(|rooms| {
            if let Some(room) = rooms.get_mut(&session) {
                room.slide = slide;
                let msg = ServerMessage::Slide {
                    deck: slide.map(|s| s.0),
                    page: slide.map_or(0, |s| s.1),
                };
                send_all(&mut room.members, &msg);
            }
        })
    }

    /// Sends a message to some participants of the session (those still there).
    pub fn send_to(&self, session: SessionId, ids: &[u64], msg: &ServerMessage) {
        self.with(|rooms| {
            let Some(room) = rooms.get_mut(&session) else {
                return;
            };
            for id in ids {
                if let Some(m) = room.members.get(id) {
                    // A full queue means a slow receiver; `send_all` deals with it on the next
                    // broadcast. A notice is repeated on the next change anyway.
                    let _ = m.tx.try_send(msg.clone());
                }
            }
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

    /// Participants in every session together.
    pub fn total(&self) -> usize {
        self.with(|rooms| rooms.values().map(|r| r.members.len()).sum())
    }

    /// Number of participants in a session.
    pub fn count(&self, session: SessionId) -> usize {
        self.with(|rooms| rooms.get(&session).map_or(0, |r| r.members.len()))
    }
}
