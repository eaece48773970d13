//! What workers hand each other: a publisher's packet, once per worker that has consumers of it
//! (never once per subscriber), a datagram the kernel delivered to the wrong worker's socket,
//! and the little control traffic that keeps their views of producers in step. Each ordered
//! pair of workers has one bounded single-producer single-consumer ring (`rtrb`) and each
//! worker a wake-up (`mio::Waker`, an eventfd): the sender pushes, then wakes the receiver once
//! per turn. A full ring drops the item and counts it; a worker never waits for another.

use std::net::SocketAddr;
use std::sync::Arc;

use str0m::net::Protocol;
use tongbu_media::{Layer, LayerMask, ProducerId, RtpIn, SenderClock};

use crate::edge::PublishedTrackInfo;

/// Most workers one media plane runs: sets of workers (who needs a producer's packets, whom to
/// wake) are bits of a `u64`.
pub const MAX_WORKERS: usize = 64;

/// Items a ring holds: about two seconds of a busy worker's traffic to another.
pub const RING: usize = 8192;

/// One item from one worker to another.
#[derive(Debug, Clone)]
pub enum Handoff {
    /// A publisher's packet, for the receiving worker's consumers of `producer`: the sender
    /// unprotected and parsed it once. `clock` is the publisher's clock when it changed;
    /// `restarted` says the publisher's stream restarted (new SSRC) with this packet.
    Rtp {
        producer: ProducerId,
        rtp: RtpIn,
        /// Redundant audio: where its primary block begins.
        red: Option<u16>,
        clock: Option<SenderClock>,
        restarted: bool,
    },
    /// A datagram that belongs to a transport of the receiving worker.
    Datagram {
        proto: Protocol,
        source: SocketAddr,
        data: Box<[u8]>,
    },
    /// The sending worker's consumers of `producer` (owned by the receiver) start, or stop,
    /// needing its packets.
    Interest { producer: ProducerId, on: bool },
    /// The sending worker's consumers of `producer` (owned by the receiver) need a keyframe of
    /// `layer`.
    KeyframeRequest { producer: ProducerId, layer: Layer },
    /// The sending worker's consumers of `producer` (owned by the receiver) want these layers.
    LayerInterest {
        producer: ProducerId,
        layers: LayerMask,
    },
    /// The owner of `producer` asked its publisher to send only these layers (dynacast).
    PublishedLayers {
        producer: ProducerId,
        layers: LayerMask,
    },
    /// The sending worker's participant published a track in `session`.
    ProducerAdded {
        session: i64,
        info: PublishedTrackInfo,
    },
    /// That track is gone.
    ProducerRemoved { session: i64, producer: ProducerId },
    /// A transport of the sending worker closed: datagrams from these addresses no longer go
    /// to it.
    Forget { addrs: Box<[SocketAddr]> },
}

/// One worker's ends of the mesh: a ring to and from every other worker, and their wake-ups.
pub struct Mesh {
    pub index: usize,
    /// `to[j]`: the ring to worker `j` (`None` for itself).
    pub to: Vec<Option<rtrb::Producer<Handoff>>>,
    /// `from[j]`: the ring from worker `j`.
    pub from: Vec<Option<rtrb::Consumer<Handoff>>>,
    pub wakers: Vec<Arc<mio::Waker>>,
}

impl std::fmt::Debug for Mesh {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mesh")
            .field("index", &self.index)
            .field("workers", &self.wakers.len())
            .finish()
    }
}

/// The rings between `wakers.len()` workers, cut into each worker's ends.
pub fn mesh(wakers: &[Arc<mio::Waker>]) -> Vec<Mesh> {
    let k = wakers.len();
    let mut meshes: Vec<Mesh> = (0..k)
        .map(|index| Mesh {
            index,
            to: (0..k).map(|_| None).collect(),
            from: (0..k).map(|_| None).collect(),
            wakers: wakers.to_vec(),
        })
        .collect();
    for i in 0..k {
        for j in 0..k {
            if i == j {
                continue;
            }
            let (tx, rx) = rtrb::RingBuffer::new(RING);
            meshes[i].to[j] = Some(tx);
            meshes[j].from[i] = Some(rx);
        }
    }
    meshes
}

impl crate::Worker {
    /// An item from worker `from`.
    pub fn handle_handoff(&mut self, from: usize, item: Handoff, now: std::time::Instant) {
        match item {
            Handoff::Rtp {
                producer,
                rtp,
                red,
                clock,
                restarted,
            } => {
                self.stats.handoffs_in += 1;
                self.fan_out(producer, &rtp, red, clock, restarted, now);
            }
            Handoff::Datagram {
                proto,
                source,
                data,
            } => self.receive(proto, source, &data, true, now),
            Handoff::Interest { producer, on } => {
                let bits = self.interest.entry(producer).or_default();
                if on {
                    *bits |= 1 << from;
                } else {
                    *bits &= !(1 << from);
                    if *bits == 0 {
                        self.interest.remove(&producer);
                    }
                }
            }
            Handoff::KeyframeRequest { producer, layer } => {
                self.router.request_keyframe_for(producer, layer, now);
                self.router_events(now);
            }
            Handoff::LayerInterest { producer, layers } => {
                self.layer_interest_from(from, producer, layers, now);
            }
            Handoff::PublishedLayers { producer, layers } => {
                self.router.set_published_layers(producer, layers);
            }
            Handoff::ProducerAdded { session, info } => {
                let known = self.directory.entry(session).or_default();
                known.retain(|(i, _)| i.track != info.track);
                known.push((info, from));
                if self.sessions.contains_key(&session) {
                    self.mirror(session, info, from);
                    let members = self.sessions.get(&session).cloned().unwrap_or_default();
                    for m in members {
                        if let Some(q) = self.participants.get_mut(&m) {
                            q.tell(crate::EdgeEvent::TrackPublished(info));
                            q.out.push(crate::negotiation::out_track(info));
                        }
                        self.renegotiate(m, now);
                    }
                }
            }
            Handoff::ProducerRemoved { session, producer } => {
                if let Some(known) = self.directory.get_mut(&session) {
                    known.retain(|(i, _)| i.track != producer);
                    if known.is_empty() {
                        self.directory.remove(&session);
                    }
                }
                if self.remote.remove(&producer).is_some() {
                    self.wanted.remove(&producer);
                    self.unpublish_here(session, producer, now);
                }
            }
            Handoff::Forget { addrs } => {
                for a in addrs.iter() {
                    if self.foreign.get(a) == Some(&from) {
                        self.foreign.remove(a);
                    }
                }
            }
        }
        self.drive_dirty(now);
    }

    /// Another worker's producer, mirrored here for this worker's consumers of it.
    pub(crate) fn mirror(&mut self, session: i64, info: PublishedTrackInfo, owner: usize) {
        if self.router.producer(info.track).is_some() {
            return;
        }
        let codec = info.codec;
        if self
            .router
            .add_layered_producer(info.track, info.owner, codec, info.layers)
            .is_ok()
        {
            self.remote.insert(info.track, (owner, session));
            self.producer_roles.insert(info.track, info.owner_role);
            if info.source == crate::TrackSource::Screen {
                self.screen_producers.insert(info.track);
            }
        }
    }

    /// Whether this worker still needs a remote producer's packets, told to its owner when that
    /// changes (its first consumer here came, or its last went).
    pub(crate) fn update_interest(&mut self, producer: ProducerId) {
        let Some(&(owner, _)) = self.remote.get(&producer) else {
            return;
        };
        let needed = self
            .router
            .producer(producer)
            .is_some_and(|p| p.consumer_count() > 0);
        let told = self.wanted.contains(&producer);
        if needed != told {
            if needed {
                self.wanted.insert(producer);
            } else {
                self.wanted.remove(&producer);
            }
            self.outgoing.push((
                owner,
                Handoff::Interest {
                    producer,
                    on: needed,
                },
            ));
        }
    }

    /// Tells every other worker.
    pub(crate) fn broadcast(&mut self, item: Handoff) {
        for w in self.others() {
            self.outgoing.push((w, item.clone()));
        }
    }
}
