//! Just enough of the VP8 RTP payload format (RFC 7741) to tell where a keyframe starts, and to
//! renumber a payload descriptor's picture ID and TL0PICIDX when a subscriber is switched between
//! simulcast layers (each layer counts its own pictures).
//!
//! A subscriber may only start (or switch) on a keyframe: anything before it cannot be decoded.

/// Where a payload descriptor (RFC 7741 §4.2) keeps its fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Layout {
    /// S bit set and partition index 0: the first packet of a frame.
    frame_start: bool,
    /// Offset of the picture ID, and whether it is the 15-bit form (M bit).
    picture_id: Option<(usize, bool)>,
    /// Offset of TL0PICIDX.
    tl0picidx: Option<usize>,
    /// Offset of the VP8 payload header that follows the descriptor.
    header: usize,
}

/// The descriptor's layout, or `None` if the payload is too short for what it announces.
fn layout(payload: &[u8]) -> Option<Layout> {
    let b0 = *payload.first()?;
    let mut l = Layout {
        frame_start: b0 & 0x10 != 0 && b0 & 0x07 == 0,
        picture_id: None,
        tl0picidx: None,
        header: 1,
    };
    if b0 & 0x80 == 0 {
        return Some(l);
    }
    let x = *payload.get(1)?;
    let mut i = 2;
    if x & 0x80 != 0 {
        let wide = *payload.get(i)? & 0x80 != 0;
        l.picture_id = Some((i, wide));
        i += if wide { 2 } else { 1 };
    }
    if x & 0x40 != 0 {
        l.tl0picidx = Some(i);
        i += 1;
    }
    if x & 0x30 != 0 {
        i += 1;
    }
    (payload.len() >= i).then_some(Layout { header: i, ..l })
}

/// Where a VP8 RTP payload's part of its frame begins (after the payload descriptor), and
/// whether it is the frame's first packet (S bit, partition 0); `None` if the payload is shorter
/// than its descriptor says.
pub fn frame_part(payload: &[u8]) -> Option<(bool, usize)> {
    layout(payload).map(|l| (l.frame_start, l.header))
}

/// Whether this VP8 RTP payload is the first packet of a keyframe.
///
/// Returns `false` for malformed payloads rather than failing: the caller only uses this to
/// decide when a stream may start.
pub fn is_keyframe_start(payload: &[u8]) -> bool {
    let Some(l) = layout(payload).filter(|l| l.frame_start) else {
        return false;
    };
    // First byte of the VP8 payload header: bit 0 is the inverse keyframe flag (P).
    payload.get(l.header).is_some_and(|&h| h & 0x01 == 0)
}

/// A picture ID as the descriptor carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PictureId {
    pub value: u16,
    /// The 15-bit form (else 7 bits).
    pub wide: bool,
}

impl PictureId {
    /// The largest value plus one of its form.
    pub fn modulus(self) -> u16 {
        if self.wide {
            1 << 15
        } else {
            1 << 7
        }
    }
}

/// What forwarding reads of a payload's descriptor, once per packet for all its consumers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Descriptor {
    /// The first packet of a keyframe.
    pub keyframe_start: bool,
    /// H.264: the packet carries a sequence parameter set (the start of a keyframe that brings
    /// its parameter sets).
    pub parameter_sets: bool,
    pub picture_id: Option<PictureId>,
    pub tl0picidx: Option<u8>,
}

/// The descriptor of `payload` (all `false`/`None` if malformed).
pub fn descriptor(payload: &[u8]) -> Descriptor {
    let (picture_id, tl0picidx) = ids(payload);
    Descriptor {
        keyframe_start: is_keyframe_start(payload),
        parameter_sets: false,
        picture_id,
        tl0picidx,
    }
}

/// A copy's picture ID and TL0PICIDX after renumbering; [`set_ids`] writes the ones its
/// descriptor has (a field it lacks is ignored).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PictureIds {
    pub picture_id: u16,
    pub tl0picidx: u8,
}

/// The picture ID and TL0PICIDX of a payload's descriptor, those it has.
pub fn ids(payload: &[u8]) -> (Option<PictureId>, Option<u8>) {
    let Some(l) = layout(payload) else {
        return (None, None);
    };
    let picture_id = l.picture_id.map(|(i, wide)| PictureId {
        value: if wide {
            u16::from_be_bytes([payload[i], payload[i + 1]]) & 0x7FFF
        } else {
            u16::from(payload[i] & 0x7F)
        },
        wide,
    });
    (picture_id, l.tl0picidx.map(|i| payload[i]))
}

/// Writes `picture_id` (within the form the descriptor already uses) and `tl0picidx` into the
/// fields `payload`'s descriptor has, in place; the length never changes. `false` if the
/// descriptor is malformed (nothing is written).
pub fn set_ids(payload: &mut [u8], picture_id: u16, tl0picidx: u8) -> bool {
    let Some(l) = layout(payload) else {
        return false;
    };
    match l.picture_id {
        Some((i, true)) => {
            let v = 0x8000 | (picture_id & 0x7FFF);
            payload[i..i + 2].copy_from_slice(&v.to_be_bytes());
        }
        Some((i, false)) => payload[i] = (picture_id & 0x7F) as u8,
        None => {}
    }
    if let Some(i) = l.tl0picidx {
        payload[i] = tl0picidx;
    }
    true
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

    #[test]
    fn picture_ids_and_tl0picidx_read_and_rewritten_in_place() {
        // X=1,S=1 | I=1,L=1,T=1 | M=1 picture id 0x0123 | TL0PICIDX 7 | TID | VP8 keyframe
        let mut p = [0x90, 0xE0, 0x81, 0x23, 0x07, 0x20, 0x50];
        let wide = PictureId {
            value: 0x0123,
            wide: true,
        };
        assert_eq!(ids(&p), (Some(wide), Some(7)));
        assert!(set_ids(&mut p, 0x7FFF, 200));
        assert_eq!(
            ids(&p),
            (
                Some(PictureId {
                    value: 0x7FFF,
                    wide: true
                }),
                Some(200)
            )
        );
        assert!(is_keyframe_start(&p), "the rest is untouched");
        assert_eq!(p.len(), 7);

        // A 7-bit picture ID keeps its form: the value wraps at 128.
        let mut short = [0x80, 0x80, 0x05, 0x51];
        assert!(set_ids(&mut short, 130, 0));
        assert_eq!(
            ids(&short),
            (
                Some(PictureId {
                    value: 2,
                    wide: false
                }),
                None
            )
        );
        assert_eq!(short[3], 0x51);

        // No extension: nothing to rewrite, nothing written.
        let mut plain = [0x10, 0x50];
        assert!(set_ids(&mut plain, 9, 9));
        assert_eq!(plain, [0x10, 0x50]);
    }

    #[test]
    fn malformed_descriptors_are_left_alone() {
        for bad in [
            &mut [0x90u8][..],
            &mut [0x90, 0x80],
            &mut [0x90, 0x80, 0x81],
            &mut [],
        ] {
            let before = bad.to_vec();
            assert!(!set_ids(bad, 1, 1));
            assert_eq!(bad, &before[..]);
            assert_eq!(ids(bad), (None, None));
        }
    }
}
