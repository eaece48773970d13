//! What a participant's connection costs the server, measured on the real binary: 300
//! observers joined. The WebSocket library's 128 KiB read buffer, taken at once, made each cost
//! ≈ 180 KiB; now the whole of it — signaling, its outbox, its place in the media edge, and the
//! `joined` message with the room's roster that its write buffer keeps — is a third of that.

mod common;

use std::time::Duration;

use serde_json::Value;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_joined_observer_costs_the_server_tens_of_kilobytes_not_hundreds() {
    const CROWD: usize = 300;
    let dir = std::env::temp_dir().join(format!("tongbu-footprint-{}", std::process::id()));
    let (mut child, base) = common::spawn_binary(&dir, &[("TONGBU_DEMO_ENABLED", "true")]);
    let pid = child.id();
    let demo: Value = reqwest::get(format!("{base}/api/demo"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let link = demo["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["role"] == "observer")
        .expect("an observer link")["url"]
        .as_str()
        .unwrap()
        .to_string();
    let token = link.split("token=").nth(1).unwrap();
    let url = format!("{}/ws?token={token}", base.replacen("http", "ws", 1));
    // Warm up: the first connections take the allocator's and the runtime's one-time costs.
    let mut warm = Vec::new();
    for _ in 0..20 {
        let mut c = SignalClient::connect(&url).await.unwrap();
        c.join().await.unwrap();
        warm.push(c);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = rss_kib(pid);
    let mut crowd = Vec::new();
    for _ in 0..CROWD {
        let mut c = SignalClient::connect(&url).await.unwrap();
        c.join().await.unwrap();
        crowd.push(c);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let joined = rss_kib(pid);
    for c in &crowd {
        c.close();
    }
    drop(crowd);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let left = rss_kib(pid);
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
    let each = (joined.saturating_sub(before)) as f64 / CROWD as f64;
    eprintln!(
        "RSS {before} KiB → {joined} KiB with {CROWD} more observers ({each:.1} KiB each) → {left} KiB after they left"
    );
    assert!(each < 80.0, "{each:.1} KiB per joined observer");
}
