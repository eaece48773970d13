//! WHIP ingest (RFC 9725): an encoder — a webrtc-rs client publishing a real libx264 clip and
//! opus, as OBS does — publishes a lecture's speaker over HTTP with a bearer token; a listener
//! receives and decodes it, and a recording of it (H.264 in MP4) decodes too; bad, expired or
//! misplaced tokens are refused; `DELETE` ends the stream and the room is told.

mod common;

use std::time::Duration;

use common::{now, TestServer};
use tongbu_load::h264_clip::depacketize_h264;
use tongbu_load::media::VideoClip;
use tongbu_load::probe::{ffprobe, seconds};
use tongbu_load::{ClientError, Publisher, Subscriber};
use tongbu_schedule::{JoinClaims, Role};
use tongbu_signal::ServerMessage;

const T: Duration = Duration::from_secs(10);

fn clip() -> VideoClip {
    VideoClip::h264(&common::h264_clip(), 15.0).expect("an H.264 clip")
}

/// The first message `f` picks, within [`T`].
async fn until<R>(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<ServerMessage>,
    f: impl Fn(&ServerMessage) -> Option<R>,
) -> Option<R> {
    tokio::time::timeout(T, async {
        while let Some(m) = rx.recv().await {
            if let Some(r) = f(&m) {
                return Some(r);
            }
        }
        None
    })
    .await
    .ok()
    .flatten()
}

/// The HTTP status a refused WHIP publish got, and the server's words.
async fn refused(endpoint: &str, token: &str) -> (u16, String) {
    match Publisher::connect_whip(endpoint, token, clip()).await {
        Err(ClientError::Http(status, body)) => (status, body),
        Err(other) => panic!("expected an HTTP refusal, got {other}"),
        Ok(_) => panic!("a bad token published"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_encoder_publishes_a_lecture_over_whip_and_listeners_decode_it() {
    let server = TestServer::start().await;
    let lecture = server.demo().lecture.clone();
    let issue = |sid, role, classroom, exp| {
        server.server.state.tokens.issue(&JoinClaims {
            sid,
            role,
            classroom,
            name: "演播室编码器".into(),
            exp,
            shared: false,
        })
    };
    // The operator mints the encoder's endpoint and token on the command line.
    let base = format!("http://{}", server.server.http_addr);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tongbu"))
        .env("TONGBU_DATA_DIR", &server.data_dir)
        .args(["token", "--whip", "--session", &lecture.id.0.to_string()])
        .args(["--name", "演播室编码器", "--base-url", &base])
        .output()
        .expect("run tongbu token --whip");
    let printed = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let field = |label: &str| {
        printed
            .lines()
            .find_map(|l| l.strip_prefix(label))
            .unwrap_or_else(|| panic!("{label} in {printed}"))
            .trim()
            .to_string()
    };
    let endpoint = field("WHIP endpoint:");
    let token = field("Bearer token:");
    assert_eq!(endpoint, format!("{base}/whip/{}", lecture.id.0));
    // Or in the operator's API (what the console would show): the same endpoint, a token of the
    // encoder's own; the encoder below publishes with this one.
    let http = reqwest::Client::new();
    let minted: serde_json::Value = http
        .post(server.http(&format!("/api/sessions/{}/whip", lecture.id.0)))
        .header("authorization", server.operator_auth())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        format!("{base}{}", minted["endpoint"].as_str().unwrap()),
        endpoint
    );
    let api_token = minted["token"].as_str().unwrap().to_string();
    assert!(minted["expires_utc"].as_i64().unwrap() > now());

    // Refusals: no usable token (401), a token of another session or role (403).
    let (status, why) = refused(&endpoint, "not-a-token").await;
    assert_eq!(status, 401, "{why}");
    let expired = issue(lecture.id, Role::Host, Some(lecture.spec.host), now() - 10);
    let (status, why) = refused(&endpoint, &expired).await;
    assert_eq!(status, 401, "{why}");
    assert!(why.contains("expired"), "{why}");
    let lesson = server.demo().session.clone();
    let elsewhere = issue(lesson.id, Role::Host, Some(lesson.spec.host), now() + 3600);
    let (status, why) = refused(&endpoint, &elsewhere).await;
    assert_eq!(status, 403, "{why}");
    assert!(why.contains("session"), "{why}");
    let listener_token = issue(lecture.id, Role::Observer, None, now() + 3600);
    let (status, why) = refused(&endpoint, &listener_token).await;
    assert_eq!(status, 403, "{why}");
    let res = http
        .post(&endpoint)
        .bearer_auth(&token)
        .header("content-type", "text/plain")
        .body("v=0")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 415, "an offer is application/sdp");

    // A listener is in the lecture when the encoder starts.
    let mut listener = Subscriber::connect(&server.ws_url(&listener_token))
        .await
        .expect("a listener joins");
    let encoder = Publisher::connect_whip(&endpoint, &api_token, clip())
        .await
        .expect("the encoder publishes");
    let location = encoder.whip_location().expect("a Location").to_string();
    assert!(
        location.starts_with(&format!("{endpoint}/")),
        "{location} names a stream of the session"
    );
    let speaker = until(&mut listener.messages, |m| match m {
        ServerMessage::ParticipantJoined { participant } => Some(participant.clone()),
        _ => None,
    })
    .await
    .expect("the encoder enters the roster");
    assert_eq!(speaker.role, Role::Host);
    assert_eq!(speaker.name, format!("演播室 · {}", lecture.spec.title));
    let res = http
        .patch(&location)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 405, "no trickle ICE");

    // Its H.264 and opus reach the listener; what arrived decodes.
    listener
        .wait_for_packets(true, 60, T)
        .await
        .expect("the encoder's video arrives");
    listener
        .wait_for_packets(false, 50, T)
        .await
        .expect("the encoder's audio arrives");
    let mut video = listener.packets(true);
    let first = video[0].seq;
    video.sort_by_key(|p| p.seq.wrapping_sub(first));
    assert!(tongbu_media::h264::is_keyframe_start(&video[0].payload));
    let stream = depacketize_h264(video.iter().map(|p| &p.payload[..]));
    let d = common::decode_h264(&stream);
    eprintln!(
        "listener decoded {}×{}, {} frames",
        d.width, d.height, d.frames
    );
    assert_eq!((d.width, d.height), (320, 240));
    assert!(d.frames >= 30, "{} frames decoded", d.frames);
    assert!(d.complaints.is_empty(), "decoder: {}", d.complaints);

    // The lecture recorded for 4 s: the encoder's H.264 in an MP4 that decodes, its opus in WebM.
    let sid = lecture.id.0;
    let switch = |on: bool| {
        http.post(server.http(&format!("/api/sessions/{sid}/recording")))
            .header("authorization", server.operator_auth())
            .json(&serde_json::json!({ "on": on }))
            .send()
    };
    assert_eq!(switch(true).await.unwrap().status(), 200);
    tokio::time::sleep(Duration::from_secs(4)).await;
    let view: serde_json::Value = switch(false).await.unwrap().json().await.unwrap();
    let files = view["files"].as_array().cloned().unwrap_or_default();
    let names: Vec<&str> = files.iter().filter_map(|f| f["name"].as_str()).collect();
    let camera = format!("p{}-camera.mp4", speaker.id);
    let microphone = format!("p{}-microphone.webm", speaker.id);
    assert!(
        names.contains(&camera.as_str()) && names.contains(&microphone.as_str()),
        "{names:?}"
    );
    let utc = files[0]["recording_utc"].as_i64().unwrap();
    let dir = server
        .data_dir
        .join("recordings")
        .join(sid.to_string())
        .join(utc.to_string());
    let v = ffprobe(
        &dir.join(&camera),
        &["-count_frames", "-show_streams", "-show_format"],
    );
    let s = &v["streams"][0];
    let decoded: u64 = s["nb_read_frames"]
        .as_str()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let length = seconds(&v["format"]["duration"]);
    eprintln!("recorded {camera}: {decoded} frames decode, {length:.2} s");
    assert_eq!(s["codec_name"], "h264");
    assert_eq!(
        (s["width"].as_u64(), s["height"].as_u64()),
        (Some(320), Some(240))
    );
    assert!(decoded >= 40, "{decoded} frames decode");
    assert!(length > 3.0 && length < 4.2, "{length} s of 4");
    let served = http
        .get(
            server.http(
                files.iter().find(|f| f["name"] == camera.as_str()).unwrap()["url"]
                    .as_str()
                    .unwrap(),
            ),
        )
        .header("authorization", server.operator_auth())
        .send()
        .await
        .unwrap();
    assert_eq!(served.headers()["content-type"], "video/mp4");

    // DELETE ends the stream: the listener is told, the resource is gone.
    encoder.close().await;
    until(&mut listener.messages, |m| match m {
        ServerMessage::ParticipantLeft { participant } if *participant == speaker.id => Some(()),
        _ => None,
    })
    .await
    .expect("the encoder leaves the roster");
    let res = http
        .delete(&location)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404, "the stream has ended");
    assert!(server.server.state.whip.is_empty());
    listener.close().await;
}
