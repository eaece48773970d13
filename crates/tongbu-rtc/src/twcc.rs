//! Transport-wide congestion control (draft-holmer-rmcat-transport-wide-cc-extensions-01), the
//! sender's half: every RTP packet Tongbu sends on a subscriber's transport carries a
//! transport-wide sequence number in a header extension; [`TwccSender`] remembers when each left
//! and how large it was, and reads the subscriber's feedback (which of them arrived, and when)
//! into [`PacketResult`]s for the [`BandwidthEstimator`](crate::bandwidth_estimator).
//!
//! Fixed storage, allocated once per transport; reading feedback allocates nothing.

use std::time::Instant;

/// Packets remembered: about 10 s of a 1.2 Mbit/s lecture with its audio, far more than the
/// subscriber's feedback ever lags behind.
const HISTORY: usize = 2048;

/// Why a feedback packet could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TwccError {
    #[error("transport feedback too short for its header")]
    TooShort,
    #[error("transport feedback chunks or deltas run past its end")]
    Truncated,
}

/// One packet as the feedback reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketResult {
    /// When we sent it.
    pub sent_at: Instant,
    /// Its size on the wire, bytes.
    pub size: u16,
    /// When it arrived, µs on the receiver's clock (only differences mean anything); `None`:
    /// reported lost.
    pub arrival_us: Option<i64>,
}

#[derive(Debug, Clone, Copy)]
struct Sent {
    seq: u64,
    at: Instant,
    size: u16,
}

/// Transport-wide sequence numbers of one transport and the history of what was sent.
#[derive(Debug)]
pub struct TwccSender {
    next: u64,
    history: Box<[Option<Sent>]>,
}

impl Default for TwccSender {
    fn default() -> Self {
        Self {
            next: 1,
            history: vec![None; HISTORY].into_boxed_slice(),
        }
    }
}

impl TwccSender {
    /// The sequence number for a packet of `size` bytes leaving now.
    #[inline]
    pub fn next_seq(&mut self, now: Instant, size: usize) -> u16 {
        let seq = self.next;
        self.next += 1;
        self.history[seq as usize % HISTORY] = Some(Sent {
            seq,
            at: now,
            size: size.min(usize::from(u16::MAX)) as u16,
        });
        seq as u16
    }

    /// Packets numbered so far.
    pub fn sent(&self) -> u64 {
        self.next - 1
    }

    fn extend(&self, seq: u16) -> u64 {
        let latest = self.next - 1;
        let diff = i64::from((latest as u16).wrapping_sub(seq) as i16);
        (latest as i64 - diff).max(0) as u64
    }

    fn lookup(&self, seq: u64) -> Option<Sent> {
        self.history[seq as usize % HISTORY].filter(|s| s.seq == seq)
    }

    /// Reads one feedback packet's FCI (after the RTPFB header and media SSRC) and hands every
    /// packet it reports that we still remember to `each`, in sequence order. Returns how many
    /// it reported.
    pub fn on_feedback(
        &self,
        fci: &[u8],
        mut each: impl FnMut(PacketResult),
    ) -> Result<usize, TwccError> {
        if fci.len() < 8 {
            return Err(TwccError::TooShort);
        }
        let base = u16::from_be_bytes([fci[0], fci[1]]);
        let count = usize::from(u16::from_be_bytes([fci[2], fci[3]]));
        // 24-bit signed reference time in multiples of 64 ms.
        let reference = (i32::from_be_bytes([fci[4], fci[5], fci[6], 0]) >> 8) as i64;
        let chunks = &fci[8..];
        // First pass: where the chunks end and the deltas begin.
        let mut covered = 0;
        let mut chunk_bytes = 0;
        while covered < count {
            let c = chunks
                .get(chunk_bytes..chunk_bytes + 2)
                .ok_or(TwccError::Truncated)?;
            covered += Chunk::new(u16::from_be_bytes([c[0], c[1]])).len();
            chunk_bytes += 2;
        }
        let mut deltas = &chunks[chunk_bytes..];
        let mut arrival = reference * 64_000;
        let mut seq = self.extend(base);
        let mut reported = 0;
        for c in chunks[..chunk_bytes].chunks_exact(2) {
            let chunk = Chunk::new(u16::from_be_bytes([c[0], c[1]]));
            for i in 0..chunk.len() {
                if reported == count {
                    break;
                }
                let received = match chunk.symbol(i) {
                    0 | 3 => None,
                    1 => {
                        let (&d, rest) = deltas.split_first().ok_or(TwccError::Truncated)?;
                        deltas = rest;
                        Some(i64::from(d))
                    }
                    _ => {
                        let d = deltas.get(..2).ok_or(TwccError::Truncated)?;
                        let d = i16::from_be_bytes([d[0], d[1]]);
                        deltas = &deltas[2..];
                        Some(i64::from(d))
                    }
                };
                if let Some(d) = received {
                    arrival += d * 250;
                }
                if let Some(sent) = self.lookup(seq) {
                    each(PacketResult {
                        sent_at: sent.at,
                        size: sent.size,
                        arrival_us: received.map(|_| arrival),
                    });
                }
                seq += 1;
                reported += 1;
            }
        }
        Ok(reported)
    }
}

/// A packet status chunk: a run of one symbol, or a vector of 14 one-bit or 7 two-bit symbols.
#[derive(Debug, Clone, Copy)]
struct Chunk(u16);

impl Chunk {
    fn new(word: u16) -> Self {
        Chunk(word)
    }

    fn len(self) -> usize {
        match self.0 >> 14 {
            0 | 1 => usize::from(self.0 & 0x1fff),
            2 => 14,
            _ => 7,
        }
    }

    /// 0 not received, 1 received with a small delta, 2 received with a large one.
    fn symbol(self, i: usize) -> u8 {
        match self.0 >> 14 {
            0 | 1 => ((self.0 >> 13) & 3) as u8,
            2 => ((self.0 >> (13 - i)) & 1) as u8,
            _ => ((self.0 >> (12 - 2 * i)) & 3) as u8,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtc::rtcp::transport_feedbacks::transport_layer_cc::{
        PacketStatusChunk, RecvDelta, RunLengthChunk, StatusChunkTypeTcc, StatusVectorChunk,
        SymbolSizeTypeTcc, SymbolTypeTcc, TransportLayerCc,
    };
    use rtc::shared::marshal::Marshal;
    use std::time::Duration;

    fn fci_of(fb: &TransportLayerCc) -> Vec<u8> {
        let bytes = fb.marshal().expect("marshal");
        bytes[12..].to_vec()
    }

    /// Feedback written by webrtc-rs (an independent implementation) with a run, a one-bit and
    /// a two-bit vector, a loss and a negative delta.
    #[test]
    fn reads_webrtc_rs_feedback_across_the_wrap() {
        let t0 = Instant::now();
        let mut tx = TwccSender::default();
        // Number packets up to just past the 16-bit wrap.
        let mut seqs = Vec::new();
        for i in 0..65_540u32 {
            let s = tx.next_seq(
                t0 + Duration::from_micros(u64::from(i)),
                1000 + (i % 7) as usize,
            );
            if i >= 65_530 {
                seqs.push(s);
            }
        }
        assert_eq!(seqs[0], 65_531);
        let fb = TransportLayerCc {
            sender_ssrc: 1,
            media_ssrc: 2,
            base_sequence_number: seqs[0],
            packet_status_count: 10,
            reference_time: 3,
            fb_pkt_count: 0,
            packet_chunks: vec![
                PacketStatusChunk::RunLengthChunk(RunLengthChunk {
                    type_tcc: StatusChunkTypeTcc::RunLengthChunk,
                    packet_status_symbol: SymbolTypeTcc::PacketReceivedSmallDelta,
                    run_length: 3,
                }),
                PacketStatusChunk::StatusVectorChunk(StatusVectorChunk {
                    type_tcc: StatusChunkTypeTcc::StatusVectorChunk,
                    symbol_size: SymbolSizeTypeTcc::TwoBit,
                    symbol_list: vec![
                        SymbolTypeTcc::PacketNotReceived,
                        SymbolTypeTcc::PacketReceivedLargeDelta,
                        SymbolTypeTcc::PacketReceivedSmallDelta,
                        SymbolTypeTcc::PacketReceivedSmallDelta,
                        SymbolTypeTcc::PacketReceivedSmallDelta,
                        SymbolTypeTcc::PacketReceivedSmallDelta,
                        SymbolTypeTcc::PacketNotReceived,
                    ],
                }),
            ],
            recv_deltas: [
                (SymbolTypeTcc::PacketReceivedSmallDelta, 250),
                (SymbolTypeTcc::PacketReceivedSmallDelta, 500),
                (SymbolTypeTcc::PacketReceivedSmallDelta, 0),
                (SymbolTypeTcc::PacketReceivedLargeDelta, -1000),
                (SymbolTypeTcc::PacketReceivedSmallDelta, 1000),
                (SymbolTypeTcc::PacketReceivedSmallDelta, 250),
                (SymbolTypeTcc::PacketReceivedSmallDelta, 250),
                (SymbolTypeTcc::PacketReceivedSmallDelta, 250),
            ]
            .into_iter()
            .map(|(type_tcc_packet, delta)| RecvDelta {
                type_tcc_packet,
                delta,
            })
            .collect(),
        };
        let mut got = Vec::new();
        let n = tx.on_feedback(&fci_of(&fb), |r| got.push(r)).unwrap();
        assert_eq!(n, 10);
        assert_eq!(got.len(), 10);
        let base = 3 * 64_000;
        let arrivals: Vec<Option<i64>> = got.iter().map(|r| r.arrival_us).collect();
        assert_eq!(
            arrivals,
            vec![
                Some(base + 250),
                Some(base + 750),
                Some(base + 750),
                None,
                Some(base - 250),
                Some(base + 750),
                Some(base + 1000),
                Some(base + 1250),
                Some(base + 1500),
                None,
            ]
        );
        // Each result names the packet that was sent with that number (the i-th was numbered
        // i + 1).
        assert_eq!(got[0].sent_at, t0 + Duration::from_micros(65_530));
        assert_eq!(got[9].sent_at, t0 + Duration::from_micros(65_539));
        assert_eq!(got[9].size, 1000 + (65_539 % 7) as u16);
    }

    #[test]
    fn short_or_cut_feedback_is_an_error() {
        let tx = TwccSender::default();
        assert_eq!(tx.on_feedback(&[0; 7], |_| {}), Err(TwccError::TooShort));
        // Ten packets announced, no chunk.
        assert_eq!(
            tx.on_feedback(&[0, 1, 0, 10, 0, 0, 0, 0], |_| {}),
            Err(TwccError::Truncated)
        );
        // A run of two received packets but only one delta.
        assert_eq!(
            tx.on_feedback(&[0, 1, 0, 2, 0, 0, 0, 0, 0x20, 2, 9], |_| {}),
            Err(TwccError::Truncated)
        );
    }
}
