//! A recording's `manifest.json`, beside its files: who each track's publisher was (name, role,
//! school) and what the track is, written when a track begins (so a recording cut short by a
//! crash still says whose its files are), and each file's place on the recording's timeline,
//! written when the recording is finished. A replay page lays the files out from it.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use tongbu_record::TrackSummary;
use utoipa::ToSchema;

/// Who a participant is, asked when one of its tracks begins.
pub type Who = Box<dyn Fn(u64) -> Option<tongbu_signal::ParticipantInfo> + Send>;

/// What a recording's tracks were.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// By track: its files' name before `.webm` or `.mp4` (`p12-camera`).
    pub tracks: BTreeMap<String, TrackEntry>,
}

/// One track of a recording.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TrackEntry {
    /// Its publisher's participant id.
    pub participant: u64,
    /// Its publisher's name, as the room showed it.
    pub name: String,
    /// `host`, `classroom`, `observer`, `operator`.
    pub role: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub school: Option<String>,
    /// `camera`, `microphone` or `screen`.
    pub source: String,
    /// Its files, once the recording is finished: each one's first and last frame, in ms on the
    /// recording's timeline.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<FileSpan>,
}

/// Where a file lies on its recording's timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FileSpan {
    pub file: String,
    pub start_ms: u64,
    pub end_ms: u64,
}

const FILE: &str = "manifest.json";

impl Manifest {
    /// A recording's manifest, if it has one.
    pub fn read(dir: &Path) -> Option<Manifest> {
        let text = std::fs::read(dir.join(FILE)).ok()?;
        serde_json::from_slice(&text).ok()
    }

    /// Writes it whole (a new file renamed over the old: a crash leaves one or the other).
    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        let tmp = dir.join(format!("{FILE}.tmp"));
        let text = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(&tmp, text)?;
        std::fs::rename(tmp, dir.join(FILE))
    }

    /// A track began: `stem` is its files' name, `participant` its publisher.
    pub fn track(&mut self, stem: &str, participant: u64, source: &str, who: &Who) {
        let info = who(participant);
        self.tracks.insert(
            stem.to_string(),
            TrackEntry {
                participant,
                name: info
                    .as_ref()
                    .map_or_else(|| format!("p{participant}"), |i| i.name.clone()),
                role: info
                    .as_ref()
                    .map_or_else(String::new, |i| i.role.to_string()),
                school: info.and_then(|i| i.school),
                source: source.to_string(),
                files: Vec::new(),
            },
        );
    }

    /// The recording finished with these files.
    pub fn finished(&mut self, files: &[TrackSummary]) {
        for f in files {
            let Some(t) = self.tracks.get_mut(&f.name) else {
                continue;
            };
            let file = f
                .path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            t.files.push(FileSpan {
                file,
                start_ms: f.start_ns / 1_000_000,
                end_ms: f.end_ns / 1_000_000,
            });
            t.files.sort_by_key(|s| s.start_ms);
        }
    }

    /// The track a file belongs to (`p12-camera-2.webm` is `p12-camera`'s, `p4-camera.mp4`
    /// `p4-camera`'s).
    pub fn track_of(&self, file: &str) -> Option<&TrackEntry> {
        let stem = file
            .strip_suffix(".webm")
            .or_else(|| file.strip_suffix(".mp4"))?;
        self.tracks.get(stem).or_else(|| {
            let (base, part) = stem.rsplit_once('-')?;
            part.parse::<u32>().ok()?;
            self.tracks.get(base)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_find_their_track_and_the_manifest_survives_a_round_trip() {
        let dir = std::env::temp_dir().join(format!("tongbu-manifest-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let who: Who = Box::new(|p| {
            (p == 12).then(|| tongbu_signal::ParticipantInfo {
                id: 12,
                name: "四子王旗第一中学 · 初二(1)班".into(),
                role: tongbu_schedule::Role::Classroom,
                school: Some("四子王旗第一中学".into()),
                classroom: Some(3),
                hand_raised: false,
                floor: false,
                muted: false,
            })
        });
        let mut m = Manifest::default();
        m.track("p12-camera", 12, "camera", &who);
        m.track("p9-microphone", 9, "microphone", &who);
        m.write(&dir).unwrap();
        assert_eq!(Manifest::read(&dir), Some(m.clone()));
        let t = m
            .track_of("p12-camera-2.webm")
            .expect("the camera's second file");
        assert_eq!(
            (t.role.as_str(), t.source.as_str()),
            ("classroom", "camera")
        );
        assert_eq!(
            m.track_of("p9-microphone.webm").map(|t| t.name.as_str()),
            Some("p9")
        );
        assert!(m.track_of("p12-screen.webm").is_none());
        assert_eq!(
            m.track_of("p12-camera.mp4").map(|t| t.source.as_str()),
            Some("camera"),
            "an H.264 camera's file"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
