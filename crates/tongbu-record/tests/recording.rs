//! Recordings read back by ffprobe (Debian's ffmpeg): a publisher's real VP8 clip and opus, as
//! RTP packets on a simulated clock, into the recorder; and a recording whose process is killed
//! with SIGKILL part way.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tongbu_load::media::{packetize_vp8, IvfFrames, OpusTone};
use tongbu_load::probe::{ffprobe, last_packet, seconds};
use tongbu_media::{Codec, SenderClock};
use tongbu_record::{Packet, Recorder, TrackInfo, TrackKind};

const VIDEO: u64 = 1;
const AUDIO: u64 = 2;

fn clip(name: &str) -> IvfFrames {
    let path = format!("{}/../../tests/media/{name}", env!("CARGO_MANIFEST_DIR"));
    IvfFrames::parse(&std::fs::read(path).expect("test clip")).expect("an IVF clip")
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tongbu-record-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// A publisher's camera (the clips in turn) and microphone, packetized as a browser does.
struct Publisher {
    clips: Vec<(IvfFrames, Duration)>,
    tone: OpusTone,
    video_seq: u16,
    audio_seq: u16,
    picture: u16,
}

impl Publisher {
    fn new(clips: Vec<(IvfFrames, Duration)>) -> Self {
        Self {
            clips,
            tone: OpusTone::new(32_000).expect("an opus encoder"),
            video_seq: 65_000,
            audio_seq: 1_000,
            picture: 0,
        }
    }

    /// What it sends at `t` (since it began) in the 20 ms from there.
    fn packets(&mut self, t: Duration, at: Instant, out: &mut Vec<Packet>) {
        // Audio: one 20 ms frame; the RTP clock starts at 5,000.
        let frame = self.tone.next_frame().expect("an opus frame");
        let ts = 5_000 + (t.as_millis() as u32) * 48;
        out.push(packet(AUDIO, self.audio_seq, ts, false, &frame, at));
        self.audio_seq = self.audio_seq.wrapping_add(1);
        // Video: a frame whenever the clip's frame rate says one is due in these 20 ms.
        let mut elapsed = Duration::ZERO;
        let Some(i) = self.clips.iter().position(|(_, d)| {
            elapsed += *d;
            t < elapsed
        }) else {
            return;
        };
        let began: Duration = self.clips[..i].iter().map(|(_, d)| *d).sum();
        let ivf = &mut self.clips[i].0;
        if t == began {
            ivf.restart();
        }
        let period = Duration::from_secs_f64(1.0 / ivf.fps);
        let since = t - began;
        let n = since.as_nanos() / period.as_nanos();
        if since.as_nanos() - n * period.as_nanos() >= 20_000_000 {
            return;
        }
        let (data, _) = ivf.next_frame();
        let ts = 1_000 + (t.as_micros() as u64 * 90 / 1000) as u32;
        let payloads = packetize_vp8(&data, self.picture, 1_200);
        self.picture = (self.picture + 1) & 0x7fff;
        let last = payloads.len() - 1;
        for (k, p) in payloads.iter().enumerate() {
            out.push(packet(VIDEO, self.video_seq, ts, k == last, p, at));
            self.video_seq = self.video_seq.wrapping_add(1);
        }
    }
}

fn packet(track: u64, seq: u16, timestamp: u32, marker: bool, p: &[u8], at: Instant) -> Packet {
    Packet {
        track,
        seq,
        timestamp,
        marker,
        payload: Arc::from(p),
        arrived: at,
    }
}

fn tracks(r: &mut Recorder) {
    for (track, codec, name) in [
        (VIDEO, Codec::Vp8, "p7-camera"),
        (AUDIO, Codec::Opus, "p7-microphone"),
    ] {
        r.add_track(TrackInfo {
            track,
            owner: 7,
            codec,
            name: name.into(),
            screen: false,
        });
    }
}

#[test]
fn twenty_seconds_read_back_whole_and_in_sync_with_a_new_file_where_the_size_changes() {
    let dir = scratch("whole");
    let t0 = Instant::now();
    let mut r = Recorder::new(&dir, t0).expect("a recorder");
    tracks(&mut r);
    // The camera sends 320×240 for 12 s, then 1280×720 for 8: 20 s in all. It joined 1.5 s
    // into the recording.
    let join = Duration::from_millis(1_500);
    let mut publisher = Publisher::new(vec![
        (clip("testsrc-320x240-15fps.ivf"), Duration::from_secs(12)),
        (
            clip("classroom-1280x720-30fps-1200k.ivf"),
            Duration::from_secs(8),
        ),
    ]);
    // Its video reaches the server 250 ms after its audio (a queue on its uplink). Its sender
    // reports name one wall-clock instant for both (their first RTP timestamps), so the files
    // start together all the same; by arrival, the video would start 250 ms late.
    let video_delay = Duration::from_millis(250);
    let ntp = (3_900_000_000u64 << 32) | (1 << 31);
    r.sender_report(
        AUDIO,
        SenderClock {
            ntp,
            rtp: 5_000,
            at: t0 + join,
        },
    );
    r.sender_report(
        VIDEO,
        SenderClock {
            ntp,
            rtp: 1_000,
            at: t0 + join + video_delay,
        },
    );
    let mut packets = Vec::new();
    let mut t = Duration::ZERO;
    while t < Duration::from_secs(20) {
        let at = t0 + join + t;
        packets.clear();
        publisher.packets(t, at, &mut packets);
        for p in packets.iter_mut().filter(|p| p.track == VIDEO) {
            p.arrived += video_delay;
        }
        for p in &packets {
            r.packet(p).expect("written");
        }
        t += Duration::from_millis(20);
    }
    let stats = r.stats();
    let files = r.finish().expect("finished");
    eprintln!("{stats:?}");
    for f in &files {
        eprintln!(
            "{} {:?}: {} frames, {:.3}–{:.3} s",
            f.path.display(),
            f.kind,
            f.frames,
            f.start_ns as f64 / 1e9,
            f.end_ns as f64 / 1e9
        );
    }
    assert_eq!(
        (
            stats.packets_lost,
            stats.frames_dropped,
            stats.lost_to_queue
        ),
        (0, 0, 0)
    );
    let by_name = |n: &str| {
        files
            .iter()
            .find(|f| f.path.ends_with(n))
            .unwrap_or_else(|| panic!("{n} among {files:?}"))
    };
    let small = by_name("p7-camera.webm");
    let large = by_name("p7-camera-2.webm");
    let audio = by_name("p7-microphone.webm");
    assert_eq!(
        small.kind,
        TrackKind::Vp8 {
            width: 320,
            height: 240
        }
    );
    assert_eq!(
        large.kind,
        TrackKind::Vp8 {
            width: 1280,
            height: 720
        }
    );

    let probe = |f: &tongbu_record::TrackSummary| {
        let v = ffprobe(&f.path, &["-show_streams", "-show_format"]);
        let s = &v["streams"][0];
        (
            s["codec_name"].as_str().unwrap_or_default().to_string(),
            s["width"].as_u64(),
            seconds(&s["start_time"]),
            seconds(&v["format"]["duration"]),
        )
    };
    let (vcodec, vwidth, vstart, vdur) = probe(small);
    let (v2codec, v2width, v2start, v2dur) = probe(large);
    let (acodec, _, astart, adur) = probe(audio);
    eprintln!("ffprobe: {vcodec} {vwidth:?} from {vstart} for {vdur} s; {v2codec} {v2width:?} from {v2start} for {v2dur} s; {acodec} from {astart} for {adur} s");
    assert_eq!((vcodec.as_str(), vwidth), ("vp8", Some(320)));
    assert_eq!((v2codec.as_str(), v2width), ("vp8", Some(1280)));
    assert_eq!(acodec, "opus");
    // Audio and video start together, where the publisher joined.
    assert!(
        (vstart - astart).abs() < 0.1,
        "video {vstart} s, audio {astart} s"
    );
    assert!((astart - 1.5).abs() < 0.1, "{astart}");
    // 20 s of each within 5 % (a WebM's duration runs from the timeline's 0 to its last frame).
    assert!(
        (vdur - v2start).abs() < 0.1,
        "the 320p file ends where the 720p one begins"
    );
    let video_total = v2dur - vstart;
    let audio_total = adur - astart;
    for (what, d) in [("video", video_total), ("audio", audio_total)] {
        assert!((d - 20.0).abs() < 1.0, "{what}: {d} s of 20");
    }
    assert!(
        (v2start - (1.5 + 12.0)).abs() < 0.1,
        "the 720p file begins at the change: {v2start}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Records in real time into `TONGBU_RECORD_CHILD` until killed (run by the next test).
#[test]
#[ignore = "run by kill_9_leaves_files_that_read_up_to_the_kill, in a process it kills"]
fn child_records_until_killed() {
    let Some(dir) = std::env::var_os("TONGBU_RECORD_CHILD") else {
        return;
    };
    let t0 = Instant::now();
    let mut r = Recorder::new(Path::new(&dir), t0).expect("a recorder");
    tracks(&mut r);
    let mut publisher = Publisher::new(vec![(
        clip("testsrc-320x240-15fps.ivf"),
        Duration::from_secs(3600),
    )]);
    let mut packets = Vec::new();
    let mut t = Duration::ZERO;
    loop {
        let at = t0 + t;
        if let Some(wait) = at.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        packets.clear();
        publisher.packets(t, at, &mut packets);
        for p in &packets {
            r.packet(p).expect("written");
        }
        t += Duration::from_millis(20);
    }
}

#[test]
fn kill_9_leaves_files_that_read_up_to_the_kill() {
    let dir = scratch("killed");
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    let mut child = Command::new(std::env::current_exe().expect("the test binary"))
        .args([
            "--exact",
            "child_records_until_killed",
            "--ignored",
            "--nocapture",
        ])
        .env("TONGBU_RECORD_CHILD", &dir)
        .spawn()
        .expect("the recording process starts");
    let started = Instant::now();
    std::thread::sleep(Duration::from_secs(6));
    child.kill().expect("SIGKILL");
    let killed_after = started.elapsed().as_secs_f64();
    child.wait().expect("reaped");
    for name in ["p7-camera.webm", "p7-microphone.webm"] {
        let path = dir.join(name);
        let last = last_packet(&path);
        eprintln!("{name}: killed after {killed_after:.2} s, last packet at {last:.2} s");
        // The process took some of those seconds to start; nothing written was lost.
        assert!(
            last > killed_after - 2.0,
            "{name}: {last} s of {killed_after}"
        );
        assert!(last <= killed_after, "{name}: {last} s of {killed_after}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
