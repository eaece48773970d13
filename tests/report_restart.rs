//! A lesson's quality report survives restarts of the server binary: the host and a classroom
//! publish (webrtc-rs) for 12 s, the server is stopped with SIGTERM and started again, they
//! rejoin for 12 s, the server is killed with SIGKILL and started again, they rejoin for a few
//! seconds, the lesson ends. The report covers all three parts: each classroom one row with its
//! rejoins, its time connected and its timeline from the first minute on (a kill -9 loses at
//! most the last `DRAFT_EVERY` of samples).

mod common;

use std::path::Path;
use std::time::Duration;

use common::test_clip;
use tongbu_load::Publisher;

/// The demo lesson's host and first classroom publishing on the server at `base`.
async fn publish(base: &str) -> (Publisher, Publisher) {
    let host = Publisher::connect(&common::demo_ws_url(base, None, "host").await, &test_clip())
        .await
        .expect("the host publishes");
    let classroom = Publisher::connect(
        &common::demo_ws_url(base, None, "classroom").await,
        &test_clip(),
    )
    .await
    .expect("a classroom publishes");
    (host, classroom)
}

fn operator(data: &Path) -> String {
    let token = std::fs::read_to_string(data.join("operator.token")).expect("the operator token");
    format!("Bearer {}", token.trim())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_covers_the_lesson_across_sigterm_and_kill_9() {
    let data = std::env::temp_dir().join(format!("tongbu-report-restart-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let demo = [("TONGBU_DEMO_ENABLED", "true")];

    let (mut server, base) = common::spawn_binary(&data, &demo);
    let (host, classroom) = publish(&base).await;
    tokio::time::sleep(Duration::from_secs(12)).await;
    // SIGTERM: the graceful stop writes the reports so far.
    let term = std::process::Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .expect("kill -TERM");
    assert!(term.success());
    let _ = server.wait();
    host.close().await;
    classroom.close().await;

    let (mut server, base) = common::spawn_binary(&data, &demo);
    let (host, classroom) = publish(&base).await;
    tokio::time::sleep(Duration::from_secs(12)).await;
    // SIGKILL: only what the last draft (every 10 s) holds survives.
    server.kill().expect("kill -9");
    let _ = server.wait();
    host.close().await;
    classroom.close().await;

    let (mut server, base) = common::spawn_binary(&data, &demo);
    let (host, classroom) = publish(&base).await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    let http = reqwest::Client::new();
    let demo_info = common::json(http.get(format!("{base}/api/demo"))).await;
    let sid = demo_info["session"]["id"]
        .as_i64()
        .expect("the demo lesson");
    let ended = http
        .post(format!("{base}/api/sessions/{sid}/end"))
        .header("authorization", operator(&data))
        .send()
        .await
        .expect("a response");
    assert_eq!(ended.status(), 200);
    let report = common::json(
        http.get(format!("{base}/api/sessions/{sid}/report"))
            .header("authorization", operator(&data)),
    )
    .await;
    host.close().await;
    classroom.close().await;
    let _ = server.kill();
    let _ = server.wait();

    let rows = report["participants"].as_array().expect("participants");
    for role in ["host", "classroom"] {
        let rows: Vec<&serde_json::Value> = rows.iter().filter(|p| p["role"] == role).collect();
        assert_eq!(
            rows.len(),
            1,
            "one {role} row across the restarts: {report}"
        );
        let p = rows[0];
        let connected = p["connected_secs"].as_f64().unwrap_or(0.0);
        let ts: Vec<u64> = p["timeline"]
            .as_array()
            .map(|t| t.iter().filter_map(|x| x["t"].as_u64()).collect())
            .unwrap_or_default();
        let (first, last) = (
            ts.iter().min().copied().unwrap_or(0),
            ts.iter().max().copied().unwrap_or(0),
        );
        eprintln!(
            "{role}: {connected:.1} s connected, joins {}, reconnects {}, timeline {first}–{last} s",
            p["joins"], p["reconnects"]
        );
        // 12 s + at least the 8 s of the second part in its draft + the last 4 s.
        assert!(connected > 20.0, "{role}: {connected} s connected");
        assert!(p["joins"].as_u64().unwrap_or(0) >= 3, "{role}: {p}");
        assert!(p["reconnects"].as_u64().unwrap_or(0) >= 2, "{role}: {p}");
        assert!(
            first < 5,
            "{role}'s timeline from the lesson's start: {ts:?}"
        );
        assert!(last >= 24, "{role}'s timeline to the last part: {ts:?}");
    }
    let _ = std::fs::remove_dir_all(&data);
}
