//! One H.264 track's fragmented MP4 file (ISO BMFF, as browsers play it and CMAF writes it): an
//! init segment (`ftyp`, `moov` with the `avcC` of the stream's parameter sets), then a fragment
//! (`moof` + `mdat`) per frame, written when the next frame gives its duration. Each fragment is
//! whole on its own, so a file cut short by a crash reads up to the fragment before it: at most
//! one frame is lost. Finishing writes the last frame and patches the durations into `moov` (the
//! same size: the boxes are written in their 64-bit versions from the start), so players show the
//! length at once. The boxes are made by `mp4-atom` (kixelated's, the MP4 atom codec of the
//! media-over-QUIC work); this file only decides what goes in them.

use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use mp4_atom::{
    Avc1, Avcc, Dinf, Dref, Encode, Ftyp, Hdlr, Mdhd, Mdia, Mehd, Mfhd, Minf, Moof, Moov, Mvex,
    Mvhd, Stbl, Stco, Stsc, Stsd, Stsz, Stts, Tfdt, Tfhd, Tkhd, Traf, Trak, Trex, Trun, TrunEntry,
    Url, Visual, Vmhd,
};

use crate::h264_access_unit::H264Config;
use crate::track_file::RecordError;

/// Ticks per second of the file's timeline (RTP's video clock).
const TIMESCALE: u32 = 90_000;
/// A sample that is a sync sample (ISO 14496-12 §8.8.3.1: depends on no other).
const SYNC: u32 = 0x0200_0000;
/// A sample that depends on others and is not a sync sample.
const DELTA: u32 = 0x0101_0000;

/// One H.264 track's open MP4 file.
pub struct Mp4File {
    path: PathBuf,
    file: File,
    moov: Moov,
    /// Where `moov` is in the file, and its size.
    moov_at: u64,
    moov_len: usize,
    sequence: u32,
    /// The frame waiting for the next one to give its duration: bytes, ticks, keyframe.
    pending: Option<(Vec<u8>, u64, bool)>,
    last_duration: u32,
    /// Ticks of the first frame (the file's decode times begin there) and the end so far.
    first: Option<u64>,
    end: u64,
    buf: Vec<u8>,
}

impl std::fmt::Debug for Mp4File {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mp4File")
            .field("path", &self.path)
            .field("fragments", &self.sequence)
            .finish()
    }
}

fn mux<'a>(path: &'a Path, what: &'static str) -> impl FnOnce(mp4_atom::Error) -> RecordError + 'a {
    move |e| RecordError::Mux {
        what,
        path: path.to_path_buf(),
        detail: e.to_string(),
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> RecordError + '_ {
    move |source| RecordError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The movie header of one video track: its sample entry from the parameter sets, and room
/// (`mehd`, durations) for what finishing patches in.
fn movie(config: &H264Config) -> Result<Moov, mp4_atom::Error> {
    let (w, h) = (config.width, config.height);
    Ok(Moov {
        mvhd: Mvhd {
            timescale: TIMESCALE,
            rate: 1.into(),
            volume: 1.into(),
            next_track_id: 2,
            ..Default::default()
        },
        meta: None,
        mvex: Some(Mvex {
            mehd: Some(Mehd::default()),
            trex: vec![Trex {
                track_id: 1,
                default_sample_description_index: 1,
                ..Default::default()
            }],
        }),
        trak: vec![Trak {
            tkhd: Tkhd {
                track_id: 1,
                enabled: true,
                matrix: Default::default(),
                width: w.into(),
                height: h.into(),
                ..Default::default()
            },
            edts: None,
            meta: None,
            mdia: Mdia {
                mdhd: Mdhd {
                    timescale: TIMESCALE,
                    language: "und".into(),
                    ..Default::default()
                },
                hdlr: Hdlr {
                    handler: b"vide".into(),
                    name: "Tongbu video".into(),
                },
                minf: Minf {
                    vmhd: Some(Vmhd::default()),
                    dinf: Dinf {
                        dref: Dref {
                            urls: vec![Url::default()],
                        },
                    },
                    stbl: Stbl {
                        stsd: Stsd {
                            codecs: vec![Avc1 {
                                visual: Visual {
                                    data_reference_index: 1,
                                    width: w,
                                    height: h,
                                    ..Default::default()
                                },
                                avcc: Avcc::new(&config.sps, &config.pps)?,
                                ..Default::default()
                            }
                            .into()],
                        },
                        stts: Stts::default(),
                        stsc: Stsc::default(),
                        stsz: Stsz::default(),
                        stco: Some(Stco::default()),
                        ..Default::default()
                    },
                    ..Default::default()
                },
            },
            senc: None,
            udta: None,
        }],
        udta: None,
    })
}

impl Mp4File {
    /// Creates the file at `path` for a stream with these parameter sets.
    pub fn create(path: &Path, config: &H264Config) -> Result<Self, RecordError> {
        let moov = movie(config).map_err(mux(path, "the movie header"))?;
        let mut buf = Vec::new();
        Ftyp {
            major_brand: b"isom".into(),
            minor_version: 512,
            compatible_brands: vec![
                b"isom".into(),
                b"iso6".into(),
                b"avc1".into(),
                b"mp41".into(),
            ],
        }
        .encode(&mut buf)
        .map_err(mux(path, "the file type"))?;
        let moov_at = buf.len() as u64;
        moov.encode(&mut buf)
            .map_err(mux(path, "the movie header"))?;
        let moov_len = buf.len() - moov_at as usize;
        let mut file = File::create(path).map_err(io(path))?;
        file.write_all(&buf).map_err(io(path))?;
        Ok(Self {
            path: path.to_path_buf(),
            file,
            moov,
            moov_at,
            moov_len,
            sequence: 0,
            pending: None,
            last_duration: TIMESCALE / 30,
            first: None,
            end: 0,
            buf,
        })
    }

    /// Adds an access unit (length-prefixed NAL units) at `ns` on the recording's timeline; the
    /// one before it is written now that its duration is known.
    pub fn write(&mut self, sample: &[u8], ns: u64, keyframe: bool) -> Result<(), RecordError> {
        let ticks = ns.saturating_mul(u64::from(TIMESCALE)) / 1_000_000_000;
        if let Some((data, at, key)) = self.pending.take() {
            let duration = u32::try_from(ticks.saturating_sub(at))
                .unwrap_or(u32::MAX)
                .max(1);
            self.fragment(&data, at, duration, key)?;
            self.last_duration = duration;
        }
        // A frame earlier than the last goes at the last's time: decode times only grow.
        let at = ticks.max(self.end);
        self.pending = Some((sample.to_vec(), at, keyframe));
        Ok(())
    }

    /// One `moof` + `mdat` with one sample, written at once.
    fn fragment(
        &mut self,
        data: &[u8],
        at: u64,
        duration: u32,
        key: bool,
    ) -> Result<(), RecordError> {
        let first = *self.first.get_or_insert(at);
        self.sequence += 1;
        let mut moof = Moof {
            mfhd: Mfhd {
                sequence_number: self.sequence,
            },
            traf: vec![Traf {
                tfhd: Tfhd {
                    track_id: 1,
                    ..Default::default()
                },
                tfdt: Some(Tfdt {
                    base_media_decode_time: at - first,
                }),
                trun: vec![Trun {
                    data_offset: Some(0),
                    entries: vec![TrunEntry {
                        duration: Some(duration),
                        size: Some(data.len() as u32),
                        flags: Some(if key { SYNC } else { DELTA }),
                        cts: None,
                    }],
                }],
                ..Default::default()
            }],
        };
        // The sample's bytes follow the moof and the mdat's 8-byte header.
        self.buf.clear();
        moof.encode(&mut self.buf)
            .map_err(mux(&self.path, "a fragment"))?;
        let offset = self.buf.len() as i32 + 8;
        moof.traf[0].trun[0].data_offset = Some(offset);
        self.buf.clear();
        moof.encode(&mut self.buf)
            .map_err(mux(&self.path, "a fragment"))?;
        self.buf
            .extend_from_slice(&(data.len() as u32 + 8).to_be_bytes());
        self.buf.extend_from_slice(b"mdat");
        self.buf.extend_from_slice(data);
        self.file.write_all(&self.buf).map_err(io(&self.path))?;
        self.end = at + u64::from(duration);
        Ok(())
    }

    /// Writes the last frame, patches the durations in, and closes the file.
    pub fn finish(mut self) -> Result<PathBuf, RecordError> {
        if let Some((data, at, key)) = self.pending.take() {
            let d = self.last_duration;
            self.fragment(&data, at, d, key)?;
        }
        let length = self.end - self.first.unwrap_or(self.end);
        self.moov.mvhd.duration = length;
        if let Some(mvex) = self.moov.mvex.as_mut() {
            mvex.mehd = Some(Mehd {
                fragment_duration: length,
            });
        }
        self.moov.trak[0].tkhd.duration = length;
        self.moov.trak[0].mdia.mdhd.duration = length;
        self.buf.clear();
        self.moov
            .encode(&mut self.buf)
            .map_err(mux(&self.path, "the movie header"))?;
        if self.buf.len() == self.moov_len {
            self.file
                .seek(SeekFrom::Start(self.moov_at))
                .and_then(|_| self.file.write_all(&self.buf))
                .and_then(|_| self.file.flush())
                .map_err(io(&self.path))?;
        }
        Ok(self.path)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}
