//! What str0m tells the worker about a transport: media it received (the forward path), lines
//! the client started or stopped sending on, the connection coming and going, statistics.

use std::time::Instant;

use str0m::media::MediaKind as StrKind;
use str0m::{Event, IceConnectionState};
use tracing::{debug, error, info};

use crate::edge::EdgeEvent;
use crate::transport::{SubscriberEgress, TransportId, TransportRole};
use crate::worker::Worker;

impl Worker {
    pub(crate) fn on_event(&mut self, id: TransportId, event: Event, now: Instant) {
        match event {
            Event::RtpPacket(pkt) => self.on_rtp(id, pkt, now),
            // A new line the client sends on, or one it sends on again (a share restarted on its
            // old line), is published; a line it stopped sending on is unpublished.
            Event::MediaAdded(m) if m.direction.is_receiving() => self.publish(id, m.mid, now),
            Event::MediaChanged(m) if m.direction.is_receiving() => self.publish(id, m.mid, now),
            Event::MediaChanged(m) => {
                let send = self
                    .transports
                    .get(id.index())
                    .is_some_and(|t| t.role == TransportRole::Send);
                if send {
                    self.unpublish_line(id, m.mid, now);
                }
            }
            Event::PeerStats(st) => {
                let Some(t) = self.transports.get_mut(id.index()) else {
                    return;
                };
                match t.role {
                    TransportRole::Send => {
                        let Some(p) = self.participants.get_mut(&t.participant) else {
                            return;
                        };
                        p.link.send_transport(&mut t.meter, &st);
                        // A publisher with REMB alone learns its uplink from us.
                        let received = f64::from(p.link.kbps_in) * 1000.0;
                        let remb = t.uplink.as_mut().and_then(|u| u.observe(received, now));
                        if let Some(bps) = remb {
                            debug!(participant = t.participant.0, bps, "uplink estimate (REMB)");
                            t.send_remb(bps);
                        }
                    }
                    // The nominated pair may have moved (ICE picked another candidate).
                    TransportRole::Recv => {
                        if let Some(pair) = st.selected_candidate_pair {
                            t.remote = Some((pair.protocol, pair.remote.addr));
                            if let Some(e) = t.egress.and_then(|e| self.egresses.get_mut(e)) {
                                e.remote = t.remote;
                            }
                        }
                    }
                }
            }
            Event::MediaIngressStats(st) => {
                let Some(t) = self.transports.get_mut(id.index()) else {
                    return;
                };
                if let (Some(u), Some(loss)) = (t.uplink.as_mut(), st.loss) {
                    u.loss(loss);
                }
                let video = t.rtc.media(st.mid).map(|m| m.kind()) == Some(StrKind::Video);
                // Jitter is reported for the video line (audio would mask it).
                if video || st.loss.is_some() {
                    if let Some(p) = self.participants.get_mut(&t.participant) {
                        let clock = if video {
                            tongbu_media::Codec::Vp8.clock_rate()
                        } else {
                            0
                        };
                        p.link.ingress(clock, &st);
                    }
                }
            }
            Event::Connected => self.connected(id, now),
            Event::IceConnectionStateChange(
                IceConnectionState::Connected | IceConnectionState::Completed,
            ) => {
                // ICE came back after a loss (consent checks answered again).
                let Some(t) = self.transports.get(id.index()).filter(|t| t.connected) else {
                    return;
                };
                let send = t.role == TransportRole::Send;
                if let Some(p) = self.participants.get_mut(&t.participant) {
                    let was = if send {
                        p.link.send_connected
                    } else {
                        p.link.recv_connected
                    };
                    if !was {
                        p.link.set_connected(send, true, now);
                        info!(participant = p.id.0, send, "transport reconnected");
                        p.tell(EdgeEvent::Connection {
                            send,
                            state: "connected",
                        });
                    }
                }
            }
            Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                let Some(t) = self.transports.get(id.index()) else {
                    return;
                };
                let send = t.role == TransportRole::Send;
                if let Some(p) = self.participants.get_mut(&t.participant) {
                    p.link.set_connected(send, false, now);
                    p.tell(EdgeEvent::Connection {
                        send,
                        state: "disconnected",
                    });
                }
            }
            // Keyframe requests on a recv transport would come from its RTCP, which Tongbu
            // reads itself (crate::forward); str0m never sees it.
            _ => {}
        }
    }

    /// DTLS is up: a recv transport takes its SRTP keys and starts receiving.
    fn connected(&mut self, id: TransportId, now: Instant) {
        let Some(t) = self.transports.get_mut(id.index()) else {
            return;
        };
        t.connected = true;
        let (pid, role) = (t.participant, t.role);
        if role == TransportRole::Recv {
            match t.keys.get() {
                Some(Ok(keys)) => match SubscriberEgress::new(id, t.remote, keys, now) {
                    Ok(e) => {
                        t.egress = Some(self.egresses.insert(e));
                        self.reports.set(id, now);
                    }
                    Err(e) => error!(participant = pid.0, "SRTP keys refused: {e}"),
                },
                Some(Err(e)) => error!(participant = pid.0, "SRTP keys unusable: {e}"),
                None => {
                    error!(
                        participant = pid.0,
                        "recv transport connected without SRTP keys; its media cannot be sent"
                    );
                    self.stats.keys_missing += 1;
                }
            }
        }
        if let Some(p) = self.participants.get_mut(&pid) {
            p.link.set_connected(role == TransportRole::Send, true, now);
            p.tell(EdgeEvent::Connection {
                send: role == TransportRole::Send,
                state: "connected",
            });
        }
        info!(participant = pid.0, ?role, "transport connected");
        if role == TransportRole::Recv {
            self.subscribe_open(pid, now);
        }
    }
}
