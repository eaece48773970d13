//! Players that receive on the media lines of their own offer (WHEP): the client offers
//! receive-only audio and video once, the worker answers, and nothing is renegotiated after.
//! The speaker's (the host role's) camera and microphone are bound to free lines of their kind
//! as they are published — camera before a shared screen — and a line whose track ends is free
//! for the next one (the player sees the same SSRC carry the new track). Everything else of the
//! session stays unoffered to it.

use std::time::Instant;

use str0m::change::SdpOffer;
use str0m::media::Mid;
use tongbu_media::{MediaKind, ParticipantId};
use tracing::info;

use crate::edge::{EdgeError, MediaRole};
use crate::participant::{OutState, Receiving};
use crate::sdp_rewrite;
use crate::transport::TransportRole;
use crate::worker::Worker;

/// The media lines an answer sends on, with their kind, in its order.
fn sending_lines(answer: &str) -> Vec<(Mid, MediaKind)> {
    let mut lines = Vec::new();
    let mut kind = None;
    let mut mid = None;
    let mut sends = false;
    let mut flush = |kind: Option<MediaKind>, mid: Option<Mid>, sends: bool| {
        if let (Some(k), Some(m), true) = (kind, mid, sends) {
            lines.push((m, k));
        }
    };
    for line in answer.lines() {
        if let Some(m) = line.strip_prefix("m=") {
            flush(kind, mid.take(), sends);
            kind = match m.split(' ').next() {
                Some("audio") => Some(MediaKind::Audio),
                Some("video") => Some(MediaKind::Video),
                _ => None,
            };
            sends = false;
        } else if let Some(m) = line.strip_prefix("a=mid:") {
            mid = Some(Mid::from(m.trim()));
        } else if matches!(line.trim(), "a=sendonly" | "a=sendrecv") {
            sends = true;
        }
    }
    flush(kind, mid, sends);
    lines
}

impl Worker {
    /// A player's offer: its `recv` transport is built from it, its lines noted and filled.
    pub(crate) fn watch(
        &mut self,
        pid: ParticipantId,
        sdp: &str,
        now: Instant,
    ) -> Result<String, EdgeError> {
        let offer = SdpOffer::from_sdp_string(sdp).map_err(|e| EdgeError::BadSdp(e.to_string()))?;
        let p = self.participants.get(&pid).ok_or(EdgeError::NotJoined)?;
        if !matches!(p.receiving, Receiving::ClientLines(_)) || p.recv.is_some() {
            return Err(EdgeError::Rejected(
                "this participant does not receive on its own offer, or already does".into(),
            ));
        }
        let id = self.new_transport(pid, TransportRole::Recv, now);
        let t = self
            .transports
            .get_mut(id.index())
            .ok_or(EdgeError::NotJoined)?;
        let answer = match t.rtc.sdp_api().accept_offer(offer) {
            Ok(a) => a.to_sdp_string(),
            Err(e) => {
                self.close_transport(id);
                return Err(EdgeError::Rejected(e.to_string()));
            }
        };
        let lines = sending_lines(&answer);
        if lines.is_empty() {
            self.close_transport(id);
            return Err(EdgeError::Rejected(
                "the offer has no media line to receive on (recvonly audio or video)".into(),
            ));
        }
        info!(lines = lines.len(), "player's own lines answered");
        if let Some(p) = self.participants.get_mut(&pid) {
            p.recv = Some(id);
            p.receiving = Receiving::ClientLines(lines);
        }
        self.bind_client_lines(pid, now);
        self.drive(id, now);
        Ok(sdp_rewrite::answer(sdp, &answer))
    }

    /// Binds the speaker's tracks not yet delivered to free lines of their kind, then makes
    /// consumers of them once the transport is connected.
    pub(crate) fn bind_client_lines(&mut self, pid: ParticipantId, now: Instant) {
        let roles = &self.producer_roles;
        let screens = &self.screen_producers;
        let Some(p) = self.participants.get_mut(&pid) else {
            return;
        };
        let Receiving::ClientLines(lines) = &p.receiving else {
            return;
        };
        let mut free: Vec<(Mid, MediaKind)> = lines
            .iter()
            .filter(|(m, _)| {
                !p.out
                    .iter()
                    .any(|o| matches!(o.state, OutState::Open(x) if x == *m))
            })
            .copied()
            .collect();
        let mut waiting: Vec<usize> = (0..p.out.len())
            .filter(|&i| p.out[i].state == OutState::ToOpen)
            .filter(|&i| roles.get(&p.out[i].producer) == Some(&MediaRole::Host))
            .collect();
        waiting.sort_by_key(|&i| screens.contains(&p.out[i].producer));
        for i in waiting {
            let o = &mut p.out[i];
            if let Some(at) = free.iter().position(|(_, k)| *k == o.kind) {
                o.state = OutState::Open(free.remove(at).0);
            }
        }
        self.subscribe_open(pid, now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lines_an_answer_sends_on() {
        let answer = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=sendonly\r\n\
                      m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:1\r\na=sendonly\r\n\
                      m=video 0 UDP/TLS/RTP/SAVPF 96\r\na=mid:2\r\na=inactive\r\n";
        assert_eq!(
            sending_lines(answer),
            [
                (Mid::from("0"), MediaKind::Audio),
                (Mid::from("1"), MediaKind::Video)
            ]
        );
    }
}
