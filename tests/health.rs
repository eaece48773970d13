//! Operators see each participant's link once a second, and Prometheus scrapes the server: a
//! real loopback lesson (webrtc-rs teacher and classrooms through the str0m server).

mod common;

use std::time::Duration;

use common::{test_clip, TestServer};
use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::Value;
use tongbu_load::{Publisher, Subscriber};

async fn health(server: &TestServer, auth: Option<&str>) -> (StatusCode, Value) {
    let sid = server.demo().session.id.0;
    let mut req = reqwest::Client::new().get(server.http(&format!("/api/sessions/{sid}/health")));
    if let Some(a) = auth {
        req = req.header("authorization", a);
    }
    let res = req.send().await.unwrap();
    (res.status(), res.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lesson_shows_every_participants_link_and_the_metrics_parse() {
    let server = TestServer::start().await;
    let publisher = Publisher::connect(&server.host_url(), &test_clip())
        .await
        .expect("teacher connects");
    let mut classrooms = Vec::new();
    for i in 0..2 {
        classrooms.push(Subscriber::connect(&server.classroom_url(i)).await.unwrap());
    }
    // A few of str0m's once-a-second reports.
    let auth = server.operator_auth();
    let mut body = Value::Null;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let (s, b) = health(&server, Some(&auth)).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        body = b;
        let ready = body["participants"].as_array().is_some_and(|ps| {
            ps.len() == 3
                && ps.iter().all(|p| {
                    // A classroom's RTT comes from its receiver reports; the teacher only sends.
                    p["health"] == "good"
                        && (p["role"] == "host" || p["rtt_ms"].is_number())
                        && (p["kbps_in"].as_f64().unwrap_or(0.0) > 20.0
                            || p["kbps_out"].as_f64().unwrap_or(0.0) > 20.0)
                })
        });
        if ready {
            break;
        }
    }
    let ps = body["participants"].as_array().expect("participants");
    assert_eq!(ps.len(), 3, "{body}");
    assert_eq!(body["health"], "good", "{body}");
    let teacher = ps.iter().find(|p| p["role"] == "host").expect("host");
    assert!(
        teacher["kbps_in"].as_f64().unwrap() > 20.0,
        "the teacher's upstream: {teacher}"
    );
    assert_eq!(teacher["connection"], "connected");
    for p in ps.iter().filter(|p| p["role"] == "classroom") {
        assert!(
            p["kbps_out"].as_f64().unwrap() > 20.0,
            "sent to the classroom: {p}"
        );
        assert!(p["rtt_ms"].as_f64().unwrap() < 100.0, "loopback RTT: {p}");
        // Measured, not assumed: a link with no loss figure is `unknown`, never `good`.
        let loss = p["loss_down_pct"]
            .as_f64()
            .expect("the classroom's loss is measured");
        assert!(loss < 1.0, "{p}");
    }

    // The live feed for the dashboard: a message per second with the same sample.
    let sid = server.demo().session.id.0;
    // With a one-use ticket (the operator token never goes in a URL).
    let ticket = common::json(
        reqwest::Client::new()
            .post(server.http("/api/live-ticket"))
            .header("authorization", &auth),
    )
    .await;
    let ticket = ticket["ticket"].as_str().unwrap().to_string();
    let live = format!(
        "ws://{}/api/sessions/{sid}/health/live?ticket={ticket}",
        server.server.http_addr
    );
    let (mut feed, _) = tokio_tungstenite::connect_async(live.as_str())
        .await
        .expect("the operator opens the live feed");
    for _ in 0..2 {
        let msg = tokio::time::timeout(Duration::from_secs(5), feed.next())
            .await
            .expect("a message every second")
            .expect("open")
            .expect("a frame");
        let sample: Value = serde_json::from_str(msg.to_text().unwrap()).unwrap();
        assert_eq!(sample["session"], sid);
        assert_eq!(
            sample["participants"].as_array().map(Vec::len),
            Some(3),
            "{sample}"
        );
    }
    // Without, with the ticket again, or with the token in the URL: refused.
    let secret = auth.trim_start_matches("Bearer ");
    for query in [
        String::new(),
        format!("?ticket={ticket}"),
        format!("?operator={secret}"),
    ] {
        let refused = tokio_tungstenite::connect_async(
            format!(
                "ws://{}/api/sessions/{sid}/health/live{query}",
                server.server.http_addr
            )
            .as_str(),
        )
        .await;
        match refused {
            Err(tokio_tungstenite::tungstenite::Error::Http(r)) => {
                assert_eq!(r.status(), StatusCode::UNAUTHORIZED.as_u16(), "{query}")
            }
            other => panic!("the live feed refuses {query:?}, got {other:?}"),
        }
    }

    // Health is for operators only: a classroom's join token or nothing is refused.
    let (s, _) = health(&server, None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let token = server.token(
        tongbu_schedule::Role::Host,
        Some(server.demo().host),
        "t",
        common::now() + 60,
    );
    let (s, _) = health(&server, Some(&format!("Bearer {token}"))).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);

    // Prometheus text format, parsed by a Prometheus parser, with the expected series.
    let anonymous = reqwest::get(server.http("/metrics")).await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let text = reqwest::Client::new()
        .get(server.http("/metrics"))
        .header("authorization", server.operator_auth())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string())))
        .expect("valid Prometheus text");
    let value = |name: &str, label: Option<(&str, &str)>| -> f64 {
        scrape
            .samples
            .iter()
            .find(|s| s.metric == name && label.is_none_or(|(k, v)| s.labels.get(k) == Some(v)))
            .map(|s| match s.value {
                prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Untyped(v) => v,
                prometheus_parse::Value::Histogram(ref h) => {
                    h.iter().map(|b| b.count).fold(0.0, f64::max)
                }
                _ => f64::NAN,
            })
            .unwrap_or_else(|| panic!("series {name} {label:?} missing:\n{text}"))
    };
    assert_eq!(value("tongbu_participants", Some(("role", "host"))), 1.0);
    assert_eq!(
        value("tongbu_participants", Some(("role", "classroom"))),
        2.0
    );
    assert_eq!(
        value("tongbu_participants_health", Some(("health", "good"))),
        3.0
    );
    assert_eq!(value("tongbu_sessions_live", None), 1.0);
    assert!(value("tongbu_media_rtp_forwarded_total", None) > 0.0);
    assert!(value("tongbu_media_datagrams_sent_total", None) > 0.0);
    assert!(
        value("tongbu_participant_rtt_seconds", None) > 0.0,
        "RTT observed"
    );
    assert!(value("tongbu_process_cpu_seconds_total", None) > 0.0);
    assert!(
        value("tongbu_media_forward_latency_seconds", None) > 0.0,
        "forwarding latency observed"
    );
    assert!(value("tongbu_process_resident_memory_bytes", None) > 1e6);
    // Three connections each hold a task (more: the edge, the sampler, the listeners).
    assert!(value("tongbu_runtime_tasks", None) >= 3.0);
    assert!(
        !text.contains("participant=\""),
        "no per-participant labels"
    );

    // Every series the Grafana dashboard queries exists.
    let dashboard: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/deploy/grafana/tongbu.json"
        ))
        .unwrap(),
    )
    .expect("the dashboard is JSON");
    let exprs: Vec<String> = dashboard["panels"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["targets"].as_array().cloned().unwrap_or_default())
        .filter_map(|t| t["expr"].as_str().map(String::from))
        .collect();
    assert!(exprs.len() >= 10);
    for expr in &exprs {
        for name in expr
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|w| w.starts_with("tongbu_"))
        {
            assert!(
                text.lines().any(|l| l.starts_with(name)),
                "the dashboard queries {name}, which /metrics does not serve"
            );
        }
    }

    for c in classrooms {
        c.close().await;
    }
    publisher.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_classroom_on_a_lossy_link_turns_weak_while_the_others_stay_good() {
    let server = TestServer::start().await;
    let publisher = Publisher::connect(&server.host_url(), &test_clip())
        .await
        .expect("teacher connects");
    let good = Subscriber::connect(&server.classroom_url(0)).await.unwrap();
    // One packet in five lost on the way to 扎赉特旗's classroom (20%).
    let mut lossy = Subscriber::connect_lossy(&server.classroom_url(1), 5)
        .await
        .unwrap();
    for (s, what) in [
        (&good, "the good classroom"),
        (&lossy, "the lossy classroom"),
    ] {
        s.wait_for_packets(false, 1, Duration::from_secs(5))
            .await
            .unwrap_or_else(|e| panic!("media reaches {what}: {e}"));
    }
    let losing_since = std::time::Instant::now();
    let auth = server.operator_auth();
    let mut seen = Value::Null;
    let mut weak_after = None;
    while losing_since.elapsed() < Duration::from_secs(10) {
        let (_, body) = health(&server, Some(&auth)).await;
        let by_name = |n: &str| {
            body["participants"]
                .as_array()
                .and_then(|ps| ps.iter().find(|p| p["name"] == n).cloned())
                .unwrap_or(Value::Null)
        };
        let (l, g) = (by_name("classroom 1"), by_name("classroom 0"));
        let losing = l["reasons"]
            .as_array()
            .is_some_and(|r| r.iter().any(|r| r == "loses media sent to it"));
        if l["health"] == "weak" && losing {
            assert_eq!(
                g["health"], "good",
                "the other classroom stays good: {body}"
            );
            weak_after = Some(losing_since.elapsed());
            seen = l;
            break;
        }
        seen = l;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let weak_after = weak_after.unwrap_or_else(|| panic!("never weak: {seen}"));
    eprintln!("lossy classroom shown weak {weak_after:?} after its loss began: {seen}");
    let loss = seen["loss_down_pct"].as_f64().expect("loss measured");
    assert!((10.0..=35.0).contains(&loss), "about 20% lost: {seen}");
    assert!(
        seen["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r == "loses media sent to it"),
        "{seen}"
    );
    // Receiver reports come once a second, str0m reports and the sampler run four times a second:
    // about 2 s on a quiet machine (printed above); the bound is generous, since the other test
    // binaries run beside this one.
    assert!(
        weak_after < Duration::from_secs(6),
        "shown weak within 6 s (took {weak_after:?})"
    );

    // The classroom itself is told (its page shows a banner), and so is the teacher.
    let told = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(m) = lossy.messages.recv().await {
            if let tongbu_signal::ServerMessage::LinkHealth {
                participant,
                health,
                reasons,
            } = m
            {
                if participant == lossy.participant && health == tongbu_signal::LinkQuality::Weak {
                    return reasons;
                }
            }
        }
        Vec::new()
    })
    .await
    .expect("the lossy classroom is told its link is weak");
    assert!(
        told.iter().any(|r| r == "loses media sent to it"),
        "{told:?}"
    );

    // Audio first: after two seconds of such loss its video pauses and its sound goes on.
    let paused = tokio::time::timeout(Duration::from_secs(8), async {
        while let Some(m) = lossy.messages.recv().await {
            if let tongbu_signal::ServerMessage::VideoPaused {
                participant,
                paused: true,
            } = m
            {
                return participant;
            }
        }
        0
    })
    .await
    .expect("the lossy classroom's video is paused to keep its audio");
    assert_eq!(paused, lossy.participant);
    // Packets already on their way may still land.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let counts = |s: &Subscriber| (s.packets(true).len(), s.packets(false).len());
    let (lossy_video, lossy_audio) = counts(&lossy);
    let (good_video, good_audio) = counts(&good);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (lossy_video2, lossy_audio2) = counts(&lossy);
    let (good_video2, good_audio2) = counts(&good);
    eprintln!(
        "2 s after the pause: lossy classroom +{} video +{} audio packets, good classroom +{} video +{} audio",
        lossy_video2 - lossy_video,
        lossy_audio2 - lossy_audio,
        good_video2 - good_video,
        good_audio2 - good_audio
    );
    assert_eq!(
        lossy_video2, lossy_video,
        "no video to the paused classroom"
    );
    assert!(
        lossy_audio2 >= lossy_audio + 50,
        "its audio goes on (50 packets a second, one in five lost)"
    );
    assert!(
        good_video2 >= good_video + 10,
        "the good classroom still gets video"
    );
    assert!(good_audio2 >= good_audio + 80, "and audio");
    let (_, body) = health(&server, Some(&auth)).await;
    let states: Vec<(String, String)> = body["participants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap_or("").to_string(),
                p["video"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert!(
        states.contains(&("classroom 1".into(), "paused".into())),
        "health shows the pause: {states:?}"
    );
    assert!(
        states.contains(&("classroom 0".into(), "flowing".into())),
        "{states:?}"
    );

    // The report: none while the lesson runs, the operator's only, then per classroom.
    let sid = server.demo().session.id.0;
    let client = reqwest::Client::new();
    let get = |path: String, auth: Option<String>| {
        let mut req = client.get(server.http(&path));
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        req.send()
    };
    let report_path = format!("/api/sessions/{sid}/report");
    let res = get(report_path.clone(), Some(auth.clone())).await.unwrap();
    assert_eq!(
        res.status(),
        StatusCode::NOT_FOUND,
        "no report before the end"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let res = client
        .post(server.http(&format!("/api/sessions/{sid}/end")))
        .header("authorization", &auth)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = get(report_path.clone(), None).await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let res = get(report_path.clone(), Some(auth.clone())).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let report: Value = res.json().await.unwrap();
    let row = |name: &str| {
        report["participants"]
            .as_array()
            .and_then(|ps| ps.iter().find(|p| p["name"] == name).cloned())
            .unwrap_or_else(|| panic!("{name} in the report: {report}"))
    };
    let (lossy_row, good_row) = (row("classroom 1"), row("classroom 0"));
    eprintln!("report rows: lossy {lossy_row}\ngood {good_row}");
    let mean = |r: &Value| r["loss_down_pct"]["mean"].as_f64().expect("loss measured");
    assert!(
        (8.0..=35.0).contains(&mean(&lossy_row)),
        "the lossy classroom's loss is in its report: {lossy_row}"
    );
    assert!(
        mean(&good_row) < 1.0,
        "the good classroom's is near zero: {good_row}"
    );
    for r in [&lossy_row, &good_row] {
        assert!(r["connected_secs"].as_f64().unwrap() > 2.0, "{r}");
        assert!(r["kbps_out_mean"].as_f64().unwrap() > 20.0, "{r}");
        assert!(r["rtt_ms"]["p95"].as_f64().unwrap() < 100.0, "{r}");
        assert_eq!(r["joins"], 1);
        assert!(!r["timeline"].as_array().unwrap().is_empty(), "{r}");
    }
    assert!(lossy_row["health_secs"]["weak"].as_f64().unwrap() > 1.0);
    assert_eq!(good_row["health_secs"]["weak"].as_f64(), Some(0.0));
    let teacher = report["participants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["role"] == "host")
        .expect("the teacher is in the report");
    assert!(
        teacher["kbps_in_mean"].as_f64().unwrap() > 20.0,
        "{teacher}"
    );

    // The same as CSV for the records, and in the list of past sessions.
    let res = get(format!("{report_path}.csv"), Some(auth.clone()))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let csv = res.text().await.unwrap();
    let mut rows = csv::Reader::from_reader(csv.trim_start_matches('\u{feff}').as_bytes());
    let headers = rows.headers().unwrap().clone();
    let col = |h: &str| headers.iter().position(|x| x == h).unwrap();
    let records: Vec<csv::StringRecord> = rows.records().map(Result::unwrap).collect();
    assert_eq!(records.len(), 3, "{csv}");
    let lossy_csv = records
        .iter()
        .find(|r| &r[col("name")] == "classroom 1")
        .unwrap();
    let csv_loss: f64 = lossy_csv[col("loss_down_mean_pct")].parse().unwrap();
    assert!((csv_loss - mean(&lossy_row)).abs() < 0.01, "{csv}");
    let res = get("/api/reports".into(), Some(auth.clone()))
        .await
        .unwrap();
    let recent: Value = res.json().await.unwrap();
    assert_eq!(recent[0]["session"], sid, "{recent}");
    assert_eq!(recent[0]["participants"], 3);
    assert!(recent[0]["troubled"].as_u64().unwrap() >= 1, "{recent}");
    good.close().await;
    lossy.close().await;
    publisher.close().await;
}

/// A classroom that sends transport-wide feedback, as browsers do, has the estimate of its
/// downlink in its health: at least what it is receiving (loopback carries far more).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_classrooms_downlink_estimate_is_in_its_health() {
    let server = TestServer::start().await;
    let publisher = Publisher::connect(&server.host_url(), &test_clip())
        .await
        .expect("teacher connects");
    let classroom = Subscriber::connect_repairing(&server.classroom_url(0), 0)
        .await
        .expect("classroom connects");
    let auth = server.operator_auth();
    let mut seen = None;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let (_, b) = health(&server, Some(&auth)).await;
        let p = b["participants"]
            .as_array()
            .and_then(|ps| ps.iter().find(|p| p["role"] == "classroom").cloned());
        if let Some(p) =
            p.filter(|p| p["bwe_down_kbps"].is_number() && p["kbps_out"].as_f64() > Some(20.0))
        {
            seen = Some(p);
            break;
        }
    }
    let p = seen.expect("an estimate within 10 s");
    let (bwe, out) = (
        p["bwe_down_kbps"].as_f64().unwrap(),
        p["kbps_out"].as_f64().unwrap(),
    );
    eprintln!("classroom receives {out:.0} kbit/s, its downlink is estimated at {bwe:.0} kbit/s");
    assert!(bwe >= out * 0.8, "{p}");
    classroom.close().await;
    publisher.close().await;
}
