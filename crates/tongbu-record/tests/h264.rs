//! An H.264 camera recorded into fragmented MP4 and read back by ffprobe (Debian's ffmpeg),
//! which decodes every frame: the real libx264 test clip (320×240, constrained baseline, 15 fps)
//! packetized as webrtc-rs sends it (STAP-A parameter sets, FU-A fragments), on a simulated
//! clock. And a recording that is never finished (its process gone) reads to its last frames.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tongbu_load::media::VideoClip;
use tongbu_load::probe::{ffprobe, last_packet, seconds};
use tongbu_media::Codec;
use tongbu_record::{Packet, Recorder, TrackInfo};

const FPS: f64 = 15.0;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tongbu-h264-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// A recorder fed `seconds` of the clip (looped) as one H.264 camera's packets.
fn record(dir: &Path, seconds: f64) -> Recorder {
    let path = format!(
        "{}/../../tests/media/testsrc-320x240-15fps-baseline.h264",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut clip =
        VideoClip::h264(&std::fs::read(path).expect("the H.264 test clip"), FPS).expect("H.264");
    let start = Instant::now();
    let mut r = Recorder::new(dir, start).expect("a recording directory");
    r.add_track(TrackInfo {
        track: 1,
        owner: 7,
        codec: Codec::H264,
        name: "p7-camera".into(),
        screen: false,
    });
    let mut seq: u16 = 60_000;
    let frames = (seconds * FPS) as u32;
    for n in 0..frames {
        let at = start + Duration::from_secs_f64(f64::from(n) / FPS);
        let payloads = clip.next_payloads(0, 1_200);
        let last = payloads.len() - 1;
        for (k, p) in payloads.iter().enumerate() {
            r.packet(&Packet {
                track: 1,
                seq,
                timestamp: 3_000 + n * 6_000,
                marker: k == last,
                payload: Arc::from(&p[..]),
                arrived: at,
            })
            .expect("written");
            seq = seq.wrapping_add(1);
        }
    }
    r
}

#[test]
fn an_h264_camera_is_an_mp4_that_decodes_whole() {
    let dir = scratch("whole");
    let r = record(&dir, 8.0);
    let stats = r.stats();
    let files = r.finish().expect("finished");
    assert_eq!(files.len(), 1, "{files:?}");
    let path = &files[0].path;
    assert_eq!(
        path.file_name().and_then(|n| n.to_str()),
        Some("p7-camera.mp4")
    );
    let v = ffprobe(
        path,
        &[
            "-count_frames",
            "-show_streams",
            "-show_format",
            "-select_streams",
            "v",
        ],
    );
    let s = &v["streams"][0];
    let decoded: u64 = s["nb_read_frames"]
        .as_str()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let duration = seconds(&v["format"]["duration"]);
    eprintln!(
        "{}: {} {}×{}, {decoded} frames decoded, {duration:.2} s; {stats:?}",
        path.display(),
        s["codec_name"],
        s["width"],
        s["height"]
    );
    assert_eq!(s["codec_name"], "h264");
    assert_eq!(s["profile"], "Constrained Baseline");
    assert_eq!(
        (s["width"].as_u64(), s["height"].as_u64()),
        (Some(320), Some(240))
    );
    assert_eq!(decoded, 120, "every frame decodes");
    assert!((duration - 8.0).abs() < 0.1, "{duration} s of 8");
    assert_eq!(stats.frames_written, 120);
    assert_eq!(stats.frames_dropped, 0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_mp4_never_finished_reads_to_its_last_frames() {
    let dir = scratch("cut");
    let r = record(&dir, 5.0);
    // Its process is gone: nothing finishes the file, no duration is patched in.
    std::mem::forget(r);
    let path = dir.join("p7-camera.mp4");
    let last = last_packet(&path);
    let v = ffprobe(
        &path,
        &["-count_frames", "-show_streams", "-select_streams", "v"],
    );
    let decoded: u64 = v["streams"][0]["nb_read_frames"]
        .as_str()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    eprintln!("cut after 5 s: reads to {last:.2} s, {decoded} frames decode");
    // All but the frame waiting for its successor's time.
    assert!(last > 4.8, "reads to {last} s");
    assert_eq!(decoded, 74);
    let _ = std::fs::remove_dir_all(&dir);
}
