//! Whole frames out of one track's RTP packets. A VP8 frame comes in one or more packets that
//! share its timestamp, the first with the payload descriptor's S bit, the last with the marker
//! (RFC 7741); the recording wants the frame itself, without the descriptors. An opus packet is
//! one frame. An H.264 access unit is the packets of one timestamp up to the marker, made into
//! MP4 samples by [`AccessUnit`]. A frame that lost a packet is dropped whole (a decoder would
//! show garbage), and the loss counted; a file goes on at the next keyframe.

use tongbu_media::{vp8, Codec};

use crate::h264_access_unit::{AccessUnit, H264Config};

/// A whole frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub data: Vec<u8>,
    /// The RTP timestamp of its packets.
    pub timestamp: u32,
    /// A VP8 keyframe (every opus frame counts as one).
    pub keyframe: bool,
    /// A keyframe's picture size, from its header (VP8) or its SPS (H.264).
    pub size: Option<(u16, u16)>,
    /// An H.264 keyframe's parameter sets, for its file's `avcC`.
    pub h264: Option<H264Config>,
}

/// One track's packets into frames.
#[derive(Debug)]
pub struct FrameAssembler {
    codec: Codec,
    buf: Vec<u8>,
    access_unit: AccessUnit,
    /// A packet went missing between two frames.
    lost_before_unit: bool,
    /// The frame being gathered: its timestamp, and whether a packet of it is missing.
    gathering: Option<(u32, bool)>,
    next_seq: Option<u16>,
    /// Packets that never arrived (gaps in the sequence numbers).
    pub lost_packets: u64,
    /// Frames dropped because a packet of them was missing.
    pub dropped_frames: u64,
}

impl FrameAssembler {
    pub fn new(codec: Codec) -> Self {
        Self {
            codec,
            buf: Vec::new(),
            access_unit: AccessUnit::default(),
            lost_before_unit: false,
            gathering: None,
            next_seq: None,
            lost_packets: 0,
            dropped_frames: 0,
        }
    }

    /// A packet, in the order it was forwarded; returns the frame it completes.
    pub fn push(
        &mut self,
        seq: u16,
        timestamp: u32,
        marker: bool,
        payload: &[u8],
    ) -> Option<Frame> {
        if let Some(want) = self.next_seq {
            let ahead = seq.wrapping_sub(want) as i16;
            if ahead < 0 {
                // Late or repeated: its frame was already given up or written.
                return None;
            }
            if ahead > 0 {
                self.lost_packets += ahead as u64;
                match self.gathering.as_mut() {
                    Some((_, broken)) => *broken = true,
                    // H.264 has no start bit: the lost packet may have begun the next unit.
                    None => self.lost_before_unit = true,
                }
            }
        }
        self.next_seq = Some(seq.wrapping_add(1));
        match self.codec {
            Codec::Opus => Some(Frame {
                data: payload.to_vec(),
                timestamp,
                keyframe: true,
                size: None,
                h264: None,
            }),
            Codec::Vp8 => self.push_vp8(timestamp, marker, payload),
            Codec::H264 => self.push_h264(timestamp, marker, payload),
        }
    }

    fn push_h264(&mut self, timestamp: u32, marker: bool, payload: &[u8]) -> Option<Frame> {
        match self.gathering {
            Some((ts, _)) if ts == timestamp => {}
            Some(_) => {
                // The previous access unit never saw its marker.
                self.give_up();
                self.access_unit.clear();
                self.gathering = Some((timestamp, false));
            }
            None => self.gathering = Some((timestamp, self.lost_before_unit)),
        }
        self.lost_before_unit = false;
        self.access_unit.push(payload);
        if !marker {
            return None;
        }
        let broken = matches!(self.gathering.take(), Some((_, true)));
        let unit = self.access_unit.take();
        let Some((data, idr)) = unit.filter(|_| !broken) else {
            self.dropped_frames += 1;
            return None;
        };
        let h264 = if idr { self.access_unit.config() } else { None };
        Some(Frame {
            data,
            timestamp,
            // An IDR whose parameter sets never came cannot begin a file.
            keyframe: h264.is_some(),
            size: h264.as_ref().map(|c| (c.width, c.height)),
            h264,
        })
    }

    fn push_vp8(&mut self, timestamp: u32, marker: bool, payload: &[u8]) -> Option<Frame> {
        let Some((start, offset)) = vp8::frame_part(payload) else {
            self.give_up();
            return None;
        };
        if start {
            if self.gathering.is_some() {
                // The previous frame never saw its marker.
                self.give_up();
            }
            self.buf.clear();
            self.gathering = Some((timestamp, false));
        }
        match self.gathering {
            Some((ts, false)) if ts == timestamp => {}
            Some(_) => {
                if marker {
                    self.give_up();
                }
                return None;
            }
            None => return None,
        }
        self.buf.extend_from_slice(&payload[offset..]);
        if !marker {
            return None;
        }
        self.gathering = None;
        let data = std::mem::take(&mut self.buf);
        let keyframe = data.first().is_some_and(|b| b & 0x01 == 0);
        let size = keyframe.then(|| keyframe_size(&data)).flatten();
        Some(Frame {
            data,
            timestamp,
            keyframe,
            size,
            h264: None,
        })
    }

    fn give_up(&mut self) {
        if self.gathering.take().is_some() {
            self.dropped_frames += 1;
        }
        self.buf.clear();
    }
}

/// A VP8 keyframe's width and height (RFC 6386 §9.1: a 3-byte frame tag, the start code
/// 9d 01 2a, then 14-bit width and height, little-endian, with 2 bits of scaling each).
fn keyframe_size(frame: &[u8]) -> Option<(u16, u16)> {
    let h = frame.get(3..10)?;
    if h[..3] != [0x9d, 0x01, 0x2a] {
        return None;
    }
    let w = u16::from_le_bytes([h[3], h[4]]) & 0x3fff;
    let hgt = u16::from_le_bytes([h[5], h[6]]) & 0x3fff;
    (w > 0 && hgt > 0).then_some((w, hgt))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A VP8 keyframe of `w`×`h` with `body` after its header.
    fn keyframe(w: u16, h: u16, body: &[u8]) -> Vec<u8> {
        let mut f = vec![0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a];
        f.extend_from_slice(&w.to_le_bytes());
        f.extend_from_slice(&h.to_le_bytes());
        f.extend_from_slice(body);
        f
    }

    /// RFC 7741 packets of `frame`: a descriptor with a 15-bit picture ID, S on the first.
    fn packets(frame: &[u8], parts: usize) -> Vec<Vec<u8>> {
        let chunk = frame.len().div_ceil(parts);
        frame
            .chunks(chunk)
            .enumerate()
            .map(|(i, c)| {
                let mut p = vec![if i == 0 { 0x90 } else { 0x80 }, 0x80, 0x80, 0x07];
                p.extend_from_slice(c);
                p
            })
            .collect()
    }

    #[test]
    fn a_frame_in_three_packets_is_one_frame_without_descriptors() {
        let mut a = FrameAssembler::new(Codec::Vp8);
        let frame = keyframe(640, 360, &[7; 3000]);
        let pkts = packets(&frame, 3);
        assert_eq!(a.push(10, 900, false, &pkts[0]), None);
        assert_eq!(a.push(11, 900, false, &pkts[1]), None);
        let got = a.push(12, 900, true, &pkts[2]).expect("a frame");
        assert_eq!(got.data, frame);
        assert!(got.keyframe);
        assert_eq!(got.size, Some((640, 360)));
        // A delta frame (P bit set) in one packet.
        let delta = [0x11, 0x02, 0x00, 5, 5, 5];
        let got = a
            .push(13, 3900, true, &packets(&delta, 1)[0])
            .expect("a frame");
        assert!(!got.keyframe);
        assert_eq!(got.size, None);
        assert_eq!((a.lost_packets, a.dropped_frames), (0, 0));
    }

    #[test]
    fn a_frame_that_lost_a_packet_is_dropped_and_the_next_comes_whole() {
        let mut a = FrameAssembler::new(Codec::Vp8);
        let frame = keyframe(320, 240, &[1; 2000]);
        let pkts = packets(&frame, 3);
        a.push(100, 0, false, &pkts[0]);
        // 101 is lost.
        assert_eq!(a.push(102, 0, true, &pkts[2]), None);
        assert_eq!((a.lost_packets, a.dropped_frames), (1, 1));
        let next = keyframe(320, 240, &[2; 100]);
        let got = a.push(103, 6000, true, &packets(&next, 1)[0]);
        assert_eq!(got.map(|f| f.data), Some(next));
        // A late copy of 101 changes nothing.
        assert_eq!(a.push(101, 0, false, &pkts[1]), None);
        // A frame whose marker never came is given up when the next starts.
        let pkts = packets(&keyframe(320, 240, &[3; 2000]), 2);
        a.push(104, 9000, false, &pkts[0]);
        let single = keyframe(320, 240, &[4; 10]);
        assert!(a.push(105, 12000, true, &packets(&single, 1)[0]).is_some());
        assert_eq!(a.dropped_frames, 2);
        // Malformed: dropped, nothing panics.
        assert_eq!(a.push(106, 15000, true, &[0x80]), None);
    }

    #[test]
    fn opus_packets_are_frames_and_gaps_are_counted() {
        let mut a = FrameAssembler::new(Codec::Opus);
        assert_eq!(
            a.push(65535, 0, false, b"one").map(|f| f.data),
            Some(b"one".to_vec())
        );
        assert!(a.push(0, 960, false, b"two").is_some());
        assert!(a.push(3, 3840, false, b"five").is_some());
        assert_eq!(a.lost_packets, 2);
    }

    #[test]
    fn an_h264_unit_missing_a_packet_is_dropped_even_its_first() {
        let mut a = FrameAssembler::new(Codec::H264);
        // Two slices of one picture (same timestamp, marker on the last): one sample.
        assert_eq!(a.push(10, 900, false, &[0x41, 1]), None);
        let f = a.push(11, 900, true, &[0x41, 2]).expect("a whole unit");
        assert_eq!(f.data, [0, 0, 0, 2, 0x41, 1, 0, 0, 0, 2, 0x41, 2]);
        assert!(!f.keyframe && f.h264.is_none());
        // The next unit's first slice is lost (seq 12): its second alone is not a picture.
        assert_eq!(a.push(13, 1800, true, &[0x41, 4]), None);
        // A middle packet lost: dropped too; then one whole again.
        assert_eq!(a.push(14, 2700, false, &[0x41, 5]), None);
        assert_eq!(a.push(16, 2700, true, &[0x41, 7]), None);
        assert!(a.push(17, 3600, true, &[0x41, 8]).is_some());
        assert_eq!((a.lost_packets, a.dropped_frames), (2, 2));
    }
}
