//! The RTP payload for redundant audio (RED, RFC 2198) as browsers send it for opus: each packet
//! carries its own frame (the primary block, last) after copies of one or more earlier frames
//! (the redundant blocks), so that a receiver that lost a packet finds its frame in the next.
//!
//! The router forwards a RED packet as it came to subscribers that negotiated RED. For the others
//! the edge sends only the primary block under the opus payload type ([`Red::primary`]), and a
//! packet lost on the publisher's uplink is rebuilt from the redundancy of the next one
//! ([`Red::blocks`]) so that they hear it too.
//!
//! ```text
//!  header per redundant block (4 bytes)       last header (1 byte)
//!  |F=1| block PT | timestamp offset | length | |F=0| block PT |
//!   1      7            14              10       1      7
//! ```
//! then the redundant blocks' data in the headers' order, then the primary block's data.

use std::ops::Range;

/// A redundant block: a frame from an earlier packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// The payload type of its frame (the primary codec's, for browsers).
    pub pt: u8,
    /// How many clock ticks before the packet's timestamp its frame began.
    pub timestamp_offset: u16,
    /// Where its data is in the RED payload.
    pub data: Range<usize>,
}

/// A RED payload, its headers read and checked against its length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Red {
    /// The redundant blocks, oldest first as sent.
    blocks: [Option<Block>; MAX_BLOCKS],
    /// Where the primary block's data begins; it runs to the payload's end.
    primary: usize,
    /// The primary block's payload type.
    primary_pt: u8,
}

/// Redundant blocks read from one packet; browsers send one (the previous frame), RFC 2198
/// allows more, and a payload with more than this is refused as malformed.
pub const MAX_BLOCKS: usize = 4;

impl Red {
    /// Reads a RED payload's headers; `None` if they are cut short, name more than
    /// [`MAX_BLOCKS`] blocks, or the blocks' lengths run past its end.
    pub fn parse(payload: &[u8]) -> Option<Red> {
        let mut blocks: [Option<Block>; MAX_BLOCKS] = Default::default();
        let mut at = 0;
        let mut n = 0;
        let mut data = 0usize;
        loop {
            let &first = payload.get(at)?;
            if first & 0x80 == 0 {
                let primary = at + 1 + data;
                if primary > payload.len() {
                    return None;
                }
                // The blocks' data follows the headers in order.
                let mut start = at + 1;
                for b in blocks.iter_mut().flatten() {
                    let len = b.data.end;
                    b.data = start..start + len;
                    start += len;
                }
                return Some(Red {
                    blocks,
                    primary,
                    primary_pt: first & 0x7f,
                });
            }
            let h = payload.get(at..at + 4)?;
            if n == MAX_BLOCKS {
                return None;
            }
            let word = u32::from_be_bytes([h[0], h[1], h[2], h[3]]);
            let len = (word & 0x3ff) as usize;
            blocks[n] = Some(Block {
                pt: h[0] & 0x7f,
                timestamp_offset: ((word >> 10) & 0x3fff) as u16,
                // Its length for now; made its place once the headers end.
                data: 0..len,
            });
            data += len;
            n += 1;
            at += 4;
        }
    }

    /// Where the primary block's data begins (it runs to the payload's end).
    pub fn primary(&self) -> usize {
        self.primary
    }

    /// The primary block's payload type.
    pub fn primary_pt(&self) -> u8 {
        self.primary_pt
    }

    /// The redundant blocks, oldest first.
    pub fn blocks(&self) -> impl Iterator<Item = &Block> {
        self.blocks.iter().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A RED payload of `redundant` (pt, offset, data) blocks and a primary of `primary`.
    fn red(redundant: &[(u8, u16, &[u8])], primary: (u8, &[u8])) -> Vec<u8> {
        let mut out = Vec::new();
        for (pt, offset, data) in redundant {
            let word =
                0x8000_0000 | u32::from(*pt) << 24 | u32::from(*offset) << 10 | data.len() as u32;
            out.extend_from_slice(&word.to_be_bytes());
        }
        out.push(primary.0);
        for (_, _, data) in redundant {
            out.extend_from_slice(data);
        }
        out.extend_from_slice(primary.1);
        out
    }

    #[test]
    fn a_browsers_packet_gives_its_primary_and_the_previous_frame() {
        let p = red(&[(111, 1920, b"previous")], (111, b"current frame"));
        let r = Red::parse(&p).expect("well formed");
        assert_eq!(&p[r.primary()..], b"current frame");
        assert_eq!(r.primary_pt(), 111);
        let blocks: Vec<_> = r.blocks().collect();
        assert_eq!(blocks.len(), 1);
        assert_eq!((blocks[0].pt, blocks[0].timestamp_offset), (111, 1920));
        assert_eq!(&p[blocks[0].data.clone()], b"previous");
    }

    #[test]
    fn no_redundancy_and_several_blocks() {
        // The first packet of a talk spurt has nothing earlier to carry.
        let p = red(&[], (111, b"only"));
        let r = Red::parse(&p).expect("well formed");
        assert_eq!(&p[r.primary()..], b"only");
        assert_eq!(r.blocks().count(), 0);
        let p = red(
            &[(111, 3840, b"two back"), (111, 1920, b"one")],
            (111, b"now"),
        );
        let r = Red::parse(&p).expect("well formed");
        let data: Vec<&[u8]> = r.blocks().map(|b| &p[b.data.clone()]).collect();
        assert_eq!(data, [&b"two back"[..], b"one"]);
        assert_eq!(&p[r.primary()..], b"now");
        // An empty primary (DTX) is allowed.
        let p = red(&[(111, 1920, b"x")], (111, b""));
        assert_eq!(Red::parse(&p).map(|r| r.primary()), Some(p.len()));
    }

    #[test]
    fn malformed_payloads_are_refused() {
        assert_eq!(Red::parse(&[]), None);
        // A redundant header cut short.
        assert_eq!(Red::parse(&[0x80 | 111, 0x00, 0x1e]), None);
        // Headers that never end.
        assert_eq!(Red::parse(&[0xef, 0, 0, 0]), None);
        // A block longer than what follows.
        let mut p = red(&[(111, 1920, b"previous")], (111, b"current"));
        p.truncate(8);
        assert_eq!(Red::parse(&p), None);
        // More blocks than kept.
        let b: &[u8] = b"b";
        let many = [(111, 1, b); MAX_BLOCKS + 1];
        assert_eq!(Red::parse(&red(&many, (111, b"p"))), None);
    }
}
