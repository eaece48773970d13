//! `tongbu token` mints a join link, signed with the server's key, that opens the session.

mod common;

use std::process::Command;

use common::TestServer;
use tongbu_load::SignalClient;
use tongbu_signal::ServerMessage;

fn tongbu(server: &TestServer, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tongbu"))
        .env("TONGBU_DATA_DIR", &server.data_dir)
        .arg("token")
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
