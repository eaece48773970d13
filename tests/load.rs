//! The load tool against a real server over real WebRTC on loopback: sans-I/O webrtc-rs clients
//! (one thread for all) publish a 1.2 Mbit/s VP8 clip and opus through the str0m server. CI only
//! checks that a short run delivers everything; the figures themselves are in BENCHMARKS.md.

mod common;

use std::time::Duration;

use common::{now, TestServer};
use tongbu_load::workload::{self, LoadConfig, LoadReport, Workload};
use tongbu_schedule::Role;

fn clip() -> Vec<u8> {
    std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/media/classroom-1280x720-30fps-1200k.ivf"
    ))
    .expect("the 720p clip")
}

/// What every clean run must show: every stream flowed, nothing lost, every packet matched to
/// its send stamp, a latency for it, no signaling error.
fn assert_clean(r: &LoadReport) {
    assert!(
        r.all_flowing(),
        "streams flowing: {} of {}",
        r.streams_flowing,
        r.streams_expected
    );
    assert_eq!(r.swarm.receivers_without_media, 0);
    assert!(r.stalled.is_empty(), "{:?}", r.stalled);
    assert!(r
        .server_sys_s_per_s
        .is_some_and(|s| s >= 0.0 && Some(s) <= r.server_cpu_s_per_s));
    assert!(r.swarm.packets_received > 0);
    assert_eq!(
        r.swarm.packets_received,
        r.swarm.packets_expected,
        "loss on loopback: {:.3} %",
        r.loss_pct()
    );
    assert_eq!(r.swarm.unmatched, 0, "every payload arrives as it was sent");
    assert_eq!(r.signaling_errors, 0);
    assert_eq!(
        r.video_paused, 0,
        "the server paused video on loopback: the receivers' feedback called their link weak"
    );
    assert_eq!(r.swarm.send_failures, 0);
    let [p50, p95, p99, max] = r.latency_us.expect("latency samples");
    assert!(p50 <= p95 && p95 <= p99 && p99 <= max);
    assert!(r.server_cpu_s_per_s.is_some_and(|c| c > 0.0));
    assert!(r.server_rss_mib.is_some_and(|m| m > 1.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn w1_lecture_five_subscribers_lose_nothing() {
    let t = TestServer::start().await;
    let observers = t.ws_url(&t.token(Role::Observer, None, "听课教师", now() + 3600));
    let r = workload::run(LoadConfig {
        workload: Workload::Lecture {
            publisher_url: t.host_url(),
            subscriber_url: observers,
            n: 5,
        },
        seconds: 5.0,
        clip: clip(),
        // In this test the server runs in the test's own process.
        server_pid: Some(std::process::id()),
        settle: Duration::from_secs(30),
        decrypt_all: false,
    })
    .await
    .expect("the lecture runs");
    println!("{}", r.to_json());
    assert_clean(&r);
    assert_eq!((r.n, r.swarm.receivers, r.swarm.streams), (5, 5, 10));
    // 5 s of a 1.2 Mbit/s 30 fps clip in ≤ 1200-byte packets, and 250 opus packets.
    assert!(r.swarm.packets_sent > 700, "sent {}", r.swarm.packets_sent);
    // Each subscriber got about what was sent (the count starts after every stream flows).
    let per_sub = r.swarm.packets_received / 5;
    assert!(
        per_sub * 10 >= r.swarm.packets_sent * 9,
        "{per_sub} of {}",
        r.swarm.packets_sent
    );
    assert!((1100.0..1300.0).contains(&r.clip_kbps));
    // Each stream's first packets were decrypted and taught its offsets during the settle; what
    // was counted after that was matched by clear header to a packet sent, size and timestamp
    // included, and no header ever disagreed with the record.
    assert!(
        r.swarm.header_counted * 10 >= r.swarm.packets_received * 9,
        "{} of {} by header",
        r.swarm.header_counted,
        r.swarm.packets_received
    );
    assert_eq!(r.swarm.relearned, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn w2_meeting_of_four_everyone_receives_everyone() {
    let t = TestServer::start().await;
    // Four links: a classroom's link is one seat, so each participant has its own.
    let classrooms = t.demo().classrooms.clone();
    let urls = (0..4)
        .map(|i| {
            let c = classrooms[i % classrooms.len()];
            t.ws_url(&t.token(
                Role::Classroom,
                Some(c),
                &format!("meeting {i}"),
                now() + 3600,
            ))
        })
        .collect();
    let r = workload::run(LoadConfig {
        workload: Workload::Meeting { urls, n: 4 },
        seconds: 3.0,
        clip: clip(),
        server_pid: Some(std::process::id()),
        settle: Duration::from_secs(30),
        // Here every packet is decrypted and authenticated by webrtc-rs.
        decrypt_all: true,
    })
    .await
    .expect("the meeting runs");
    println!("{}", r.to_json());
    assert_clean(&r);
    assert_eq!(r.swarm.header_counted, 0);
    assert!(r.swarm.decrypted >= r.swarm.packets_received);
    // Four receivers, each with video and audio of the three others.
    assert_eq!((r.swarm.receivers, r.swarm.streams), (4, 24));
}
