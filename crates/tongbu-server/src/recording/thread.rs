//! A recording's thread: the workers' copies in, until every worker has let go of the channel;
//! the disk watched; the files finished; the manifest written.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::time::Instant;

use tongbu_record::{Packet, RecordError, Recorder, TrackInfo, TrackSummary};
use tongbu_rtc::{Tap, TrackSource};
use tracing::{info, warn};

use super::manifest::{Manifest, Who};
use super::{free_bytes, SPACE_CHECK_EVERY};

/// A recording's disk: where it writes, the free space it needs, and whom to tell when it is
/// gone.
pub(super) struct Space {
    pub(super) dir: PathBuf,
    pub(super) min_free: u64,
    pub(super) on_full: Box<dyn FnOnce(String) + Send>,
    /// Who a participant is, for the manifest.
    pub(super) who: Who,
}

/// A recording's thread: copies in until every worker has let go of the channel, then the
/// files are finished. Once a second it looks at the disk: with less free space than it needs,
/// it stops writing (its files are finished as they are) and says so.
pub(super) fn record(
    mut recorder: Recorder,
    taps: Receiver<Tap>,
    dropped: Arc<AtomicU64>,
    space: Space,
) -> Result<Vec<TrackSummary>, RecordError> {
    let mut failed: Option<RecordError> = None;
    let mut checked = Instant::now();
    let mut on_full = Some(space.on_full);
    let mut manifest = Manifest::default();
    for tap in taps.iter() {
        if failed.is_some() {
            // A full disk or a write error: the lesson goes on, the recording does not.
            continue;
        }
        if checked.elapsed() >= SPACE_CHECK_EVERY {
            checked = Instant::now();
            if let Some(free) = free_bytes(&space.dir).filter(|&f| f < space.min_free) {
                let reason = format!(
                    "disk_full: {} MB free in {}, a recording needs {} MB",
                    free >> 20,
                    space.dir.display(),
                    space.min_free >> 20
                );
                warn!("recording stopped: {reason}");
                failed = Some(RecordError::Io {
                    path: space.dir.clone(),
                    source: std::io::Error::new(std::io::ErrorKind::StorageFull, reason.clone()),
                });
                if let Some(tell) = on_full.take() {
                    tell(reason);
                }
                continue;
            }
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
                let stem = format!("p{}-{what}", owner.0);
                manifest.track(&stem, owner.0, what, &space.who);
                if let Err(e) = manifest.write(&space.dir) {
                    warn!("the recording's manifest was not written: {e}");
                }
                recorder.add_track(TrackInfo {
                    track: producer.0,
                    owner: owner.0,
                    codec,
                    name: stem,
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
            if let Some(tell) = on_full.take() {
                tell(format!("write_failed: {e}"));
            }
            failed = Some(e);
        }
    }
    recorder.lost_to_queue(dropped.load(Ordering::Relaxed));
    let stats = recorder.stats();
    info!(?stats, "recording finished");
    if let Some(e) = failed {
        // What was written is kept, and finished as far as the disk allows.
        warn!("recording ended early: {e}");
    }
    let files = recorder.finish()?;
    manifest.finished(&files);
    if let Err(e) = manifest.write(&space.dir) {
        warn!("the recording's manifest was not written: {e}");
    }
    Ok(files)
}
