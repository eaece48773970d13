//! Configuration: `tongbu.toml` (path by `--config`), every key overridable by an environment
//! variable `TONGBU_<SECTION>_<KEY>`. A bad value stops the start with the key's name and what
//! was expected.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use serde::Deserialize;

use crate::health::HealthThresholds;
use crate::turn::Turn;

/// Why the configuration was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("config file {path} is not valid TOML: {reason}")]
    Parse { path: String, reason: String },
    #[error("invalid value {value:?} for {key}: expected {expected}")]
    Invalid {
        key: &'static str,
        value: String,
        expected: &'static str,
    },
}

/// The server's configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// HTTP listen address (REST, WebSocket, web client). `TONGBU_HTTP_ADDR`.
    pub http_addr: SocketAddr,
    /// The one UDP port for all media. `TONGBU_MEDIA_UDP_PORT`; 0 picks a free port.
    pub media_udp_port: u16,
    /// Address the media socket binds to. `TONGBU_MEDIA_BIND_IP`; default: the HTTP address's IP.
    pub media_bind_ip: IpAddr,
    /// Address put in ICE candidates. `TONGBU_PUBLIC_IP` (or `TONGBU_MEDIA_PUBLIC_IP`);
    /// default: the media bind address.
    pub public_ip: IpAddr,
    /// Media workers, each a thread pinned to a core with its own socket on the media port.
    /// `TONGBU_MEDIA_WORKERS`; 0 (the default): one per core the process may run on.
    pub media_workers: usize,
    /// Join a subscriber's packets of a frame into one UDP GSO message. `TONGBU_MEDIA_GSO`
    /// (`true`, the default, or `false` for devices and hypervisors that mishandle GSO).
    pub media_gso: bool,
    /// SQLite file and keys. `TONGBU_DATA_DIR`.
    pub data_dir: PathBuf,
    /// Free space (MB) a recording needs on the disk of `<data>/recordings`: none starts with
    /// less, and a running one stops, telling the room, once there is less. The lesson goes on.
    /// `TONGBU_RECORDING_MIN_FREE_MB` (default 1024).
    pub recording_min_free_mb: u64,
    /// Whether a session whose schedule says nothing about recording is recorded from the
    /// moment it goes live.
    pub recording_default: bool,
    /// The web client's files from this directory instead of those built into the binary (for
    /// working on the web client without rebuilding). `TONGBU_HTTP_WEB_DIR`.
    pub web_dir: Option<PathBuf>,
    /// Open HTTP and WebSocket connections the server holds at once. `TONGBU_HTTP_MAX_CONNECTIONS`;
    /// 0 (the default): three quarters of the open-files limit, which the server raises to its
    /// hard limit at start.
    pub http_max_connections: usize,
    /// Open connections from one source address (loopback exempt: a reverse proxy on the same
    /// machine carries everyone). `TONGBU_HTTP_MAX_CONNECTIONS_PER_SOURCE`.
    pub http_max_per_source: usize,
    /// HTTPS and WSS on the HTTP address, with these PEM files (reloaded when they change).
    /// `TONGBU_HTTP_TLS_CERT` and `TONGBU_HTTP_TLS_KEY`, both or neither.
    pub tls: Option<crate::tls::TlsFiles>,
    /// Seed a sample lesson and serve join links (host links included) on the landing page.
    /// `TONGBU_DEMO_ENABLED`; default: on only when HTTP listens on a loopback address, so a
    /// server reachable from the network never hands out host links unless told to.
    pub demo: bool,
    /// Joins open this long before a session starts. `TONGBU_SCHEDULE_JOIN_LEAD_MIN` (minutes).
    pub join_lead_secs: i64,
    /// A session not ended by its host ends this long after its end time; joins are accepted
    /// until then. `TONGBU_SCHEDULE_GRACE_MIN` (minutes).
    pub grace_secs: i64,
    /// The operator credential: a bearer token for the schedule API and health endpoints.
    /// `TONGBU_OPERATOR_TOKEN` (at least 16 characters); when absent a random one is created
    /// in the data directory (`operator.token`, mode 0600).
    pub operator_token: Option<String>,
    /// The secret that signs join tokens. `TONGBU_TOKEN_SECRET` (at least 32 characters; the
    /// same on every node); when absent a random key is created in the data directory.
    pub token_secret: Option<String>,
    /// When a participant's link counts as weak or lost. `TONGBU_HEALTH_WEAK_LOSS_PCT`,
    /// `TONGBU_HEALTH_LOST_LOSS_PCT`, `TONGBU_HEALTH_WEAK_RTT_MS`.
    pub health: HealthThresholds,
    /// A TURN relay for networks that let only HTTPS out (see [`crate::turn`]):
    /// `TONGBU_TURN_URLS` (comma-separated `turn:`/`turns:` URLs), `TONGBU_TURN_SECRET` (its
    /// shared secret), `TONGBU_TURN_TTL_MIN` (credential lifetime, default 240).
    pub turn: Option<Turn>,
    /// Teachers sign in with the education platform (OpenID Connect); see
    /// [`crate::signin::SignInConfig`]. Off unless `TONGBU_OIDC_ISSUER` is set.
    pub signin: Option<crate::signin::SignInConfig>,
}

impl Default for Config {
    fn default() -> Self {
        let ip = IpAddr::from([127, 0, 0, 1]);
        Self {
            http_addr: SocketAddr::new(ip, 8080),
            media_udp_port: 3478,
            media_bind_ip: ip,
            public_ip: ip,
            media_workers: 0,
            media_gso: true,
            data_dir: PathBuf::from("data"),
            recording_min_free_mb: 1024,
            recording_default: false,
            web_dir: None,
            http_max_connections: 0,
            http_max_per_source: 512,
            tls: None,
            demo: true,
            join_lead_secs: 10 * 60,
            grace_secs: 15 * 60,
            operator_token: None,
            token_secret: None,
            health: HealthThresholds::default(),
            turn: None,
            signin: None,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    #[serde(default)]
    http: FileHttp,
    #[serde(default)]
    media: FileMedia,
    #[serde(default)]
    data: FileData,
    #[serde(default)]
    demo: FileDemo,
    #[serde(default)]
    schedule: FileSchedule,
    #[serde(default)]
    operator: FileOperator,
    #[serde(default)]
    token: FileToken,
    #[serde(default)]
    health: FileHealth,
    #[serde(default)]
    turn: FileTurn,
    #[serde(default)]
    signin: crate::signin::FileSignIn,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileTurn {
    /// A URL, or a list of them.
    urls: Option<toml::Value>,
    secret: Option<String>,
    ttl_min: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileHealth {
    weak_loss_pct: Option<f64>,
    lost_loss_pct: Option<f64>,
    weak_rtt_ms: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileOperator {
    token: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileToken {
    secret: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSchedule {
    join_lead_min: Option<i64>,
    grace_min: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileHttp {
    addr: Option<String>,
    web_dir: Option<String>,
    max_connections: Option<toml::Value>,
    max_connections_per_source: Option<toml::Value>,
    tls_cert: Option<String>,
    tls_key: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileMedia {
    udp_port: Option<toml::Value>,
    bind_ip: Option<String>,
    public_ip: Option<String>,
    workers: Option<toml::Value>,
    gso: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileData {
    dir: Option<String>,
    recording_min_free_mb: Option<toml::Value>,
    recording_default: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDemo {
    enabled: Option<bool>,
    on_network: Option<bool>,
}

/// A yes/no setting: `true`, `1`, `yes`, `on` or `false`, `0`, `no`, `off`.
/// A number the file may give as `3000` or `"3000"`, as the environment's text.
fn scalar(v: toml::Value) -> String {
    match v {
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::String(s) => s,
        other => other.to_string(),
    }
}

// The message below names the limit.
const _: () = assert!(tongbu_rtc::MAX_WORKERS == 64);

fn flag(key: &'static str, v: String) -> Result<bool, ConfigError> {
    match v.trim() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(ConfigError::Invalid {
            key,
            value: v,
            expected: "true or false",
        }),
    }
}

impl Config {
    /// Loads the file (if given), then applies environment overrides from `env`.
    pub fn load(
        file: Option<&std::path::Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let f: FileConfig = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
                    path: path.display().to_string(),
                    reason: e.to_string(),
                })?;
                toml::from_str(&text).map_err(|e| ConfigError::Parse {
                    path: path.display().to_string(),
                    reason: e.to_string(),
                })?
            }
            None => FileConfig::default(),
        };
        let mut c = Config::default();
        let pick = |key: &str, file: Option<String>| env(key).or(file);

        if let Some(v) = pick("TONGBU_HTTP_ADDR", f.http.addr) {
            c.http_addr = v.parse().map_err(|_| ConfigError::Invalid {
                key: "TONGBU_HTTP_ADDR (http.addr)",
                value: v,
                expected: "an IP address and port such as 127.0.0.1:8080",
            })?;
        }
        c.media_bind_ip = c.http_addr.ip();
        c.demo = c.http_addr.ip().is_loopback();
        if let Some(v) = pick("TONGBU_HTTP_WEB_DIR", f.http.web_dir) {
            c.web_dir = Some(PathBuf::from(v)).filter(|d| !d.as_os_str().is_empty());
        }
        let count = |key: &'static str, v: String, min: usize| -> Result<usize, ConfigError> {
            v.trim()
                .parse::<usize>()
                .ok()
                .filter(|n| *n >= min && *n <= 1_000_000)
                .ok_or(ConfigError::Invalid {
                    key,
                    value: v,
                    expected: if min == 0 {
                        "a number of connections up to 1000000, or 0 for the default"
                    } else {
                        "a number of connections from 1 to 1000000"
                    },
                })
        };
        if let Some(v) = pick(
            "TONGBU_HTTP_MAX_CONNECTIONS",
            f.http.max_connections.map(scalar),
        ) {
            c.http_max_connections =
                count("TONGBU_HTTP_MAX_CONNECTIONS (http.max_connections)", v, 0)?;
        }
        if let Some(v) = pick(
            "TONGBU_HTTP_MAX_CONNECTIONS_PER_SOURCE",
            f.http.max_connections_per_source.map(scalar),
        ) {
            c.http_max_per_source = count(
                "TONGBU_HTTP_MAX_CONNECTIONS_PER_SOURCE (http.max_connections_per_source)",
                v,
                1,
            )?;
        }
        let tls_cert =
            pick("TONGBU_HTTP_TLS_CERT", f.http.tls_cert).filter(|v| !v.trim().is_empty());
        let tls_key = pick("TONGBU_HTTP_TLS_KEY", f.http.tls_key).filter(|v| !v.trim().is_empty());
        c.tls =
            match (tls_cert, tls_key) {
                (Some(cert), Some(key)) => Some(crate::tls::TlsFiles {
                    cert: PathBuf::from(cert),
                    key: PathBuf::from(key),
                }),
                (None, None) => None,
                (Some(cert), None) => return Err(ConfigError::Invalid {
                    key: "TONGBU_HTTP_TLS_KEY (http.tls_key)",
                    value: format!("(missing; TONGBU_HTTP_TLS_CERT is {cert})"),
                    expected:
                        "the PEM file of the certificate's private key, given with the certificate",
                }),
                (None, Some(key)) => {
                    return Err(ConfigError::Invalid {
                        key: "TONGBU_HTTP_TLS_CERT (http.tls_cert)",
                        value: format!("(missing; TONGBU_HTTP_TLS_KEY is {key})"),
                        expected: "the PEM file of the certificate chain, given with its key",
                    })
                }
            };
        if let Some(v) = pick("TONGBU_MEDIA_UDP_PORT", f.media.udp_port.map(scalar)) {
            c.media_udp_port = v.trim().parse().map_err(|_| ConfigError::Invalid {
                key: "TONGBU_MEDIA_UDP_PORT (media.udp_port)",
                value: v,
                expected: "a UDP port number from 0 to 65535",
            })?;
        }
        if let Some(v) = pick("TONGBU_MEDIA_WORKERS", f.media.workers.map(scalar)) {
            c.media_workers = v
                .trim()
                .parse()
                .ok()
                .filter(|&n: &usize| n <= tongbu_rtc::MAX_WORKERS)
                .ok_or(ConfigError::Invalid {
                    key: "TONGBU_MEDIA_WORKERS (media.workers)",
                    value: v,
                    expected:
                        "a number of media worker threads from 1 to 64, or 0 for one per core",
                })?;
        }
        if let Some(v) = pick("TONGBU_MEDIA_GSO", f.media.gso.map(|b| b.to_string())) {
            c.media_gso = flag("TONGBU_MEDIA_GSO (media.gso)", v)?;
        }
        if let Some(v) = pick("TONGBU_MEDIA_BIND_IP", f.media.bind_ip) {
            c.media_bind_ip = v.parse().map_err(|_| ConfigError::Invalid {
                key: "TONGBU_MEDIA_BIND_IP (media.bind_ip)",
                value: v,
                expected: "an IP address such as 0.0.0.0 or 127.0.0.1",
            })?;
        }
        c.public_ip = c.media_bind_ip;
        let public = env("TONGBU_PUBLIC_IP")
            .or_else(|| env("TONGBU_MEDIA_PUBLIC_IP"))
            .or(f.media.public_ip);
        if let Some(v) = public {
            c.public_ip = v.parse().map_err(|_| ConfigError::Invalid {
                key: "TONGBU_PUBLIC_IP (media.public_ip)",
                value: v,
                expected: "the IP address clients reach the server at, such as 203.0.113.7",
            })?;
        }
        if c.public_ip.is_unspecified() {
            return Err(ConfigError::Invalid {
                key: "TONGBU_PUBLIC_IP (media.public_ip)",
                value: c.public_ip.to_string(),
                expected: "a concrete address clients can reach (set it when binding 0.0.0.0)",
            });
        }
        if let Some(v) = pick(
            "TONGBU_RECORDING_MIN_FREE_MB",
            f.data.recording_min_free_mb.map(scalar),
        ) {
            c.recording_min_free_mb = v.trim().parse().map_err(|_| ConfigError::Invalid {
                key: "TONGBU_RECORDING_MIN_FREE_MB (data.recording_min_free_mb)",
                value: v,
                expected: "a number of megabytes, 0 or more",
            })?;
        }
        if let Some(v) = pick(
            "TONGBU_RECORDING_DEFAULT",
            f.data.recording_default.map(|b| b.to_string()),
        ) {
            c.recording_default = flag("TONGBU_RECORDING_DEFAULT (data.recording_default)", v)?;
        }
        if let Some(v) = pick("TONGBU_DATA_DIR", f.data.dir) {
            if v.trim().is_empty() {
                return Err(ConfigError::Invalid {
                    key: "TONGBU_DATA_DIR (data.dir)",
                    value: v,
                    expected: "a directory path for the SQLite file and keys",
                });
            }
            c.data_dir = PathBuf::from(v);
        }
        let minutes = |key: &'static str, v: String| -> Result<i64, ConfigError> {
            v.trim()
                .parse::<i64>()
                .ok()
                .filter(|m| (0..=24 * 60).contains(m))
                .map(|m| m * 60)
                .ok_or(ConfigError::Invalid {
                    key,
                    value: v,
                    expected: "a number of minutes from 0 to 1440",
                })
        };
        if let Some(v) = pick(
            "TONGBU_SCHEDULE_JOIN_LEAD_MIN",
            f.schedule.join_lead_min.map(|m| m.to_string()),
        ) {
            c.join_lead_secs =
                minutes("TONGBU_SCHEDULE_JOIN_LEAD_MIN (schedule.join_lead_min)", v)?;
        }
        if let Some(v) = pick(
            "TONGBU_SCHEDULE_GRACE_MIN",
            f.schedule.grace_min.map(|m| m.to_string()),
        ) {
            c.grace_secs = minutes("TONGBU_SCHEDULE_GRACE_MIN (schedule.grace_min)", v)?;
        }
        if let Some(v) = pick("TONGBU_OPERATOR_TOKEN", f.operator.token) {
            if v.trim().chars().count() < 16 {
                return Err(ConfigError::Invalid {
                    key: "TONGBU_OPERATOR_TOKEN (operator.token)",
                    value: "<hidden>".into(),
                    expected: "a secret of at least 16 characters",
                });
            }
            c.operator_token = Some(v.trim().to_string());
        }
        if let Some(v) = pick("TONGBU_TOKEN_SECRET", f.token.secret) {
            if v.len() < 32 {
                return Err(ConfigError::Invalid {
                    key: "TONGBU_TOKEN_SECRET (token.secret)",
                    value: "<hidden>".into(),
                    expected: "a secret of at least 32 characters, the same on every node",
                });
            }
            c.token_secret = Some(v);
        }
        let number = |key: &'static str, v: String, max: f64| -> Result<f32, ConfigError> {
            v.trim()
                .parse::<f64>()
                .ok()
                .filter(|x| *x > 0.0 && *x <= max)
                .map(|x| x as f32)
                .ok_or(ConfigError::Invalid {
                    key,
                    value: v,
                    expected: "a positive number (percent up to 100, milliseconds up to 10000)",
                })
        };
        if let Some(v) = pick(
            "TONGBU_HEALTH_WEAK_LOSS_PCT",
            f.health.weak_loss_pct.map(|x| x.to_string()),
        ) {
            c.health.weak_loss = number(
                "TONGBU_HEALTH_WEAK_LOSS_PCT (health.weak_loss_pct)",
                v,
                100.0,
            )? / 100.0;
        }
        if let Some(v) = pick(
            "TONGBU_HEALTH_LOST_LOSS_PCT",
            f.health.lost_loss_pct.map(|x| x.to_string()),
        ) {
            c.health.lost_loss = number(
                "TONGBU_HEALTH_LOST_LOSS_PCT (health.lost_loss_pct)",
                v,
                100.0,
            )? / 100.0;
        }
        if let Some(v) = pick(
            "TONGBU_HEALTH_WEAK_RTT_MS",
            f.health.weak_rtt_ms.map(|x| x.to_string()),
        ) {
            c.health.weak_rtt_ms = number(
                "TONGBU_HEALTH_WEAK_RTT_MS (health.weak_rtt_ms)",
                v,
                10_000.0,
            )?;
        }
        if c.health.lost_loss <= c.health.weak_loss {
            return Err(ConfigError::Invalid {
                key: "TONGBU_HEALTH_LOST_LOSS_PCT (health.lost_loss_pct)",
                value: (c.health.lost_loss * 100.0).to_string(),
                expected: "more than TONGBU_HEALTH_WEAK_LOSS_PCT",
            });
        }
        let urls = f.turn.urls.map(|v| match v {
            toml::Value::Array(a) => a.into_iter().map(scalar).collect::<Vec<_>>().join(","),
            other => scalar(other),
        });
        c.turn = Turn::from_config(
            pick("TONGBU_TURN_URLS", urls),
            pick("TONGBU_TURN_SECRET", f.turn.secret),
            pick("TONGBU_TURN_TTL_MIN", f.turn.ttl_min.map(|m| m.to_string())),
        )?;
        c.signin = crate::signin::SignInConfig::load(pick, f.signin, c.http_addr)?;
        let demo = env("TONGBU_DEMO_ENABLED").or(f.demo.enabled.map(|b| b.to_string()));
        if let Some(v) = demo {
            c.demo = flag("TONGBU_DEMO_ENABLED (demo.enabled)", v.clone())?;
            let on_network = pick(
                "TONGBU_DEMO_ON_NETWORK",
                f.demo.on_network.map(|b| b.to_string()),
            )
            .map(|v| flag("TONGBU_DEMO_ON_NETWORK (demo.on_network)", v))
            .transpose()?
            .unwrap_or(false);
            if c.demo && !c.http_addr.ip().is_loopback() && !on_network {
                return Err(ConfigError::Invalid {
                    key: "TONGBU_DEMO_ENABLED (demo.enabled)",
                    value: v,
                    expected: "false when HTTP listens beyond loopback: the demo hands host links to anyone who reaches it (for a closed test network, add TONGBU_DEMO_ON_NETWORK=true)",
                });
            }
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn defaults_are_loopback_8080() {
        let c = Config::load(None, env(&[])).unwrap();
        assert_eq!(c.http_addr, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(c.public_ip, c.media_bind_ip);
        assert!(c.demo);
    }

    #[test]
    fn demo_links_are_not_served_to_the_network_unless_asked() {
        let open = [
            ("TONGBU_HTTP_ADDR", "0.0.0.0:8080"),
            ("TONGBU_PUBLIC_IP", "192.0.2.1"),
        ];
        assert!(!Config::load(None, env(&open)).unwrap().demo);
        let mut asked = open.to_vec();
        asked.push(("TONGBU_DEMO_ENABLED", "true"));
        let refused = Config::load(None, env(&asked)).unwrap_err().to_string();
        assert!(refused.contains("TONGBU_DEMO_ENABLED"), "{refused}");
        assert!(refused.contains("TONGBU_DEMO_ON_NETWORK=true"), "{refused}");
        asked.push(("TONGBU_DEMO_ON_NETWORK", "true"));
        assert!(Config::load(None, env(&asked)).unwrap().demo);
    }

    #[test]
    fn tls_takes_a_certificate_and_its_key_together() {
        let both = [
            ("TONGBU_HTTP_TLS_CERT", "/etc/ssl/t/fullchain.pem"),
            ("TONGBU_HTTP_TLS_KEY", "/etc/ssl/t/privkey.pem"),
        ];
        let c = Config::load(None, env(&both)).unwrap();
        assert_eq!(c.tls.unwrap().key, PathBuf::from("/etc/ssl/t/privkey.pem"));
        let e = Config::load(None, env(&both[..1])).unwrap_err().to_string();
        assert!(e.contains("TONGBU_HTTP_TLS_KEY"), "{e}");
        let e = Config::load(None, env(&both[1..])).unwrap_err().to_string();
        assert!(e.contains("TONGBU_HTTP_TLS_CERT"), "{e}");
        assert!(Config::load(None, env(&[])).unwrap().tls.is_none());
    }

    #[test]
    fn environment_overrides_and_names_the_bad_key() {
        let c = Config::load(
            None,
            env(&[
                ("TONGBU_MEDIA_UDP_PORT", "40000"),
                ("TONGBU_PUBLIC_IP", "203.0.113.7"),
            ]),
        )
        .unwrap();
        assert_eq!(c.media_udp_port, 40000);
        assert_eq!(c.public_ip.to_string(), "203.0.113.7");
        let e = Config::load(None, env(&[("TONGBU_MEDIA_UDP_PORT", "70000")])).unwrap_err();
        assert!(e.to_string().contains("TONGBU_MEDIA_UDP_PORT"), "{e}");
        let e = Config::load(None, env(&[("TONGBU_HTTP_ADDR", "localhost")])).unwrap_err();
        assert!(e.to_string().contains("TONGBU_HTTP_ADDR"), "{e}");
        let e = Config::load(None, env(&[("TONGBU_SCHEDULE_GRACE_MIN", "-5")])).unwrap_err();
        assert!(e.to_string().contains("TONGBU_SCHEDULE_GRACE_MIN"), "{e}");
        let e = Config::load(None, env(&[("TONGBU_OPERATOR_TOKEN", "short")])).unwrap_err();
        assert!(e.to_string().contains("TONGBU_OPERATOR_TOKEN"), "{e}");
        assert!(
            !e.to_string().contains("short"),
            "the secret is not echoed: {e}"
        );
        let e = Config::load(None, env(&[("TONGBU_TOKEN_SECRET", "x")])).unwrap_err();
        assert!(e.to_string().contains("TONGBU_TOKEN_SECRET"), "{e}");
        let c = Config::load(None, env(&[("TONGBU_SCHEDULE_JOIN_LEAD_MIN", "30")])).unwrap();
        assert_eq!(c.join_lead_secs, 1800);
        let c = Config::load(
            None,
            env(&[("TONGBU_MEDIA_WORKERS", "4"), ("TONGBU_MEDIA_GSO", "off")]),
        )
        .unwrap();
        assert_eq!((c.media_workers, c.media_gso), (4, false));
        assert_eq!(Config::default().media_workers, 0, "one per core");
        for (key, bad) in [
            ("TONGBU_MEDIA_WORKERS", "65"),
            ("TONGBU_MEDIA_WORKERS", "many"),
            ("TONGBU_MEDIA_GSO", "maybe"),
        ] {
            let e = Config::load(None, env(&[(key, bad)])).unwrap_err();
            assert!(e.to_string().contains(key), "{e}");
        }
    }

    #[test]
    fn file_values_apply_and_unknown_keys_fail() {
        let dir = std::env::temp_dir().join(format!("tongbu-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("tongbu.toml");
        std::fs::write(&p, "[media]\nudp_port = 5000\n[data]\ndir = \"/tmp/x\"\n").unwrap();
        let c = Config::load(Some(&p), env(&[])).unwrap();
        assert_eq!(c.media_udp_port, 5000);
        assert_eq!(c.data_dir, PathBuf::from("/tmp/x"));
        std::fs::write(&p, "[media]\nudp_prot = 5000\n").unwrap();
        let e = Config::load(Some(&p), env(&[])).unwrap_err();
        assert!(e.to_string().contains("udp_prot"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
