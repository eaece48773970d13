//! Recording sessions: an operator switches a session's recording on and off; each recording is
//! a thread that owns its [`tongbu_record::Recorder`], fed by the media workers' copies of the
//! session's packets over a bounded channel ([`tongbu_rtc::Tap`]). Files go to
//! `<data>/recordings/<session>/<started, UTC seconds>/<publisher>-<track>.webm`; the listing is
//! the directory, so a recording cut short by a crash is listed as well.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

use serde::Serialize;
use tongbu_record::{Packet, RecordError, Recorder, TrackInfo, TrackSummary};
use tongbu_rtc::{EdgeHandle, Tap, TapSender, TrackSource};
use tongbu_schedule::SessionId;
use tracing::{info, warn};
use utoipa::ToSchema;

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
}

/// A recorded file, as the listing shows it.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct RecordedFile {
    /// When its recording began, seconds since the epoch (UTC): the directory it is in.
    pub recording_utc: i64,
    /// Its name: the publisher's participant id and the track (`p12-camera.webm`,
    /// `p12-microphone.webm`, `p3-screen.webm`; `-2` and on where the picture's size changed).
    pub name: String,
    pub bytes: u64,
    /// Where to fetch it (byte ranges served).
    pub url: String,
}

struct Active {
    started_utc: i64,
    thread: JoinHandle<Result<Vec<TrackSummary>, RecordError>>,
}

/// The server's recordings.
pub struct Recordings {
    dir: PathBuf,
    active: Mutex<HashMap<SessionId, Active>>,
}

impl Recordings {
    /// Recordings under `dir` (`<data>/recordings`).
    pub fn new(dir: PathBuf) -> Self {
        Self {
            dir,
            active: Mutex::default(),
        }
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
    pub async fn start(
        &self,
        edge: &EdgeHandle,
        session: SessionId,
        started_utc: i64,
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
            let thread = std::thread::Builder::new()
                .name(format!("record-{}", session.0))
                .spawn(move || record(recorder, receiver, lost))
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
            for f in files.flatten() {
                let name = f.file_name().to_string_lossy().into_owned();
                if !name.ends_with(".webm") {
                    continue;
                }
                let bytes = f.metadata().map(|m| m.len()).unwrap_or(0);
                out.push(RecordedFile {
                    recording_utc: utc,
                    url: format!("/api/sessions/{}/recordings/{utc}/{name}", session.0),
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
            && name.ends_with(".webm")
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

/// A recording's thread: copies in until every worker has let go of the channel, then the
/// files are finished.
fn record(
    mut recorder: Recorder,
    taps: Receiver<Tap>,
    dropped: Arc<AtomicU64>,
) -> Result<Vec<TrackSummary>, RecordError> {
    let mut failed: Option<RecordError> = None;
    for tap in taps.iter() {
        if failed.is_some() {
            // A full disk or a write error: the lesson goes on, the recording does not.
            continue;
        }
        let result = match tap {
            Tap::Track {
                producer,
                owner,
                codec,
                source,
            } => {
                let what = match (codec.kind(), source) {
                    (tongbu_media::MediaKind::Audio, _) => "microphone",
                    (_, TrackSource::Screen) => "screen",
                    (_, TrackSource::Camera) => "camera",
                };
                recorder.add_track(TrackInfo {
                    track: producer.0,
                    owner: owner.0,
                    codec,
                    name: format!("p{}-{what}", owner.0),
                    screen: source == TrackSource::Screen,
                });
                Ok(())
            }
            Tap::Clock { producer, clock } => {
                recorder.sender_report(producer.0, clock);
                Ok(())
            }
            Tap::Packet {
                producer,
                rtp,
                red,
                arrived,
            } => {
                // Redundant audio: the frame is its primary block.
                let payload = match red {
                    Some(at) => Arc::from(rtp.payload.get(usize::from(at)..).unwrap_or_default()),
                    None => rtp.payload,
                };
                recorder.packet(&Packet {
                    track: producer.0,
                    seq: rtp.seq,
                    timestamp: rtp.timestamp,
                    marker: rtp.marker,
                    payload,
                    arrived,
                })
            }
            Tap::Ended { producer } => recorder.remove_track(producer.0),
        };
        if let Err(e) = result {
            warn!("recording stopped: {e}");
            failed = Some(e);
        }
    }
    recorder.lost_to_queue(dropped.load(Ordering::Relaxed));
    let stats = recorder.stats();
    info!(?stats, "recording finished");
    let files = recorder.finish();
    match failed {
        Some(e) => Err(e),
        None => files,
    }
}
