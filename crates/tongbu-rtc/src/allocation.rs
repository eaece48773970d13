//! Each subscriber's layers, from its downlink estimate: the worker gathers what the subscriber
//! receives (every consumer on its `recv` transport, with the bitrate of each layer of its
//! producer), runs the subscriber's [`BandwidthAllocator`], hands the router the layers it chose
//! and tells the subscriber. It runs once a second with the sender reports, and at once when
//! feedback shows the estimate below what is allocated (down fast) or while a probe is on.
//!
//! A probe pads the subscriber's stream up to the rate the next layer needs, with padding-only
//! packets on a video stream's RTX SSRC (as browsers probe): they carry transport-wide sequence
//! numbers, so the feedback shows whether the link carries the rate, and the browser discards
//! them. A subscriber without RTX is not probed.

use std::time::{Duration, Instant};

use tongbu_media::{Demand, Layer, Link, MediaKind, Priority, RouterError, MAX_LAYERS};
use tracing::{debug, info};

use crate::edge::{EdgeEvent, MediaRole};
use crate::forward::seal_rtp;
use crate::transport::TransportId;
use crate::worker::Worker;

/// How often a probing subscriber's padding is topped up.
pub const PAD_EVERY: Duration = Duration::from_millis(10);
/// Padding bytes per packet (the most RTP padding can say).
const PAD_BYTES: u8 = 255;
/// Padding packets per subscriber per top-up, at most (≈ 2 Mbit/s at [`PAD_EVERY`]).
const PAD_BURST: usize = 10;

/// What a layer of a producer is assumed to cost before its bitrate has been measured (the
/// first second after it starts), by layer: the pages' 180p, 360p, 720p.
const ASSUMED_BPS: [u64; MAX_LAYERS as usize] = [120_000, 500_000, 1_300_000, 2_500_000];

impl Worker {
    /// Chooses the layers of everything recv transport `id`'s subscriber receives.
    pub(crate) fn allocate(&mut self, id: TransportId, now: Instant) {
        let Some(t) = self.transports.get(id.index()) else {
            return;
        };
        let Some(egress) = t.egress.and_then(|e| self.egresses.get_mut(e)) else {
            return;
        };
        let pid = t.participant;
        let t_egress = t.egress;
        let Some(me) = self.participants.get(&pid) else {
            return;
        };
        let (wanted, host, spotlit) = (
            me.max_layer,
            me.role == MediaRole::Host,
            self.spotlights.get(&me.session).copied(),
        );
        let mut demands = std::mem::take(&mut self.demands);
        demands.clear();
        for &c in t.consumer_by_mid.values() {
            let Some(con) = self.router.consumer(c) else {
                continue;
            };
            // Held back by audio first (a link without an estimate): not the allocator's.
            if con.paused() {
                continue;
            }
            let Some(p) = self.router.producer(con.producer()) else {
                continue;
            };
            // The media policy: the teacher's camera and the spotlit classroom first, then a
            // shared screen, then the other cameras; a classroom's camera reaches the host at
            // its lowest layer unless spotlit.
            let teacher = self.producer_roles.get(&p.id()) == Some(&MediaRole::Host);
            let spot = spotlit == Some(p.owner());
            let screen = self.screen_producers.contains(&p.id());
            let priority = match p.codec().kind() {
                MediaKind::Audio => None,
                MediaKind::Video if teacher || spot => Some(Priority::High),
                MediaKind::Video if screen => Some(Priority::Screen),
                MediaKind::Video => Some(Priority::Normal),
            };
            let mut max_layer = Layer(p.layers() - 1).min(wanted);
            if host && !teacher && !spot && !screen {
                max_layer = Layer::BASE;
            }
            let mut layers = [None; MAX_LAYERS as usize];
            for (l, slot) in layers.iter_mut().enumerate().take(usize::from(p.layers())) {
                let Some(e) = p.encoding(Layer(l as u8)) else {
                    continue;
                };
                // Arriving: measured above zero, or started and not measured yet; or paused at
                // the publisher because nobody received it (dynacast), which asking resumes.
                // Priced at its recent peak: a second cut short by a pause or a start measures
                // low, and a keyframe costs what it costs. A paused layer costs at least what a
                // layer of its rank is assumed to: the peak it had may be from the encoder's
                // first seconds, when the publisher's own uplink estimate starved it.
                let nominal = e.nominal_bps();
                *slot = match e.bitrate_bps() {
                    _ if p.layer_paused(Layer(l as u8)) => {
                        Some(nominal.unwrap_or(0).max(ASSUMED_BPS[l]))
                    }
                    Some(0) => None,
                    Some(b) => Some(b.max(nominal.unwrap_or(0))),
                    None => (e.received().0 > 0).then_some(ASSUMED_BPS[l]),
                };
            }
            // Redundant audio is priced as its primary frames: the redundancy goes only where
            // every video has its best layer (below), and never costs a picture its place.
            if let (None, Some(whole), Some(e)) = (priority, layers[0], p.encoding(Layer::BASE)) {
                if self.red_producers.contains(&p.id()) {
                    layers[0] = Some(crate::redundancy::primary_bps(e.received(), whole));
                }
            }
            demands.push(Demand {
                consumer: c,
                priority,
                layers,
                max_layer,
                current: con.target_layer(),
            });
        }
        let estimate = egress.estimate.estimate_bps().or(egress.remb_bps);
        tracing::trace!(
            participant = pid.0,
            estimate,
            acked = egress.estimate.acked_bps().map(|a| a as u64),
            loss = egress.estimate.loss(),
            usage = ?egress.estimate.usage(),
            "allocating"
        );
        let mut changes = std::mem::take(&mut self.targets);
        let link = Link {
            estimate_bps: estimate,
            delivered_bps: egress.estimate.acked_bps().map(|a| a as u64),
        };
        let allocation = egress
            .allocator
            .allocate_for(link, &demands, now, &mut changes);
        egress.allocated_bps = allocation.allocated_bps;
        let before = egress.probe;
        egress.probe = allocation.probe;
        if let Some((bps, _)) = allocation.probe {
            // A new probe (or the next step) counts its rate from now.
            if before != allocation.probe {
                egress.padded = (egress.bytes_sent, now);
                debug!(participant = pid.0, bps, "probing the downlink");
            }
            if !self.probing.contains(&id) {
                self.probing.push(id);
            }
        }
        let any = !changes.is_empty();
        // The last step: no picture fits at all.
        let videos = demands.iter().filter(|d| d.priority.is_some()).count();
        let all_paused = videos > 0 && allocation.paused == videos;
        for change in changes.drain(..) {
            match self.router.set_target(change.consumer, change.layer, now) {
                Ok(true) => {
                    let Some(producer) =
                        self.router.consumer(change.consumer).map(|c| c.producer())
                    else {
                        continue;
                    };
                    info!(
                        participant = pid.0,
                        producer = producer.0,
                        layer = change.layer.map(|l| l.0),
                        estimate_bps = estimate,
                        "layer changed"
                    );
                    if let Some(p) = self.participants.get_mut(&pid) {
                        p.tell(EdgeEvent::LayerChanged {
                            track: producer,
                            layer: change.layer.map(|l| l.0),
                        });
                    }
                }
                // A video without simulcast keeps its one layer (audio first pauses it).
                Ok(false) | Err(RouterError::NotSimulcast(_)) => {}
                Err(e) => debug!("layer not set: {e}"),
            }
        }
        self.demands = demands;
        self.targets = changes;
        if let Some(p) = self.participants.get_mut(&pid) {
            if p.bandwidth_paused != all_paused {
                p.bandwidth_paused = all_paused;
                info!(
                    participant = pid.0,
                    paused = all_paused,
                    "all video paused for want of bandwidth"
                );
                p.tell(EdgeEvent::VideoPaused { paused: all_paused });
            }
        }
        // Redundant audio rides on a link that gives the teacher's picture its best layer and
        // pauses nothing (its price, a few tens of kbit/s, is within the headroom); a full link
        // gets the primary frames, since the redundancy would take what the picture needs.
        // (Not the estimate's spare room: a delay-based estimate hugs what is sent, and would
        // leave almost every link without it.)
        if let Some(egress) = t_egress.and_then(|e| self.egresses.get_mut(e)) {
            egress.redundancy = allocation.short == 0;
        }
        if any {
            // A layer now wanted is resumed at its publisher at once.
            self.update_dynacast(now);
        }
        self.router_events(now);
    }

    /// Tops up every probing subscriber's stream to its probe's rate with padding.
    pub(crate) fn pad(&mut self, now: Instant) {
        let mut probing = std::mem::take(&mut self.probing);
        probing.retain(|&id| self.pad_transport(id, now));
        self.probing = probing;
    }

    /// Pads one subscriber's stream; `false` once its probe's time is over. The probe itself
    /// stays until the allocator judges it, on the next feedback (which shows what the probe's
    /// last packets did): judged later, by the report tick, its padding would be out of the
    /// delivered rate's window and a carried probe would count as failed.
    fn pad_transport(&mut self, id: TransportId, now: Instant) -> bool {
        let Some(t) = self.transports.get(id.index()) else {
            return false;
        };
        let Some(egress) = t.egress.and_then(|e| self.egresses.get_mut(e)) else {
            return false;
        };
        let Some(bps) = egress
            .probe
            .filter(|&(_, until)| now < until)
            .map(|(bps, _)| bps)
        else {
            return false;
        };
        let Some((proto, dest)) = egress.remote else {
            return true;
        };
        // A video stream with an RTX SSRC carries the padding.
        let Some(stream) = t
            .consumer_by_mid
            .values()
            .filter_map(|c| self.consumers.get(c.index()).map(|s| (c.index(), s)))
            .find(|(_, s)| s.rtx.is_some())
            .map(|(i, _)| i)
        else {
            egress.probe = None;
            return false;
        };
        // What the probe's rate has allowed since it began, less what went (media and padding):
        // a padding packet goes only once a whole one is owed, so the stream keeps the rate on
        // average instead of a packet every tick.
        let (sent_before, since) = egress.padded;
        let elapsed = now.saturating_duration_since(since).as_secs_f64();
        let due = (bps as f64 / 8.0 * elapsed) as u64;
        let mut deficit = due.saturating_sub(egress.bytes_sent - sent_before);
        let Some(s) = self.consumers.get_mut(stream) else {
            return false;
        };
        let wire = usize::from(PAD_BYTES) + 40;
        for _ in 0..PAD_BURST {
            if deficit < wire as u64 {
                break;
            }
            let twcc = s.ext.twcc.map(|_| egress.twcc.next_seq(now, wire));
            let (start, buf) = self.outbox.begin();
            let Some((header, seq)) = s.write_padding(buf, twcc, PAD_BYTES) else {
                self.outbox.abort(start);
                break;
            };
            let Some(n) = seal_rtp(&mut self.outbox, egress, start, header, seq, (proto, dest))
            else {
                break;
            };
            deficit = deficit.saturating_sub(n as u64);
        }
        true
    }
}
