//! Several workers and their str0m peers in memory, wired as the media plane wires them: a
//! participant lives on worker `id mod k`, each peer's datagrams reach the worker its address
//! hashes to (as the kernel spreads a `SO_REUSEPORT` group), and what a worker hands another
//! is delivered to it in the same turn. The clock is the caller's.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use str0m::change::SdpOffer;
use str0m::format::Codec as StrCodec;
use str0m::media::{KeyframeRequestKind, MediaKind, Mid};
use str0m::net::{Protocol, Receive};
use str0m::rtp::{RtpWrite, SeqNo};
use str0m::{Input, Output};
use tongbu_media::ParticipantId;

use super::{poll_peer, Peer, WORKER};
use crate::edge::{EdgeEvent, MediaRole};
use crate::Worker;

/// `k` workers and their peers.
pub struct MeshLab {
    pub workers: Vec<Worker>,
    pub peers: Vec<Peer>,
    pub now: Instant,
    from_peers: Vec<(SocketAddr, Vec<u8>)>,
    seq: u64,
}

impl MeshLab {
    /// `k` workers sharing one candidate address; peers record what they receive.
    pub fn new(k: usize) -> Self {
        let now = Instant::now();
        let workers = (0..k)
            .map(|i| {
                let mut w = Worker::new(WORKER, now);
                w.set_place(i, k);
                w
            })
            .collect();
        Self {
            workers,
            peers: Vec::new(),
            now,
            from_peers: Vec::new(),
            seq: 1,
        }
    }

    /// The worker participant `id` lives on.
    pub fn home(&self, id: ParticipantId) -> usize {
        (id.0 % self.workers.len() as u64) as usize
    }

    /// The worker whose socket a datagram from `addr` reaches (the kernel's hash, here the
    /// address's last octet and port).
    fn socket_of(&self, addr: SocketAddr) -> usize {
        let h = match addr {
            SocketAddr::V4(a) => u64::from(a.ip().octets()[3]) * 31 + u64::from(a.port()),
            SocketAddr::V6(a) => u64::from(a.port()),
        };
        (h % self.workers.len() as u64) as usize
    }

    /// A peer joins `session`; returns its index.
    pub fn join(&mut self, session: i64) -> usize {
        let i = self.peers.len();
        let addr = SocketAddr::from(([10, 1, (i >> 8) as u8, i as u8], 6000 + i as u16));
        let (peer, tx) = Peer::new(self.now, addr, ParticipantId(i as u64 + 1));
        let id = peer.id;
        self.peers.push(peer);
        let home = self.home(id);
        self.workers[home].handle_join(id, session, MediaRole::Classroom, tx, self.now);
        self.hand_over();
        i
    }

    /// Peer `i` publishes one video line; returns it.
    pub fn publish(&mut self, i: usize) -> Mid {
        let home = self.home(self.peers[i].id);
        let [mid] =
            self.peers[i].offer_to_send(&mut self.workers[home], [MediaKind::Video], self.now);
        self.hand_over();
        mid
    }

    /// Peer `i` leaves.
    pub fn leave(&mut self, i: usize) {
        let id = self.peers[i].id;
        let home = self.home(id);
        self.workers[home].handle_leave(id, self.now);
        self.hand_over();
    }

    /// Peer `i` (a publisher) sends a VP8 packet on line `mid`.
    pub fn send_video(&mut self, i: usize, mid: Mid, keyframe: bool) {
        let now = self.now;
        let addr = self.peers[i].addr;
        let rtc = &mut self.peers[i].rtc;
        let pt = rtc
            .codec_config()
            .params()
            .iter()
            .find(|p| p.spec().codec == StrCodec::Vp8)
            .map(|p| p.pt())
            .expect("payload type");
        let mut payload = vec![0x5Au8; 1000];
        payload[0] = 0x10;
        payload[1] = if keyframe { 0x50 } else { 0x51 };
        self.seq += 1;
        let mut api = rtc.direct_api();
        let tx = api.stream_tx_by_mid(mid, None).expect("stream");
        tx.write_rtp(
            RtpWrite::new(
                pt,
                SeqNo::from(self.seq),
                (self.seq * 3000) as u32,
                now,
                payload,
            )
            .marker(true),
        );
        let _ = rtc.handle_input(Input::Timeout(now));
        while let Ok(o) = rtc.poll_output() {
            match o {
                Output::Transmit(t) => self.from_peers.push((addr, t.contents.to_vec())),
                Output::Timeout(_) => break,
                Output::Event(_) => {}
            }
        }
        self.deliver_from_peers();
    }

    /// Peer `i` asks for a keyframe of every stream it receives (PLI).
    pub fn request_keyframes(&mut self, i: usize) {
        let p = &mut self.peers[i];
        let ssrcs: Vec<_> = p
            .received
            .iter()
            .map(|r| r.ssrc)
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut api = p.rtc.direct_api();
        for ssrc in ssrcs {
            if let Some(rx) = api.stream_rx(&ssrc.into()) {
                rx.request_keyframe(KeyframeRequestKind::Pli);
            }
        }
        let _ = p.rtc.handle_input(Input::Timeout(self.now));
        poll_peer(p, &mut self.from_peers, true);
        self.deliver_from_peers();
    }

    /// Each worker's handoffs to the others, until none are left.
    fn hand_over(&mut self) {
        loop {
            let mut moved = false;
            for w in 0..self.workers.len() {
                let items: Vec<_> = self.workers[w].outgoing().drain(..).collect();
                for (to, item) in items {
                    moved = true;
                    self.workers[to].handle_handoff(w, item, self.now);
                }
            }
            if !moved {
                break;
            }
        }
    }

    fn deliver_from_peers(&mut self) {
        let now = self.now;
        for (src, data) in std::mem::take(&mut self.from_peers) {
            let w = self.socket_of(src);
            self.workers[w].receive_datagram(src, &data, now);
        }
        self.hand_over();
    }

    /// Every worker's datagrams to their peers.
    fn deliver(&mut self) {
        let now = self.now;
        for w in &mut self.workers {
            let outbox = w.outbox();
            for d in outbox.datagrams() {
                let Some(p) = self.peers.iter_mut().find(|p| p.addr == d.destination) else {
                    continue;
                };
                let r = Receive::new(Protocol::Udp, WORKER, d.destination, outbox.bytes(d))
                    .expect("datagram");
                let _ = p.rtc.handle_input(Input::Receive(now, r));
                poll_peer(p, &mut self.from_peers, true);
            }
            outbox.clear();
        }
    }

    /// Moves datagrams and handoffs, answers offers, and lets `ms` milliseconds pass.
    pub fn pump(&mut self, ms: u64) {
        for _ in 0..ms.div_ceil(5) {
            self.now += Duration::from_millis(5);
            let now = self.now;
            for w in &mut self.workers {
                w.handle_timeout(now);
            }
            self.hand_over();
            self.deliver();
            for p in &mut self.peers {
                let _ = p.rtc.handle_input(Input::Timeout(now));
                poll_peer(p, &mut self.from_peers, true);
            }
            self.deliver_from_peers();
            for i in 0..self.peers.len() {
                while let Ok(ev) = self.peers[i].events.try_recv() {
                    if let EdgeEvent::RecvOffer { sdp, .. } = ev {
                        let p = &mut self.peers[i];
                        let offer = SdpOffer::from_sdp_string(&sdp).expect("offer");
                        let answer = p.rtc.sdp_api().accept_offer(offer).expect("accept");
                        let (id, sdp) = (p.id, answer.to_sdp_string());
                        let home = self.home(id);
                        self.workers[home]
                            .handle_answer(id, &sdp, now)
                            .expect("answer");
                    } else {
                        self.peers[i].events_seen.push(ev);
                    }
                }
            }
            self.hand_over();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Frames each subscriber received so far.
    fn frames(lab: &MeshLab, subs: &[usize]) -> Vec<usize> {
        subs.iter().map(|&s| lab.peers[s].received.len()).collect()
    }

    #[test]
    fn two_workers_share_a_lesson_and_forget_it_together() {
        let mut lab = MeshLab::new(2);
        // Peer 0 is participant 1 (worker 1); peers 1..=4 are participants 2..=5, two on each
        // worker, so half the classroom receives through a handoff.
        let teacher = lab.join(7);
        let mid = lab.publish(teacher);
        lab.pump(500);
        let subs: Vec<usize> = (0..4).map(|_| lab.join(7)).collect();
        lab.pump(2000);
        let homes: Vec<usize> = subs.iter().map(|&s| lab.home(lab.peers[s].id)).collect();
        assert_eq!(homes, vec![0, 1, 0, 1]);
        assert_eq!(lab.home(lab.peers[teacher].id), 1);
        for w in &lab.workers {
            assert!(
                w.router.producers().count() == 1,
                "each worker knows the teacher's track"
            );
        }

        for n in 0..50 {
            lab.send_video(teacher, mid, n % 10 == 0);
            lab.pump(20);
        }
        let got = frames(&lab, &subs);
        assert!(
            got.iter().all(|&g| g >= 45),
            "every subscriber, on either worker, receives the lesson: {got:?}"
        );
        let handed = lab.workers[0].stats().handoffs_in;
        assert!(
            (45..=50).contains(&handed),
            "worker 0 gets each packet once, not once per subscriber: {handed}"
        );

        // Everyone asks for a keyframe at once: the publisher hears one request per worker's
        // burst at most, not one per subscriber.
        let before = lab.peers[teacher].keyframe_requests;
        for &s in &subs {
            lab.request_keyframes(s);
        }
        lab.pump(50);
        let asked = lab.peers[teacher].keyframe_requests - before;
        assert!(
            (1..=2).contains(&asked),
            "four subscribers' PLIs reach the teacher as {asked} request(s)"
        );

        // Worker 0's subscribers leave: it stops asking for the teacher's packets.
        lab.leave(subs[0]);
        lab.leave(subs[2]);
        lab.pump(100);
        let handed = lab.workers[0].stats().handoffs_in;
        for n in 0..10 {
            lab.send_video(teacher, mid, n == 0);
            lab.pump(20);
        }
        assert_eq!(
            lab.workers[0].stats().handoffs_in,
            handed,
            "no packet crosses to a worker without consumers"
        );
        assert!(lab.workers[1].interest.is_empty());

        // The teacher leaves: every worker forgets the track, and the subscriber on the other
        // worker hears it is gone.
        let seen_before = lab.peers[subs[3]].events_seen.len();
        lab.leave(teacher);
        lab.pump(100);
        for w in &lab.workers {
            assert_eq!(w.router.producers().count(), 0);
            assert!(w.remote.is_empty() && w.directory.is_empty());
        }
        let gone = lab.peers[subs[3]].events_seen[seen_before..]
            .iter()
            .any(|e| matches!(e, EdgeEvent::TrackUnpublished(_)));
        assert!(gone, "the remaining subscriber is told the track is gone");
    }
}
