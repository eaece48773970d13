//! Recording sessions: an operator switches a session's recording on and off; each recording is
//! a thread that owns its [`tongbu_record::Recorder`], fed by the media workers' copies of the
//! session's packets over a bounded channel ([`tongbu_rtc::Tap`]). Files go to
//! `<data>/recordings/<session>/<started, UTC seconds>/<publisher>-<track>.webm` (`.mp4` for
//! H.264); the listing is
//! the directory, so a recording cut short by a crash is listed as well.

mod manifest;
mod thread;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::mpsc::sync_channel;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

use serde::Serialize;
use tongbu_record::{RecordError, Recorder, TrackSummary};
use tongbu_rtc::{EdgeHandle, TapSender};
use tongbu_schedule::SessionId;
use tracing::{info, warn};
use utoipa::ToSchema;

pub use manifest::{Manifest, Who};
use thread::{record, Space};

/// Copies a recording's channel holds before the media workers drop them (and count them): a
/// few seconds of a lesson's packets.
pub const TAP_QUEUE: usize = 8192;

/// Why a recording could not be switched.
#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    #[error("session {0} is already being recorded")]
    AlreadyRecording(i64),
    #[error("session {0} is not being recorded")]
    NotRecording(i64),
    #[error(transparent)]
    Record(#[from] RecordError),
    #[error("the recording thread could not start: {0}")]
    Thread(std::io::Error),
    #[error("only {free_mb} MB are free in {dir}; a recording needs {need_mb} MB (TONGBU_RECORDING_MIN_FREE_MB): free some space or lower the limit")]
    NoSpace {
        dir: String,
        free_mb: u64,
        need_mb: u64,
    },
}

/// How often a recording looks at the disk's free space.
pub const SPACE_CHECK_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// Free bytes for an unprivileged writer on the file system of `path` (or of its nearest
/// existing parent).
pub fn free_bytes(path: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let existing = path.ancestors().find(|p| p.exists())?;
    let c = std::ffi::CString::new(existing.as_os_str().as_bytes()).ok()?;
    let mut s = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `c` is a valid C string; `s` is written by statvfs before it is read.
    let rc = unsafe { libc::statvfs(c.as_ptr(), s.as_mut_ptr()) };
    if rc != 0 {
        return None;
    }
    // SAFETY: statvfs returned 0, so it filled `s`.
    let s = unsafe { s.assume_init() };
    Some(s.f_bavail.saturating_mul(s.f_frsize))
}

/// Starts recording `session`, refused when the disk has less free space than a recording
/// needs; the room is told.
pub async fn start(
    app: &Arc<crate::server::AppState>,
    session: SessionId,
) -> Result<(), RecordingError> {
    let need = app.config.recording_min_free_mb.saturating_mul(1 << 20);
    let dir = app.recordings.dir().to_path_buf();
    if let Some(free) = free_bytes(&dir).filter(|&f| f < need) {
        return Err(RecordingError::NoSpace {
            dir: dir.display().to_string(),
            free_mb: free >> 20,
            need_mb: need >> 20,
        });
    }
    let a = app.clone();
    let rt = tokio::runtime::Handle::current();
    let on_disk_full = move |reason: String| {
        // Told from the recording's thread: the room hears it and the workers stop copying.
        rt.spawn(async move {
            a.rooms.broadcast(
                session,
                &tongbu_signal::ServerMessage::Recording {
                    recording: false,
                    reason: Some(reason),
                },
            );
            if let Err(e) = a.recordings.stop(&a.edge, session).await {
                warn!(session = session.0, "recording not finished: {e}");
            }
        });
    };
    let rooms = app.clone();
    let who: Who = Box::new(move |p| rooms.rooms.member(session, p).map(|(info, _)| info));
    app.recordings
        .start(
            &app.edge,
            session,
            crate::server::now_utc(),
            need,
            on_disk_full,
            who,
        )
        .await?;
    app.rooms.broadcast(
        session,
        &tongbu_signal::ServerMessage::Recording {
            recording: true,
            reason: None,
        },
    );
    Ok(())
}

/// Starts the recording a live session's schedule asks for — its own `record` setting, else the
/// server's default (`TONGBU_RECORDING_DEFAULT`) — once per session in this server's life: when
/// it goes live, or at the first join after a restart found it live. A host who stopped it
/// keeps it stopped. A refusal (a full disk) is told to the room, whose lesson goes on.
pub async fn as_scheduled(
    app: &Arc<crate::server::AppState>,
    session: SessionId,
    record: Option<bool>,
) {
    if !record.unwrap_or(app.config.recording_default) || !app.recordings.claim_scheduled(session) {
        return;
    }
    match start(app, session).await {
        Ok(()) | Err(RecordingError::AlreadyRecording(_)) => {}
        Err(e) => {
            warn!(session = session.0, "scheduled recording not started: {e}");
            app.rooms.broadcast(
                session,
                &tongbu_signal::ServerMessage::Recording {
                    recording: false,
                    reason: Some(e.to_string()),
                },
            );
        }
    }
}

/// Stops recording `session` and finishes its files; the room is told.
pub async fn stop(
    app: &Arc<crate::server::AppState>,
    session: SessionId,
) -> Result<Vec<TrackSummary>, RecordingError> {
    let files = app.recordings.stop(&app.edge, session).await?;
    app.rooms.broadcast(
        session,
        &tongbu_signal::ServerMessage::Recording {
            recording: false,
            reason: None,
        },
    );
    Ok(files)
}

/// A recorded file, as the listing shows it.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct RecordedFile {
    /// When its recording began, seconds since the epoch (UTC): the directory it is in.
    pub recording_utc: i64,
    /// Its name: the publisher's participant id and the track (`p12-camera.webm`,
    /// `p12-microphone.webm`, `p3-screen.webm`, `p4-camera.mp4` for H.264; `-2` and on where the
    /// picture's size changed).
    pub name: String,
    pub bytes: u64,
    /// Where to fetch it (byte ranges served).
    pub url: String,
    /// Its track and publisher, from the recording's manifest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub track: Option<manifest::TrackEntry>,
    /// Its first and last frame on the recording's timeline, ms (once the recording is
    /// finished).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_ms: Option<u64>,
}

struct Active {
    started_utc: i64,
    thread: JoinHandle<Result<Vec<TrackSummary>, RecordError>>,
}

/// Whether `name` is a recorded track's file: WebM (VP8, opus) or MP4 (H.264).
pub fn is_media(name: &str) -> bool {
    name.ends_with(".webm") || name.ends_with(".mp4")
}

/// The server's recordings.
pub struct Recordings {
    dir: PathBuf,
    active: Mutex<HashMap<SessionId, Active>>,
    /// Sessions whose scheduled recording this server has started (or tried to).
    scheduled: Mutex<HashSet<SessionId>>,
}

impl Recordings {
    /// Recordings under `dir` (`<data>/recordings`).
    pub fn new(dir: PathBuf) -> Self {
        Self {
            dir,
            active: Mutex::default(),
            scheduled: Mutex::default(),
        }
    }

    /// True the first time it is asked for `session`: its scheduled recording is to start.
    pub fn claim_scheduled(&self, session: SessionId) -> bool {
        let mut s = self.scheduled.lock().unwrap_or_else(|e| e.into_inner());
        s.insert(session)
    }

    fn session_dir(&self, session: SessionId) -> PathBuf {
        self.dir.join(session.0.to_string())
    }

    /// Whether `session` is being recorded now (since when, UTC).
    pub fn recording_since(&self, session: SessionId) -> Option<i64> {
        let active = self.active.lock().unwrap_or_else(|e| e.into_inner());
        active.get(&session).map(|a| a.started_utc)
    }

    /// The sessions being recorded.
    pub fn active(&self) -> Vec<SessionId> {
        let active = self.active.lock().unwrap_or_else(|e| e.into_inner());
        active.keys().copied().collect()
    }

    /// Starts recording `session`: its tracks from now on, and those published later.
    /// `min_free`: the recording stops once its disk has fewer free bytes, and `on_disk_full`
    /// is called (from the recording's thread) with what to tell the room.
    pub async fn start(
        &self,
        edge: &EdgeHandle,
        session: SessionId,
        started_utc: i64,
        min_free: u64,
        on_disk_full: impl FnOnce(String) + Send + 'static,
        who: Who,
    ) -> Result<(), RecordingError> {
        let dir = self.session_dir(session).join(started_utc.to_string());
        let recorder = Recorder::new(&dir, Instant::now())?;
        let (sender, receiver) = sync_channel(TAP_QUEUE);
        let dropped = Arc::new(AtomicU64::new(0));
        {
            let mut active = self.active.lock().unwrap_or_else(|e| e.into_inner());
            if active.contains_key(&session) {
                return Err(RecordingError::AlreadyRecording(session.0));
            }
            let lost = dropped.clone();
            let space = Space {
                dir: dir.clone(),
                min_free,
                on_full: Box::new(on_disk_full),
                who,
            };
            let thread = std::thread::Builder::new()
                .name(format!("record-{}", session.0))
                .spawn(move || record(recorder, receiver, lost, space))
                .map_err(RecordingError::Thread)?;
            active.insert(
                session,
                Active {
                    started_utc,
                    thread,
                },
            );
        }
        info!(session = session.0, dir = %dir.display(), "recording started");
        edge.record(session.0, Some(TapSender { sender, dropped }))
            .await;
        Ok(())
    }

    /// Stops recording `session` and finishes its files.
    pub async fn stop(
        &self,
        edge: &EdgeHandle,
        session: SessionId,
    ) -> Result<Vec<TrackSummary>, RecordingError> {
        let active = {
            let mut active = self.active.lock().unwrap_or_else(|e| e.into_inner());
            active
                .remove(&session)
                .ok_or(RecordingError::NotRecording(session.0))?
        };
        // The workers drop their senders; the thread finishes the files once the channel closes.
        edge.record(session.0, None).await;
        let files = tokio::task::spawn_blocking(move || active.thread.join())
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_else(|| Ok(Vec::new()))?;
        info!(
            session = session.0,
            files = files.len(),
            "recording stopped"
        );
        Ok(files)
    }

    /// The files recorded of `session`, oldest recording first.
    /// Whether anything was recorded of `session` (a recording's directory holds a file).
    pub fn has_files(&self, session: SessionId) -> bool {
        let Ok(recordings) = std::fs::read_dir(self.session_dir(session)) else {
            return false;
        };
        recordings.flatten().any(|r| {
            std::fs::read_dir(r.path()).is_ok_and(|mut files| {
                files.any(|f| f.is_ok_and(|f| is_media(&f.file_name().to_string_lossy())))
            })
        })
    }

    pub fn list(&self, session: SessionId) -> Vec<RecordedFile> {
        let mut out = Vec::new();
        let Ok(recordings) = std::fs::read_dir(self.session_dir(session)) else {
            return out;
        };
        for r in recordings.flatten() {
            let Some(utc) = r.file_name().to_str().and_then(|n| n.parse::<i64>().ok()) else {
                continue;
            };
            let Ok(files) = std::fs::read_dir(r.path()) else {
                continue;
            };
            let manifest = Manifest::read(&r.path()).unwrap_or_default();
            for f in files.flatten() {
                let name = f.file_name().to_string_lossy().into_owned();
                if !is_media(&name) {
                    continue;
                }
                let bytes = f.metadata().map(|m| m.len()).unwrap_or(0);
                let track = manifest.track_of(&name).map(|t| manifest::TrackEntry {
                    files: Vec::new(),
                    ..t.clone()
                });
                let span = manifest
                    .track_of(&name)
                    .and_then(|t| t.files.iter().find(|s| s.file == name));
                out.push(RecordedFile {
                    recording_utc: utc,
                    url: format!("/api/sessions/{}/recordings/{utc}/{name}", session.0),
                    start_ms: span.map(|s| s.start_ms),
                    end_ms: span.map(|s| s.end_ms),
                    track,
                    name,
                    bytes,
                });
            }
        }
        out.sort_by(|a, b| (a.recording_utc, &a.name).cmp(&(b.recording_utc, &b.name)));
        out
    }

    /// The path of a recorded file, if `name` is one (nothing outside the recordings is named).
    pub fn file(&self, session: SessionId, recording_utc: i64, name: &str) -> Option<PathBuf> {
        let plain = name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
            && is_media(name)
            && !name.starts_with('.');
        if !plain {
            return None;
        }
        let path = self
            .session_dir(session)
            .join(recording_utc.to_string())
            .join(name);
        path.is_file().then_some(path)
    }

    /// The recordings directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}
