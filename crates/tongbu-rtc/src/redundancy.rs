//! Redundant audio (RED, RFC 2198) at the edge. A browser that negotiated RED sends each opus
//! frame again in the next packet. The edge forwards such a packet whole to subscribers that
//! negotiated RED (they repair their own downlink's loss from it) and, to the others, its
//! primary block on the opus payload type ([`crate::forward`]). A packet lost on the publisher's
//! uplink is rebuilt here from the next packet's redundancy and forwarded as plain opus before
//! it, so that every subscriber hears it: the one place on the media path that allocates, and
//! only for a packet that was lost.

use std::collections::HashMap;
use std::sync::Arc;

use str0m::rtp::Ssrc;
use tongbu_media::encoding::WIRE_OVERHEAD;
use tongbu_media::{Layer, Red, RtpIn};

/// A RED packet as it arrived: its stream, sequence number, timestamp and payload.
pub(crate) struct Arrived<'a> {
    pub ssrc: Ssrc,
    pub seq: u16,
    pub timestamp: u32,
    pub layer: Layer,
    pub payload: &'a [u8],
}

/// Reads a RED packet (each stream's last sequence number kept in `seen`). Returns where its
/// primary block begins, and pushes onto `lost` the packets before it that never arrived and
/// that its redundant blocks carry, oldest first. `None`: the payload is malformed.
pub(crate) fn read(
    seen: &mut HashMap<Ssrc, u16>,
    pkt: &Arrived<'_>,
    lost: &mut Vec<RtpIn>,
) -> Option<u16> {
    let red = Red::parse(pkt.payload)?;
    let primary = u16::try_from(red.primary()).ok()?;
    let (ssrc, seq) = (pkt.ssrc, pkt.seq);
    let last = seen.get(&ssrc).copied();
    // Reordered or repeated: forwarded, but the stream's place stays where it was.
    if last.is_some_and(|l| seq.wrapping_sub(l) as i16 <= 0) {
        return Some(primary);
    }
    seen.insert(ssrc, seq);
    let Some(last) = last else {
        return Some(primary);
    };
    let missing = seq.wrapping_sub(last).wrapping_sub(1);
    // Each block is a packet before this one, the last the one just before: block n - d is
    // packet seq - d (browsers send one).
    let n = red.blocks().count();
    if missing == 0 || usize::from(missing) > n {
        return Some(primary);
    }
    for (i, block) in red.blocks().enumerate() {
        let distance = (n - i) as u16;
        if distance > missing || block.pt != red.primary_pt() {
            continue;
        }
        lost.push(RtpIn {
            seq: seq.wrapping_sub(distance),
            timestamp: pkt
                .timestamp
                .wrapping_sub(u32::from(block.timestamp_offset)),
            marker: false,
            layer: pkt.layer,
            payload: Arc::from(&pkt.payload[block.data.clone()]),
        });
    }
    Some(primary)
}

/// What a RED stream arriving at `whole_bps` (on the wire) costs as its primary frames alone,
/// from the packets and payload bytes it has received. A browser's packet is a 5-byte header,
/// the previous frame and its own, so its own frame is a little under half the average payload.
pub fn primary_bps((packets, bytes): (u64, u64), whole_bps: u64) -> u64 {
    if packets == 0 {
        return whole_bps;
    }
    let payload = bytes as f64 / packets as f64;
    let frame = ((payload - 5.0) / 2.0).max(0.0);
    let overhead = WIRE_OVERHEAD as f64;
    (whole_bps as f64 * (frame + overhead) / (payload + overhead)) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A browser's RED payload: the previous frame (if any), then this one.
    fn red(previous: Option<&[u8]>, primary: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        if let Some(p) = previous {
            let word = 0x8000_0000 | 111 << 24 | 1920 << 10 | p.len() as u32;
            out.extend_from_slice(&word.to_be_bytes());
        }
        out.push(111);
        out.extend_from_slice(previous.unwrap_or_default());
        out.extend_from_slice(primary);
        out
    }

    fn arrive(
        seen: &mut HashMap<Ssrc, u16>,
        seq: u16,
        payload: &[u8],
        lost: &mut Vec<RtpIn>,
    ) -> Option<u16> {
        let pkt = Arrived {
            ssrc: 7.into(),
            seq,
            timestamp: u32::from(seq) * 1920,
            layer: Layer::BASE,
            payload,
        };
        read(seen, &pkt, lost)
    }

    #[test]
    fn a_packet_lost_upstream_is_rebuilt_from_the_next() {
        let mut seen = HashMap::new();
        let mut lost = Vec::new();
        let first = red(None, b"frame 10");
        assert_eq!(arrive(&mut seen, 10, &first, &mut lost), Some(1));
        let p = red(Some(b"frame 10"), b"frame 11");
        assert_eq!(arrive(&mut seen, 11, &p, &mut lost), Some(5 + 8));
        assert!(lost.is_empty(), "nothing was lost");
        // 12 never arrives; 13 carries it.
        let p = red(Some(b"frame 12"), b"frame 13");
        arrive(&mut seen, 13, &p, &mut lost);
        assert_eq!(lost.len(), 1);
        let r = &lost[0];
        assert_eq!((r.seq, r.timestamp, r.marker), (12, 12 * 1920, false));
        assert_eq!(&r.payload[..], b"frame 12");
    }

    #[test]
    fn a_red_stream_costs_about_half_as_its_primary_frames() {
        // 25 packets a second of 2 × 120-byte frames and the 5-byte header.
        let (packets, bytes) = (250, 250 * 245);
        let whole = 25 * (245 + WIRE_OVERHEAD) * 8;
        assert_eq!(
            primary_bps((packets, bytes), whole),
            25 * (120 + WIRE_OVERHEAD) * 8
        );
        assert_eq!(primary_bps((0, 0), 40_000), 40_000, "nothing measured yet");
    }

    #[test]
    fn what_the_redundancy_does_not_cover_stays_lost() {
        let mut seen = HashMap::new();
        let mut lost = Vec::new();
        arrive(&mut seen, 10, &red(None, b"a"), &mut lost);
        // Two lost, one block: neither is rebuilt from a wrong frame.
        arrive(&mut seen, 13, &red(Some(b"12"), b"13"), &mut lost);
        assert!(lost.is_empty());
        // A late or repeated packet is forwarded and rebuilds nothing.
        assert_eq!(
            arrive(&mut seen, 12, &red(Some(b"11"), b"12"), &mut lost),
            Some(5 + 2)
        );
        assert!(lost.is_empty());
        assert_eq!(seen.get(&7.into()), Some(&13));
        // Across the sequence number's wrap.
        seen.clear();
        arrive(&mut seen, u16::MAX, &red(None, b"x"), &mut lost);
        arrive(&mut seen, 1, &red(Some(b"0"), b"1"), &mut lost);
        assert_eq!(lost.iter().map(|r| r.seq).collect::<Vec<_>>(), [0]);
        // Malformed.
        assert_eq!(arrive(&mut seen, 2, &[0x80 | 111, 0], &mut lost), None);
    }
}
