//! The edge's half of dynacast ([`tongbu_media::dynacast`]): the worker that owns a simulcast
//! publisher gathers which layers are wanted — by its own consumers and, through the handoff
//! rings, by every other worker's — and when its [`Dynacast`] changes the layers to send, tells
//! the publisher's page (`publish_layers`, it sets `active` on its encodings) and every worker
//! (so their allocators know a paused layer is paused on purpose, not lost, and may still ask
//! for it). A worker with consumers of another's producer tells the owner what they want.

use std::time::Instant;

use tongbu_media::{dynacast, Dynacast, ProducerId};
use tracing::info;

use crate::edge::EdgeEvent;
use crate::handoff::Handoff;
use crate::worker::Worker;

impl Worker {
    /// A simulcast producer of this worker's publisher: its layers are now managed.
    pub(crate) fn manage_layers(&mut self, producer: ProducerId, layers: u8) {
        if layers > 1 {
            self.dynacast.insert(producer, Dynacast::new(layers));
        }
    }

    /// The producer is gone: its layer bookkeeping goes with it.
    pub(crate) fn forget_layers(&mut self, producer: ProducerId) {
        self.dynacast.remove(&producer);
        self.layer_interest.remove(&producer);
        self.told_interest.remove(&producer);
    }

    /// Another worker's consumers of `producer` want `layers`.
    pub(crate) fn layer_interest_from(
        &mut self,
        worker: usize,
        producer: ProducerId,
        layers: dynacast::LayerMask,
        now: Instant,
    ) {
        let v = self.layer_interest.entry(producer).or_default();
        v.retain(|(w, _)| *w != worker);
        if layers != 0 {
            v.push((worker, layers));
        }
        self.update_dynacast(now);
    }

    /// Tells owners what this worker's consumers want, and its own publishers what to send.
    pub(crate) fn update_dynacast(&mut self, now: Instant) {
        for (&p, &(owner, _)) in &self.remote {
            if self.router.producer(p).is_none_or(|pr| pr.layers() < 2) {
                continue;
            }
            let wanted = self.router.wanted_layers(p);
            if self.told_interest.get(&p) != Some(&wanted) {
                self.told_interest.insert(p, wanted);
                self.outgoing.push((
                    owner,
                    Handoff::LayerInterest {
                        producer: p,
                        layers: wanted,
                    },
                ));
            }
        }
        let mut changed = Vec::new();
        let recorded: Vec<ProducerId> = self
            .dynacast
            .keys()
            .copied()
            .filter(|&p| self.recorded(p))
            .collect();
        for (&p, d) in &mut self.dynacast {
            let mut wanted = self.router.wanted_layers(p);
            for (_, m) in self.layer_interest.get(&p).into_iter().flatten() {
                wanted |= m;
            }
            // A recording receives the top layer.
            if recorded.contains(&p) {
                if let Some(layers) = self.router.producer(p).map(|pr| pr.layers()) {
                    wanted |= 1 << (layers - 1);
                }
            }
            if let Some(active) = d.update(wanted, now) {
                self.router.set_published_layers(p, active);
                changed.push((p, active));
            }
        }
        for (producer, active) in changed {
            self.broadcast(Handoff::PublishedLayers {
                producer,
                layers: active,
            });
            let Some(pr) = self.router.producer(producer) else {
                continue;
            };
            let (owner, layers) = (pr.owner(), pr.layers());
            info!(
                participant = owner.0,
                producer = producer.0,
                active = format_args!("{active:0width$b}", width = usize::from(layers)),
                "publisher asked to send these layers"
            );
            if let Some(p) = self.participants.get_mut(&owner) {
                p.tell(EdgeEvent::PublishLayers {
                    track: producer,
                    active: (0..layers).map(|l| active & (1 << l) != 0).collect(),
                });
            }
        }
    }

    /// When a paused layer's wait may end.
    pub(crate) fn dynacast_due(&self) -> Option<Instant> {
        self.dynacast.values().filter_map(Dynacast::next_due).min()
    }
}
