//! Repair and feedback on the publisher's side, with real WebRTC peers on loopback: redundant
//! audio (RED, RFC 2198) from a publisher whose uplink loses packets, passed whole to a
//! subscriber that negotiated it and as plain opus to one that did not, with the lost packets
//! rebuilt.

mod common;

use std::time::{Duration, Instant};

use common::delivery::compare;
use common::{test_clip, TestServer};
use tongbu_load::media::{IvfFrames, VideoClip};
use tongbu_load::{PublishOptions, Publisher, ReceivedPacket, SentPacket, Subscriber};
use tongbu_media::Red;

fn clip() -> VideoClip {
    VideoClip::Vp8(IvfFrames::parse(&test_clip()).expect("test clip parses"))
}

/// Each received audio packet as the opus frame it carries: RED's primary block, or the payload.
fn opus_frames(recv: &[ReceivedPacket]) -> Vec<ReceivedPacket> {
    recv.iter()
        .map(|p| {
            let mut p = p.clone();
            if p.payload_type == 63 {
                let red = Red::parse(&p.payload).expect("a well-formed RED payload");
                p.payload = p.payload.slice(red.primary()..);
            }
            p
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redundant_audio_goes_as_each_subscriber_negotiated_and_repairs_the_uplink() {
    let server = TestServer::start().await;
    // A browser's RED on an uplink that loses every 10th audio packet.
    let options = PublishOptions {
        red: true,
        lose_audio_every: Some(10),
    };
    let publisher = Publisher::connect_with(&server.host_url(), clip(), options)
        .await
        .expect("publisher connects");
    // The answer makes the browser send RED (first in the list) and asks for opus DTX.
    let m_audio = publisher
        .answer
        .lines()
        .find(|l| l.starts_with("m=audio"))
        .expect("an audio section");
    assert!(m_audio.ends_with(" 63 111"), "RED first: {m_audio}");
    assert!(
        publisher
            .answer
            .lines()
            .any(|l| l.starts_with("a=fmtp:111") && l.contains("usedtx=1")),
        "{}",
        publisher.answer
    );
    let plain = Subscriber::connect(&server.classroom_url(0))
        .await
        .expect("a subscriber without RED connects");
    let red = Subscriber::connect_red(&server.classroom_url(1))
        .await
        .expect("a subscriber with RED connects");
    tokio::time::sleep(Duration::from_secs(5)).await;
    let cutoff = Instant::now() - Duration::from_millis(300);
    let got_plain = plain.packets(false);
    let got_red = red.packets(false);
    let sent: Vec<SentPacket> = publisher.audio_sent();

    // Without RED: opus alone, every frame the publisher made — also those its uplink lost.
    assert!(
        got_plain.iter().all(|p| p.payload_type == 111),
        "plain opus to a subscriber without RED"
    );
    let d = compare(&sent, &got_plain, cutoff, "audio without RED");
    d.at_least_99_pct(150, "audio without RED (10 % lost upstream)");
    assert_eq!(d.gaps, 0, "no frame missing");

    // With RED: the packets as they came (the rebuilt ones as opus), the same frames.
    let whole = got_red.iter().filter(|p| p.payload_type == 63).count();
    eprintln!(
        "RED subscriber: {whole} of {} packets as RED",
        got_red.len()
    );
    assert!(
        whole * 100 >= got_red.len() * 85,
        "RED passes whole to a subscriber that negotiated it"
    );
    let d = compare(&sent, &opus_frames(&got_red), cutoff, "audio with RED");
    d.at_least_99_pct(150, "audio with RED (10 % lost upstream)");

    // The server counts what it received and rebuilt.
    let health = common::json(
        reqwest::Client::new()
            .get(server.http("/api/health"))
            .header("authorization", server.operator_auth()),
    )
    .await;
    let count = |k: &str| health["media"][k].as_u64().unwrap_or_default();
    let lost_upstream = sent.len() / 10;
    eprintln!(
        "server: {} RED packets in, {} rebuilt ({lost_upstream} lost upstream)",
        count("red_in"),
        count("red_recovered")
    );
    assert!(count("red_in") as usize >= sent.len() * 8 / 10);
    assert!(count("red_recovered") as usize + 1 >= lost_upstream);

    plain.close().await;
    red.close().await;
    publisher.close().await;
}
