//! Publication: a line the client sends on becomes a producer, announced to every member of
//! its session on this worker and, through the handoff rings, on the others; a producer that
//! ends is withdrawn the same way, its consumers closed and every member renegotiated.

use std::time::Instant;

use str0m::media::{MediaKind as StrKind, Mid, Rids};
use tongbu_media::{MediaKind, ProducerId, MAX_LAYERS};
use tracing::{info, warn};

use crate::edge::EdgeEvent;
use crate::handoff::Handoff;
use crate::negotiation::out_track;
use crate::transport::{TransportId, TransportRole};
use crate::worker::Worker;

impl Worker {
    /// A media line of a `send` transport that the client sends on becomes a producer (once; a
    /// line already published is left alone).
    pub(crate) fn publish(&mut self, id: TransportId, mid: Mid, now: Instant) {
        let Some(t) = self.transports.get_mut(id.index()) else {
            return;
        };
        if t.role != TransportRole::Send || t.producer_by_mid.contains_key(&mid) {
            return;
        }
        let Some(kind) = t.rtc.media(mid).map(|m| match m.kind() {
            StrKind::Audio => MediaKind::Audio,
            StrKind::Video => MediaKind::Video,
        }) else {
            return;
        };
        let screen = t.screen_mid == Some(mid);
        let owner = t.participant;
        // Simulcast: the RIDs the client offered for the line, one encoding each.
        let rids = match t.rtc.media(mid).map(|m| m.rids_rx()) {
            Some(Rids::Specific(r)) if kind == MediaKind::Video && r.len() > 1 => {
                r.iter().take(usize::from(MAX_LAYERS)).copied().collect()
            }
            _ => Vec::new(),
        };
        let layers = rids.len().max(1) as u8;
        let codec = crate::negotiation::sent_codec(&t.rtc, mid, kind);
        if kind == MediaKind::Audio {
            t.red_pt = crate::negotiation::red_payload_type(&t.rtc);
        }
        // Unique across workers: worker w numbers w, w + k, w + 2k, …
        let producer = ProducerId(self.next_producer * self.workers as u64 + self.index as u64);
        self.next_producer += 1;
        if let Err(e) = self
            .router
            .add_layered_producer(producer, owner, codec, layers)
        {
            warn!("producer not added: {e}");
            return;
        }
        if !rids.is_empty() {
            t.rids.insert(mid, rids);
        }
        t.producer_by_mid.insert(mid, producer);
        t.mid_by_producer.insert(producer, mid);
        let Some(p) = self.participants.get_mut(&owner) else {
            return;
        };
        p.published.push(producer);
        self.producer_roles.insert(producer, p.role);
        let session = p.session;
        self.manage_layers(producer, layers);
        self.tap_published(session, producer, owner);
        if screen {
            self.screen_producers.insert(producer);
        }
        let info = self.track_info(producer, owner, kind);
        info!(
            participant = owner.0,
            producer = producer.0,
            ?kind,
            ?codec,
            layers,
            "track published"
        );
        self.directory
            .entry(session)
            .or_default()
            .push((info, self.index));
        self.broadcast(Handoff::ProducerAdded { session, info });
        let members = self.sessions.get(&session).cloned().unwrap_or_default();
        for m in members {
            if let Some(q) = self.participants.get_mut(&m) {
                q.tell(EdgeEvent::TrackPublished(info));
                if m != owner {
                    q.out.push(out_track(info));
                }
            }
            if m != owner {
                self.renegotiate(m, now);
            }
        }
    }

    /// This worker's producer is gone: here and on every other worker.
    pub(crate) fn unpublish(&mut self, session: i64, producer: ProducerId, now: Instant) {
        if let Some(known) = self.directory.get_mut(&session) {
            known.retain(|(i, _)| i.track != producer);
            if known.is_empty() {
                self.directory.remove(&session);
            }
        }
        self.interest.remove(&producer);
        self.broadcast(Handoff::ProducerRemoved { session, producer });
        self.tap_ended(session, producer);
        self.unpublish_here(session, producer, now);
    }

    /// A producer is gone from this worker: its consumers end, every member here is told and
    /// renegotiates.
    pub(crate) fn unpublish_here(&mut self, session: i64, producer: ProducerId, now: Instant) {
        let Some(pr) = self.router.producer(producer) else {
            return;
        };
        let info = self.track_info(producer, pr.owner(), pr.codec().kind());
        self.screen_producers.remove(&producer);
        self.red_producers.remove(&producer);
        self.producer_roles.remove(&producer);
        self.forget_layers(producer);
        for c in self.router.remove_producer(producer).unwrap_or_default() {
            self.forget_consumer(c);
        }
        let members = self.sessions.get(&session).cloned().unwrap_or_default();
        for m in members {
            if let Some(q) = self.participants.get_mut(&m) {
                q.producer_gone(producer);
                q.tell(EdgeEvent::TrackUnpublished(info));
            }
            self.renegotiate(m, now);
        }
        info!(producer = producer.0, "track unpublished");
    }

    /// A line the client stopped sending on: its producer ends.
    pub(crate) fn unpublish_line(&mut self, id: TransportId, mid: Mid, now: Instant) {
        let gone = self.transports.get_mut(id.index()).and_then(|t| {
            let producer = t.producer_by_mid.remove(&mid)?;
            t.mid_by_producer.remove(&producer);
            t.producer_by_ssrc.retain(|_, (p, _)| *p != producer);
            t.rids.remove(&mid);
            Some((t.participant, producer))
        });
        let Some((owner, producer)) = gone else {
            return;
        };
        let session = self.participants.get_mut(&owner).map(|p| {
            p.published.retain(|&x| x != producer);
            p.session
        });
        if let Some(s) = session {
            self.unpublish(s, producer, now);
        }
    }
}
