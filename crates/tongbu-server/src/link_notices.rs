//! Link notices: the room learns of trouble. When a participant's link turns weak or lost (or
//! good again), the server tells that participant (its page shows a banner) and the session's
//! hosts (their console shows a dot on its tile). A state must hold for two samples (half a
//! second) before it is announced, so a single bad sample does not flash on every screen, and a
//! host who joins later is told everyone's current state. Plain bookkeeping over the health
//! samples; the sampler sends what it returns.

use std::collections::{HashMap, HashSet};

use tongbu_schedule::{Role, SessionId};
use tongbu_signal::{LinkQuality, ServerMessage};

use crate::health::Health;
use crate::session_health::SessionHealth;

/// Samples a new state must hold before it is announced.
const STEADY_SAMPLES: u8 = 2;

/// What was announced, per session.
#[derive(Debug, Default)]
pub struct LinkNotices {
    sessions: HashMap<SessionId, Room>,
}

/// A participant's state as announced, and a different one seen in a row (and how often).
type Announced = (Option<Health>, Option<(Health, u8)>);

#[derive(Debug, Default)]
struct Room {
    people: HashMap<u64, Announced>,
    /// Hosts that were told everyone's state.
    hosts_told: HashSet<u64>,
}

/// A message for some participants of a session.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    pub session: SessionId,
    pub to: Vec<u64>,
    pub message: ServerMessage,
}

fn quality(h: Health) -> LinkQuality {
    match h {
        // Not knowing its loss is nothing to tell a classroom about.
        Health::Good | Health::Unknown => LinkQuality::Good,
        Health::Weak => LinkQuality::Weak,
        Health::Lost => LinkQuality::Lost,
    }
}

impl LinkNotices {
    /// Takes this tick's samples; returns the messages to send.
    pub fn update(&mut self, samples: &HashMap<SessionId, SessionHealth>) -> Vec<Notice> {
        self.sessions.retain(|sid, _| samples.contains_key(sid));
        let mut out = Vec::new();
        for (sid, sample) in samples {
            let room = self.sessions.entry(*sid).or_default();
            let present: HashSet<u64> = sample.participants.iter().map(|p| p.participant).collect();
            room.people.retain(|id, _| present.contains(id));
            room.hosts_told.retain(|id| present.contains(id));
            let hosts: Vec<u64> = sample
                .participants
                .iter()
                .filter(|p| p.role == Role::Host)
                .map(|p| p.participant)
                .collect();
            for p in &sample.participants {
                let (sent, seen) = room.people.entry(p.participant).or_default();
                if *sent == Some(p.health) {
                    *seen = None;
                    continue;
                }
                let n = match seen {
                    Some((h, n)) if *h == p.health => *n + 1,
                    _ => 1,
                };
                *seen = Some((p.health, n));
                if n < STEADY_SAMPLES {
                    continue;
                }
                *sent = Some(p.health);
                *seen = None;
                let mut to: Vec<u64> = hosts.clone();
                if !to.contains(&p.participant) {
                    to.push(p.participant);
                }
                out.push(Notice {
                    session: *sid,
                    to,
                    message: ServerMessage::LinkHealth {
                        participant: p.participant,
                        health: quality(p.health),
                        reasons: p.reasons.iter().map(|r| r.to_string()).collect(),
                    },
                });
            }
            // A host who just arrived learns everyone's announced state.
            for &host in &hosts {
                if !room.hosts_told.insert(host) {
                    continue;
                }
                for p in &sample.participants {
                    let Some((Some(h), _)) = room.people.get(&p.participant) else {
                        continue;
                    };
                    out.push(Notice {
                        session: *sid,
                        to: vec![host],
                        message: ServerMessage::LinkHealth {
                            participant: p.participant,
                            health: quality(*h),
                            reasons: p.reasons.iter().map(|r| r.to_string()).collect(),
                        },
                    });
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session_health::ParticipantHealth;

    fn p(id: u64, role: Role, health: Health) -> ParticipantHealth {
        ParticipantHealth {
            role,
            health,
            reasons: if health == Health::Good {
                vec![]
            } else {
                vec!["loses media sent to it"]
            },
            ..ParticipantHealth::fixture(id, &format!("p{id}"))
        }
    }

    fn tick(
        n: &mut LinkNotices,
        people: Vec<ParticipantHealth>,
    ) -> Vec<(Vec<u64>, u64, LinkQuality)> {
        let sample = SessionHealth {
            session: SessionId(1),
            sampled_utc: 0,
            health: Health::Good,
            participants: people,
        };
        n.update(&HashMap::from([(SessionId(1), sample)]))
            .into_iter()
            .map(|x| match x.message {
                ServerMessage::LinkHealth {
                    participant,
                    health,
                    ..
                } => (x.to, participant, health),
                other => panic!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn a_steady_change_reaches_the_participant_and_the_hosts_once() {
        let mut n = LinkNotices::default();
        let good = |id, role| p(id, role, Health::Good);
        // The first state is announced once it held for two samples.
        assert_eq!(
            tick(&mut n, vec![good(1, Role::Host), good(2, Role::Classroom)]),
            vec![]
        );
        let first = tick(&mut n, vec![good(1, Role::Host), good(2, Role::Classroom)]);
        assert_eq!(
            first,
            vec![
                (vec![1], 1, LinkQuality::Good),
                (vec![1, 2], 2, LinkQuality::Good),
            ]
        );
        // One weak sample is not announced; two are, to the classroom and the host.
        let weak = || p(2, Role::Classroom, Health::Weak);
        assert_eq!(tick(&mut n, vec![good(1, Role::Host), weak()]), vec![]);
        assert_eq!(
            tick(&mut n, vec![good(1, Role::Host), good(2, Role::Classroom)]),
            vec![]
        );
        assert_eq!(tick(&mut n, vec![good(1, Role::Host), weak()]), vec![]);
        assert_eq!(
            tick(&mut n, vec![good(1, Role::Host), weak()]),
            vec![(vec![1, 2], 2, LinkQuality::Weak)]
        );
        assert_eq!(tick(&mut n, vec![good(1, Role::Host), weak()]), vec![]);
        // A second host joins: it is told everyone's state at once.
        let told = tick(
            &mut n,
            vec![good(1, Role::Host), weak(), good(3, Role::Host)],
        );
        assert!(told.contains(&(vec![3], 2, LinkQuality::Weak)), "{told:?}");
        assert!(told.contains(&(vec![3], 1, LinkQuality::Good)), "{told:?}");
    }
}
