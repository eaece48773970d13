//! Counting a subscriber's SRTP packets from their clear headers.
//!
//! SRTP encrypts an RTP packet's payload, not its header: sequence number, timestamp and SSRC
//! travel in the clear. The server rewrites a subscriber's sequence numbers and timestamps by an
//! offset of its own and forwards the publisher's payload unchanged. So once a stream's offsets
//! are known, each of its datagrams says, without decryption, which packet of which publisher it
//! carries: `publisher seq = seq − seq offset`, and that packet's send stamp, timestamp and
//! payload size are on record ([`SendStamps`]).
//!
//! The offsets are learnt from packets that the subscriber's WebRTC stack decrypted and
//! authenticated: each decrypted packet is matched to what was sent by its payload
//! ([`crate::latency::Fingerprint`]). After [`LEARN_PACKETS`] decrypted packets agree on the
//! offsets the stream is counted from its headers. A datagram that disagrees with the record
//! (another timestamp offset, another size, an unknown sequence) ends that: it and the packets
//! after it are decrypted again until the offsets are learnt anew.
//!
//! Plain functions over bytes; no sockets (the swarm calls them).

use crate::latency::{SendStamps, Sent};

/// Decrypted packets that must agree on a stream's offsets before its headers are trusted.
pub const LEARN_PACKETS: u8 = 20;

/// The clear header of an RTP datagram (SRTP or not).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpView {
    pub ssrc: u32,
    pub seq: u16,
    pub timestamp: u32,
    /// Fixed header, CSRCs and header extension.
    pub header_len: usize,
}

/// The clear header of `datagram` if it is an RTP packet; `None` for RTCP, STUN, DTLS or a
/// datagram too short for the header it announces.
pub fn rtp_view(datagram: &[u8]) -> Option<RtpView> {
    let (&b0, &b1) = (datagram.first()?, datagram.get(1)?);
    // RTP version 2; RTCP shares the first byte's range but its packet types 192–223 fall where
    // RTP's marker bit and payload types 64–95 would (RFC 5761 §4).
    if b0 >> 6 != 2 || (64..=95).contains(&(b1 & 0x7f)) || datagram.len() < 12 {
        return None;
    }
    let u16_at = |i: usize| u16::from_be_bytes([datagram[i], datagram[i + 1]]);
    let u32_at = |i: usize| {
        u32::from_be_bytes([
            datagram[i],
            datagram[i + 1],
            datagram[i + 2],
            datagram[i + 3],
        ])
    };
    let mut header_len = 12 + 4 * usize::from(b0 & 0x0f);
    if b0 & 0x10 != 0 {
        if datagram.len() < header_len + 4 {
            return None;
        }
        header_len += 4 + 4 * usize::from(u16_at(header_len + 2));
    }
    if datagram.len() < header_len {
        return None;
    }
    Some(RtpView {
        ssrc: u32_at(8),
        seq: u16_at(2),
        timestamp: u32_at(4),
        header_len,
    })
}

/// How a subscriber's stream relates to the publisher's: the server's offsets and the SRTP
/// overhead (the auth tag) each datagram adds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Relay {
    pub origin_ssrc: u32,
    pub seq_offset: u16,
    pub ts_offset: u32,
    pub overhead: usize,
}

impl Relay {
    /// What `sent` tells of the relay, given the datagram `view`/`len` that carried it.
    fn of(view: &RtpView, len: usize, sent: &Sent) -> Option<Self> {
        let overhead = len.checked_sub(view.header_len + sent.origin.payload_len)?;
        Some(Self {
            origin_ssrc: sent.origin.ssrc,
            seq_offset: view.seq.wrapping_sub(sent.origin.seq),
            ts_offset: view.timestamp.wrapping_sub(sent.origin.timestamp),
            overhead,
        })
    }
}

/// One received stream's learnt relay.
#[derive(Debug, Clone, Default)]
pub struct StreamMap {
    candidate: Option<Relay>,
    agreed: u8,
}

impl StreamMap {
    /// A decrypted packet (carried by the datagram `view`, `len` bytes) turned out to be `sent`.
    pub fn learn(&mut self, view: &RtpView, len: usize, sent: &Sent) {
        let relay = Relay::of(view, len, sent);
        if relay.is_some() && relay == self.candidate {
            self.agreed = self.agreed.saturating_add(1);
        } else {
            self.candidate = relay;
            self.agreed = u8::from(relay.is_some());
        }
    }

    /// The relay, once enough decrypted packets agreed on it.
    pub fn relay(&self) -> Option<Relay> {
        self.candidate.filter(|_| self.agreed >= LEARN_PACKETS)
    }

    /// The datagram `view` (`len` bytes) of this stream, matched to the packet it carries without
    /// decrypting it. Unless [`Match::Carries`], the caller hands the datagram to the WebRTC
    /// stack; after [`Match::Disagrees`] the stream is learnt anew.
    pub fn matched(&mut self, view: &RtpView, len: usize, stamps: &SendStamps) -> Match {
        let Some(relay) = self.relay() else {
            return Match::Learning;
        };
        let sent = stamps
            .by_seq(relay.origin_ssrc, view.seq.wrapping_sub(relay.seq_offset))
            .filter(|s| Relay::of(view, len, s) == Some(relay));
        match sent {
            Some(s) => Match::Carries(s),
            None => {
                *self = Self::default();
                Match::Disagrees
            }
        }
    }
}

/// What a datagram's clear header says of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Match {
    /// Its stream's offsets are not known yet.
    Learning,
    /// It carries this packet of the publisher's.
    Carries(Sent),
    /// It fits no packet on record (the server changed the stream's offsets, or it is no copy
    /// of a packet sent).
    Disagrees,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::latency::{Fingerprint, Origin};
    use std::time::Duration;

    /// An SRTP-shaped datagram: header (with a one-word extension if `ext`), payload, 16-byte tag.
    fn datagram(ssrc: u32, seq: u16, ts: u32, payload_len: usize, ext: bool) -> Vec<u8> {
        let mut d = vec![0x80 | if ext { 0x10 } else { 0 }, 96];
        d.extend(seq.to_be_bytes());
        d.extend(ts.to_be_bytes());
        d.extend(ssrc.to_be_bytes());
        if ext {
            d.extend([0xbe, 0xde, 0, 1, 0x10, 0xaa, 0, 0]);
        }
        d.extend(std::iter::repeat_n(0x5a, payload_len + 16));
        d
    }

    #[test]
    fn headers_of_rtp_and_not_of_rtcp_stun_or_short_datagrams() {
        let d = datagram(0xdead_beef, 513, 90_000, 100, true);
        assert_eq!(
            rtp_view(&d),
            Some(RtpView {
                ssrc: 0xdead_beef,
                seq: 513,
                timestamp: 90_000,
                header_len: 20
            })
        );
        assert_eq!(
            rtp_view(&datagram(1, 2, 3, 0, false)).unwrap().header_len,
            12
        );
        // A receiver report (PT 201), a STUN binding request, a DTLS record, a cut header.
        assert_eq!(rtp_view(&[0x81, 201, 0, 7, 0, 0, 0, 1, 0, 0, 0, 0]), None);
        assert_eq!(
            rtp_view(&[0x00, 0x01, 0, 0, 0x21, 0x12, 0xa4, 0x42, 0, 0, 0, 0]),
            None
        );
        assert_eq!(rtp_view(&[22, 254, 253, 0, 0, 0, 0, 0, 0, 0, 0, 0]), None);
        assert_eq!(rtp_view(&d[..14]), None, "extension announced but cut");
    }

    /// The publisher (SSRC 7) sent sequence numbers 100.. with timestamps 3000 apart, 500-byte
    /// payloads.
    fn stamps(count: u16) -> SendStamps {
        let mut s = SendStamps::new(Duration::from_secs(5));
        for i in 0..count {
            let origin = Origin {
                ssrc: 7,
                seq: 100 + i,
                timestamp: 3_000 * u32::from(i),
                payload_len: 500,
            };
            s.insert(
                Fingerprint::of(&[i as u8, (i >> 8) as u8]),
                origin,
                1_000 + u64::from(i),
            );
        }
        s
    }

    #[test]
    fn offsets_learnt_from_decrypted_packets_then_headers_alone_are_matched() {
        let stamps = stamps(100);
        let mut map = StreamMap::default();
        // The server numbers this subscriber's copy from 40,000 and shifts timestamps by 77.
        let sub = |i: u16| datagram(42, 40_000 + i, 3_000 * u32::from(i) + 77, 500, true);
        for i in 0..u16::from(LEARN_PACKETS) {
            let d = sub(i);
            let view = rtp_view(&d).unwrap();
            assert_eq!(
                map.matched(&view, d.len(), &stamps),
                Match::Learning,
                "at {i}"
            );
            map.learn(&view, d.len(), &stamps.by_seq(7, 100 + i).unwrap());
        }
        assert_eq!(
            map.relay(),
            Some(Relay {
                origin_ssrc: 7,
                seq_offset: 40_000u16.wrapping_sub(100),
                ts_offset: 77,
                overhead: 16
            })
        );
        let d = sub(50);
        let view = rtp_view(&d).unwrap();
        let Match::Carries(sent) = map.matched(&view, d.len(), &stamps) else {
            panic!("matched by header");
        };
        assert_eq!((sent.origin.seq, sent.ns), (150, 1_050));
    }

    #[test]
    fn a_datagram_that_disagrees_sends_the_stream_back_to_learning() {
        let stamps = stamps(100);
        let mut map = StreamMap::default();
        let sub = |i: u16, len: usize, shift: u32| {
            datagram(42, 9 + i, 3_000 * u32::from(i) + shift, len, false)
        };
        for i in 0..u16::from(LEARN_PACKETS) {
            let d = sub(i, 500, 5);
            map.learn(
                &rtp_view(&d).unwrap(),
                d.len(),
                &stamps.by_seq(7, 100 + i).unwrap(),
            );
        }
        assert!(map.relay().is_some());
        // Another size (the payload was changed), another timestamp offset (the server switched
        // source), a sequence number nothing was sent with: none is counted, each resets.
        for d in [sub(30, 499, 5), sub(31, 500, 6), sub(400, 500, 5)] {
            let mut m = map.clone();
            let got = m.matched(&rtp_view(&d).unwrap(), d.len(), &stamps);
            assert_eq!(got, Match::Disagrees);
            assert_eq!(m.relay(), None);
        }
        // Learning anew needs the full count again.
        let d = sub(32, 500, 6);
        map.matched(&rtp_view(&d).unwrap(), d.len(), &stamps);
        map.learn(
            &rtp_view(&d).unwrap(),
            d.len(),
            &stamps.by_seq(7, 132).unwrap(),
        );
        assert_eq!(map.relay(), None);
    }
}
