//! The files in deploy/ do what they say: the systemd unit passes `systemd-analyze verify`, and
//! nginx takes the reverse-proxy configuration (TLS listener included, with a certificate made
//! here) and, run in front of a real server, carries its pages, its API and its signaling
//! WebSocket, upgrade and all.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::TestServer;
use tongbu_load::SignalClient;
use tongbu_signal::ServerMessage;

fn installed(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn temp_dir(what: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("tongbu-{what}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn the_systemd_unit_verifies() {
    if !installed("systemd-analyze") {
        eprintln!("skipped: no systemd-analyze on this machine");
        return;
    }
    let unit = std::fs::read_to_string("deploy/systemd/tongbu.service").unwrap();
    assert!(
        unit.contains("LimitNOFILE="),
        "the unit raises the open-files limit"
    );
    // The unit names the installed binary; verify checks that it exists.
    let unit = unit.replace("/usr/local/bin/tongbu", env!("CARGO_BIN_EXE_tongbu"));
    let dir = temp_dir("unit");
    let path = dir.join("tongbu.service");
    std::fs::write(&path, unit).unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr).into_owned();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(out.status.success(), "{said}");
    assert!(said.trim().is_empty(), "systemd-analyze warns: {said}");
}

/// A free TCP port on loopback.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// deploy/nginx/tongbu.conf for a test: upstream the test server, the TLS listener on a
/// loopback port with a certificate made in `dir`, and beside it a plain listener on `plain` to
/// talk to (the test's HTTP client has no TLS).
fn test_config(
    dir: &Path,
    upstream: std::net::SocketAddr,
    tls: u16,
    plain: u16,
    redirect: u16,
) -> String {
    let conf = std::fs::read_to_string("deploy/nginx/tongbu.conf").unwrap();
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    common::self_signed_certificate(&cert, &key);
    let site = conf
        .replace("server 127.0.0.1:8080;", &format!("server {upstream};"))
        .replace("/etc/ssl/tongbu/fullchain.pem", &cert.display().to_string())
        .replace("/etc/ssl/tongbu/privkey.pem", &key.display().to_string())
        .replace("    listen [::]:80;\n", "")
        .replace("    listen [::]:443 ssl http2;\n", "")
        .replace("listen 80;", &format!("listen 127.0.0.1:{redirect};"))
        .replace(
            "listen 443 ssl http2;",
            &format!("listen 127.0.0.1:{tls} ssl http2;\n    listen 127.0.0.1:{plain};"),
        );
    assert!(site.contains(&format!("127.0.0.1:{plain}")), "{site}");
    let d = dir.display();
    format!(
        "user root;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\nevents {{}}\nhttp {{\n\
         access_log off;\nclient_body_temp_path {d}/body;\nproxy_temp_path {d}/proxy;\n\
         fastcgi_temp_path {d}/fastcgi;\nuwsgi_temp_path {d}/uwsgi;\nscgi_temp_path {d}/scgi;\n\
         {site}\n}}\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_carries_the_pages_the_api_and_the_signaling_websocket() {
    if !installed("nginx") || !installed("openssl") {
        eprintln!("skipped: nginx or openssl missing (the test command installs them)");
        return;
    }
    let server = TestServer::start().await;
    let dir = temp_dir("nginx");
    let (tls, plain, redirect) = (free_port(), free_port(), free_port());
    let conf = dir.join("nginx.conf");
    std::fs::write(
        &conf,
        test_config(&dir, server.server.http_addr, tls, plain, redirect),
    )
    .unwrap();
    let nginx = |extra: &[&str]| {
        let mut c = Command::new("nginx");
        c.arg("-p").arg(&dir).arg("-c").arg(&conf).args(extra);
        c
    };
    let checked = nginx(&["-t"]).output().unwrap();
    assert!(
        checked.status.success(),
        "nginx -t: {}",
        String::from_utf8_lossy(&checked.stderr)
    );
    /// Stops nginx and clears its directory however the test ends.
    struct Running(std::process::Child, std::path::PathBuf);
    impl Drop for Running {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
            let _ = std::fs::remove_dir_all(&self.1);
        }
    }
    let _nginx = Running(
        nginx(&["-g", "daemon off;"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
        dir.clone(),
    );
    let base = format!("http://127.0.0.1:{plain}");
    {
        // nginx takes a moment to listen.
        let mut demo = None;
        for _ in 0..50 {
            if let Ok(r) = reqwest::get(format!("{base}/api/demo")).await {
                demo = Some(r);
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let res = demo.expect("nginx answers");
        assert_eq!(res.status(), 200);
        assert!(res.headers().contains_key("strict-transport-security"));
        let page = reqwest::get(format!("{base}/lesson.html")).await.unwrap();
        assert_eq!(page.status(), 200);
        assert!(page.text().await.unwrap().contains("<video"));
        // Plain HTTP on the public port is sent to HTTPS.
        let to_https = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
            .get(format!("http://127.0.0.1:{redirect}/lesson.html"))
            .send()
            .await
            .unwrap();
        assert_eq!(to_https.status(), 301);
        assert!(to_https.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("https://"));
        // The signaling WebSocket through the proxy.
        let url = server.classroom_url(0).replace(
            &format!("ws://{}", server.server.http_addr),
            &format!("ws://127.0.0.1:{plain}"),
        );
        let mut c = SignalClient::connect(&url)
            .await
            .expect("upgraded through nginx");
        let joined = c.join().await.expect("joined through nginx");
        assert!(matches!(joined, ServerMessage::Joined { .. }));
    }
}
