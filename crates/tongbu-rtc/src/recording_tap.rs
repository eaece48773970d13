//! Copies of a recorded session's packets for its recorder. The worker that receives a
//! publisher's packet hands a copy (its payload shared, not copied) to the session's recorder
//! over a bounded channel and never waits: a full channel drops the copy and counts it, so a
//! slow disk costs the recording a gap, never the lesson a delay. What the recorder needs to
//! know besides the packets — the tracks, the publishers' clocks, a track's end — goes the
//! same way. A camera in simulcast is recorded at its top layer: the recording counts as a
//! receiver of it for dynacast, and a keyframe is asked for when a recording starts, so its
//! files begin at once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError};
use std::sync::Arc;
use std::time::Instant;

use tongbu_media::{Codec, Layer, ParticipantId, ProducerId, RtpIn, SenderClock};

use crate::edge::TrackSource;
use crate::worker::Worker;

/// What a recorder is handed.
#[derive(Debug, Clone)]
pub enum Tap {
    /// A track of the session, published before or during the recording.
    Track {
        producer: ProducerId,
        owner: ParticipantId,
        codec: Codec,
        source: TrackSource,
    },
    /// Its publisher's clock, from a new sender report.
    Clock {
        producer: ProducerId,
        clock: SenderClock,
    },
    /// One of its packets, as it arrived. `red`: redundant audio whose primary block (the
    /// frame to record) begins there.
    Packet {
        producer: ProducerId,
        rtp: RtpIn,
        red: Option<u16>,
        arrived: Instant,
    },
    /// The track ended.
    Ended { producer: ProducerId },
}

/// Where a recorded session's copies go: the channel, and a count of what it could not take.
#[derive(Debug, Clone)]
pub struct TapSender {
    pub sender: SyncSender<Tap>,
    pub dropped: Arc<AtomicU64>,
}

impl TapSender {
    /// Hands `tap` over, or counts it dropped (full, or the recorder gone).
    fn give(&self, tap: Tap) {
        if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) =
            self.sender.try_send(tap)
        {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The sessions being recorded, by session.
pub(crate) type Taps = HashMap<i64, TapSender>;

impl Worker {
    /// Starts (`Some`) or stops (`None`) handing session `session`'s packets to a recorder. On
    /// start, the session's tracks this worker receives are announced.
    pub(crate) fn set_recording(&mut self, session: i64, tap: Option<TapSender>, now: Instant) {
        let Some(tap) = tap else {
            self.taps.remove(&session);
            self.update_dynacast(now);
            return;
        };
        let members = self.sessions.get(&session).cloned().unwrap_or_default();
        for m in members {
            let Some(p) = self.participants.get(&m) else {
                continue;
            };
            for &producer in &p.published.clone() {
                self.announce_track(&tap, producer, m);
                let layers = self.router.producer(producer).map(|p| p.layers());
                if let Some(layers) = layers {
                    self.router
                        .request_keyframe_for(producer, Layer(layers - 1), now);
                }
            }
        }
        self.taps.insert(session, tap);
        self.update_dynacast(now);
        self.router_events(now);
    }

    /// Whether `producer` (this worker's) is recorded now.
    pub(crate) fn recorded(&self, producer: ProducerId) -> bool {
        !self.taps.is_empty()
            && self
                .router
                .producer(producer)
                .and_then(|p| self.participants.get(&p.owner()))
                .is_some_and(|p| self.taps.contains_key(&p.session))
    }

    fn announce_track(&self, tap: &TapSender, producer: ProducerId, owner: ParticipantId) {
        let Some(codec) = self.router.producer(producer).map(|p| p.codec()) else {
            return;
        };
        let source = if self.screen_producers.contains(&producer) {
            TrackSource::Screen
        } else {
            TrackSource::Camera
        };
        tap.give(Tap::Track {
            producer,
            owner,
            codec,
            source,
        });
    }

    /// A track this worker receives was published in `session`.
    pub(crate) fn tap_published(&self, session: i64, producer: ProducerId, owner: ParticipantId) {
        if let Some(tap) = self.taps.get(&session) {
            self.announce_track(tap, producer, owner);
        }
    }

    /// A track this worker received ended.
    pub(crate) fn tap_ended(&self, session: i64, producer: ProducerId) {
        if let Some(tap) = self.taps.get(&session) {
            tap.give(Tap::Ended { producer });
        }
    }

    /// A publisher's packet (and its clock, when a sender report came with it), for the
    /// recorder of its session if there is one. One map lookup per packet while any session is
    /// recorded; nothing otherwise.
    #[inline]
    pub(crate) fn tap_packet(
        &self,
        owner: ParticipantId,
        producer: ProducerId,
        rtp: &RtpIn,
        red: Option<u16>,
        clock: Option<SenderClock>,
        now: Instant,
    ) {
        if self.taps.is_empty() {
            return;
        }
        // A simulcast camera: its top layer only.
        let top = self.router.producer(producer).map_or(1, |p| p.layers());
        if rtp.layer.0 + 1 != top {
            return;
        }
        let Some(tap) = self
            .participants
            .get(&owner)
            .and_then(|p| self.taps.get(&p.session))
        else {
            return;
        };
        if let Some(clock) = clock {
            tap.give(Tap::Clock { producer, clock });
        }
        tap.give(Tap::Packet {
            producer,
            rtp: rtp.clone(),
            red,
            arrived: now,
        });
    }
}
