//! Real H.264 for synthetic publishers: access units read from an Annex B stream (as
//! `ffmpeg … -c:v libx264 -f h264` writes it), packetized per RFC 6184 (packetization mode 1)
//! by webrtc-rs's payloader; and the way back, payloads to an Annex B stream a decoder reads.

use bytes::Bytes;
use rtc::rtp::codec::h264::{H264Packet, H264Payloader};
use rtc::rtp::packetizer::{Depacketizer, Payloader};

/// H.264 access units (frames) read from an Annex B byte stream (`ffmpeg … -f h264`), looped.
/// Each access unit is kept as Annex B bytes, parameter sets and all, for a payloader to split.
#[derive(Debug, Clone)]
pub struct H264Frames {
    frames: Vec<(Bytes, bool)>,
    next: usize,
    /// Frames per second (a raw stream carries no timing; the caller says).
    pub fps: f64,
}

/// NAL unit types that end an access unit here: a slice (non-IDR 1, IDR 5). The streams this
/// reads have one slice per picture (x264's default for these sizes).
fn is_slice(nal_type: u8) -> bool {
    matches!(nal_type, 1 | 5)
}

impl H264Frames {
    /// Splits an Annex B stream into access units: everything up to and including each slice.
    pub fn parse(data: &[u8], fps: f64) -> Result<Self, String> {
        let mut frames = Vec::new();
        let mut unit = Vec::new();
        let mut key = false;
        for nal in annex_b_units(data) {
            let Some(&header) = nal.first() else {
                continue;
            };
            let t = header & 0x1f;
            unit.extend_from_slice(&[0, 0, 0, 1]);
            unit.extend_from_slice(nal);
            key |= t == 5;
            if is_slice(t) {
                frames.push((Bytes::from(std::mem::take(&mut unit)), key));
                key = false;
            }
        }
        if frames.is_empty() {
            return Err(
                "no H.264 picture in the stream (expected Annex B with start codes)".into(),
            );
        }
        if !frames[0].1 {
            return Err("the H.264 stream does not begin with an IDR picture".into());
        }
        Ok(Self {
            frames,
            next: 0,
            fps,
        })
    }

    /// The next access unit (Annex B, looping), and whether it is a keyframe.
    pub fn next_frame(&mut self) -> (Bytes, bool) {
        let f = self.frames[self.next].clone();
        self.next = (self.next + 1) % self.frames.len();
        f
    }

    /// Starts again from the first keyframe (a keyframe request).
    pub fn restart(&mut self) {
        self.next = 0;
    }

    /// Every access unit once, in order.
    pub fn frames(&self) -> impl Iterator<Item = &Bytes> {
        self.frames.iter().map(|(f, _)| f)
    }
}

/// The NAL units of an Annex B stream, without their start codes.
pub fn annex_b_units(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut starts = Vec::new();
    let mut i = 0;
    while i + 3 <= data.len() {
        if data[i] == 0 && data[i + 1] == 0 && data[i + 2] == 1 {
            starts.push(i + 3);
            i += 3;
        } else {
            i += 1;
        }
    }
    let ends: Vec<usize> = starts
        .iter()
        .skip(1)
        .map(|&s| {
            // The start code before the next unit, with a fourth leading zero if present.
            let e = s - 3;
            if e > 0 && data[e - 1] == 0 {
                e - 1
            } else {
                e
            }
        })
        .chain(std::iter::once(data.len()))
        .collect();
    starts
        .into_iter()
        .zip(ends)
        .map(move |(s, e)| &data[s..e.max(s)])
}

/// Splits an access unit (Annex B) into RTP payloads of at most `mtu` bytes: SPS and PPS
/// aggregated in a STAP-A, a slice alone or in FU-A fragments.
pub fn packetize_h264(payloader: &mut H264Payloader, frame: &Bytes, mtu: usize) -> Vec<Bytes> {
    payloader.payload(mtu, frame).unwrap_or_default()
}

/// Received H.264 payloads, in sequence order, back into one Annex B stream (what a decoder
/// reads). A payload that does not parse is skipped, as a decoder skips a damaged unit.
pub fn depacketize_h264<'a>(payloads: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut packet = H264Packet::default();
    let mut out = Vec::new();
    for p in payloads {
        if let Ok(units) = packet.depacketize(&Bytes::copy_from_slice(p)) {
            out.extend_from_slice(&units);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLIP: &[u8] = include_bytes!("../../../tests/media/testsrc-320x240-15fps-baseline.h264");

    #[test]
    fn the_clip_is_one_access_unit_per_frame_keyframes_each_second() {
        let f = H264Frames::parse(CLIP, 15.0).unwrap();
        let frames: Vec<_> = f.frames.iter().collect();
        assert_eq!(frames.len(), 8 * 15, "8 s at 15 fps");
        let keys = frames.iter().filter(|(_, k)| *k).count();
        assert_eq!(keys, 8, "a keyframe each second");
        assert!(H264Frames::parse(b"not h264", 15.0).is_err());
    }

    #[test]
    fn packetized_and_reassembled_the_units_are_the_clips() {
        let mut f = H264Frames::parse(CLIP, 15.0).unwrap();
        let mut payloader = H264Payloader::default();
        let mut payloads = Vec::new();
        let mut sent = Vec::new();
        for _ in 0..30 {
            let (frame, _) = f.next_frame();
            sent.extend(annex_b_units(&frame).map(<[u8]>::to_vec));
            payloads.extend(packetize_h264(&mut payloader, &frame, 1200));
        }
        assert!(payloads.iter().all(|p| p.len() <= 1200));
        let stream = depacketize_h264(payloads.iter().map(|p| &p[..]));
        let got: Vec<Vec<u8>> = annex_b_units(&stream).map(<[u8]>::to_vec).collect();
        assert_eq!(got, sent);
    }
}
