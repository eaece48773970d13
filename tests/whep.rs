//! WHEP playback: players that only watch (webrtc-rs clients offering receive-only audio and
//! video, as a WHEP player does) receive a lecture's speaker — an encoder publishing a real
//! libx264 clip and opus over WHIP. One player is there before the speaker (the speaker's tracks
//! are bound to its lines when they come), one after; what they receive decodes. A wrong or
//! misplaced token is refused; `DELETE` ends a player, and the lecture's audience counts it
//! while it plays.

mod common;

use std::time::Duration;

use common::{now, TestServer};
use tongbu_load::h264_clip::depacketize_h264;
use tongbu_load::media::VideoClip;
use tongbu_load::{ClientError, Publisher, ReceivedPacket, Subscriber};
use tongbu_schedule::{JoinClaims, Role};

const T: Duration = Duration::from_secs(10);

/// Checks what a player received: opus, and H.264 that decodes at the clip's size.
fn decodes(who: &str, video: &[ReceivedPacket]) {
    let mut video = video.to_vec();
    let first = video[0].seq;
    video.sort_by_key(|p| p.seq.wrapping_sub(first));
    let from_key = video
        .iter()
        .position(|p| tongbu_media::h264::is_keyframe_start(&p.payload))
        .expect("a keyframe");
    let stream = depacketize_h264(video[from_key..].iter().map(|p| &p.payload[..]));
    let d = common::decode_h264(&stream);
    eprintln!(
        "{who} decoded {}×{}, {} frames",
        d.width, d.height, d.frames
    );
    assert_eq!((d.width, d.height), (320, 240), "{who}");
    assert!(d.frames >= 20, "{who}: {} frames decoded", d.frames);
    assert!(d.complaints.is_empty(), "{who}'s decoder: {}", d.complaints);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn players_watch_a_lecture_over_whep() {
    let server = TestServer::start().await;
    let lecture = server.demo().lecture.clone();
    let issue = |sid, role, classroom| {
        server.server.state.tokens.issue(&JoinClaims {
            sid,
            role,
            classroom,
            name: "礼堂大屏".into(),
            exp: now() + 3600,
            shared: false,
        })
    };
    let endpoint = server.http(&format!("/whep/{}", lecture.id.0));
    let listener = issue(lecture.id, Role::Observer, None);

    // Refusals: no token or a forged one (401), another session's or a taking part role (403).
    let refused = |token: String| {
        let endpoint = endpoint.clone();
        async move {
            match Subscriber::connect_whep(&endpoint, &token).await {
                Err(ClientError::Http(status, body)) => (status, body),
                Err(other) => panic!("expected an HTTP refusal, got {other}"),
                Ok(_) => panic!("a bad token played"),
            }
        }
    };
    let (status, why) = refused("not-a-token".into()).await;
    assert_eq!(status, 401, "{why}");
    let lesson = server.demo().session.clone();
    let (status, why) = refused(issue(lesson.id, Role::Observer, None)).await;
    assert_eq!(status, 403, "{why}");
    let (status, why) = refused(issue(lecture.id, Role::Host, Some(lecture.spec.host))).await;
    assert_eq!(status, 403, "{why}");

    // A player before the speaker, the speaker over WHIP, a player after.
    let early = Subscriber::connect_whep(&endpoint, &listener)
        .await
        .expect("a player before the speaker");
    let location = early.whep_location().expect("a Location").to_string();
    assert!(
        location.contains(&format!("/whep/{}/", lecture.id.0)),
        "{location}"
    );
    let minted: serde_json::Value = common::json(
        reqwest::Client::new()
            .post(server.http(&format!("/api/sessions/{}/whip", lecture.id.0)))
            .header("authorization", server.operator_auth()),
    )
    .await;
    let encoder = Publisher::connect_whip(
        &server.http(minted["endpoint"].as_str().expect("an endpoint")),
        minted["token"].as_str().expect("a token"),
        VideoClip::h264(&common::h264_clip(), 15.0).expect("an H.264 clip"),
    )
    .await
    .expect("the speaker publishes over WHIP");
    let late = Subscriber::connect_whep(&endpoint, &listener)
        .await
        .expect("a player after the speaker");
    for (who, p) in [("the early player", &early), ("the late player", &late)] {
        p.wait_for_packets(true, 60, T)
            .await
            .unwrap_or_else(|e| panic!("{who}: video: {e}"));
        p.wait_for_packets(false, 50, T)
            .await
            .unwrap_or_else(|e| panic!("{who}: audio: {e}"));
        decodes(who, &p.packets(true));
    }
    let health: serde_json::Value = common::json(
        reqwest::Client::new()
            .get(server.http(&format!("/api/sessions/{}/health", lecture.id.0)))
            .header("authorization", server.operator_auth()),
    )
    .await;
    let players: Vec<&serde_json::Value> = health["participants"]
        .as_array()
        .expect("participants")
        .iter()
        .filter(|p| p["role"] == "observer")
        .collect();
    assert_eq!(players.len(), 2, "both players in the lecture: {health}");
    for p in players {
        assert_eq!(p["video"], "flowing", "the operator sees it receive: {p}");
    }

    // DELETE ends the early player; a second DELETE finds nothing; the late one plays on.
    let http = reqwest::Client::new();
    let delete = || http.delete(&location).bearer_auth(&listener).send();
    assert_eq!(delete().await.expect("a response").status(), 200);
    assert_eq!(delete().await.expect("a response").status(), 404);
    let before = late.packets(true).len();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        late.packets(true).len() > before + 10,
        "the other player plays on"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(server.server.state.whep.len(), 1, "one player left");
    late.close().await;
    encoder.close().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(server.server.state.whep.is_empty());
    drop(early);
}
