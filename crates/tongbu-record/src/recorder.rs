//! A session's recording: every recorded track's packets into frames, onto the recording's one
//! timeline, into its files. One owner (the recording task) calls it; it never waits for the
//! media workers, who hand it copies over a bounded queue and tell it what the queue dropped
//! ([`Recorder::lost_to_queue`]).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tongbu_media::{Codec, SenderClock};
use tracing::info;

use crate::frame_assembler::FrameAssembler;
use crate::track_clock::{ReportedTime, TrackClock};
use crate::track_file::{RecordError, TrackFile, TrackKind};

/// What the recorder is told of a track before its packets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackInfo {
    /// The track (the producer's id).
    pub track: u64,
    /// Who publishes it (its audio and video share a clock).
    pub owner: u64,
    pub codec: Codec,
    /// Its files' name before the extension: `p12-camera`, `p12-microphone`, `p3-screen`.
    pub name: String,
    /// A shared screen (not its publisher's camera).
    pub screen: bool,
}

/// How long a publisher's microphone waits for its camera's first keyframe before its file
/// begins alone: a publisher's audio and video files begin together.
pub const AV_WAIT: Duration = Duration::from_secs(2);

/// A forwarded packet, copied for the recording (the payload is shared, not copied).
#[derive(Debug, Clone)]
pub struct Packet {
    pub track: u64,
    pub seq: u16,
    pub timestamp: u32,
    pub marker: bool,
    pub payload: Arc<[u8]>,
    /// When the server received it.
    pub arrived: Instant,
}

/// A file written, as the recording's listing shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackSummary {
    pub track: u64,
    pub owner: u64,
    pub name: String,
    pub kind: TrackKind,
    pub path: PathBuf,
    pub frames: u64,
    /// Its first and last frame on the recording's timeline, ns.
    pub start_ns: u64,
    pub end_ns: u64,
}

/// What the recording lost, and why.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecorderStats {
    pub frames_written: u64,
    /// Packets that never reached the server (gaps in what was forwarded).
    pub packets_lost: u64,
    /// Frames not written because a packet of them was missing, or no keyframe had come yet.
    pub frames_dropped: u64,
    /// Packets the queue from the media workers dropped because the recorder fell behind.
    pub lost_to_queue: u64,
}

struct Track {
    info: TrackInfo,
    frames: FrameAssembler,
    clock: TrackClock,
    report: Option<ReportedTime>,
    file: Option<TrackFile>,
    /// Files begun so far (a new one where the picture's size changes).
    parts: u32,
    /// When its first frame arrived, ns on the timeline.
    first_seen: Option<i64>,
}

/// A session's recording.
pub struct Recorder {
    dir: PathBuf,
    started: Instant,
    tracks: HashMap<u64, Track>,
    /// Each publisher's wall clock (its sender reports' NTP time) against the recording's
    /// timeline, fixed at its first report: ns to add.
    offsets: HashMap<u64, i64>,
    done: Vec<TrackSummary>,
    stats: RecorderStats,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("dir", &self.dir)
            .field("tracks", &self.tracks.len())
            .field("stats", &self.stats)
            .finish()
    }
}

/// RFC 3550's 64-bit NTP time in nanoseconds.
fn ntp_ns(ntp: u64) -> i64 {
    let secs = (ntp >> 32) as i64;
    let frac = ((ntp & 0xffff_ffff) * 1_000_000_000) >> 32;
    secs * 1_000_000_000 + frac as i64
}

impl Recorder {
    /// A recording into `dir` (made if missing) whose timeline begins at `started`.
    pub fn new(dir: &Path, started: Instant) -> Result<Self, RecordError> {
        std::fs::create_dir_all(dir).map_err(|source| RecordError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        Ok(Self {
            dir: dir.to_path_buf(),
            started,
            tracks: HashMap::new(),
            offsets: HashMap::new(),
            done: Vec::new(),
            stats: RecorderStats::default(),
        })
    }

    /// A track to record from now on.
    pub fn add_track(&mut self, info: TrackInfo) {
        let track = Track {
            frames: FrameAssembler::new(info.codec),
            clock: TrackClock::new(info.codec.clock_rate()),
            report: None,
            file: None,
            parts: 0,
            first_seen: None,
            info,
        };
        self.tracks.insert(track.info.track, track);
    }

    /// The publisher's last sender report for a track.
    pub fn sender_report(&mut self, track: u64, clock: SenderClock) {
        let Some(t) = self.tracks.get_mut(&track) else {
            return;
        };
        let at = clock.at.saturating_duration_since(self.started).as_nanos() as i64;
        let wall = ntp_ns(clock.ntp);
        let offset = *self.offsets.entry(t.info.owner).or_insert(at - wall);
        t.report = Some(ReportedTime {
            rtp: clock.rtp,
            ns: wall + offset,
        });
    }

    /// A forwarded packet.
    pub fn packet(&mut self, p: &Packet) -> Result<(), RecordError> {
        // A microphone whose publisher's camera has not begun its file waits for it.
        let camera_pending = match self.tracks.get(&p.track) {
            None => return Ok(()),
            Some(t) if t.info.codec != Codec::Opus || t.file.is_some() => false,
            Some(t) => self.tracks.values().any(|o| {
                o.info.owner == t.info.owner
                    && o.info.codec != Codec::Opus
                    && !o.info.screen
                    && o.file.is_none()
            }),
        };
        let Some(t) = self.tracks.get_mut(&p.track) else {
            return Ok(());
        };
        let (lost, dropped) = (t.frames.lost_packets, t.frames.dropped_frames);
        let frame = t.frames.push(p.seq, p.timestamp, p.marker, &p.payload);
        self.stats.packets_lost += t.frames.lost_packets - lost;
        self.stats.frames_dropped += t.frames.dropped_frames - dropped;
        let Some(frame) = frame else {
            return Ok(());
        };
        let arrived = p.arrived.saturating_duration_since(self.started).as_nanos() as i64;
        let kind = match (t.info.codec, frame.size) {
            (Codec::Opus, _) => TrackKind::Opus { channels: 2 },
            (Codec::H264, Some((width, height))) => TrackKind::H264 { width, height },
            (_, Some((width, height))) => TrackKind::Vp8 { width, height },
            // A delta frame: it goes into the open file, if any.
            (_, None) => match t.file.as_ref().map(TrackFile::kind) {
                Some(k) => k,
                None => {
                    self.stats.frames_dropped += 1;
                    return Ok(());
                }
            },
        };
        let first_seen = *t.first_seen.get_or_insert(arrived);
        if camera_pending && arrived - first_seen < AV_WAIT.as_nanos() as i64 {
            return Ok(());
        }
        // A new file at the first frame, and where the picture's size changes.
        if t.file.as_ref().map(TrackFile::kind) != Some(kind) {
            if let Some(f) = t.file.take() {
                self.done.push(summary(&t.info, &f));
                f.finish()?;
            }
            t.parts += 1;
            let ext = kind.extension();
            let name = if t.parts == 1 {
                format!("{}.{ext}", t.info.name)
            } else {
                format!("{}-{}.{ext}", t.info.name, t.parts)
            };
            let path = self.dir.join(name);
            info!(track = t.info.track, path = %path.display(), ?kind, "recording a track");
            t.file = Some(TrackFile::create(&path, kind, frame.h264.as_ref())?);
        }
        let ns = t.clock.time_of(frame.timestamp, arrived, t.report);
        if let Some(f) = t.file.as_mut() {
            f.write(&frame.data, ns, frame.keyframe)?;
            self.stats.frames_written += 1;
        }
        Ok(())
    }

    /// The queue from the media workers dropped `n` packets.
    pub fn lost_to_queue(&mut self, n: u64) {
        self.stats.lost_to_queue += n;
    }

    /// A track that ended (its publisher left or stopped it): its file is finished.
    pub fn remove_track(&mut self, track: u64) -> Result<(), RecordError> {
        let Some(mut t) = self.tracks.remove(&track) else {
            return Ok(());
        };
        if let Some(f) = t.file.take() {
            self.done.push(summary(&t.info, &f));
            f.finish()?;
        }
        Ok(())
    }

    pub fn stats(&self) -> RecorderStats {
        self.stats
    }

    /// Finishes every file; returns what was written, in the order the files were finished.
    pub fn finish(mut self) -> Result<Vec<TrackSummary>, RecordError> {
        let mut first_error = None;
        let ids: Vec<u64> = self.tracks.keys().copied().collect();
        for id in ids {
            if let Err(e) = self.remove_track(id) {
                first_error.get_or_insert(e);
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(std::mem::take(&mut self.done)),
        }
    }
}

fn summary(info: &TrackInfo, f: &TrackFile) -> TrackSummary {
    let (frames, first, last) = f.span();
    TrackSummary {
        track: info.track,
        owner: info.owner,
        name: info.name.clone(),
        kind: f.kind(),
        path: f.path().to_path_buf(),
        frames,
        start_ns: first.unwrap_or(0),
        end_ns: last,
    }
}
