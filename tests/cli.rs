//! `tongbu token` mints a join link, signed with the server's key, that opens the session;
//! `tongbu schedule import` loads a term's timetable, all or nothing, with a dry run that names
//! each problem by row.

mod common;

use std::process::Command;

use common::TestServer;
use tongbu_load::SignalClient;
use tongbu_signal::ServerMessage;

fn tongbu(server: &TestServer, args: &[&str]) -> std::process::Output {
    run(server, "token", args)
}

fn run(server: &TestServer, command: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tongbu"))
        .env("TONGBU_DATA_DIR", &server.data_dir)
        .arg(command)
        .args(args)
        .output()
        .expect("run tongbu")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_minted_link_opens_its_session() {
    let server = TestServer::start().await;
    let sid = server.demo().session.id.0.to_string();
    let classroom = server.demo().classrooms[2].0.to_string();
    let base = format!("http://{}", server.server.http_addr);
    let out = tongbu(
        &server,
        &[
            "--session",
            &sid,
            "--role",
            "classroom",
            "--classroom",
            &classroom,
            "--name",
            "武川县第一中学 · 初二(5)班",
            "--base-url",
            &base,
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let url = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let token = url
        .strip_prefix(&format!("{base}/lesson.html?token="))
        .unwrap_or_else(|| panic!("a lesson link: {url}"));
    let mut c = SignalClient::connect(&server.ws_url(token)).await.unwrap();
    let ServerMessage::Joined { you, session, .. } = c.join().await.expect("the link opens it")
    else {
        unreachable!()
    };
    assert_eq!(session.id.to_string(), sid);
    assert_eq!(you.name, "武川县第一中学 · 初二(5)班");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_name_what_is_wrong() {
    let server = TestServer::start().await;
    let sid = server.demo().session.id.0.to_string();
    for (args, says) in [
        (
            vec!["--role", "host", "--name", "x"],
            "--session is required",
        ),
        (
            vec!["--session", &sid, "--role", "host", "--name", "x"],
            "needs --classroom",
        ),
        (
            vec!["--session", &sid, "--role", "teacher", "--name", "x"],
            "unknown role",
        ),
        (
            vec!["--session", "999", "--role", "observer", "--name", "x"],
            "does not exist",
        ),
    ] {
        let out = tongbu(&server, &args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{args:?}: {err}");
    }
}

const SCHOOLS: &str = r#"{
  "schools": [
    {"name": "北京市第八中学", "region": "beijing", "district": "西城区"},
    {"name": "科右中旗第一中学", "region": "inner_mongolia", "district": "科尔沁右翼中旗"}
  ],
  "classrooms": [
    {"school": "北京市第八中学", "name": "高一(2)班", "grade": 10},
    {"school": "科右中旗第一中学", "name": "高一(6)班", "grade": 10},
    {"school": "科右中旗第一中学", "name": "高一(7)班", "grade": 10}
  ],
  "pairs": [{"beijing": "北京市第八中学", "inner_mongolia": "科右中旗第一中学", "since": "2024-09-01"}]
}"#;

const TERM: &str = "kind,title,subject,grade,start,zone,duration_min,host,classrooms,people,repeat_until,except
lesson,函数的单调性,数学,10,2031-03-04 10:00,,45,北京市第八中学/高一(2)班,科右中旗第一中学/高一(6)班,,2031-06-24,2031-04-01;2031-05-06
lesson,集合,数学,10,2031-03-04 10:30,,45,北京市第八中学/高一(2)班,科右中旗第一中学/高一(7)班,,,
lesson,物理,物理,10,2031-03-05 14:00,,45,北京市第八中学/高一(9)班,科右中旗第一中学/高一(7)班,,,
research,同课异构,数学,10,2031-03-06 15:00,,400000,北京市第八中学/高一(2)班,,王老师;包老师,,
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_term_timetable_imports_all_or_nothing_after_a_dry_run() {
    let server = TestServer::start().await;
    let dir = &server.data_dir;
    let schools = dir.join("schools.json");
    std::fs::write(&schools, SCHOOLS).unwrap();
    let term = dir.join("term.csv");
    std::fs::write(&term, TERM).unwrap();
    let text = |o: &std::process::Output| String::from_utf8_lossy(&o.stdout).to_string();

    // The schools go in while the server runs (the same SQLite file).
    let out = run(&server, "schedule", &["import", schools.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}{}",
        text(&out),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text(&out).contains("added 2 schools, 3 classrooms, 1 pairs"),
        "{}",
        text(&out)
    );

    // Dry run of the term: each bad row named with its line and field; nothing stored.
    let out = run(
        &server,
        "schedule",
        &["import", term.to_str().unwrap(), "--dry-run"],
    );
    assert_eq!(out.status.code(), Some(1));
    let report = text(&out);
    for expected in [
        "sessions row 3: start: 北京市第八中学 · 高一(2)班 is already booked then",
        "sessions row 4: host: no classroom \"北京市第八中学/高一(9)班\"",
        "sessions row 5: duration_min",
        "dry run: fix the rows above; nothing stored.",
    ] {
        assert!(
            report.contains(expected),
            "missing {expected:?} in:\n{report}"
        );
    }
    let store = &server.server.state.store;
    let term_sessions = || {
        store
            .sessions(&tongbu_schedule::SessionQuery::between(
                1_930_000_000,
                1_950_000_000,
            ))
            .unwrap()
    };
    assert!(term_sessions().is_empty());

    // Without --dry-run a file with problems stores nothing either.
    let out = run(&server, "schedule", &["import", term.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(term_sessions().is_empty());

    // Fixed: 集合 moves to 11:00, 物理 to the right room, the research session to 90 minutes.
    let fixed = TERM
        .replace("2031-03-04 10:30", "2031-03-04 11:00")
        .replace("高一(9)班", "高一(2)班")
        .replace(",400000,", ",90,");
    std::fs::write(&term, fixed).unwrap();
    let out = run(
        &server,
        "schedule",
        &["import", term.to_str().unwrap(), "--json"],
    );
    assert!(out.status.success(), "{}", text(&out));
    let json: serde_json::Value = serde_json::from_str(&text(&out)).unwrap();
    // 17 Tuesdays from 4 March to 24 June, two excepted, plus three single sessions.
    assert_eq!(json["sessions_added"], 15 + 3, "{json}");
    assert_eq!(json["stored"], true);
    let stored = term_sessions();
    assert_eq!(stored.len(), 18);
    assert_eq!(stored[0].start_local(), "2031-03-04 10:00");
    assert_eq!(stored[0].state, tongbu_schedule::SessionState::Scheduled);

    // A file that cannot be read at all says why.
    std::fs::write(dir.join("bad.csv"), "kind,title\nlesson\n").unwrap();
    let out = run(
        &server,
        "schedule",
        &["import", dir.join("bad.csv").to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad.csv"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_timetable_in_docs_imports_cleanly() {
    let server = TestServer::start().await;
    let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/examples");
    for (file, expect) in [("schools.json", "pairs"), ("term.csv", "sessions")] {
        let path = format!("{examples}/{file}");
        let out = run(&server, "schedule", &["import", &path]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{file}: {text}");
        assert!(
            text.contains(expect) && text.ends_with("stored.\n"),
            "{file}: {text}"
        );
    }
    let term = server
        .server
        .state
        .store
        .sessions(&tongbu_schedule::SessionQuery::between(
            1_800_000_000,
            1_850_000_000,
        ))
        .unwrap();
    // Three weekly series of the spring term 2027, holidays excepted.
    assert_eq!(term.len(), 16 + 17 + 17, "{}", term.len());
}

/// `TONGBU_LOG_FORMAT=json` makes every log line one JSON object (for a log collector), never
/// with terminal colours; a format the server does not know stops the start, naming the key.
#[test]
fn logs_are_json_lines_when_asked() {
    use std::io::{BufRead, BufReader};
    let data_dir = std::env::temp_dir().join(format!("tongbu-logs-{}", std::process::id()));
    let start = |format: &str| {
        Command::new(env!("CARGO_BIN_EXE_tongbu"))
            .env("TONGBU_DATA_DIR", &data_dir)
            .env("TONGBU_HTTP_ADDR", "127.0.0.1:0")
            .env("TONGBU_MEDIA_UDP_PORT", "0")
            .env("RUST_LOG", "info")
            .env("TONGBU_LOG_FORMAT", format)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start tongbu")
    };
    let bad = start("yaml").wait_with_output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
    let said = String::from_utf8_lossy(&bad.stderr);
    assert!(said.contains("TONGBU_LOG_FORMAT"), "{said}");

    let mut child = start("json");
    let stdout = child.stdout.take().unwrap();
    let mut logs = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if line.starts_with("Tongbu is running.") {
            break;
        }
        logs.push(line);
    }
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&data_dir);
    assert!(!logs.is_empty(), "no log lines before the address");
    for line in &logs {
        assert!(!line.contains('\u{1b}'), "terminal colours in {line}");
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(
            v["level"].is_string() && v["timestamp"].is_string(),
            "{line}"
        );
    }
    assert!(
        logs.iter()
            .any(|l| l.contains("Tongbu is running: open http://")),
        "{logs:?}"
    );
}
