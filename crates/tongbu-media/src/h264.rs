//! Just enough of the H.264 RTP payload format (RFC 6184, packetization mode 1) to tell where a
//! keyframe starts. A subscriber may only start, or switch simulcast layers, where a decoder can
//! begin: at an IDR picture, with the sequence parameter set (SPS) that precedes it.
//!
//! Encoders send an IDR access unit as its SPS and PPS — alone, or aggregated in a STAP-A — then
//! the IDR slice, alone or fragmented in FU-As. The packet carrying the SPS starts the keyframe;
//! an IDR slice's first packet does too (an encoder that does not repeat its parameter sets
//! sends none before it, and a subscriber already has them from the stream's start). No
//! descriptor is rewritten: H.264 has no picture IDs to renumber across layers.

/// NAL unit types (H.264 Table 7-1; RFC 6184 §5.2 for 24 and 28).
const IDR: u8 = 5;
const SPS: u8 = 7;
const STAP_A: u8 = 24;
const FU_A: u8 = 28;

fn nal_type(header: u8) -> u8 {
    header & 0x1f
}

/// Where a payload stands in a keyframe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyframeStart {
    No,
    /// It carries the SPS (alone or in a STAP-A): a decoder can start here.
    ParameterSets,
    /// An IDR slice's first packet without an SPS: a decoder starts here only if the stream
    /// never sends its parameter sets in band (else they went in the packet before).
    Idr,
}

/// Whether this H.264 RTP payload begins a keyframe: an SPS or an IDR slice as a single NAL
/// unit, inside a STAP-A aggregate, or as the first fragment (S bit) of an FU-A.
///
/// Returns `false` for malformed payloads rather than failing: the caller only uses this to
/// decide when a stream may start.
pub fn is_keyframe_start(payload: &[u8]) -> bool {
    keyframe_start(payload) != KeyframeStart::No
}

/// [`is_keyframe_start`], telling a packet with the SPS from an IDR's first packet.
pub fn keyframe_start(payload: &[u8]) -> KeyframeStart {
    let Some(&header) = payload.first() else {
        return KeyframeStart::No;
    };
    let (sps, idr) = match nal_type(header) {
        SPS => (true, false),
        IDR => (false, true),
        STAP_A => aggregated(&payload[1..]).fold((false, false), |(s, i), nal| {
            (s || nal_type(nal) == SPS, i || nal_type(nal) == IDR)
        }),
        FU_A => (
            false,
            payload
                .get(1)
                .is_some_and(|&fu| fu & 0x80 != 0 && nal_type(fu) == IDR),
        ),
        _ => (false, false),
    };
    match (sps, idr) {
        (true, _) => KeyframeStart::ParameterSets,
        (false, true) => KeyframeStart::Idr,
        _ => KeyframeStart::No,
    }
}

/// The header bytes of the NAL units a STAP-A aggregates (each preceded by its 16-bit size),
/// up to the first that runs past the payload.
fn aggregated(mut rest: &[u8]) -> impl Iterator<Item = u8> + '_ {
    std::iter::from_fn(move || {
        let size = usize::from(u16::from_be_bytes([*rest.first()?, *rest.get(1)?]));
        let nal = rest.get(2..2 + size)?;
        rest = &rest[2 + size..];
        Some(nal.first().copied())
    })
    .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_idr_or_sps_starts_a_keyframe_however_it_is_packed() {
        // Single NAL units: IDR slice, SPS; a non-IDR slice and a PPS do not.
        assert!(is_keyframe_start(&[0x65, 0x88, 0x84]));
        assert!(is_keyframe_start(&[0x67, 0x42, 0xc0, 0x1e]));
        assert!(!is_keyframe_start(&[0x41, 0x9a, 0x02]));
        assert!(!is_keyframe_start(&[0x68, 0xce, 0x3c, 0x80]));
        // STAP-A with SPS and PPS (as browsers and webrtc-rs send them), and one with a
        // non-IDR slice only.
        let stap = [0x78, 0x00, 0x02, 0x67, 0x42, 0x00, 0x02, 0x68, 0xce];
        assert!(is_keyframe_start(&stap));
        assert!(!is_keyframe_start(&[0x78, 0x00, 0x02, 0x41, 0x9a]));
        // FU-A: the IDR's first fragment starts it, later ones and a P slice's do not.
        assert!(is_keyframe_start(&[0x7c, 0x85, 0xb8, 0x00]));
        assert!(!is_keyframe_start(&[0x7c, 0x05, 0xb8, 0x00]));
        assert!(!is_keyframe_start(&[0x5c, 0x81, 0x9a, 0x00]));
    }

    #[test]
    fn the_packet_with_the_parameter_sets_is_told_from_the_idr() {
        use KeyframeStart::*;
        assert_eq!(keyframe_start(&[0x67, 0x42, 0xc0, 0x1e]), ParameterSets);
        let stap = [0x78, 0x00, 0x02, 0x67, 0x42, 0x00, 0x02, 0x68, 0xce];
        assert_eq!(keyframe_start(&stap), ParameterSets);
        assert_eq!(keyframe_start(&[0x65, 0x88, 0x84]), Idr);
        assert_eq!(keyframe_start(&[0x7c, 0x85, 0xb8, 0x00]), Idr);
        assert_eq!(keyframe_start(&[0x41, 0x9a, 0x02]), No);
    }

    #[test]
    fn malformed_payloads_start_nothing() {
        assert!(!is_keyframe_start(&[]));
        assert!(!is_keyframe_start(&[0x7c]));
        assert!(!is_keyframe_start(&[0x78]));
        assert!(!is_keyframe_start(&[0x78, 0x00]));
        // A STAP-A whose first unit claims more bytes than there are.
        assert!(!is_keyframe_start(&[0x78, 0x00, 0x09, 0x67, 0x42]));
        // A zero-length unit is skipped, the SPS after it still found.
        assert!(is_keyframe_start(&[0x78, 0x00, 0x00, 0x00, 0x01, 0x67]));
    }
}
