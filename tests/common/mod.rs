//! Shared set-up of the end-to-end tests: a real server on loopback (ephemeral ports, its own
//! SQLite file in a temporary directory) and join links for the demo lesson.

#![allow(dead_code)]

pub mod delivery;

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use tongbu_schedule::{ClassroomId, JoinClaims, Role};
use tongbu_server::{Config, Server};

pub struct TestServer {
    pub server: Server,
    pub data_dir: PathBuf,
}

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The server binary, started on ephemeral ports with `data_dir` and `env`; returns the process
/// and its base URL (`http://127.0.0.1:PORT`) once it prints its "running" line.
pub fn spawn_binary(
    data_dir: &std::path::Path,
    env: &[(&str, &str)],
) -> (std::process::Child, String) {
    use std::io::{BufRead, BufReader};
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_tongbu"));
    command
        .env("TONGBU_DATA_DIR", data_dir)
        .env("TONGBU_HTTP_ADDR", "127.0.0.1:0")
        .env("TONGBU_MEDIA_UDP_PORT", "0")
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = command.spawn().expect("start tongbu");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let base = loop {
        let line = lines
            .next()
            .expect("the server prints its address")
            .expect("read stdout");
        if let Some(rest) = line.split("Open http://").nth(1) {
            break format!("http://{}", rest.split('/').next().unwrap_or_default());
        }
    };
    // Keep reading, so that the server never writes into a closed pipe.
    std::thread::spawn(move || lines.for_each(drop));
    (child, base)
}

/// The WebSocket URL of the demo's join link for `role` on the server binary at `base`
/// (`http://…`): in the demo lesson, or in `part` of the demo (`research`, `lecture`).
pub async fn demo_ws_url(base: &str, part: Option<&str>, role: &str) -> String {
    let demo: serde_json::Value = reqwest::get(format!("{base}/api/demo"))
        .await
        .expect("the demo API")
        .json()
        .await
        .expect("its JSON");
    let links = part.map_or(&demo["links"], |p| &demo[p]["links"]);
    let link = links
        .as_array()
        .expect("links")
        .iter()
        .find(|l| l["role"] == role)
        .unwrap_or_else(|| panic!("a {role} link in {part:?}"))["url"]
        .as_str()
        .expect("a URL")
        .to_string();
    let token = link.split("token=").nth(1).expect("a token in the link");
    format!("{}/ws?token={token}", base.replacen("http://", "ws://", 1))
}

/// Writes a self-signed server certificate for 127.0.0.1 (openssl; EC P-256, not an authority)
/// to `cert` and its key to `key`, through a rename as a renewal tool does.
pub fn self_signed_certificate(cert: &std::path::Path, key: &std::path::Path) {
    let tmp = |p: &std::path::Path| p.with_extension("new");
    let made = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "1", "-subj", "/CN=tongbu test"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1"])
        // A server certificate, not an authority (webpki refuses a CA as the end entity).
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(tmp(key))
        .arg("-out")
        .arg(tmp(cert))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl (the test command installs it)");
    assert!(made.success(), "openssl makes a certificate");
    std::fs::rename(tmp(key), key).unwrap();
    std::fs::rename(tmp(cert), cert).unwrap();
}

/// Sends a request and reads its JSON body.
pub async fn json(req: reqwest::RequestBuilder) -> serde_json::Value {
    req.send()
        .await
        .expect("request")
        .json()
        .await
        .expect("a JSON body")
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// Starts with a configuration adjusted by `tweak`.
    pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> Self {
        let data_dir = std::env::temp_dir().join(format!(
            "tongbu-test-{}-{}",
            std::process::id(),
            rand_suffix()
        ));
        let mut config = Config {
            http_addr: "127.0.0.1:0".parse().unwrap(),
            media_udp_port: 0,
            data_dir: data_dir.clone(),
            ..Config::default()
        };
        tweak(&mut config);
        let server = Server::start(config).await.expect("server starts");
        Self { server, data_dir }
    }

    pub fn demo(&self) -> &tongbu_schedule::demo::DemoLesson {
        self.server.state.demo.as_ref().expect("demo lesson")
    }

    /// A token for the demo lesson.
    pub fn token(
        &self,
        role: Role,
        classroom: Option<ClassroomId>,
        name: &str,
        exp: i64,
    ) -> String {
        self.server.state.tokens.issue(&JoinClaims {
            sid: self.demo().session.id,
            role,
            classroom,
            name: name.into(),
            exp,
            shared: false,
        })
    }

    /// The join URL of the demo lecture for `role` (a shared link if `shared`: the audience's),
    /// valid for an hour.
    pub fn lecture_url(
        &self,
        role: Role,
        classroom: Option<ClassroomId>,
        name: &str,
        shared: bool,
    ) -> String {
        self.ws_url(&self.server.state.tokens.issue(&JoinClaims {
            sid: self.demo().lecture.id,
            role,
            classroom,
            name: name.into(),
            exp: now() + 3600,
            shared,
        }))
    }

    pub fn ws_url(&self, token: &str) -> String {
        format!("ws://{}/ws?token={}", self.server.http_addr, token)
    }

    /// The host classroom's join URL.
    pub fn host_url(&self) -> String {
        let host = self.demo().host;
        self.ws_url(&self.token(
            Role::Host,
            Some(host),
            "北京一零一中学怀柔校区",
            now() + 3600,
        ))
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn http(&self, path: &str) -> String {
        format!("http://{}{path}", self.server.http_addr)
    }

    /// The operator credential as an `Authorization` header value.
    pub fn operator_auth(&self) -> String {
        format!("Bearer {}", self.server.state.operator.secret())
    }

    /// The join URL of remote classroom `i` (0-based; the demo has three).
    pub fn classroom_url(&self, i: usize) -> String {
        let c = self.demo().classrooms[i % self.demo().classrooms.len()];
        self.ws_url(&self.token(
            Role::Classroom,
            Some(c),
            &format!("classroom {i}"),
            now() + 3600,
        ))
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

fn rand_suffix() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(now() as u64);
    h.finish()
}

/// What a decoder made of an H.264 stream.
#[allow(dead_code)] // not every test binary decodes
pub struct Decoded {
    pub width: u32,
    pub height: u32,
    pub frames: usize,
    /// What the decoder complained of (empty: nothing).
    pub complaints: String,
}

/// Decodes an H.264 Annex B stream with ffprobe (Debian's ffmpeg; scripts/test.sh installs it),
/// counting every frame.
#[allow(dead_code)]
pub fn decode_h264(annex_b: &[u8]) -> Decoded {
    let file = std::env::temp_dir().join(format!("tongbu-h264-{}.h264", rand_suffix()));
    std::fs::write(&file, annex_b).expect("a temporary file");
    let probe = std::process::Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-select_streams", "v:0"])
        .args(["-show_entries", "stream=width,height,nb_read_frames"])
        .args(["-of", "csv=p=0"])
        .arg(&file)
        .output()
        .expect("ffprobe (Debian ffmpeg; scripts/test.sh installs it)");
    let _ = std::fs::remove_file(&file);
    let out = String::from_utf8_lossy(&probe.stdout).trim().to_string();
    let fields: Vec<&str> = out.split(',').collect();
    let field = |i: usize| fields.get(i).and_then(|f| f.parse().ok());
    Decoded {
        width: field(0).unwrap_or(0),
        height: field(1).unwrap_or(0),
        frames: field(2).unwrap_or(0) as usize,
        complaints: String::from_utf8_lossy(&probe.stderr).to_string(),
    }
}

/// The real libx264 clip (constrained baseline, 320×240, 15 fps, 8 s) an encoder publishes.
#[allow(dead_code)]
pub fn h264_clip() -> Vec<u8> {
    std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/media/testsrc-320x240-15fps-baseline.h264"
    ))
    .expect("tests/media/testsrc-320x240-15fps-baseline.h264")
}

/// The real VP8 clip the synthetic publisher sends.
pub fn test_clip() -> Vec<u8> {
    std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/media/testsrc-320x240-15fps.ivf"
    ))
    .expect("tests/media/testsrc-320x240-15fps.ivf")
}
