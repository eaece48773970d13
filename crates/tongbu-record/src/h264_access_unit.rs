//! H.264 access units out of RTP payloads (RFC 6184, packetization mode 1): single NAL units,
//! STAP-A aggregates and FU-A fragments into the length-prefixed NAL units an MP4 sample holds
//! (4-byte sizes, as the `avcC` box declares). The parameter sets (SPS, PPS) are taken out of the
//! samples and kept: the file's `avcC` carries them, and a new file begins where they change
//! (a new picture size). An IDR access unit is a keyframe; its picture size is read from the SPS
//! by `h264-reader`.

use h264_reader::nal::sps::SeqParameterSet;
use h264_reader::rbsp::{decode_nal, BitReader};

const IDR: u8 = 5;
const SPS: u8 = 7;
const PPS: u8 = 8;
/// Access unit delimiter, filler data: not worth keeping.
const AUD: u8 = 9;
const FILLER: u8 = 12;
const STAP_A: u8 = 24;
const FU_A: u8 = 28;

/// The decoder configuration an MP4 file's `avcC` carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct H264Config {
    pub sps: Vec<u8>,
    pub pps: Vec<u8>,
    pub width: u16,
    pub height: u16,
}

/// What one access unit's payloads made.
#[derive(Debug, Default)]
pub(crate) struct AccessUnit {
    /// Length-prefixed NAL units (parameter sets left out).
    buf: Vec<u8>,
    /// An FU-A's NAL unit is being put together: where its size goes.
    fragment_at: Option<usize>,
    idr: bool,
    sps: Option<Vec<u8>>,
    pps: Option<Vec<u8>>,
    /// The payloads did not fit together (a fragment without its start, a truncated unit).
    broken: bool,
}

impl AccessUnit {
    pub(crate) fn clear(&mut self) {
        self.buf.clear();
        self.fragment_at = None;
        self.idr = false;
        self.broken = false;
    }

    /// One RTP payload of the access unit.
    pub(crate) fn push(&mut self, payload: &[u8]) {
        let Some(&header) = payload.first() else {
            self.broken = true;
            return;
        };
        match header & 0x1f {
            1..=23 => self.nal(payload),
            STAP_A => {
                let mut rest = &payload[1..];
                while rest.len() >= 2 {
                    let size = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
                    let Some(nal) = rest.get(2..2 + size) else {
                        self.broken = true;
                        return;
                    };
                    self.nal(nal);
                    rest = &rest[2 + size..];
                }
            }
            FU_A => {
                let Some(&fu) = payload.get(1) else {
                    self.broken = true;
                    return;
                };
                let (start, end) = (fu & 0x80 != 0, fu & 0x40 != 0);
                let data = &payload[2..];
                if start {
                    self.fragment_at = Some(self.buf.len());
                    self.buf.extend_from_slice(&[0; 4]);
                    self.buf.push((header & 0xe0) | (fu & 0x1f));
                    self.idr |= fu & 0x1f == IDR;
                } else if self.fragment_at.is_none() {
                    self.broken = true;
                    return;
                }
                self.buf.extend_from_slice(data);
                if end {
                    if let Some(at) = self.fragment_at.take() {
                        let size = (self.buf.len() - at - 4) as u32;
                        self.buf[at..at + 4].copy_from_slice(&size.to_be_bytes());
                    }
                }
            }
            _ => self.broken = true,
        }
    }

    fn nal(&mut self, nal: &[u8]) {
        let Some(&header) = nal.first() else {
            return;
        };
        match header & 0x1f {
            SPS => self.sps = Some(nal.to_vec()),
            PPS => self.pps = Some(nal.to_vec()),
            AUD | FILLER => {}
            t => {
                self.idr |= t == IDR;
                self.buf
                    .extend_from_slice(&(nal.len() as u32).to_be_bytes());
                self.buf.extend_from_slice(nal);
            }
        }
    }

    /// The finished access unit: its samples' bytes and whether it is an IDR, or None when it
    /// is broken or holds no picture. An IDR takes the parameter sets last seen ([`Self::config`]).
    pub(crate) fn take(&mut self) -> Option<(Vec<u8>, bool)> {
        let whole = !self.broken && self.fragment_at.is_none() && !self.buf.is_empty();
        let out = whole.then(|| (std::mem::take(&mut self.buf), self.idr));
        self.clear();
        out
    }

    /// The stream's parameter sets as last seen, with the picture size they give.
    pub(crate) fn config(&self) -> Option<H264Config> {
        let (sps, pps) = (self.sps.as_ref()?, self.pps.as_ref()?);
        let rbsp = decode_nal(sps).ok()?;
        let parsed = SeqParameterSet::from_bits(BitReader::new(&rbsp[..])).ok()?;
        let (w, h) = parsed.pixel_dimensions().ok()?;
        Some(H264Config {
            sps: sps.clone(),
            pps: pps.clone(),
            width: u16::try_from(w).ok()?,
            height: u16::try_from(h).ok()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// libx264's SPS and PPS of the 320×240 constrained-baseline test clip
    /// (`tests/media/testsrc-320x240-15fps-baseline.h264`).
    const SPS_320: [u8; 24] = [
        0x67, 0x42, 0xc0, 0x1e, 0xd9, 0x01, 0x41, 0xfb, 0x01, 0x10, 0x00, 0x00, 0x03, 0x00, 0x10,
        0x00, 0x00, 0x03, 0x01, 0xe0, 0xf1, 0x62, 0xe4, 0x80,
    ];
    const PPS: [u8; 4] = [0x68, 0xcb, 0x8c, 0xb2];

    fn stap(units: &[&[u8]]) -> Vec<u8> {
        let mut p = vec![0x78];
        for u in units {
            p.extend_from_slice(&(u.len() as u16).to_be_bytes());
            p.extend_from_slice(u);
        }
        p
    }

    #[test]
    fn an_idr_in_fragments_after_its_parameter_sets_is_one_length_prefixed_sample() {
        let mut au = AccessUnit::default();
        au.push(&stap(&[&SPS_320, &PPS]));
        // An IDR slice (NRI 3, type 5) of 7 bytes in three FU-As.
        au.push(&[0x7c, 0x85, 1, 2, 3]);
        au.push(&[0x7c, 0x05, 4, 5]);
        au.push(&[0x7c, 0x45, 6]);
        let (sample, idr) = au.take().expect("a whole access unit");
        assert!(idr);
        assert_eq!(sample, [0, 0, 0, 7, 0x65, 1, 2, 3, 4, 5, 6]);
        let c = au.config().expect("the parameter sets");
        assert_eq!((c.width, c.height), (320, 240));
        assert_eq!(
            (c.sps.as_slice(), c.pps.as_slice()),
            (&SPS_320[..], &PPS[..])
        );
    }

    #[test]
    fn a_delta_frame_of_single_units_and_a_broken_one() {
        let mut au = AccessUnit::default();
        au.push(&[0x09, 0xf0]); // access unit delimiter: left out
        au.push(&[0x41, 9, 8]);
        au.push(&[0x41, 7]);
        let (sample, idr) = au.take().expect("whole");
        assert!(!idr);
        assert_eq!(sample, [0, 0, 0, 3, 0x41, 9, 8, 0, 0, 0, 2, 0x41, 7]);
        // A fragment whose start was lost, and one never ended: nothing.
        au.push(&[0x5c, 0x01, 1, 2]);
        assert!(au.take().is_none());
        au.push(&[0x5c, 0x81, 1, 2]);
        assert!(au.take().is_none());
        // A STAP-A claiming more than it holds.
        au.push(&[0x78, 0x00, 0x09, 0x41]);
        assert!(au.take().is_none());
        assert!(au.config().is_none(), "no parameter sets seen");
    }
}
