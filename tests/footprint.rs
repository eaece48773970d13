//! What a participant's connection costs the server, measured on the real binary with 300
//! observers at a time. The WebSocket library's 128 KiB read buffer, taken at once, made each
//! cost ≈ 180 KiB; now a lesson's observer — signaling, its outbox, its place in the media
//! edge, and the `joined` message with the room's roster that its write buffer keeps — is a
//! third of that, and a lecture's listener, whose roster holds the teacher and not the crowd,
//! less again. And when the crowds have left, the memory goes back to the system.

mod common;

use std::time::Duration;

use tongbu_load::SignalClient;

/// The server process's resident memory, KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmRSS")
}

/// Joins `n` observers on `url`; returns the server's RSS growth per observer, KiB, and the
/// connections (to close).
async fn join_crowd(pid: u32, url: &str, n: usize) -> (f64, Vec<SignalClient>) {
    let before = rss_kib(pid);
    let mut crowd = Vec::new();
    for _ in 0..n {
        let mut c = SignalClient::connect(url).await.unwrap();
        c.join().await.unwrap();
        crowd.push(c);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let each = rss_kib(pid).saturating_sub(before) as f64 / n as f64;
    (each, crowd)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_joined_observer_costs_the_server_tens_of_kilobytes_not_hundreds() {
    const CROWD: usize = 300;
    let dir = std::env::temp_dir().join(format!("tongbu-footprint-{}", std::process::id()));
    let (mut child, base) = common::spawn_binary(&dir, &[("TONGBU_DEMO_ENABLED", "true")]);
    let pid = child.id();
    let lesson = common::demo_ws_url(&base, None, "observer").await;
    let lecture = common::demo_ws_url(&base, Some("lecture"), "observer").await;
    // Warm up: the first connections take the allocator's and the runtime's one-time costs.
    let (_, warm) = join_crowd(pid, &lesson, 20).await;
    let start = rss_kib(pid);
    // Each crowd stays while the next joins, so that none lives in memory another freed.
    // A lecture's listeners: the roster they are sent holds the teacher, not the crowd.
    let (in_lecture, listeners) = join_crowd(pid, &lecture, CROWD).await;
    let (in_lesson, observers) = join_crowd(pid, &lesson, CROWD).await;
    let joined = rss_kib(pid);
    drop((warm, listeners, observers));
    // What they used goes back to the system once the crowd is gone (the server trims its
    // allocator within a second of connections falling well below their peak).
    let grew = joined.saturating_sub(start);
    let mut left = rss_kib(pid);
    for _ in 0..50 {
        if left.saturating_sub(start) < grew / 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        left = rss_kib(pid);
    }
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
    eprintln!(
        "server RSS per joined observer: {in_lesson:.1} KiB in a lesson, {in_lecture:.1} KiB in a lecture's audience ({CROWD} each); {start} KiB before, {joined} KiB with both, {left} KiB after all left"
    );
    assert!(
        in_lesson < 80.0,
        "{in_lesson:.1} KiB per observer of a lesson"
    );
    assert!(
        in_lecture < 48.0,
        "{in_lecture:.1} KiB per listener of a lecture"
    );
    assert!(
        left.saturating_sub(start) < grew / 2,
        "{start} KiB before the crowds, {joined} KiB with them, still {left} KiB after they left"
    );
}
