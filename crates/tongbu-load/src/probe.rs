//! What Debian's `ffprobe` (ffmpeg) reads of a media file, for tests that check what was
//! recorded or received by decoding it with a third implementation.

use std::path::Path;
use std::process::Command;

/// ffprobe's JSON view of `path`, with `what` (e.g. `-show_streams`, `-show_format`, or
/// `-show_entries packet=pts_time`). Panics, naming the file and ffprobe's words, if ffprobe is
/// missing or cannot read it: a test asked to read back a file that must be there.
pub fn ffprobe(path: &Path, what: &[&str]) -> serde_json::Value {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-of", "json"])
        .args(what)
        .arg(path)
        .output()
        .expect("ffprobe runs (Debian's ffmpeg; scripts/test.sh installs it)");
    assert!(
        out.status.success(),
        "ffprobe {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("ffprobe's JSON")
}

/// A number ffprobe gives as text (`"1.500000"`), in seconds; NaN where there is none.
pub fn seconds(v: &serde_json::Value) -> f64 {
    v.as_str().and_then(|s| s.parse().ok()).unwrap_or(f64::NAN)
}

/// The time of a file's last packet, s (0 when it has none).
pub fn last_packet(path: &Path) -> f64 {
    let v = ffprobe(path, &["-show_entries", "packet=pts_time"]);
    v["packets"]
        .as_array()
        .map(|ps| {
            ps.iter()
                .map(|p| seconds(&p["pts_time"]))
                .fold(0.0, f64::max)
        })
        .unwrap_or(0.0)
}
