//! One consumer's outgoing RTP stream on its subscriber's transport: the SSRC, payload types and
//! header extensions that str0m negotiated for the media line, the packets written for it (with
//! their retransmissions on RTX), the counters its sender reports carry, and what the
//! subscriber's receiver reports say of it.

use std::time::{Duration, Instant};

use str0m::media::Mid;
use tongbu_media::vp8::{self, PictureIds};
use tongbu_media::{Codec, MediaKind, ProducerId, SenderClock};

use crate::rtcp::{ReportBlock, SenderInfo};

/// Sender reports remembered for round-trip times (a receiver echoes the last one it got).
const REPORTS_KEPT: usize = 4;

/// Header extensions the subscriber accepted, by their one-byte ids.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Extensions {
    /// `urn:ietf:params:rtp-hdrext:sdes:mid`, with the line's mid.
    pub mid: Option<u8>,
    /// `…transport-wide-cc-extensions-01`.
    pub twcc: Option<u8>,
}

/// The retransmission stream of a video line (RFC 4588).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rtx {
    pub ssrc: u32,
    pub pt: u8,
    next_seq: u64,
}

impl Rtx {
    /// An RTX stream on `ssrc` with payload type `pt`.
    pub fn new(ssrc: u32, pt: u8) -> Self {
        Self {
            ssrc,
            pt,
            next_seq: 1000,
        }
    }
}

/// What one outgoing packet carries.
#[derive(Debug, Clone, Copy)]
pub struct Packet<'a> {
    /// Extended sequence number (the rollover counter is its high part).
    pub seq: u64,
    pub timestamp: u32,
    pub pt: u8,
    pub marker: bool,
    pub payload: &'a [u8],
    /// VP8 picture ID and TL0PICIDX to write into the copied payload (a simulcast copy).
    pub ids: Option<PictureIds>,
}

/// Appends `p`'s payload to `out`, its VP8 descriptor renumbered if it is a simulcast copy.
#[inline]
fn write_payload(out: &mut Vec<u8>, p: &Packet<'_>) {
    let start = out.len();
    out.extend_from_slice(p.payload);
    if let Some(ids) = p.ids {
        vp8::set_ids(&mut out[start..], ids.picture_id, ids.tl0picidx);
    }
}

/// One consumer's outgoing stream.
#[derive(Debug, Clone)]
pub struct SendStream {
    /// Its transport's send state in the worker's egress table.
    pub egress: usize,
    pub mid: Mid,
    /// What it carries.
    pub producer: ProducerId,
    pub ssrc: u32,
    pub rtx: Option<Rtx>,
    pub clock_rate: u32,
    pub ext: Extensions,
    /// Audio: the payload type of redundant audio (RED) if the subscriber negotiated it; a
    /// redundant packet then goes whole, else as its primary block on the opus payload type.
    pub red_pt: Option<u8>,
    mid_bytes: [u8; 16],
    mid_len: usize,
    // What its sender reports say.
    packets: u32,
    octets: u32,
    last_timestamp: u32,
    last_sent: Option<Instant>,
    reports: [(u32, Option<Instant>); REPORTS_KEPT],
    reports_at: usize,
    // What the subscriber's receiver reports say.
    /// Fraction lost (0–1) over the last [`LOSS_SAMPLE`] packets or more.
    pub loss: Option<f32>,
    /// Where that window began: the report's highest sequence number and cumulative loss.
    loss_from: Option<(u32, i32)>,
    /// The previous report's highest sequence number.
    last_highest: Option<u32>,
    pub rtt: Option<Duration>,
    /// NACKs, PLIs and FIRs it sent.
    pub nacks: u64,
    pub keyframe_requests: u64,
}

impl SendStream {
    /// The stream of media line `mid` on the transport whose egress is `egress`.
    pub fn new(
        egress: usize,
        mid: Mid,
        producer: ProducerId,
        ssrc: u32,
        kind: MediaKind,
        rtx: Option<Rtx>,
        ext: Extensions,
    ) -> Self {
        let mut mid_bytes = [0u8; 16];
        let m = mid.as_bytes();
        let mid_len = m.len().min(16);
        mid_bytes[..mid_len].copy_from_slice(&m[..mid_len]);
        Self {
            egress,
            mid,
            producer,
            ssrc,
            rtx: if kind == MediaKind::Video { rtx } else { None },
            clock_rate: Codec::for_kind(kind).clock_rate(),
            ext: Extensions {
                mid: ext.mid.filter(|_| mid_len > 0),
                ..ext
            },
            red_pt: None,
            mid_bytes,
            mid_len,
            packets: 0,
            octets: 0,
            last_timestamp: 0,
            last_sent: None,
            reports: [(0, None); REPORTS_KEPT],
            reports_at: 0,
            loss: None,
            loss_from: None,
            last_highest: None,
            rtt: None,
            nacks: 0,
            keyframe_requests: 0,
        }
    }

    /// Writes `p` as an RTP packet at the end of `out`, with the transport-wide sequence number
    /// if given, and counts it for sender reports. Returns the length of its header; the
    /// payload follows.
    #[inline]
    pub fn write(
        &mut self,
        out: &mut Vec<u8>,
        p: &Packet<'_>,
        twcc: Option<u16>,
        now: Instant,
    ) -> usize {
        let header = self.write_header(out, self.ssrc, p.pt, p.seq as u16, p, twcc);
        write_payload(out, p);
        self.packets = self.packets.wrapping_add(1);
        self.octets = self.octets.wrapping_add(p.payload.len() as u32);
        self.last_timestamp = p.timestamp;
        self.last_sent = Some(now);
        header
    }

    /// Writes `p` again for a NACK: on the RTX stream (its own numbering, the original sequence
    /// number first in the payload) if the subscriber negotiated one, else as it was. Returns
    /// the header length and the extended sequence number (for the SRTP rollover counter).
    pub fn write_resend(
        &mut self,
        out: &mut Vec<u8>,
        p: &Packet<'_>,
        twcc: Option<u16>,
    ) -> (usize, u64) {
        match self.rtx {
            Some(mut rtx) => {
                let seq = rtx.next_seq;
                rtx.next_seq += 1;
                self.rtx = Some(rtx);
                let header = self.write_header(out, rtx.ssrc, rtx.pt, seq as u16, p, twcc);
                out.extend_from_slice(&(p.seq as u16).to_be_bytes());
                write_payload(out, p);
                (header, seq)
            }
            None => {
                let header = self.write_header(out, self.ssrc, p.pt, p.seq as u16, p, twcc);
                write_payload(out, p);
                (header, p.seq)
            }
        }
    }

    /// Writes a padding-only packet of `len` bytes of padding on the RTX stream (a bandwidth
    /// probe; the receiver discards it after counting its transport-wide sequence number).
    /// Returns the header length and the extended sequence number; `None` without RTX.
    pub fn write_padding(
        &mut self,
        out: &mut Vec<u8>,
        twcc: Option<u16>,
        len: u8,
    ) -> Option<(usize, u64)> {
        let mut rtx = self.rtx?;
        let seq = rtx.next_seq;
        rtx.next_seq += 1;
        self.rtx = Some(rtx);
        let p = Packet {
            seq,
            timestamp: self.last_timestamp,
            pt: rtx.pt,
            marker: false,
            payload: &[],
            ids: None,
        };
        let start = out.len();
        let header = self.write_header(out, rtx.ssrc, rtx.pt, seq as u16, &p, twcc);
        // P bit: the last byte says how many bytes of padding end the packet.
        out[start] |= 0x20;
        out.resize(out.len() + usize::from(len) - 1, 0);
        out.push(len);
        Some((header, seq))
    }

    fn write_header(
        &self,
        out: &mut Vec<u8>,
        ssrc: u32,
        pt: u8,
        seq: u16,
        p: &Packet<'_>,
        twcc: Option<u16>,
    ) -> usize {
        let start = out.len();
        let mid = self.ext.mid.map(|id| (id, &self.mid_bytes[..self.mid_len]));
        let twcc = self.ext.twcc.zip(twcc);
        let has_ext = mid.is_some() || twcc.is_some();
        out.push(if has_ext { 0x90 } else { 0x80 });
        out.push((u8::from(p.marker) << 7) | (pt & 0x7f));
        out.extend_from_slice(&seq.to_be_bytes());
        out.extend_from_slice(&p.timestamp.to_be_bytes());
        out.extend_from_slice(&ssrc.to_be_bytes());
        if has_ext {
            // RFC 8285 one-byte header extensions.
            out.extend_from_slice(&[0xbe, 0xde, 0, 0]);
            let body = out.len();
            if let Some((id, m)) = mid {
                out.push((id << 4) | (m.len() as u8 - 1));
                out.extend_from_slice(m);
            }
            if let Some((id, seq)) = twcc {
                out.push((id << 4) | 1);
                out.extend_from_slice(&seq.to_be_bytes());
            }
            while !(out.len() - body).is_multiple_of(4) {
                out.push(0);
            }
            let words = ((out.len() - body) / 4) as u16;
            out[body - 2..body].copy_from_slice(&words.to_be_bytes());
        }
        out.len() - start
    }

    /// The sender report for now: the publisher's clock when its own report is known (so the
    /// browser keeps the publisher's audio and video in sync), else the server's wall clock
    /// against the last timestamp sent. `None` before the first packet.
    pub fn sender_report(
        &mut self,
        now: Instant,
        wall_ntp: u64,
        publisher: Option<SenderClock>,
    ) -> Option<SenderInfo> {
        let last_sent = self.last_sent?;
        let (ntp, rtp) = match publisher {
            Some(c) => {
                let elapsed = now.saturating_duration_since(c.at);
                (
                    c.ntp.wrapping_add(ntp_duration(elapsed)),
                    c.rtp.wrapping_add(self.ticks(elapsed)),
                )
            }
            None => {
                let elapsed = now.saturating_duration_since(last_sent);
                (
                    wall_ntp,
                    self.last_timestamp.wrapping_add(self.ticks(elapsed)),
                )
            }
        };
        self.reports[self.reports_at] = ((ntp >> 16) as u32, Some(now));
        self.reports_at = (self.reports_at + 1) % REPORTS_KEPT;
        Some(SenderInfo {
            ssrc: self.ssrc,
            ntp,
            rtp,
            packets: self.packets,
            octets: self.octets,
        })
    }

    fn ticks(&self, d: Duration) -> u32 {
        (d.as_secs_f64() * f64::from(self.clock_rate)) as u64 as u32
    }

    /// A receiver report's block about this stream: loss, and the round trip from the sender
    /// report it echoes.
    pub fn on_report(&mut self, b: &ReportBlock, now: Instant) {
        let idle = self.last_highest == Some(b.highest_seq);
        self.last_highest = Some(b.highest_seq);
        match self.loss_from {
            // Nothing sent since the last report (a paused video): nothing lost either, as the
            // report's own fraction says; the next window starts when packets come again.
            Some(_) if idle => {
                self.loss = Some(0.0);
                self.loss_from = Some((b.highest_seq, b.cumulative_lost));
            }
            // The first report's own fraction, until a window has enough packets.
            None => {
                self.loss = Some(f32::from(b.fraction_lost) / 256.0);
                self.loss_from = Some((b.highest_seq, b.cumulative_lost));
            }
            Some((seq, lost)) => {
                let expected = b.highest_seq.wrapping_sub(seq);
                if (LOSS_SAMPLE..1 << 30).contains(&expected) {
                    // Duplicates can make the count fall; a window loses nothing below zero.
                    let lost = b.cumulative_lost.saturating_sub(lost).max(0) as f32;
                    self.loss = Some((lost / expected as f32).min(1.0));
                    self.loss_from = Some((b.highest_seq, b.cumulative_lost));
                } else if expected >= 1 << 30 {
                    // The sequence went back (a new stream on the SSRC): start again.
                    self.loss_from = Some((b.highest_seq, b.cumulative_lost));
                }
            }
        }
        if b.last_sr == 0 {
            return;
        }
        let sent = self
            .reports
            .iter()
            .find(|(mid, at)| *mid == b.last_sr && at.is_some())
            .and_then(|(_, at)| *at);
        if let Some(sent) = sent {
            let held = Duration::from_secs_f64(f64::from(b.delay_since_last_sr) / 65_536.0);
            self.rtt = Some(now.saturating_duration_since(sent).saturating_sub(held));
        }
    }
}

/// Packets a loss figure is judged over, at least: each receiver report's own fraction covers
/// about a second, and for a silent microphone under DTX (five packets a second) or a paused
/// video one lost packet in such a second reads as 20 % or more.
pub const LOSS_SAMPLE: u32 = 40;

/// A duration in NTP's 32.32 fixed point.
pub fn ntp_duration(d: Duration) -> u64 {
    (d.as_secs() << 32) + ((u64::from(d.subsec_nanos()) << 32) / 1_000_000_000)
}

/// The NTP time (RFC 3550: seconds since 1900, 32.32 fixed point) of a system time.
pub fn ntp_time(t: std::time::SystemTime) -> u64 {
    const UNIX_TO_NTP: u64 = 2_208_988_800;
    let since = t.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    ntp_duration(since).wrapping_add(UNIX_TO_NTP << 32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(ext: Extensions, rtx: Option<Rtx>) -> SendStream {
        SendStream::new(
            0,
            Mid::from("3"),
            ProducerId(1),
            0x1234_5678,
            MediaKind::Video,
            rtx,
            ext,
        )
    }

    const PACKET: Packet<'static> = Packet {
        seq: 0x1_0005,
        timestamp: 90_000,
        pt: 96,
        marker: true,
        payload: b"vp8!",
        ids: None,
    };

    #[test]
    fn a_simulcast_copy_carries_its_renumbered_picture_id_and_the_cache_keeps_the_original() {
        let now = Instant::now();
        let mut s = stream(Extensions::default(), Some(Rtx::new(0x0bad_cafe, 97)));
        // X=1,S=1 | I=1,L=1 | 15-bit picture ID 0x0123 | TL0PICIDX 7 | VP8 keyframe header.
        let original = [0x90, 0xC0, 0x81, 0x23, 0x07, 0x50, 0xAA];
        let p = Packet {
            payload: &original,
            ids: Some(PictureIds {
                picture_id: 0x0456,
                tl0picidx: 9,
            }),
            ..PACKET
        };
        let mut out = Vec::new();
        let header = s.write(&mut out, &p, None, now);
        assert_eq!(&out[header..], &[0x90, 0xC0, 0x84, 0x56, 0x09, 0x50, 0xAA]);
        // Sent again on RTX: after the original sequence number, renumbered the same way.
        let mut again = Vec::new();
        let (header, _) = s.write_resend(&mut again, &p, None);
        assert_eq!(&again[header + 2..], &out[out.len() - original.len()..]);
        assert_eq!(
            original[2..5],
            [0x81, 0x23, 0x07],
            "the shared payload is untouched"
        );
    }

    /// webrtc-rs's RTP reader (an independent implementation) parses what we write.
    #[test]
    fn packets_carry_mid_and_transport_sequence_extensions() {
        use rtc::rtp::packet::Packet as Rtp;
        use rtc::shared::marshal::Unmarshal;
        let now = Instant::now();
        let mut s = stream(
            Extensions {
                mid: Some(4),
                twcc: Some(3),
            },
            None,
        );
        let mut out = vec![0xaa];
        let header = s.write(&mut out, &PACKET, Some(777), now);
        assert_eq!(header, 12 + 4 + 8);
        let p = Rtp::unmarshal(&mut &out[1..]).expect("webrtc-rs reads it");
        assert_eq!(p.header.sequence_number, 5);
        assert_eq!((p.header.timestamp, p.header.ssrc), (90_000, 0x1234_5678));
        assert!(p.header.marker);
        assert_eq!(p.header.payload_type, 96);
        assert_eq!(p.header.get_extension(4).as_deref(), Some(&b"3"[..]));
        assert_eq!(
            p.header.get_extension(3).as_deref(),
            Some(&777u16.to_be_bytes()[..])
        );
        assert_eq!(&p.payload[..], b"vp8!");
        let mut bare = Vec::new();
        assert_eq!(
            stream(Extensions::default(), None).write(&mut bare, &PACKET, Some(1), now),
            12
        );
    }

    #[test]
    fn a_resend_goes_on_rtx_with_the_original_number_first() {
        let mut s = stream(Extensions::default(), Some(Rtx::new(0xabcd, 97)));
        let mut out = Vec::new();
        let (header, seq) = s.write_resend(&mut out, &PACKET, None);
        assert_eq!((header, seq), (12, 1000));
        assert_eq!(&out[8..12], &0xabcdu32.to_be_bytes());
        assert_eq!(out[1] & 0x7f, 97);
        assert_eq!(
            &out[12..14],
            &5u16.to_be_bytes(),
            "original sequence number"
        );
        assert_eq!(&out[14..], b"vp8!");
        let (_, next) = s.write_resend(&mut Vec::new(), &PACKET, None);
        assert_eq!(next, 1001);
        let mut plain = stream(Extensions::default(), None);
        let mut out = Vec::new();
        assert_eq!(plain.write_resend(&mut out, &PACKET, None), (12, 0x1_0005));
        assert_eq!(&out[2..4], &5u16.to_be_bytes());
    }

    #[test]
    fn sender_reports_follow_the_publishers_clock_and_give_round_trips() {
        let t0 = Instant::now();
        let mut s = stream(Extensions::default(), None);
        assert!(
            s.sender_report(t0, 1 << 40, None).is_none(),
            "nothing sent yet"
        );
        s.write(&mut Vec::new(), &PACKET, None, t0);
        let clock = SenderClock {
            ntp: 0xe000_0000_0000_0000,
            rtp: 1_000,
            at: t0,
        };
        let half = t0 + Duration::from_millis(500);
        let sr = s.sender_report(half, 0, Some(clock)).unwrap();
        assert_eq!(sr.ntp, clock.ntp + (1 << 31), "half a second later");
        assert_eq!(sr.rtp, 1_000 + 45_000);
        assert_eq!((sr.packets, sr.octets), (1, 4));
        // The subscriber echoes it 100 ms after receiving it, 160 ms after we sent it.
        s.on_report(
            &ReportBlock {
                ssrc: s.ssrc,
                fraction_lost: 64,
                cumulative_lost: 3,
                highest_seq: 5,
                jitter: 9,
                last_sr: (sr.ntp >> 16) as u32,
                delay_since_last_sr: 65_536 / 10,
            },
            half + Duration::from_millis(160),
        );
        let rtt = s.rtt.unwrap().as_millis();
        assert!((59..=61).contains(&rtt), "{rtt} ms");
        assert_eq!(s.loss, Some(0.25));
        // A sparse stream: reports of 5 packets, one lost in some, do not swing the figure; it
        // moves once 40 packets have been reported on (4 of them lost: 10 %).
        let ssrc = s.ssrc;
        let block = |highest_seq, cumulative_lost| ReportBlock {
            ssrc,
            fraction_lost: 51,
            cumulative_lost,
            highest_seq,
            jitter: 0,
            last_sr: 0,
            delay_since_last_sr: 0,
        };
        for i in 1..=7u32 {
            s.on_report(&block(5 + 5 * i, 3 + (i / 2) as i32), half);
            assert_eq!(
                s.loss,
                Some(0.25),
                "report {i}: still the last window's figure"
            );
        }
        s.on_report(&block(45, 7), half);
        assert_eq!(s.loss, Some(0.1));
        // Paused: reports with nothing new say nothing was lost.
        s.on_report(&block(45, 7), half);
        assert_eq!(s.loss, Some(0.0));
        // Without the publisher's report: the wall clock, the timestamp extrapolated.
        let sr = s.sender_report(half, 42, None).unwrap();
        assert_eq!((sr.ntp, sr.rtp), (42, 90_000 + 45_000));
    }

    #[test]
    fn ntp_time_counts_from_1900() {
        let t = std::time::UNIX_EPOCH + Duration::from_millis(1500);
        assert_eq!(ntp_time(t), ((2_208_988_801u64) << 32) + (1 << 31));
    }
}
