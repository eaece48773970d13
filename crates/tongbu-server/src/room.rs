//! Rooms: who is in which session, and relaying messages among them.
//!
//! One lock per room, taken per signaling message (join, chat, hand), never per packet; the
//! map of rooms is locked only to find or create one. A message is serialized once and pushed
//! to each member's [`Outbox`] under the room's lock (a push never waits on a socket, and the
//! lock gives every member the room's events in one order); each connection's own task sends.
//!
//! A lecture's audience (its observers) is counted, not listed: a listener's join or leave is
//! news to nobody, so a crowd arriving or leaving costs the room nothing per member. The roster
//! holds the people who matter — hosts, classrooms, and a listener while its hand is up or it
//! has the floor — and everyone is told the audience's size at most once a second.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use tongbu_schedule::{DeckId, Pass, Role, SessionId};
use tongbu_signal::{ParticipantInfo, ServerMessage};
use tracing::warn;

use crate::outbox::{Outbox, Outgoing, Push};

struct Member {
    info: ParticipantInfo,
    outbox: Arc<Outbox>,
    /// What its link stands for (`None`: a shared link).
    pass: Option<Pass>,
}

/// Queues `msg` for one member; says so if its connection just fell behind (see
/// [`Outbox::push`]): that connection ends, and its leaving tells the others.
fn deliver(id: u64, member: &Member, msg: &Outgoing, now: Instant) {
    if member.outbox.push(msg.clone(), now) == Push::FellBehind {
        warn!(
            participant = id,
            "signaling connection fell behind; disconnecting it"
        );
    }
}

/// Queues `msg` (serialized once) for every member.
fn send_all(members: &BTreeMap<u64, Member>, msg: &ServerMessage) {
    let out = Outgoing::new(msg);
    let now = Instant::now();
    for (&id, m) in members {
        deliver(id, m, &out, now);
    }
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
    /// A lecture: its observers are an audience, counted rather than listed.
    lecture: bool,
    /// The audience's size as last told to the room.
    audience_told: usize,
    spotlight: Option<u64>,
    /// The courseware page the host shows.
    slide: Option<(DeckId, u32)>,
    /// Taken out of the map (it emptied): a join that found it just before must look again.
    gone: bool,
    /// Passes whose microphone the host muted: one rejoining with the same link stays muted.
    muted: HashSet<Pass>,
}

/// Whether a member is in the roster the room sees (see the module's text).
fn listed(lecture: bool, info: &ParticipantInfo) -> bool {
    !(lecture && info.role == Role::Observer) || info.hand_raised || info.floor
}

impl Room {
    /// Takes a member out and tells the others, if they listed it.
    fn take(&mut self, id: u64) -> Option<Member> {
        let gone = self.members.remove(&id)?;
        if self.spotlight == Some(id) {
            self.spotlight = None;
        }
        if listed(self.lecture, &gone.info) {
            send_all(
                &self.members,
                &ServerMessage::ParticipantLeft { participant: id },
            );
        }
        Some(gone)
    }

    /// Members outside the roster (a lecture's listeners).
    fn audience(&self) -> usize {
        self.members
            .values()
            .filter(|m| !listed(self.lecture, &m.info))
            .count()
    }

    /// Tells the room that `id` entered or left the roster, if a change of its state moved it.
    fn relist(&self, id: u64, was: bool) {
        let Some(m) = self.members.get(&id) else {
            return;
        };
        match (was, listed(self.lecture, &m.info)) {
            (false, true) => send_all(
                &self.members,
                &ServerMessage::ParticipantJoined {
                    participant: m.info.clone(),
                },
            ),
            (true, false) => send_all(
                &self.members,
                &ServerMessage::ParticipantLeft { participant: id },
            ),
            _ => {}
        }
    }
}

/// What a session's room is: a lecture counts its audience, within its seats if it has some.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoomShape {
    pub lecture: bool,
    pub seats: Option<u32>,
}

/// A lecture's audience fills its seats: the newcomer is turned away.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the lecture is full: all {seats} seats of its audience are taken; try again later, when someone has left, or ask its organiser for more seats")]
pub struct Full {
    pub seats: u32,
}

/// What a newcomer learns of the room it joined.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Everyone in the roster, the newcomer included.
    pub roster: Vec<ParticipantInfo>,
    /// A lecture's listeners outside the roster (the newcomer too, if it is one).
    pub audience: usize,
    pub spotlight: Option<u64>,
    pub slide: Option<(DeckId, u32)>,
    /// The newcomer's link was muted by the host before (it rejoined): it still is.
    pub muted: bool,
}

type Shared = Arc<Mutex<Room>>;

fn lock(room: &Shared) -> MutexGuard<'_, Room> {
    room.lock().unwrap_or_else(|e| e.into_inner())
}

/// All rooms of the server. Locks are taken map first, then a room; never two rooms.
#[derive(Default)]
pub struct Rooms {
    map: Mutex<HashMap<SessionId, Shared>>,
}

impl Rooms {
    fn map(&self) -> MutexGuard<'_, HashMap<SessionId, Shared>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn all(&self) -> Vec<Shared> {
        self.map().values().cloned().collect()
    }

    /// Runs `f` on a session's room, if it has one.
    fn with<R>(&self, session: SessionId, f: impl FnOnce(&mut Room) -> R) -> Option<R> {
        let room = self.map().get(&session).cloned()?;
        let mut g = lock(&room);
        Some(f(&mut g))
    }

    /// Who is in each room now (for health and metrics; taken once a second, not per packet).
    pub fn rosters(&self) -> Vec<(SessionId, Vec<ParticipantInfo>)> {
        let rooms: Vec<(SessionId, Shared)> =
            self.map().iter().map(|(s, r)| (*s, r.clone())).collect();
        rooms
            .into_iter()
            .filter_map(|(s, r)| {
                let g = lock(&r);
                (!g.members.is_empty())
                    .then(|| (s, g.members.values().map(|m| m.info.clone()).collect()))
            })
            .collect()
    }

    /// The hosts in a session now.
    pub fn hosts(&self, session: SessionId) -> Vec<u64> {
        self.with(session, |r| {
            r.members
                .values()
                .filter(|m| m.info.role == Role::Host)
                .map(|m| m.info.id)
                .collect()
        })
        .unwrap_or_default()
    }

    /// Adds a participant, whose connection takes its messages from `outbox`; tells the others.
    /// A host or classroom link is one seat: whoever still sits on it with an older connection
    /// (another tab, another computer, a copy of the link) is told `replaced` and leaves, so one
    /// link never counts, publishes or is rate-limited as several participants. `shape` says
    /// what the room is (the schedule may have changed its seats since it was made); a
    /// lecture's listener beyond its seats is refused with [`Full`] and nothing changes.
    pub fn join(
        &self,
        session: SessionId,
        mut info: ParticipantInfo,
        pass: Option<Pass>,
        outbox: Arc<Outbox>,
        shape: RoomShape,
    ) -> Result<Entry, Full> {
        loop {
            let room = self
                .map()
                .entry(session)
                .or_insert_with(|| {
                    Arc::new(Mutex::new(Room {
                        lecture: shape.lecture,
                        ..Room::default()
                    }))
                })
                .clone();
            let mut room = lock(&room);
            if room.gone {
                continue;
            }
            if let Some(seats) = shape.seats {
                if !listed(room.lecture, &info) && room.audience() >= seats as usize {
                    return Err(Full { seats });
                }
            }
            let seat = seat(&info);
            let older: Vec<u64> = room
                .members
                .iter()
                .filter(|(_, m)| seat.is_some() && seat == self::seat(&m.info))
                .map(|(&id, _)| id)
                .collect();
            for id in older {
                if let Some(m) = room.members.remove(&id) {
                    let _ = m
                        .outbox
                        .push(Outgoing::new(&ServerMessage::Replaced), Instant::now());
                }
                if room.spotlight == Some(id) {
                    room.spotlight = Some(info.id);
                }
                send_all(
                    &room.members,
                    &ServerMessage::ParticipantLeft { participant: id },
                );
            }
            info.muted = pass.as_ref().is_some_and(|p| room.muted.contains(p));
            if listed(room.lecture, &info) {
                let msg = ServerMessage::ParticipantJoined {
                    participant: info.clone(),
                };
                send_all(&room.members, &msg);
            }
            let (me, muted) = (info.id, info.muted);
            room.members.insert(info.id, Member { info, outbox, pass });
            return Ok(Entry {
                roster: room
                    .members
                    .values()
                    .filter(|m| m.info.id == me || listed(room.lecture, &m.info))
                    .map(|m| m.info.clone())
                    .collect(),
                audience: room.audience(),
                spotlight: room.spotlight,
                slide: room.slide,
                muted,
            });
        }
    }

    /// Removes a participant; tells the others. Returns whether it left muted (the caller
    /// lifts that at the media edge).
    pub fn leave(&self, session: SessionId, id: u64) -> bool {
        let left = self.with(session, |room| {
            // One replaced by a newer connection (or removed by the host) has left already.
            let muted = room.take(id)?.info.muted;
            Some((muted, room.members.is_empty()))
        });
        let Some(Some((muted, emptied))) = left else {
            return false;
        };
        if emptied {
            let mut map = self.map();
            if let Some(room) = map.get(&session).cloned() {
                let mut g = lock(&room);
                if g.members.is_empty() {
                    g.gone = true;
                    map.remove(&session);
                }
            }
        }
        muted
    }

    /// Sends a message to everyone in the session.
    pub fn broadcast(&self, session: SessionId, msg: &ServerMessage) {
        self.with(session, |room| send_all(&room.members, msg));
    }

    /// Records a raised (or lowered) hand and tells everyone; a lecture's listener enters the
    /// roster with its hand up and leaves it when it goes down.
    pub fn set_hand(&self, session: SessionId, id: u64, raised: bool) {
        self.with(session, |room| {
            let lecture = room.lecture;
            let Some(m) = room.members.get_mut(&id) else {
                return;
            };
            let was = listed(lecture, &m.info);
            m.info.hand_raised = raised;
            if raised {
                room.relist(id, was);
            }
            if was || raised {
                let msg = ServerMessage::HandRaised {
                    participant: id,
                    raised,
                };
                send_all(&room.members, &msg);
            }
            if !raised {
                room.relist(id, was);
            }
        });
    }

    /// Gives an observer the floor (it may publish) or takes it back, and tells everyone. Hosts
    /// and classrooms always may publish, so only an observer's floor can change.
    pub fn set_floor(&self, session: SessionId, id: u64, granted: bool) -> Result<(), String> {
        self.with(session, |room| {
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
            let was = listed(room.lecture, &m.info);
            m.info.floor = granted;
            if granted {
                m.info.hand_raised = false;
                room.relist(id, was);
            }
            send_all(
                &room.members,
                &ServerMessage::Floor {
                    participant: id,
                    granted,
                },
            );
            if !granted {
                room.relist(id, was);
            }
            Ok(())
        })
        .unwrap_or_else(|| Err("this session has no room".to_string()))
    }

    /// Whether an observer has the floor now.
    pub fn has_floor(&self, session: SessionId, id: u64) -> bool {
        self.with(session, |r| {
            r.members.get(&id).is_some_and(|m| m.info.floor)
        })
        .unwrap_or(false)
    }

    /// Sets the spotlight and tells everyone. Returns false if the participant is not there.
    pub fn set_spotlight(&self, session: SessionId, id: Option<u64>) -> bool {
        self.with(session, |room| {
            if id.is_some_and(|p| !room.members.contains_key(&p)) {
                return false;
            }
            room.spotlight = id;
            send_all(&room.members, &ServerMessage::Spotlight { participant: id });
            true
        })
        .unwrap_or(false)
    }

    /// Shows a courseware page (checked by the caller to be one of the session's) and tells
    /// everyone.
    pub fn set_slide(&self, session: SessionId, slide: Option<(DeckId, u32)>) {
        self.with(session, |room| {
            room.slide = slide;
            let msg = ServerMessage::Slide {
                deck: slide.map(|s| s.0),
                page: slide.map_or(0, |s| s.1),
            };
            send_all(&room.members, &msg);
        });
    }

    /// Sends a message to some participants of the session (those still there).
    pub fn send_to(&self, session: SessionId, ids: &[u64], msg: &ServerMessage) {
        self.with(session, |room| {
            let out = Outgoing::new(msg);
            let now = Instant::now();
            for id in ids {
                if let Some(m) = room.members.get(id) {
                    deliver(*id, m, &out, now);
                }
            }
        });
    }

    /// Tells each lecture's room its audience's size, if it changed since last told (called
    /// once a second: a crowd's joins and leaves become one message).
    pub fn tell_audiences(&self) {
        for room in self.all() {
            let mut room = lock(&room);
            if !room.lecture {
                continue;
            }
            let count = room.audience();
            if count != room.audience_told {
                room.audience_told = count;
                let count = u32::try_from(count).unwrap_or(u32::MAX);
                send_all(&room.members, &ServerMessage::Audience { count });
            }
        }
    }

    /// The host muted (or unmuted) a participant's microphone: recorded against its link (one
    /// rejoining with it stays muted) and told to everyone. The caller stops its audio at the
    /// media edge. A host cannot be muted.
    pub fn set_muted(&self, session: SessionId, id: u64, muted: bool) -> Result<(), String> {
        self.with(session, |room| {
            let m = room
                .members
                .get_mut(&id)
                .ok_or_else(|| format!("participant {id} is not in this session"))?;
            if m.info.role == Role::Host {
                return Err("a host's microphone cannot be muted by another host".to_string());
            }
            m.info.muted = muted;
            if let Some(pass) = m.pass.clone() {
                if muted {
                    room.muted.insert(pass);
                } else {
                    room.muted.remove(&pass);
                }
            }
            let msg = ServerMessage::Muted {
                participant: id,
                muted,
            };
            send_all(&room.members, &msg);
            Ok(())
        })
        .unwrap_or_else(|| Err("this session has no room".to_string()))
    }

    /// A member: who it is and its link's pass (`None`: a shared link).
    pub fn member(&self, session: SessionId, id: u64) -> Option<(ParticipantInfo, Option<Pass>)> {
        self.with(session, |room| {
            room.members
                .get(&id)
                .map(|m| (m.info.clone(), m.pass.clone()))
        })
        .flatten()
    }

    /// The host removed a participant: it is told `removed` (its connection then closes) and
    /// leaves; the others are told it left. Returns who it was. A host cannot be removed.
    pub fn remove(&self, session: SessionId, id: u64) -> Result<ParticipantInfo, String> {
        self.with(session, |room| {
            let m = room
                .members
                .get(&id)
                .ok_or_else(|| format!("participant {id} is not in this session"))?;
            if m.info.role == Role::Host {
                return Err("a host cannot be removed from the session".to_string());
            }
            let gone = room.take(id).ok_or("already gone")?;
            let _ = gone
                .outbox
                .push(Outgoing::new(&ServerMessage::Removed), Instant::now());
            Ok(gone.info)
        })
        .unwrap_or_else(|| Err("this session has no room".to_string()))
    }

    /// Whether a participant is in the session.
    pub fn contains(&self, session: SessionId, id: u64) -> bool {
        self.with(session, |r| r.members.contains_key(&id))
            .unwrap_or(false)
    }

    /// Participants in every session together.
    pub fn total(&self) -> usize {
        self.all().iter().map(|r| lock(r).members.len()).sum()
    }

    /// Number of participants in a session.
    pub fn count(&self, session: SessionId) -> usize {
        self.with(session, |r| r.members.len()).unwrap_or(0)
    }
}
