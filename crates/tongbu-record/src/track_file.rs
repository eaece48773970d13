//! One track's file: VP8 and opus in WebM ([`WebmFile`]), H.264 in fragmented MP4
//! ([`Mp4File`]), each frame at its time on the recording's timeline and in the file as soon as
//! it is written, so a file cut short by a crash reads up to (about) its last frame.

use std::path::{Path, PathBuf};

use crate::h264_access_unit::H264Config;
use crate::mp4_file::Mp4File;
use crate::webm_file::WebmFile;

/// What a track file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrackKind {
    /// VP8 at this picture size (a new file begins where it changes).
    Vp8 { width: u16, height: u16 },
    /// Opus, 48 kHz.
    Opus { channels: u8 },
    /// H.264 at this picture size (in MP4: WebM cannot hold it).
    H264 { width: u16, height: u16 },
}

impl TrackKind {
    /// The extension of its files.
    pub fn extension(self) -> &'static str {
        match self {
            TrackKind::H264 { .. } => "mp4",
            _ => "webm",
        }
    }
}

/// Why a recording could not be written.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("cannot write the recording {path}: {source}; check that the recordings directory exists, is writable and has space")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the muxer refused {what} for {path}: {detail}")]
    Mux {
        what: &'static str,
        path: PathBuf,
        detail: String,
    },
}

enum Muxer {
    Webm(WebmFile),
    Mp4(Box<Mp4File>),
}

/// One track's open file.
pub struct TrackFile {
    kind: TrackKind,
    muxer: Muxer,
    first_ns: Option<u64>,
    last_ns: u64,
    frames: u64,
}

impl std::fmt::Debug for TrackFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrackFile")
            .field("path", &self.path())
            .field("kind", &self.kind)
            .field("frames", &self.frames)
            .finish()
    }
}

impl TrackFile {
    /// Creates the file at `path` (its directory must exist); an H.264 file needs the stream's
    /// parameter sets.
    pub fn create(
        path: &Path,
        kind: TrackKind,
        h264: Option<&H264Config>,
    ) -> Result<Self, RecordError> {
        let muxer = match (kind, h264) {
            (TrackKind::H264 { .. }, Some(config)) => {
                Muxer::Mp4(Box::new(Mp4File::create(path, config)?))
            }
            (TrackKind::H264 { .. }, None) => {
                return Err(RecordError::Mux {
                    what: "an H.264 track",
                    path: path.to_path_buf(),
                    detail: "no parameter sets (SPS, PPS) seen before its keyframe".into(),
                })
            }
            _ => Muxer::Webm(WebmFile::create(path, kind)?),
        };
        Ok(Self {
            kind,
            muxer,
            first_ns: None,
            last_ns: 0,
            frames: 0,
        })
    }

    /// Adds a frame at `ns` on the recording's timeline (a frame earlier than the last goes at
    /// the last's time: a file's timestamps only grow).
    pub fn write(&mut self, data: &[u8], ns: u64, keyframe: bool) -> Result<(), RecordError> {
        let ns = ns.max(self.last_ns);
        match &mut self.muxer {
            Muxer::Webm(f) => f.write(data, ns, keyframe)?,
            Muxer::Mp4(f) => f.write(data, ns, keyframe)?,
        }
        self.first_ns.get_or_insert(ns);
        self.last_ns = ns;
        self.frames += 1;
        Ok(())
    }

    /// Finishes the file (what makes it seekable at once) and closes it. Returns its path.
    pub fn finish(self) -> Result<PathBuf, RecordError> {
        match self.muxer {
            Muxer::Webm(f) => f.finish(),
            Muxer::Mp4(f) => f.finish(),
        }
    }

    pub fn kind(&self) -> TrackKind {
        self.kind
    }

    pub fn path(&self) -> &Path {
        match &self.muxer {
            Muxer::Webm(f) => f.path(),
            Muxer::Mp4(f) => f.path(),
        }
    }

    /// Frames written, and the first and last frame's time.
    pub fn span(&self) -> (u64, Option<u64>, u64) {
        (self.frames, self.first_ns, self.last_ns)
    }
}
