//! Real media for synthetic publishers: VP8 frames from an IVF file, packetized per RFC 7741,
//! and opus audio encoded from a tone.

use bytes::Bytes;
use rtc::rtp::codec::h264::H264Payloader;

use crate::h264_clip::{packetize_h264, H264Frames};
use crate::peer::VideoCodec;

/// VP8 frames read from an IVF file, looped.
#[derive(Debug, Clone)]
pub struct IvfFrames {
    frames: Vec<Bytes>,
    next: usize,
    pub width: u16,
    pub height: u16,
    /// Frames per second from the file header.
    pub fps: f64,
}

impl IvfFrames {
    /// Parses an IVF file (32-byte header, then 12-byte frame headers).
    pub fn parse(data: &[u8]) -> Result<Self, String> {
        if data.len() < 32 || &data[0..4] != b"DKIF" {
            return Err("not an IVF file (no DKIF signature)".into());
        }
        if &data[8..12] != b"VP80" {
            return Err(format!(
                "IVF codec is {:?}, expected VP80",
                String::from_utf8_lossy(&data[8..12])
            ));
        }
        let header_len = u16::from_le_bytes([data[6], data[7]]) as usize;
        let width = u16::from_le_bytes([data[12], data[13]]);
        let height = u16::from_le_bytes([data[14], data[15]]);
        let rate = u32::from_le_bytes([data[16], data[17], data[18], data[19]]);
        let scale = u32::from_le_bytes([data[20], data[21], data[22], data[23]]).max(1);
        let mut frames = Vec::new();
        let mut i = header_len;
        while i + 12 <= data.len() {
            let size =
                u32::from_le_bytes([data[i], data[i + 1], data[i + 2], data[i + 3]]) as usize;
            let start = i + 12;
            let end = start + size;
            if end > data.len() {
                return Err(format!("frame at byte {i} runs past the end of the file"));
            }
            frames.push(Bytes::copy_from_slice(&data[start..end]));
            i = end;
        }
        if frames.is_empty() {
            return Err("IVF file has no frames".into());
        }
        Ok(Self {
            frames,
            next: 0,
            width,
            height,
            fps: f64::from(rate) / f64::from(scale),
        })
    }

    /// The next frame (looping), and whether it is a keyframe.
    pub fn next_frame(&mut self) -> (Bytes, bool) {
        let f = self.frames[self.next].clone();
        self.next = (self.next + 1) % self.frames.len();
        let key = f.first().is_some_and(|b| b & 0x01 == 0);
        (f, key)
    }

    /// Continue from the first frame (a keyframe), as an encoder does after a PLI.
    pub fn restart(&mut self) {
        self.next = 0;
    }

    /// The clip's average bitrate, kbit/s.
    pub fn bitrate_kbps(&self) -> f64 {
        let bytes: usize = self.frames.iter().map(|f| f.len()).sum();
        bytes as f64 * 8.0 * self.fps / self.frames.len() as f64 / 1000.0
    }

    pub fn len(&self) -> usize {
        self.frames.len()
    }

    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }
}

/// The video a publisher loops: VP8 frames (IVF) or H.264 access units (Annex B).
#[derive(Debug, Clone)]
pub enum VideoClip {
    Vp8(IvfFrames),
    H264(H264Frames, H264Payloader),
}

impl VideoClip {
    /// H.264 from an Annex B stream at `fps` frames per second.
    pub fn h264(annex_b: &[u8], fps: f64) -> Result<Self, String> {
        Ok(VideoClip::H264(
            H264Frames::parse(annex_b, fps)?,
            H264Payloader::default(),
        ))
    }

    pub fn codec(&self) -> VideoCodec {
        match self {
            VideoClip::Vp8(_) => VideoCodec::Vp8,
            VideoClip::H264(..) => VideoCodec::H264,
        }
    }

    pub fn fps(&self) -> f64 {
        match self {
            VideoClip::Vp8(f) => f.fps,
            VideoClip::H264(f, _) => f.fps,
        }
    }

    /// Continue from the first frame (a keyframe), as an encoder does after a PLI.
    pub fn restart(&mut self) {
        match self {
            VideoClip::Vp8(f) => f.restart(),
            VideoClip::H264(f, _) => f.restart(),
        }
    }

    /// The next frame as RTP payloads of at most `mtu` bytes (`picture_id` for VP8's
    /// descriptor).
    pub fn next_payloads(&mut self, picture_id: u16, mtu: usize) -> Vec<Bytes> {
        match self {
            VideoClip::Vp8(f) => packetize_vp8(&f.next_frame().0, picture_id, mtu),
            VideoClip::H264(f, payloader) => packetize_h264(payloader, &f.next_frame().0, mtu),
        }
    }
}

/// Splits a VP8 frame into RTP payloads of at most `mtu` bytes, each with a payload descriptor
/// carrying a 15-bit picture id (so every packet of a stream is distinct).
pub fn packetize_vp8(frame: &[u8], picture_id: u16, mtu: usize) -> Vec<Bytes> {
    const DESC: usize = 4;
    let chunk = mtu.saturating_sub(DESC).max(1);
    frame
        .chunks(chunk)
        .enumerate()
        .map(|(i, part)| {
            let mut p = Vec::with_capacity(DESC + part.len());
            p.push(if i == 0 { 0x90 } else { 0x80 }); // X=1, S on the first packet, PID 0
            p.push(0x80); // I: picture id present
            p.push(0x80 | ((picture_id >> 8) as u8 & 0x7F)); // M=1: 15-bit picture id
            p.push(picture_id as u8);
            p.extend_from_slice(part);
            Bytes::from(p)
        })
        .collect()
}

/// An RTP packet (version 2, no extensions) around `payload`.
/// A redundant audio payload (RED, RFC 2198) as browsers send it: the frame before this one
/// (`offset` clock ticks earlier), if any, then this one, both opus.
pub fn red_payload(previous: Option<&[u8]>, offset: u16, primary: &[u8]) -> Bytes {
    let opus = u32::from(crate::peer::OPUS_PT);
    let mut out = Vec::with_capacity(5 + previous.map_or(0, <[u8]>::len) + primary.len());
    if let Some(p) = previous {
        let word = 0x8000_0000 | opus << 24 | u32::from(offset & 0x3fff) << 10 | p.len() as u32;
        out.extend_from_slice(&word.to_be_bytes());
    }
    out.push(opus as u8);
    out.extend_from_slice(previous.unwrap_or_default());
    out.extend_from_slice(primary);
    Bytes::from(out)
}

pub fn rtp_packet(
    pt: u8,
    ssrc: u32,
    seq: u16,
    ts: u32,
    marker: bool,
    payload: Bytes,
) -> rtc::rtp::Packet {
    rtc::rtp::Packet {
        header: rtc::rtp::Header {
            version: 2,
            marker,
            payload_type: pt,
            sequence_number: seq,
            timestamp: ts,
            ssrc,
            ..Default::default()
        },
        payload,
    }
}

/// 20 ms opus frames of a tone whose pitch wanders, so consecutive frames differ.
pub struct OpusTone {
    encoder: opus::Encoder,
    phase: f32,
    frame: u64,
    pcm: Vec<i16>,
    out: Vec<u8>,
}

impl OpusTone {
    pub const SAMPLES_PER_FRAME: usize = 960;

    pub fn new(bitrate: i32) -> Result<Self, String> {
        let mut encoder = opus::Encoder::new(48_000, opus::Channels::Mono, opus::Application::Voip)
            .map_err(|e| e.to_string())?;
        encoder
            .set_bitrate(opus::Bitrate::Bits(bitrate))
            .map_err(|e| e.to_string())?;
        Ok(Self {
            encoder,
            phase: 0.0,
            frame: 0,
            pcm: vec![0; Self::SAMPLES_PER_FRAME],
            out: vec![0; 4000],
        })
    }

    /// Starts the tone's pitch walk `frames` frames in, so that several publishers in one
    /// process send different audio (and so different packets).
    pub fn skip(mut self, frames: u64) -> Self {
        self.frame = frames;
        self
    }

    /// The next encoded 20 ms frame.
    pub fn next_frame(&mut self) -> Result<Bytes, String> {
        let freq = 300.0 + ((self.frame * 37) % 600) as f32;
        let step = 2.0 * std::f32::consts::PI * freq / 48_000.0;
        for s in self.pcm.iter_mut() {
            *s = (self.phase.sin() * 8000.0) as i16;
            self.phase = (self.phase + step) % (2.0 * std::f32::consts::PI);
        }
        self.frame += 1;
        let n = self
            .encoder
            .encode(&self.pcm, &mut self.out)
            .map_err(|e| e.to_string())?;
        Ok(Bytes::copy_from_slice(&self.out[..n]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packets_fit_the_mtu_and_reassemble() {
        let frame: Vec<u8> = (0..3000u32).map(|i| i as u8).collect();
        let pkts = packetize_vp8(&frame, 300, 1200);
        assert_eq!(pkts.len(), 3);
        assert!(pkts.iter().all(|p| p.len() <= 1200));
        assert_eq!(pkts[0][0], 0x90);
        assert_eq!(pkts[1][0], 0x80);
        let joined: Vec<u8> = pkts.iter().flat_map(|p| p[4..].to_vec()).collect();
        assert_eq!(joined, frame);
    }

    #[test]
    fn the_test_clip_is_real_vp8_starting_on_a_keyframe() {
        let data = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/media/testsrc-320x240-15fps.ivf"
        ))
        .expect("test clip");
        let mut ivf = IvfFrames::parse(&data).unwrap();
        assert_eq!((ivf.width, ivf.height), (320, 240));
        assert!(ivf.len() >= 30);
        let (_, key) = ivf.next_frame();
        assert!(key);
        assert!(IvfFrames::parse(b"not an ivf file at all, sorry....").is_err());
    }

    #[test]
    fn opus_frames_are_real_and_differ() {
        let mut tone = OpusTone::new(32_000).unwrap();
        let a = tone.next_frame().unwrap();
        let b = tone.next_frame().unwrap();
        assert!(a.len() > 10 && b.len() > 10);
        assert_ne!(a, b);
    }
}
