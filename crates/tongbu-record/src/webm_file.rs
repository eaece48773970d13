//! One track's WebM file: VP8 video or opus audio, the publisher's frames as they were sent,
//! each at its time on the recording's timeline. libwebm writes every frame to the file as it is
//! added (no buffer of ours: what a frame's `write` returned from is in the kernel's hands, and a
//! kill -9 of the server loses none of it), with the segment's and clusters' sizes "unknown"
//! until [`WebmFile::finish`] patches them and adds the cues and duration that make a finished
//! file seekable; a file cut short by a crash reads up to its last frame.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use webm::mux::{AudioCodecId, Segment, SegmentBuilder, SegmentMode, Track, VideoCodecId, Writer};

use crate::track_file::{RecordError, TrackKind};

/// One track's open WebM file.
pub struct WebmFile {
    path: PathBuf,
    kind: TrackKind,
    segment: Segment<File>,
    track: u64,
    first_ns: Option<u64>,
    last_ns: u64,
    frames: u64,
}

impl std::fmt::Debug for WebmFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebmFile")
            .field("path", &self.path)
            .field("kind", &self.kind)
            .field("frames", &self.frames)
            .finish()
    }
}

/// The opus identification header (RFC 7845 §5.1) a WebM opus track carries as its codec
/// private data.
fn opus_head(channels: u8) -> [u8; 19] {
    let mut h = [0u8; 19];
    h[..8].copy_from_slice(b"OpusHead");
    h[8] = 1;
    h[9] = channels;
    // Pre-skip 0: the frames are the publisher's, decoded as they come.
    h[12..16].copy_from_slice(&48_000u32.to_le_bytes());
    h
}

impl WebmFile {
    /// Creates the file at `path` (its directory must exist).
    pub fn create(path: &Path, kind: TrackKind) -> Result<Self, RecordError> {
        let io = |source| RecordError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mux = |what: &'static str| {
            move |e: webm::mux::Error| RecordError::Mux {
                what,
                path: path.to_path_buf(),
                detail: format!("{e:?}"),
            }
        };
        let file = File::create(path).map_err(io)?;
        let writer = Writer::new(file);
        let builder = SegmentBuilder::new(writer)
            .map_err(mux("a segment"))?
            .set_mode(SegmentMode::File)
            .map_err(mux("file mode"))?
            .set_writing_app("Tongbu")
            .map_err(mux("the writing app"))?;
        let (builder, track) = match kind {
            TrackKind::Vp8 { width, height } => {
                let (b, t) = builder
                    .add_video_track(u32::from(width), u32::from(height), VideoCodecId::VP8, None)
                    .map_err(mux("a VP8 track"))?;
                (b, t.track_number())
            }
            TrackKind::Opus { channels } => {
                let (b, t) = builder
                    .add_audio_track(48_000, u32::from(channels), AudioCodecId::Opus, None)
                    .map_err(mux("an opus track"))?;
                let b = b
                    .set_codec_private(t, &opus_head(channels))
                    .map_err(mux("the opus header"))?;
                (b, t.track_number())
            }
            TrackKind::H264 { .. } => {
                return Err(RecordError::Mux {
                    what: "an H.264 track",
                    path: path.to_path_buf(),
                    detail: "WebM holds VP8 and opus; H.264 goes in MP4".into(),
                })
            }
        };
        Ok(Self {
            path: path.to_path_buf(),
            kind,
            segment: builder.build(),
            track,
            first_ns: None,
            last_ns: 0,
            frames: 0,
        })
    }

    /// Adds a frame at `ns` on the recording's timeline (a frame earlier than the last goes at
    /// the last's time: a file's timestamps only grow).
    pub fn write(&mut self, data: &[u8], ns: u64, keyframe: bool) -> Result<(), RecordError> {
        let ns = ns.max(self.last_ns);
        self.segment
            .add_frame(self.track, data, ns, keyframe)
            .map_err(|e| RecordError::Mux {
                what: "a frame",
                path: self.path.clone(),
                detail: format!("{e:?}"),
            })?;
        self.first_ns.get_or_insert(ns);
        self.last_ns = ns;
        self.frames += 1;
        Ok(())
    }

    /// Writes the cues and duration and closes the file. Returns its path.
    pub fn finish(self) -> Result<PathBuf, RecordError> {
        let path = self.path;
        let duration = self
            .first_ns
            .map(|_| self.last_ns / 1_000_000)
            .filter(|&ms| ms > 0);
        let writer = match self.segment.finalize(duration) {
            Ok(w) => w,
            Err(_) if self.frames == 0 => return Ok(path),
            Err(_) => {
                return Err(RecordError::Mux {
                    what: "finishing",
                    path,
                    detail: "libwebm could not finalize the segment".into(),
                })
            }
        };
        let mut file = writer.into_inner();
        file.flush().map_err(|source| RecordError::Io {
            path: path.clone(),
            source,
        })?;
        Ok(path)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}
