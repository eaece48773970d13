//! Reading compound RTCP packets as views over their bytes.

use super::pt;

/// Why a compound packet could not be read further (what came before it was delivered).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RtcpError {
    #[error("RTCP packet header is not version 2")]
    Version,
    #[error("RTCP packet length runs past the end of the datagram")]
    Truncated,
    #[error("RTCP {0} packet too short for its fixed part")]
    TooShort(u8),
}

/// One RTCP packet of a compound datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rtcp<'a> {
    /// SR or RR: the sender and its report blocks (RFC 3550 §6.4).
    Report {
        sender: u32,
        blocks: ReportBlocks<'a>,
    },
    /// Generic NACK (RFC 4585 §6.2.1): the media stream and its lost packets.
    Nack { media: u32, lost: Nacks<'a> },
    /// Picture loss indication (RFC 4585 §6.3.1).
    Pli { media: u32 },
    /// Full intra request (RFC 5104 §4.3.1): the streams asked for a keyframe.
    Fir { entries: &'a [u8] },
    /// Receiver estimated maximum bitrate (draft-alvestrand-rmcat-remb).
    Remb { bitrate_bps: u64 },
    /// Transport-wide congestion control feedback (draft-holmer-rmcat-transport-wide-cc-
    /// extensions-01); `fci` is read by [`crate::twcc`].
    TransportFeedback { fci: &'a [u8] },
    /// SDES, BYE, XR, APP and the rest: nothing to do.
    Other { packet_type: u8 },
}

impl<'a> Rtcp<'a> {
    /// The SSRCs of the FIR's entries.
    pub fn fir_ssrcs(entries: &'a [u8]) -> impl Iterator<Item = u32> + 'a {
        entries.chunks_exact(8).map(|e| be32(e, 0))
    }
}

/// Report blocks of an SR or RR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportBlocks<'a>(&'a [u8]);

/// One report block: what a receiver got of one of our streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportBlock {
    pub ssrc: u32,
    /// Fraction lost since the previous report, in 1/256.
    pub fraction_lost: u8,
    pub cumulative_lost: i32,
    pub highest_seq: u32,
    /// Interarrival jitter in RTP timestamp units.
    pub jitter: u32,
    /// Middle 32 bits of the NTP time of our last sender report (0: none yet).
    pub last_sr: u32,
    /// Delay since that report, in 1/65536 s.
    pub delay_since_last_sr: u32,
}

impl<'a> Iterator for ReportBlocks<'a> {
    type Item = ReportBlock;
    fn next(&mut self) -> Option<ReportBlock> {
        if self.0.len() < 24 {
            return None;
        }
        let b = &self.0[..24];
        self.0 = &self.0[24..];
        let lost = u32::from_be_bytes([0, b[5], b[6], b[7]]);
        // 24-bit two's complement.
        let cumulative_lost = ((lost << 8) as i32) >> 8;
        Some(ReportBlock {
            ssrc: be32(b, 0),
            fraction_lost: b[4],
            cumulative_lost,
            highest_seq: be32(b, 8),
            jitter: be32(b, 12),
            last_sr: be32(b, 16),
            delay_since_last_sr: be32(b, 20),
        })
    }
}

/// The sequence numbers a generic NACK names (each FCI: a packet id and a bitmask of the 16
/// after it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Nacks<'a> {
    fci: &'a [u8],
    bit: u8,
}

impl<'a> Iterator for Nacks<'a> {
    type Item = u16;
    fn next(&mut self) -> Option<u16> {
        while self.fci.len() >= 4 {
            let pid = u16::from_be_bytes([self.fci[0], self.fci[1]]);
            let blp = u16::from_be_bytes([self.fci[2], self.fci[3]]);
            let bit = self.bit;
            if bit == 0 {
                self.bit = 1;
                return Some(pid);
            }
            if bit > 16 {
                self.fci = &self.fci[4..];
                self.bit = 0;
                continue;
            }
            self.bit += 1;
            if blp & (1 << (bit - 1)) != 0 {
                return Some(pid.wrapping_add(u16::from(bit)));
            }
        }
        None
    }
}

/// The packets of a compound RTCP datagram, in order. A malformed packet ends the iteration
/// with an error; the packets before it are good.
#[derive(Debug, Clone)]
pub struct RtcpPackets<'a> {
    rest: &'a [u8],
}

impl<'a> RtcpPackets<'a> {
    /// Reads the (decrypted) compound packet `datagram`.
    pub fn new(datagram: &'a [u8]) -> Self {
        Self { rest: datagram }
    }
}

impl<'a> Iterator for RtcpPackets<'a> {
    type Item = Result<Rtcp<'a>, RtcpError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.len() < 4 {
            return None;
        }
        let b = self.rest;
        if b[0] >> 6 != 2 {
            self.rest = &[];
            return Some(Err(RtcpError::Version));
        }
        let len = (usize::from(u16::from_be_bytes([b[2], b[3]])) + 1) * 4;
        if len > b.len() {
            self.rest = &[];
            return Some(Err(RtcpError::Truncated));
        }
        self.rest = &b[len..];
        let padding = if b[0] & 0x20 != 0 {
            usize::from(b[len - 1])
        } else {
            0
        };
        let body = &b[4..len.saturating_sub(padding).max(4)];
        let count = b[0] & 0x1f;
        let packet_type = b[1];
        Some(parse(packet_type, count, body))
    }
}

fn parse(packet_type: u8, count: u8, body: &[u8]) -> Result<Rtcp<'_>, RtcpError> {
    let short = || RtcpError::TooShort(packet_type);
    match packet_type {
        pt::SR | pt::RR => {
            let fixed = if packet_type == pt::SR { 24 } else { 4 };
            if body.len() < fixed {
                return Err(short());
            }
            let blocks = &body[fixed..];
            let n = (usize::from(count) * 24).min(blocks.len() / 24 * 24);
            Ok(Rtcp::Report {
                sender: be32(body, 0),
                blocks: ReportBlocks(&blocks[..n]),
            })
        }
        pt::RTPFB | pt::PSFB => {
            if body.len() < 8 {
                return Err(short());
            }
            let media = be32(body, 4);
            let fci = &body[8..];
            Ok(match (packet_type, count) {
                (pt::RTPFB, 1) => Rtcp::Nack {
                    media,
                    lost: Nacks {
                        fci: &fci[..fci.len() / 4 * 4],
                        bit: 0,
                    },
                },
                (pt::RTPFB, 15) => Rtcp::TransportFeedback { fci },
                (pt::PSFB, 1) => Rtcp::Pli { media },
                (pt::PSFB, 4) => Rtcp::Fir {
                    entries: &fci[..fci.len() / 8 * 8],
                },
                (pt::PSFB, 15) if fci.len() >= 8 && &fci[..4] == b"REMB" => {
                    let exp = u32::from(fci[5] >> 2);
                    let mantissa = u64::from(u32::from_be_bytes([0, fci[5] & 3, fci[6], fci[7]]));
                    Rtcp::Remb {
                        bitrate_bps: mantissa.checked_shl(exp).unwrap_or(u64::MAX),
                    }
                }
                _ => Rtcp::Other { packet_type },
            })
        }
        _ => Ok(Rtcp::Other { packet_type }),
    }
}

pub(crate) fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtc::rtcp;

    fn marshal(packets: &[Box<dyn rtcp::Packet>]) -> Vec<u8> {
        rtcp::packet::marshal(packets).expect("marshal").to_vec()
    }

    /// What webrtc-rs's RTCP writer produces (an independent implementation) reads back here.
    #[test]
    fn reads_what_webrtc_rs_writes() {
        use rtcp::payload_feedbacks::full_intra_request::{FirEntry, FullIntraRequest};
        use rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
        use rtcp::payload_feedbacks::receiver_estimated_maximum_bitrate::ReceiverEstimatedMaximumBitrate;
        use rtcp::receiver_report::ReceiverReport;
        use rtcp::reception_report::ReceptionReport;
        use rtcp::source_description::{
            SdesType, SourceDescription, SourceDescriptionChunk, SourceDescriptionItem,
        };
        use rtcp::transport_feedbacks::transport_layer_nack::{NackPair, TransportLayerNack};

        let packets: Vec<Box<dyn rtcp::Packet>> = vec![
            Box::new(ReceiverReport {
                ssrc: 0x1111,
                reports: vec![
                    ReceptionReport {
                        ssrc: 0xaaaa,
                        fraction_lost: 64,
                        total_lost: 12,
                        last_sequence_number: 0x0001_0203,
                        jitter: 77,
                        last_sender_report: 0xdead_beef,
                        delay: 65_536,
                    },
                    ReceptionReport {
                        ssrc: 0xbbbb,
                        ..Default::default()
                    },
                ],
                profile_extensions: Default::default(),
            }),
            Box::new(SourceDescription {
                chunks: vec![SourceDescriptionChunk {
                    source: 0x1111,
                    items: vec![SourceDescriptionItem {
                        sdes_type: SdesType::SdesCname,
                        text: "classroom".into(),
                    }],
                }],
            }),
            Box::new(TransportLayerNack {
                sender_ssrc: 0x1111,
                media_ssrc: 0xaaaa,
                nacks: vec![
                    NackPair {
                        packet_id: 65_534,
                        lost_packets: 0b101,
                    },
                    NackPair {
                        packet_id: 10,
                        lost_packets: 0,
                    },
                ],
            }),
            Box::new(PictureLossIndication {
                sender_ssrc: 0x1111,
                media_ssrc: 0xaaaa,
            }),
            Box::new(FullIntraRequest {
                sender_ssrc: 0x1111,
                media_ssrc: 0,
                fir: vec![FirEntry {
                    ssrc: 0xbbbb,
                    sequence_number: 3,
                }],
            }),
            Box::new(ReceiverEstimatedMaximumBitrate {
                sender_ssrc: 0x1111,
                bitrate: 1_500_000.0,
                ssrcs: vec![0xaaaa],
            }),
        ];
        let bytes = marshal(&packets);
        let got: Vec<Rtcp<'_>> = RtcpPackets::new(&bytes).map(|p| p.unwrap()).collect();
        assert_eq!(got.len(), 6);
        let Rtcp::Report { sender, blocks } = got[0] else {
            panic!("report first: {:?}", got[0]);
        };
        assert_eq!(sender, 0x1111);
        let blocks: Vec<ReportBlock> = blocks.collect();
        assert_eq!(blocks.len(), 2);
        assert_eq!(
            blocks[0],
            ReportBlock {
                ssrc: 0xaaaa,
                fraction_lost: 64,
                cumulative_lost: 12,
                highest_seq: 0x0001_0203,
                jitter: 77,
                last_sr: 0xdead_beef,
                delay_since_last_sr: 65_536,
            }
        );
        assert_eq!(
            got[1],
            Rtcp::Other {
                packet_type: pt::SDES
            }
        );
        let Rtcp::Nack { media, lost } = got[2] else {
            panic!("nack: {:?}", got[2]);
        };
        assert_eq!(media, 0xaaaa);
        assert_eq!(lost.collect::<Vec<_>>(), vec![65_534, 65_535, 1, 10]);
        assert_eq!(got[3], Rtcp::Pli { media: 0xaaaa });
        let Rtcp::Fir { entries } = got[4] else {
            panic!("fir: {:?}", got[4]);
        };
        assert_eq!(Rtcp::fir_ssrcs(entries).collect::<Vec<_>>(), vec![0xbbbb]);
        let Rtcp::Remb { bitrate_bps } = got[5] else {
            panic!("remb: {:?}", got[5]);
        };
        assert!(
            (1_499_000..=1_500_000).contains(&bitrate_bps),
            "{bitrate_bps}"
        );
    }

    #[test]
    fn negative_cumulative_loss_and_truncated_packets() {
        // RR with one block whose cumulative loss is -1 (duplicates), then a truncated packet.
        let mut b = vec![0x81, 201, 0, 7, 0, 0, 0, 1];
        b.extend_from_slice(&[0, 0, 0, 2, 0, 0xff, 0xff, 0xff]);
        b.extend_from_slice(&[0; 16]);
        b.extend_from_slice(&[0x81, 206, 0, 9, 1, 2]);
        let mut it = RtcpPackets::new(&b);
        let Some(Ok(Rtcp::Report { mut blocks, .. })) = it.next() else {
            panic!("report");
        };
        assert_eq!(blocks.next().unwrap().cumulative_lost, -1);
        assert_eq!(it.next(), Some(Err(RtcpError::Truncated)));
        assert_eq!(it.next(), None);
        assert_eq!(
            RtcpPackets::new(&[0x41, 200, 0, 0]).next(),
            Some(Err(RtcpError::Version))
        );
        assert_eq!(
            RtcpPackets::new(&[0x81, 205, 0, 0]).next(),
            Some(Err(RtcpError::TooShort(205)))
        );
    }
}
