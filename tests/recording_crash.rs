//! A lesson recorded because the schedule says so (here the server's default,
//! `TONGBU_RECORDING_DEFAULT=true`), through the server binary: the host with its camera and a
//! shared screen and two classrooms, webrtc-rs publishers on loopback. Nothing is recorded before
//! the lesson goes live; 20 s of it read back with ffprobe (Debian's ffmpeg), every track in its
//! codec and length, each publisher's audio and video starting together. Then a second recording
//! is cut short by kill -9 of the server: every file it left reads to within 2 s of the kill.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::test_clip;
use tongbu_load::media::{IvfFrames, VideoClip};
use tongbu_load::probe::{ffprobe, last_packet, seconds};
use tongbu_load::{PublishOptions, Publisher};
use tongbu_signal::ServerMessage;

/// The WebSocket URLs of the demo lesson's links of `role`, in the listing's order.
fn links(demo: &serde_json::Value, base: &str, role: &str) -> Vec<String> {
    demo["links"]
        .as_array()
        .expect("links")
        .iter()
        .filter(|l| l["role"] == role)
        .filter_map(|l| l["url"].as_str()?.split("token=").nth(1))
        .map(|token| format!("{}/ws?token={token}", base.replacen("http://", "ws://", 1)))
        .collect()
}

/// The recordings of `sid` on disk, oldest first.
fn recordings(data: &Path, sid: i64) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(data.join("recordings").join(sid.to_string()))
        .map(|d| d.filter_map(|e| Some(e.ok()?.path())).collect())
        .unwrap_or_default();
    dirs.sort();
    dirs
}

/// The WebM files of a recording, by name.
fn webm_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("the recording's directory")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".webm"))
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_recording_reads_back_and_a_killed_server_leaves_playable_files() {
    let data = std::env::temp_dir().join(format!("tongbu-recording-crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let (mut child, base) = common::spawn_binary(
        &data,
        &[
            ("TONGBU_DEMO_ENABLED", "true"),
            ("TONGBU_RECORDING_DEFAULT", "true"),
        ],
    );
    let http = reqwest::Client::new();
    let demo = common::json(http.get(format!("{base}/api/demo"))).await;
    let sid = demo["session"]["id"].as_i64().expect("the demo lesson");
    let auth = format!(
        "Bearer {}",
        std::fs::read_to_string(data.join("operator.token"))
            .expect("the operator token")
            .trim()
    );
    let clip = || VideoClip::Vp8(IvfFrames::parse(&test_clip()).expect("the test clip"));
    let sharing = PublishOptions {
        screen: true,
        ..PublishOptions::default()
    };
    let mut host = Publisher::connect_with(&links(&demo, &base, "host")[0], clip(), sharing)
        .await
        .expect("the host publishes its camera and a screen");
    let classrooms = links(&demo, &base, "classroom");
    let mut remote = Vec::new();
    for url in &classrooms[..2] {
        remote.push(
            Publisher::connect(url, &test_clip())
                .await
                .expect("a classroom publishes"),
        );
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        recordings(&data, sid).is_empty(),
        "nothing is recorded before the lesson goes live"
    );

    // The lesson goes live: its recording starts by itself, and the host is told.
    let live = http
        .post(format!("{base}/api/sessions/{sid}/start"))
        .header("authorization", &auth)
        .send()
        .await
        .expect("a response");
    assert_eq!(live.status(), 200);
    let began = Instant::now();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, host.messages.recv()).await {
            Ok(Some(ServerMessage::Recording {
                recording: true, ..
            })) => break,
            Ok(Some(_)) => {}
            _ => panic!("the host is told the lesson is being recorded"),
        }
    }
    tokio::time::sleep(Duration::from_secs(20)).await;
    let switch = |on: bool| {
        http.post(format!("{base}/api/sessions/{sid}/recording"))
            .header("authorization", &auth)
            .json(&serde_json::json!({ "on": on }))
            .send()
    };
    assert_eq!(switch(false).await.expect("a response").status(), 200);
    let recorded = began.elapsed().as_secs_f64();

    let first = recordings(&data, sid);
    assert_eq!(first.len(), 1, "one recording: {first:?}");
    let names = webm_files(&first[0]);
    let h = host.participant;
    let (c1, c2) = (remote[0].participant, remote[1].participant);
    let mut want = vec![format!("p{h}-screen.webm")];
    for p in [h, c1, c2] {
        want.push(format!("p{p}-camera.webm"));
        want.push(format!("p{p}-microphone.webm"));
    }
    want.sort();
    assert_eq!(names, want, "every published track, once");
    let mut starts = std::collections::HashMap::new();
    for name in &names {
        let v = ffprobe(&first[0].join(name), &["-show_streams", "-show_format"]);
        let s = &v["streams"][0];
        let codec = s["codec_name"].as_str().unwrap_or_default();
        let start = seconds(&s["start_time"]);
        let length = seconds(&v["format"]["duration"]) - start;
        eprintln!("{name}: {codec} from {start:.3} s, {length:.2} s of {recorded:.2} s");
        let video = !name.ends_with("microphone.webm");
        assert_eq!(codec, if video { "vp8" } else { "opus" }, "{name}");
        if video {
            assert!(s["width"].as_u64().unwrap_or(0) > 0, "{name} has pictures");
        }
        // From the lesson's first moments (a camera's from its first keyframe, which the
        // recording asks for), to within 5 % of the time recorded.
        assert!(start < 2.0, "{name} begins {start} s into the recording");
        assert!(
            length > recorded * 0.95 - start && length <= recorded + 0.1,
            "{name}: {length} s of {recorded}"
        );
        starts.insert(name.clone(), start);
    }
    for p in [h, c1, c2] {
        let (a, v) = (
            starts[&format!("p{p}-microphone.webm")],
            starts[&format!("p{p}-camera.webm")],
        );
        assert!(
            (a - v).abs() < 0.1,
            "participant {p}: audio from {a} s, video from {v} s"
        );
    }

    // A second recording, cut short by kill -9: every file reads to within 2 s of the kill.
    // (Started a second later than the first ended, so its directory has its own name.)
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert_eq!(switch(true).await.expect("a response").status(), 200);
    let second = Instant::now();
    tokio::time::sleep(Duration::from_secs(6)).await;
    child.kill().expect("kill -9");
    let killed = second.elapsed().as_secs_f64();
    let _ = child.wait();
    let all = recordings(&data, sid);
    assert_eq!(all.len(), 2, "{all:?}");
    let names = webm_files(&all[1]);
    assert_eq!(names, want, "every track of the second recording");
    for name in &names {
        let last = last_packet(&all[1].join(name));
        eprintln!("killed after {killed:.2} s: {name} reads to {last:.2} s");
        assert!(
            last > killed - 2.0 && last <= killed + 0.1,
            "{name} reads to {last} s; killed at {killed} s"
        );
    }
    for p in remote {
        p.close().await;
    }
    host.close().await;
    let _ = std::fs::remove_dir_all(&data);
}
