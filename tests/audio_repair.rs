//! Repair and feedback on the publisher's side, with real WebRTC peers on loopback: redundant
//! audio (RED, RFC 2198) from a publisher whose uplink loses packets, passed whole to a
//! subscriber that negotiated it and as plain opus to one that did not, with the lost packets
//! rebuilt; and REMB for a publisher whose stack has no transport-wide feedback.

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
        ..Default::default()
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

/// Bits per second a publisher sent over the `window` before `end`.
fn sent_bps(logs: &[Vec<SentPacket>], end: Instant, window: Duration) -> f64 {
    let bytes: usize = logs
        .iter()
        .flatten()
        .filter(|p| p.at <= end && p.at + window > end)
        .map(|p| p.payload.len() + 60)
        .sum();
    bytes as f64 * 8.0 / window.as_secs_f64()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publisher_with_remb_alone_is_told_what_its_uplink_carries() {
    let server = TestServer::start().await;
    let remb = PublishOptions {
        remb_only: true,
        ..Default::default()
    };
    let clean = Publisher::connect_with(&server.host_url(), clip(), remb)
        .await
        .expect("a publisher on a clean link connects");
    let lossy = Publisher::connect_with(
        &server.classroom_url(0),
        clip(),
        PublishOptions {
            lose_video_every: Some(4),
            ..remb
        },
    )
    .await
    .expect("a publisher losing a quarter of its video connects");
    // A stack that did not ask for REMB (a browser estimates its uplink from transport-wide
    // feedback) gets none.
    let twcc = Publisher::connect_with(&server.classroom_url(1), clip(), Default::default())
        .await
        .expect("a publisher with transport-wide feedback connects");
    assert!(clean.answer.contains("goog-remb"), "{}", clean.answer);
    tokio::time::sleep(Duration::from_secs(10)).await;

    let now = Instant::now();
    let window = Duration::from_secs(3);
    let rate = |p: &Publisher| sent_bps(&[p.video_sent(), p.audio_sent()], now, window);
    let (clean_sent, lossy_sent) = (rate(&clean), rate(&lossy));
    let last = |p: &Publisher| p.rembs().last().map(|r| r.1).unwrap_or_default();
    let (clean_remb, lossy_remb) = (last(&clean), last(&lossy));
    eprintln!(
        "clean: sends {:.0} kbit/s, told {} kbit/s ({} REMBs); 25 % lost: sends {:.0} kbit/s, \
         told {} kbit/s ({} REMBs)",
        clean_sent / 1e3,
        clean_remb / 1000,
        clean.rembs().len(),
        lossy_sent / 1e3,
        lossy_remb / 1000,
        lossy.rembs().len()
    );
    assert!(clean.rembs().len() >= 5, "about one a second");
    assert!(
        clean_remb as f64 >= 0.9 * clean_sent,
        "a clean link carries what it sends: told {clean_remb}, sends {clean_sent:.0}"
    );
    assert!(
        (lossy_remb as f64) < 0.5 * lossy_sent,
        "a link losing a quarter is told to send less: told {lossy_remb}, sends {lossy_sent:.0}"
    );
    let lossy_rembs: Vec<u64> = lossy.rembs().iter().map(|r| r.1).collect();
    assert!(
        lossy_rembs.windows(2).skip(2).all(|w| w[1] <= w[0]),
        "and less each second: {lossy_rembs:?}"
    );
    assert!(
        twcc.rembs().is_empty(),
        "no REMB for a stack that did not ask for it"
    );
    for p in [clean, lossy, twcc] {
        p.close().await;
    }
}
