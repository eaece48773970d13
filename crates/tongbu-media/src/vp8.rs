//! Just enough of the VP8 RTP payload format (RFC 7741) to tell where a keyframe starts.
//!
//! A subscriber may only start (or switch) on a keyframe: anything before it cannot be decoded.

/// Whether this VP8 RTP payload is the first packet of a keyframe.
///
/// Returns `false` for malformed payloads rather than failing: the caller only uses this to
/// decide when a stream may start.
pub fn is_keyframe_start(payload: &[u8]) -> bool {
    let Some(&b0) = payload.first() else {
        return false;
    };
    let extended = b0 & 0x80 != 0;
    let start_of_partition = b0 & 0x10 != 0;
    let partition_index = b0 & 0x07;
    if !start_of_partition || partition_index != 0 {
        return false;
    }
    let mut i = 1;
    if extended {
        let Some(&x) = payload.get(i) else {
            return false;
        };
        i += 1;
        let has_picture_id = x & 0x80 != 0;
        let has_tl0picidx = x & 0x40 != 0;
        let has_tid = x & 0x20 != 0;
        let has_keyidx = x & 0x10 != 0;
        if has_picture_id {
            let Some(&p) = payload.get(i) else {
                return false;
            };
            i += if p & 0x80 != 0 { 2 } else { 1 };
        }
        if has_tl0picidx {
            i += 1;
        }
        if has_tid || has_keyidx {
            i += 1;
        }
    }
    // First byte of the VP8 payload header: bit 0 is the inverse keyframe flag (P).
    match payload.get(i) {
        Some(&h) => h & 0x01 == 0,
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimal_descriptor_keyframe() {
        // S=1, PID=0, then a VP8 header with P=0 (keyframe).
        assert!(is_keyframe_start(&[0x10, 0x50, 0x01, 0x00]));
        // P=1: interframe.
        assert!(!is_keyframe_start(&[0x10, 0x51, 0x01, 0x00]));
    }

    #[test]
    fn extended_descriptor_with_15_bit_picture_id() {
        // X=1,S=1 | I=1 | M=1 picture id (2 bytes) | VP8 header keyframe
        assert!(is_keyframe_start(&[0x90, 0x80, 0x81, 0x23, 0x50]));
        // with TL0PICIDX and TID as well
        assert!(is_keyframe_start(&[0x90, 0xE0, 0x05, 0x07, 0x20, 0x50]));
        assert!(!is_keyframe_start(&[0x90, 0xE0, 0x05, 0x07, 0x20, 0x51]));
    }

    #[test]
    fn continuation_packets_and_garbage_are_not_keyframe_starts() {
        assert!(!is_keyframe_start(&[0x00, 0x50]));
        assert!(!is_keyframe_start(&[]));
        assert!(!is_keyframe_start(&[0x90]));
        assert!(!is_keyframe_start(&[0x90, 0x80]));
        assert!(!is_keyframe_start(&[0x11, 0x50]));
    }
}
