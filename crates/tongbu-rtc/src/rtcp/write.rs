//! Writing the RTCP Tongbu sends on a subscriber's transport: sender reports and the SDES that
//! names their source (RFC 3550 §6.4.1, §6.5).

use super::pt;

/// What one sender report says of one outgoing stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SenderInfo {
    pub ssrc: u32,
    /// NTP time, RFC 3550's 64-bit fixed point (seconds since 1900 in the high half).
    pub ntp: u64,
    /// The RTP timestamp of the same instant.
    pub rtp: u32,
    pub packets: u32,
    pub octets: u32,
}

/// Appends an SR without report blocks (28 bytes).
pub fn write_sender_report(out: &mut Vec<u8>, sr: &SenderInfo) {
    out.extend_from_slice(&[0x80, pt::SR, 0, 6]);
    out.extend_from_slice(&sr.ssrc.to_be_bytes());
    out.extend_from_slice(&sr.ntp.to_be_bytes());
    out.extend_from_slice(&sr.rtp.to_be_bytes());
    out.extend_from_slice(&sr.packets.to_be_bytes());
    out.extend_from_slice(&sr.octets.to_be_bytes());
}

/// Appends an SDES packet with a CNAME chunk for each SSRC (at most 31; `cname` is cut to 255
/// bytes).
pub fn write_sdes(out: &mut Vec<u8>, ssrcs: &[u32], cname: &str) {
    let cname = &cname.as_bytes()[..cname.len().min(255)];
    let ssrcs = &ssrcs[..ssrcs.len().min(31)];
    let start = out.len();
    out.extend_from_slice(&[0x80 | ssrcs.len() as u8, pt::SDES, 0, 0]);
    for ssrc in ssrcs {
        out.extend_from_slice(&ssrc.to_be_bytes());
        out.push(1); // CNAME
        out.push(cname.len() as u8);
        out.extend_from_slice(cname);
        // The item list ends with a zero octet, padded to a 32-bit boundary.
        let pad = 4 - (cname.len() + 2) % 4;
        out.extend(std::iter::repeat_n(0, pad));
    }
    let words = ((out.len() - start) / 4 - 1) as u16;
    out[start + 2..start + 4].copy_from_slice(&words.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtc::rtcp;
    use rtc::shared::marshal::Unmarshal;

    /// webrtc-rs's RTCP reader (an independent implementation) reads what we write.
    #[test]
    fn webrtc_rs_reads_our_sender_report_and_sdes() {
        let mut b = Vec::new();
        let sr = SenderInfo {
            ssrc: 0x0102_0304,
            ntp: 0xe123_4567_8000_0000,
            rtp: 90_000,
            packets: 42,
            octets: 50_400,
        };
        write_sender_report(&mut b, &sr);
        write_sdes(&mut b, &[0x0102_0304, 0x0506_0708], "tongbu");
        assert_eq!(b.len() % 4, 0);
        let mut buf = &b[..];
        let packets = rtcp::packet::unmarshal(&mut buf).expect("webrtc-rs reads it");
        assert_eq!(packets.len(), 2);
        let got = packets[0]
            .as_any()
            .downcast_ref::<rtcp::sender_report::SenderReport>()
            .expect("an SR");
        assert_eq!(
            (
                got.ssrc,
                got.ntp_time,
                got.rtp_time,
                got.packet_count,
                got.octet_count
            ),
            (sr.ssrc, sr.ntp, sr.rtp, sr.packets, sr.octets)
        );
        let sdes = packets[1]
            .as_any()
            .downcast_ref::<rtcp::source_description::SourceDescription>()
            .expect("an SDES");
        assert_eq!(sdes.chunks.len(), 2);
        assert_eq!(&sdes.chunks[1].items[0].text[..], b"tongbu");
        let _ = rtcp::sender_report::SenderReport::unmarshal(&mut &b[..28]).unwrap();
    }
}
