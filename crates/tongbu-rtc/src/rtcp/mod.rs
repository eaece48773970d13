//! RTCP as a subscriber's transport needs it (RFC 3550, 4585, 5104, draft-holmer TWCC): reading
//! the compound packets a subscriber sends — receiver reports, NACKs, PLI/FIR, REMB, transport
//! feedback — in place, without allocating, and writing the sender reports Tongbu sends.
//!
//! webrtc-rs's `rtcp` crate would parse these too, but into a `Box<dyn Packet>` each; a thousand
//! subscribers send tens of thousands a second, so they are read here as views over the bytes.

mod read;
mod write;

pub use read::{Nacks, ReportBlock, ReportBlocks, Rtcp, RtcpError, RtcpPackets};
pub use write::{write_sdes, write_sender_report, SenderInfo};

/// RTCP packet types.
pub(crate) mod pt {
    pub const SR: u8 = 200;
    pub const RR: u8 = 201;
    pub const SDES: u8 = 202;
    /// Transport-layer feedback (RFC 4585): NACK (FMT 1), transport-wide CC (FMT 15).
    pub const RTPFB: u8 = 205;
    /// Payload-specific feedback: PLI (FMT 1), FIR (FMT 4), REMB (FMT 15, "REMB").
    pub const PSFB: u8 = 206;
}

/// Whether a datagram is RTP or RTCP (RFC 7983: first byte 128–191), not STUN, DTLS or junk.
pub fn is_rtp_or_rtcp(datagram: &[u8]) -> bool {
    datagram.len() >= 8 && (128..=191).contains(&datagram[0])
}

/// Whether an RTP/RTCP datagram is RTCP (RFC 5761: payload types 192–223 are RTCP).
pub fn is_rtcp(datagram: &[u8]) -> bool {
    datagram.len() >= 8 && (192..=223).contains(&datagram[1])
}
