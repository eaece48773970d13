//! The schedule survives `kill -9` mid-write: the real server binary is killed while several
//! clients create weekly series (each one multi-row transaction); after a restart every
//! acknowledged series is there whole, and no series is there in part.

mod common;

use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use tongbu_schedule::{SessionQuery, SqliteStore, Store};

const OPERATOR: &str = "durability-test-operator-token";
/// Occurrences in each series the writers create.
const WEEKS: usize = 8;

struct Running {
    child: Child,
    base: String,
}

/// Starts the server binary on ephemeral ports and waits for its "running" line.
fn start(data_dir: &Path) -> Running {
    let (child, base) = common::spawn_binary(
        data_dir,
        &[
            ("TONGBU_DEMO_ENABLED", "false"),
            ("TONGBU_OPERATOR_TOKEN", OPERATOR),
        ],
    );
    Running { child, base }
}

async fn post(client: &reqwest::Client, url: String, body: Value) -> Option<Value> {
    let res = client
        .post(url)
        .bearer_auth(OPERATOR)
        .json(&body)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .ok()?;
    if res.status() != reqwest::StatusCode::CREATED {
        return None;
    }
    res.json().await.ok()
}

/// The catalog the writers book into: one school with a host and a remote classroom per writer.
async fn catalog(client: &reqwest::Client, base: &str, writers: usize) -> Vec<(i64, i64)> {
    let bj = post(
        client,
        format!("{base}/api/schools"),
        json!({"name": "北京市第二中学", "region": "beijing", "district": "东城区"}),
    )
    .await
    .expect("school");
    let mut rooms = Vec::new();
    for w in 0..writers {
        let mut pair = [0i64; 2];
        for (i, kind) in ["主讲", "远端"].iter().enumerate() {
            let c = post(
                client,
                format!("{base}/api/classrooms"),
                json!({"school": bj["id"], "name": format!("{kind}{w}")}),
            )
            .await
            .expect("classroom");
            pair[i] = c["id"].as_i64().expect("id");
        }
        rooms.push((pair[0], pair[1]));
    }
    rooms
}

/// What the clients were told was stored: (series id, session ids).
type Acked = Arc<Mutex<Vec<(i64, Vec<i64>)>>>;

/// Writers create weekly series back to back until the server dies under them.
fn spawn_writers(
    base: &str,
    rooms: &[(i64, i64)],
    round: usize,
    acked: &Acked,
) -> Vec<tokio::task::JoinHandle<()>> {
    rooms
        .iter()
        .enumerate()
        .map(|(w, &(host, remote))| {
            let (base, acked) = (base.to_string(), acked.clone());
            tokio::spawn(async move {
                let client = reqwest::Client::new();
                for n in 0.. {
                    // Each series in its own hour, so that nothing clashes.
                    let hour = round * 10_000 + n;
                    let start = 1_900_000_000 + hour as i64 * 3600;
                    let body = json!({
                        "kind": "lesson", "title": format!("w{w} r{round} n{n}"),
                        "start": tongbu_schedule::time::rfc3339_utc(start),
                        "duration_min": 45, "host": host, "classrooms": [remote],
                        "repeat": {"until": tongbu_schedule::time::local_datetime(
                            start + (WEEKS as i64 - 1) * 7 * 86_400, "Asia/Shanghai")[..10]},
                    });
                    let Some(created) = post(&client, format!("{base}/api/sessions"), body).await
                    else {
                        return; // the server is gone
                    };
                    let list = created.as_array().cloned().unwrap_or_default();
                    let series = list[0]["series"].as_i64().expect("series id");
                    let ids = list.iter().filter_map(|s| s["id"].as_i64()).collect();
                    acked.lock().unwrap().push((series, ids));
                }
            })
        })
        .collect()
}

fn data_dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("tongbu-durability-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_committed_is_lost_and_nothing_half_written_appears_after_kill_9() {
    let dir = data_dir();
    let writers = 4;
    let client = reqwest::Client::new();
    let acked: Acked = Arc::default();
    let mut rooms = Vec::new();
    for round in 0..3 {
        let mut server = start(&dir);
        if round == 0 {
            rooms = catalog(&client, &server.base, writers).await;
        }
        let before = acked.lock().unwrap().len();
        let tasks = spawn_writers(&server.base, &rooms, round, &acked);
        // Let a good number of transactions commit, then kill -9 in the middle of others.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while acked.lock().unwrap().len() < before + 12 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        server.child.kill().expect("SIGKILL the server");
        let _ = server.child.wait();
        for t in tasks {
            let _ = t.await;
        }
        assert!(
            acked.lock().unwrap().len() >= before + 12,
            "round {round}: the writers got too few acknowledgements"
        );

        // Read the file the dead server left, as the next start will.
        let store = SqliteStore::open(&dir.join("tongbu.sqlite")).expect("reopen after kill -9");
        let all = store
            .sessions(&SessionQuery::between(0, i64::MAX))
            .expect("list");
        for (series, ids) in acked.lock().unwrap().iter() {
            assert_eq!(ids.len(), WEEKS);
            for id in ids {
                let s = store
                    .session(tongbu_schedule::SessionId(*id))
                    .unwrap_or_else(|e| panic!("acknowledged session {id} lost: {e}"));
                assert_eq!(s.series.map(|x| x.0), Some(*series));
                assert_eq!(
                    s.spec.classrooms.len(),
                    1,
                    "session {id} lost its classroom"
                );
            }
        }
        // No series in part: every stored series has all its weeks, every session its room.
        let mut by_series = std::collections::HashMap::<i64, usize>::new();
        for s in &all {
            *by_series
                .entry(s.series.expect("all are series").0)
                .or_default() += 1;
            assert_eq!(
                s.spec.classrooms.len(),
                1,
                "session {} is half-written",
                s.id.0
            );
        }
        assert!(
            by_series.values().all(|&n| n == WEEKS),
            "a series was stored in part: {by_series:?}"
        );
        let acknowledged = acked.lock().unwrap().len();
        assert!(all.len() >= acknowledged * WEEKS);
        let acknowledged = acked.lock().unwrap().len();
        eprintln!(
            "round {round}: {acknowledged} series acknowledged so far, {} stored \
             (committed but unacknowledged when killed: {})",
            by_series.len(),
            by_series.len() - acknowledged
        );
    }
    // And the restarted server serves what survived.
    let mut server = start(&dir);
    let (host, _) = rooms[0];
    let res = client
        .get(format!("{}/api/classrooms/{host}", server.base))
        .bearer_auth(OPERATOR)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), reqwest::StatusCode::OK);
    server.child.kill().unwrap();
    let _ = server.child.wait();
    let _ = std::fs::remove_dir_all(&dir);
}
