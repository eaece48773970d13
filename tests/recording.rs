//! A lesson recorded through the real server: webrtc-rs publishers (the host and a classroom,
//! VP8 and opus) on loopback, the operator switches the recording on and off over REST, and
//! ffprobe (Debian's ffmpeg) reads back every file; the files are served with byte ranges.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{test_clip, TestServer};
use tongbu_load::probe::{ffprobe, seconds};
use tongbu_load::Publisher;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_records_a_lesson_and_every_track_reads_back() {
    let server = TestServer::start().await;
    let sid = server.demo().session.id.0;
    let http = reqwest::Client::new();
    let auth = server.operator_auth();
    let host = Publisher::connect(&server.host_url(), &test_clip())
        .await
        .expect("the host publishes");
    let classroom = Publisher::connect(&server.classroom_url(0), &test_clip())
        .await
        .expect("a classroom publishes");
    tokio::time::sleep(Duration::from_secs(1)).await;

    // A classroom may not record the lesson.
    let mut other = tongbu_load::SignalClient::connect(&server.classroom_url(1))
        .await
        .expect("signaling");
    other.join().await.expect("joined");
    other.send(&tongbu_signal::ClientMessage::Record { on: true });
    let refused = other
        .recv_until(Duration::from_secs(5), |m| match m {
            tongbu_signal::ServerMessage::Error { code, .. } => Some(*code),
            _ => None,
        })
        .await
        .expect("an answer");
    assert_eq!(refused, tongbu_signal::ErrorCode::Forbidden);

    // Without the operator credential: refused.
    let refused = http
        .post(server.http(&format!("/api/sessions/{sid}/recording")))
        .json(&serde_json::json!({"on": true}))
        .send()
        .await
        .expect("a response");
    assert_eq!(refused.status(), 401);

    let switch = |on: bool| {
        http.post(server.http(&format!("/api/sessions/{sid}/recording")))
            .header("authorization", &auth)
            .json(&serde_json::json!({ "on": on }))
            .send()
    };
    let on = switch(true).await.expect("a response");
    assert_eq!(on.status(), 200);
    let began = Instant::now();
    let view: serde_json::Value = on.json().await.expect("JSON");
    assert!(view["recording_since_utc"].as_i64().is_some(), "{view}");
    assert_eq!(
        switch(true).await.expect("a response").status(),
        409,
        "already recording"
    );

    tokio::time::sleep(Duration::from_secs(6)).await;
    let off = switch(false).await.expect("a response");
    let recorded = began.elapsed().as_secs_f64();
    assert_eq!(off.status(), 200);
    let view: serde_json::Value = off.json().await.expect("JSON");
    assert!(view["recording_since_utc"].is_null(), "{view}");
    let files = view["files"].as_array().cloned().unwrap_or_default();
    let names: Vec<&str> = files.iter().filter_map(|f| f["name"].as_str()).collect();
    eprintln!("recorded {recorded:.2} s: {names:?}");
    let (h, c) = (host.participant, classroom.participant);
    for want in [
        format!("p{h}-camera.webm"),
        format!("p{h}-microphone.webm"),
        format!("p{c}-camera.webm"),
        format!("p{c}-microphone.webm"),
    ] {
        assert!(names.contains(&want.as_str()), "{want} among {names:?}");
    }

    // Each reads back in its codec, as long as the recording (within 5 %, less the time its
    // first keyframe took), and a publisher's audio and video start together.
    let utc = files[0]["recording_utc"]
        .as_i64()
        .expect("a recording time");
    let dir = server
        .data_dir
        .join("recordings")
        .join(sid.to_string())
        .join(utc.to_string());
    let mut starts = std::collections::HashMap::new();
    for name in &names {
        let v = ffprobe(&dir.join(name), &["-show_streams", "-show_format"]);
        let s = &v["streams"][0];
        let codec = s["codec_name"].as_str().unwrap_or_default().to_string();
        let start = seconds(&s["start_time"]);
        let length = seconds(&v["format"]["duration"]) - start;
        eprintln!("{name}: {codec} from {start:.3} s, {length:.2} s long");
        let want = if name.ends_with("camera.webm") {
            "vp8"
        } else {
            "opus"
        };
        assert_eq!(codec, want, "{name}");
        // At the camera's first keyframe, which the recording asks for (requests are folded into
        // one per 500 ms, and a publisher answers in its own time).
        assert!(start < 2.0, "{name} begins {start} s into the recording");
        assert!(
            length > recorded * 0.95 - start - 0.3 && length <= recorded + 0.1,
            "{name}: {length} s of {recorded}"
        );
        starts.insert(name.to_string(), start);
    }
    for p in [h, c] {
        let (a, v) = (
            starts[&format!("p{p}-microphone.webm")],
            starts[&format!("p{p}-camera.webm")],
        );
        assert!(
            (a - v).abs() < 0.1,
            "participant {p}: audio from {a} s, video from {v} s"
        );
    }

    // Served to the operator, a byte range as asked (a player seeks, a CDN caches).
    let url = files[0]["url"].as_str().expect("a url");
    let part = http
        .get(server.http(url))
        .header("authorization", &auth)
        .header("range", "bytes=0-99")
        .send()
        .await
        .expect("a response");
    assert_eq!(part.status(), 206);
    assert_eq!(part.bytes().await.expect("bytes").len(), 100);
    let whole = http.get(server.http(url)).send().await.expect("a response");
    assert_eq!(whole.status(), 401, "not without the credential");
    let missing = http
        .get(server.http(&format!(
            "/api/sessions/{sid}/recordings/{utc}/..%2Fsecret.webm"
        )))
        .header("authorization", &auth)
        .send()
        .await
        .expect("a response");
    assert_eq!(missing.status(), 404);

    // A replay link: the listing and the files without the operator credential, for its
    // session only, with each file's publisher and place on the timeline.
    let link: serde_json::Value = common::json(
        http.post(server.http(&format!("/api/sessions/{sid}/replay-link")))
            .header("authorization", &auth)
            .json(&serde_json::json!({"valid_days": 7})),
    )
    .await;
    let token = link["token"].as_str().expect("a token").to_string();
    assert!(link["url"]
        .as_str()
        .is_some_and(|u| u.starts_with(&format!("/replay.html?session={sid}&token="))));
    let listed: serde_json::Value = common::json(
        http.get(server.http(&format!("/api/sessions/{sid}/recordings?token={token}"))),
    )
    .await;
    let host_camera = listed["files"]
        .as_array()
        .and_then(|fs| fs.iter().find(|f| f["name"] == format!("p{h}-camera.webm")))
        .cloned()
        .expect("the host's camera listed");
    assert_eq!(host_camera["track"]["role"], "host", "{host_camera}");
    assert_eq!(host_camera["track"]["source"], "camera");
    assert!(host_camera["end_ms"].as_u64() > host_camera["start_ms"].as_u64());
    let file = http
        .get(server.http(&format!(
            "{}?token={token}",
            host_camera["url"].as_str().expect("a url")
        )))
        .send()
        .await
        .expect("a response");
    assert_eq!(file.status(), 200);
    let status = |path: String| {
        let (http, url) = (http.clone(), server.http(&path));
        async move { http.get(url).send().await.expect("a response").status() }
    };
    let other = server.demo().lecture.id.0;
    assert_eq!(
        status(format!("/api/sessions/{other}/recordings?token={token}")).await,
        403,
        "another session's recordings"
    );
    assert_eq!(
        status(format!("/api/sessions/{sid}/recordings?token=not-a-token")).await,
        401
    );
    let bad = http
        .post(server.http(&format!("/api/sessions/{sid}/replay-link")))
        .header("authorization", &auth)
        .json(&serde_json::json!({"valid_days": 0}))
        .send()
        .await
        .expect("a response");
    assert_eq!(bad.status(), 400);

    host.close().await;
    classroom.close().await;
}

/// A tmpfs mounted for a test (root only), unmounted when dropped.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Option<Self> {
        std::fs::create_dir_all(dir).ok()?;
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Self(dir.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_stops_the_recording_with_a_notice_and_the_lesson_goes_on() {
    use tongbu_load::media::{IvfFrames, VideoClip};
    use tongbu_load::Subscriber;
    use tongbu_signal::ServerMessage;

    // The recordings directory on a 2 MB file system; a recording needs 1 MB free.
    let mut disk = None;
    let server = TestServer::start_with(|c| {
        c.recording_min_free_mb = 1;
        disk = Tmpfs::mount(&c.data_dir.join("recordings"), "2m");
    })
    .await;
    let Some(_disk) = disk else {
        eprintln!("skipped: mounting a tmpfs needs root");
        return;
    };
    let sid = server.demo().session.id.0;
    let http = reqwest::Client::new();
    let auth = server.operator_auth();
    // The host sends 720p at 1.2 Mbit/s: the disk fills in seconds.
    let clip = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/media/classroom-1280x720-30fps-1200k.ivf"
    ))
    .expect("the 720p clip");
    let mut host = Publisher::connect_clip(
        &server.host_url(),
        VideoClip::Vp8(IvfFrames::parse(&clip).expect("an IVF clip")),
    )
    .await
    .expect("the host publishes");
    let classroom = Subscriber::connect(&server.classroom_url(0))
        .await
        .expect("a classroom watches");
    classroom
        .wait_for_packets(true, 20, Duration::from_secs(10))
        .await
        .expect("the teacher's video flows");
    let on = http
        .post(server.http(&format!("/api/sessions/{sid}/recording")))
        .header("authorization", &auth)
        .json(&serde_json::json!({"on": true}))
        .send()
        .await
        .expect("a response");
    assert_eq!(on.status(), 200);

    // The room is told the recording started, then that it stopped for the disk.
    let began = Instant::now();
    let mut started = false;
    let reason = loop {
        let left = Duration::from_secs(40).saturating_sub(began.elapsed());
        let m = tokio::time::timeout(left, host.messages.recv())
            .await
            .expect("the recording stops within 40 s")
            .expect("the host's signaling is open");
        match m {
            ServerMessage::Recording {
                recording: true, ..
            } => started = true,
            ServerMessage::Recording {
                recording: false,
                reason: Some(r),
            } => break r,
            _ => {}
        }
    };
    let stopped_at = Instant::now();
    eprintln!(
        "recording stopped after {:.1} s: {reason}",
        began.elapsed().as_secs_f64()
    );
    assert!(started, "the room was told the recording began");
    assert!(reason.starts_with("disk_full"), "{reason}");

    // The lesson goes on: everything the teacher sent in the next 3 s reaches the classroom.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let window = |at: Instant| at > stopped_at + Duration::from_millis(200);
    let cutoff = Instant::now() - Duration::from_millis(300);
    let sent = host
        .video_sent()
        .iter()
        .filter(|p| window(p.at) && p.at < cutoff)
        .count();
    let got = classroom
        .packets(true)
        .iter()
        .filter(|p| window(p.at) && p.at < cutoff)
        .count();
    eprintln!("after the stop: {got} of {sent} video packets reached the classroom");
    assert!(sent > 50 && got * 100 >= sent * 99, "{got} of {sent}");

    // What was written is there, listed, and reads back.
    let view: serde_json::Value = common::json(
        http.get(server.http(&format!("/api/sessions/{sid}/recordings")))
            .header("authorization", &auth),
    )
    .await;
    assert!(view["recording_since_utc"].is_null(), "{view}");
    let files = view["files"].as_array().cloned().unwrap_or_default();
    let camera = files
        .iter()
        .find(|f| {
            f["name"]
                .as_str()
                .is_some_and(|n| n.ends_with("camera.webm"))
        })
        .unwrap_or_else(|| panic!("a camera file among {files:?}"));
    let utc = camera["recording_utc"].as_i64().expect("a recording time");
    let path = server
        .data_dir
        .join("recordings")
        .join(sid.to_string())
        .join(utc.to_string())
        .join(camera["name"].as_str().expect("a name"));
    let v = ffprobe(&path, &["-show_streams", "-show_format"]);
    assert_eq!(v["streams"][0]["codec_name"], "vp8");
    classroom.close().await;
    host.close().await;
}

/// A teacher signed in (a local account of the host's school) finds a replay link beside each
/// of its lessons that has a recording, and none beside the others; the link opens that
/// lesson's recordings without any other credential.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_in_teacher_gets_the_replay_of_its_recorded_lessons() {
    let server = TestServer::start().await;
    let sid = server.demo().session.id.0;
    let http = reqwest::Client::new();
    let auth = server.operator_auth();
    let school = server
        .server
        .state
        .store
        .classroom(server.demo().host)
        .expect("the demo's host")
        .school;
    let password = "同步课堂 回放 2026";
    let made = http
        .post(server.http("/api/accounts"))
        .header("authorization", &auth)
        .json(&serde_json::json!({"username": "li.hua", "name": "李老师",
                                  "school": school.0, "password": password}))
        .send()
        .await
        .expect("a response");
    assert_eq!(made.status(), 201);
    let signed_in = http
        .post(server.http("/auth/local"))
        .json(&serde_json::json!({"username": "li.hua", "password": password}))
        .send()
        .await
        .expect("a response");
    assert_eq!(signed_in.status(), 204);
    let cookie = signed_in.headers()["set-cookie"]
        .to_str()
        .expect("a cookie")
        .split(';')
        .next()
        .unwrap_or_default()
        .to_string();
    let replay_of = |lessons: &serde_json::Value, id: i64| {
        lessons["lessons"]
            .as_array()
            .and_then(|ls| ls.iter().find(|l| l["id"] == id))
            .unwrap_or_else(|| panic!("lesson {id} in {lessons}"))["replay"]
            .as_str()
            .map(String::from)
    };
    let lessons = || {
        common::json(
            http.get(server.http("/api/teacher/lessons?range=week"))
                .header("cookie", &cookie),
        )
    };
    assert_eq!(
        replay_of(&lessons().await, sid),
        None,
        "nothing recorded yet"
    );

    let host = Publisher::connect(&server.host_url(), &test_clip())
        .await
        .expect("the host publishes");
    let switch = |on: bool| {
        http.post(server.http(&format!("/api/sessions/{sid}/recording")))
            .header("authorization", &auth)
            .json(&serde_json::json!({ "on": on }))
            .send()
    };
    assert_eq!(switch(true).await.expect("a response").status(), 200);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(switch(false).await.expect("a response").status(), 200);
    host.close().await;

    let lessons = lessons().await;
    let url = replay_of(&lessons, sid).expect("a replay link beside the recorded lesson");
    let research = server.demo().research.id.0;
    if lessons["lessons"]
        .as_array()
        .is_some_and(|ls| ls.iter().any(|l| l["id"] == research))
    {
        assert_eq!(replay_of(&lessons, research), None, "not recorded");
    }
    assert!(
        url.starts_with(&format!("/replay.html?session={sid}&token=")),
        "{url}"
    );
    let token = url.split("token=").nth(1).expect("a token");
    let view = common::json(
        http.get(server.http(&format!("/api/sessions/{sid}/recordings?token={token}"))),
    )
    .await;
    let files = view["files"].as_array().cloned().unwrap_or_default();
    assert!(
        files.iter().any(|f| f["name"]
            .as_str()
            .is_some_and(|n| n.ends_with("camera.webm"))),
        "the link lists the recording: {view}"
    );
}
