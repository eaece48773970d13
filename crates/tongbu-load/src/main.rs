//! `tongbu-load`: synthetic participants against a running Tongbu server, from the command line.
//!
//! - `tongbu-load classroom --url <ws-url> [--drop-every N] [--seconds S]` joins as a receiving
//!   classroom (webrtc-rs) with the signaling URL of a join link, optionally on a link that loses
//!   every N-th incoming packet, stays S seconds (default 60), and prints one JSON line of what it
//!   received. It lets an operator rehearse a weak rural link and watch the dashboard react, and
//!   the browser tests use it to put a weak classroom in front of the dashboard.
//! - `tongbu-load storm …`: a lecture's audience arriving and leaving at once ([`tongbu_load::storm`]).
//! - `tongbu-load w1 …` and `tongbu-load w2 …` are the load workloads (lecture: one publisher,
//!   N subscribers; meeting: N participants all to all) on sans-I/O clients, one JSON line each
//!   (see [`tongbu_load::workload`]).

use std::process::ExitCode;
use std::time::Duration;

use tongbu_load::media::{IvfFrames, VideoClip};
use tongbu_load::storm::StormConfig;
use tongbu_load::workload::{self, LoadConfig, Workload};
use tongbu_load::{Publisher, Subscriber};

/// The default clip: 1280×720, 30 fps, VP8 at 1.2 Mbit/s, 4 s.
const CLIP: &[u8] = include_bytes!("../../../tests/media/classroom-1280x720-30fps-1200k.ivf");

const USAGE: &str = "usage:
  tongbu-load classroom --url ws://HOST/ws?token=… [--drop-every N] [--seconds S]
  tongbu-load w1 --publisher URL --subscriber URL [--n N] [--seconds S] [--clip FILE.ivf] [--server-pid PID] [--decrypt first|all]
  tongbu-load w2 --url URL [--url URL …] [--n N] [--seconds S] [--clip FILE.ivf] [--server-pid PID] [--decrypt first|all]
  tongbu-load whip --endpoint URL --token TOKEN [--clip FILE.h264|FILE.ivf] [--fps F] [--seconds S]
  tongbu-load storm --publisher URL --subscriber URL [--n N] [--join-seconds S] [--seconds S] [--leave-seconds S] [--server-pid PID]

  classroom     join as one receiving classroom (webrtc-rs), print what arrived
    --url         the signaling URL of a classroom's join link (/ws?token=…)
    --drop-every  lose every N-th incoming packet (N ≥ 2; 5 loses 20 %), to play a weak link
    --seconds     how long to stay (default 60, at most 3600)
  whip          publish a clip over WHIP (RFC 9725) as a studio encoder does, then DELETE it
    --endpoint    the session's WHIP URL (http://HOST/whip/ID; tongbu token --whip prints it)
    --token       the bearer token (tongbu token --whip prints it)
    --clip        H.264 Annex B (offered alone) or VP8 IVF (default: the built-in VP8 clip)
    --fps         frame rate of an H.264 clip, which carries none (default 15)
    --seconds     how long to publish (default 60, at most 3600)
  w1            lecture: one publisher (VP8 clip + opus 32 kbit/s), N subscribers that do not decode
    --publisher   join URL of a participant that may publish (host or classroom)
    --subscriber  join URL the N subscribers share (an observer or classroom link)
    --n           subscribers (default 50)
  storm         a lecture's audience arriving and leaving at once: N listeners (default 2000) join
                evenly over --join-seconds (default 60), every stream is counted for --seconds,
                they leave over --leave-seconds (default 60); the speaker moves the spotlight
                every 250 ms throughout, and each listener notes when each change reached it
  w2            meeting: N participants (default 12), each publishing and receiving all others
    --url         join URL(s) of participants that may publish, used in turn
  common to w1 and w2:
    --seconds     how long to count once every stream flows (default 10, at most 3600)
    --clip        VP8 IVF clip to loop (default: built-in 1280×720 30 fps, 1.2 Mbit/s)
    --server-pid  the server's process id, for its CPU time and memory (same machine)
    --settle      seconds to wait for every stream to flow before counting (default 30)
    --decrypt     first: receivers decrypt and authenticate each stream's first packets, which
                  teach them the server's sequence and timestamp offsets, then match packets by
                  their clear SRTP header (default); all: decrypt every packet (costs the tool
                  about 10 µs a packet)

w1 and w2 print one JSON line: packets sent/expected/received, loss %, added latency
p50/p95/p99/max, server CPU seconds per second and RSS, the tool's own CPU, subscribers per core.";

#[derive(Debug)]
enum Args {
    Classroom {
        url: String,
        drop_every: Option<u32>,
        seconds: u64,
    },
    Load(LoadConfig),
    Storm(StormConfig),
    Whip {
        endpoint: String,
        token: String,
        clip: Vec<u8>,
        fps: f64,
        seconds: u64,
    },
}

fn ws_url(flag: &str, url: String) -> Result<String, String> {
    if url.starts_with("ws://") || url.starts_with("wss://") {
        Ok(url)
    } else {
        Err(format!("{flag}: {url:?} is not a ws:// or wss:// URL"))
    }
}

fn whole<T: std::str::FromStr + PartialOrd>(
    flag: &str,
    value: &str,
    range: std::ops::RangeInclusive<T>,
    what: &str,
) -> Result<T, String> {
    match value.parse::<T>() {
        Ok(n) if range.contains(&n) => Ok(n),
        _ => Err(format!("{flag}: {value:?} is not {what}")),
    }
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let command = match args.next() {
        Some(c) if ["classroom", "w1", "w2", "whip", "storm"].contains(&c.as_str()) => c,
        Some(h) if h == "-h" || h == "--help" => return Err(String::new()),
        None => return Err(String::new()),
        Some(other) => return Err(format!("unknown command {other:?}")),
    };
    let mut url = Vec::new();
    let (mut drop_every, mut seconds) = (None, None);
    let (mut publisher, mut subscriber, mut n, mut clip, mut server_pid, mut settle) =
        (None, None, None, None, None, 30u64);
    let mut decrypt_all = false;
    let (mut join_secs, mut leave_secs) = (60u64, 60u64);
    let (mut endpoint, mut token, mut fps) = (None, None, 15.0);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let classroom = command == "classroom";
        let whip = command == "whip";
        match flag.as_str() {
            "--endpoint" if whip => {
                if !(value.starts_with("http://") || value.starts_with("https://")) {
                    return Err(format!("--endpoint: {value:?} is not an http(s):// URL"));
                }
                endpoint = Some(value)
            }
            "--token" if whip => token = Some(value),
            "--fps" if whip => fps = f64::from(whole(&flag, &value, 1..=60u32, "1 to 60")?),
            "--clip" if whip => {
                clip = Some(std::fs::read(&value).map_err(|e| format!("--clip: {value}: {e}"))?)
            }
            "--url" if !matches!(command.as_str(), "w1" | "storm") => {
                url.push(ws_url("--url", value)?)
            }
            "--drop-every" if classroom => {
                drop_every = Some(whole(&flag, &value, 2..=u32::MAX, "a whole number ≥ 2")?)
            }
            "--seconds" => {
                seconds = Some(whole(
                    &flag,
                    &value,
                    1..=3600u64,
                    "a whole number from 1 to 3600",
                )?)
            }
            "--publisher" if matches!(command.as_str(), "w1" | "storm") => {
                publisher = Some(ws_url(&flag, value)?)
            }
            "--subscriber" if matches!(command.as_str(), "w1" | "storm") => {
                subscriber = Some(ws_url(&flag, value)?)
            }
            "--join-seconds" if command == "storm" => {
                join_secs = whole(&flag, &value, 1..=3600u64, "a whole number from 1 to 3600")?
            }
            "--leave-seconds" if command == "storm" => {
                leave_secs = whole(&flag, &value, 1..=3600u64, "a whole number from 1 to 3600")?
            }
            "--n" if !classroom && !whip => {
                n = Some(whole(
                    &flag,
                    &value,
                    1..=20_000usize,
                    "a whole number from 1 to 20000",
                )?)
            }
            "--clip" if !classroom && !whip => {
                clip = Some(std::fs::read(&value).map_err(|e| format!("--clip: {value}: {e}"))?)
            }
            "--server-pid" if !classroom => {
                server_pid = Some(whole(&flag, &value, 1..=u32::MAX, "a process id")?)
            }
            "--settle" if !classroom => {
                settle = whole(&flag, &value, 1..=600u64, "a whole number from 1 to 600")?
            }
            "--decrypt" if !classroom => {
                decrypt_all = match value.as_str() {
                    "all" => true,
                    "first" => false,
                    _ => return Err(format!("--decrypt: {value:?} is not first or all")),
                }
            }
            other => return Err(format!("unknown flag {other:?} for {command}")),
        }
    }
    let workload = match command.as_str() {
        "whip" => {
            return Ok(Args::Whip {
                endpoint: endpoint.ok_or("--endpoint is required")?,
                token: token.ok_or("--token is required")?,
                clip: clip.unwrap_or_else(|| CLIP.to_vec()),
                fps,
                seconds: seconds.unwrap_or(60),
            })
        }
        "classroom" => {
            let url = url.pop().ok_or("--url is required")?;
            return Ok(Args::Classroom {
                url,
                drop_every,
                seconds: seconds.unwrap_or(60),
            });
        }
        "storm" => {
            return Ok(Args::Storm(StormConfig {
                publisher_url: publisher.ok_or("--publisher is required")?,
                listener_url: subscriber.ok_or("--subscriber is required")?,
                n: n.unwrap_or(2000),
                join_secs: join_secs as f64,
                hold_secs: seconds.unwrap_or(10) as f64,
                leave_secs: leave_secs as f64,
                clip: clip.unwrap_or_else(|| CLIP.to_vec()),
                server_pid,
                settle: Duration::from_secs(settle),
                decrypt_all,
            }))
        }
        "w1" => Workload::Lecture {
            publisher_url: publisher.ok_or("--publisher is required")?,
            subscriber_url: subscriber.ok_or("--subscriber is required")?,
            n: n.unwrap_or(50),
        },
        _ => {
            if url.is_empty() {
                return Err("--url is required".into());
            }
            Workload::Meeting {
                urls: url,
                n: n.unwrap_or(12),
            }
        }
    };
    Ok(Args::Load(LoadConfig {
        workload,
        seconds: seconds.unwrap_or(10) as f64,
        clip: clip.unwrap_or_else(|| CLIP.to_vec()),
        server_pid,
        settle: Duration::from_secs(settle),
        decrypt_all,
    }))
}

fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("tongbu-load: {e}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("tongbu-load: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match args {
        Args::Classroom {
            url,
            drop_every,
            seconds,
        } => runtime.block_on(classroom(url, drop_every, seconds)),
        Args::Whip {
            endpoint,
            token,
            clip,
            fps,
            seconds,
        } => runtime.block_on(whip(endpoint, token, clip, fps, seconds)),
        Args::Storm(cfg) => print_report(
            runtime
                .block_on(tongbu_load::storm::run(cfg))
                .map(|r| r.to_json()),
        ),
        Args::Load(cfg) => print_report(runtime.block_on(workload::run(cfg)).map(|r| r.to_json())),
    }
}

/// A run's one JSON line on stdout, or its error on stderr.
fn print_report(report: Result<serde_json::Value, tongbu_load::ClientError>) -> ExitCode {
    match report {
        Ok(r) => {
            println!("{r}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("tongbu-load: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn whip(endpoint: String, token: String, clip: Vec<u8>, fps: f64, seconds: u64) -> ExitCode {
    let clip = if clip.starts_with(b"DKIF") {
        IvfFrames::parse(&clip).map(VideoClip::Vp8)
    } else {
        VideoClip::h264(&clip, fps)
    };
    let clip = match clip {
        Ok(c) => c,
        Err(e) => {
            eprintln!("tongbu-load: --clip: {e}");
            return ExitCode::from(2);
        }
    };
    let codec = format!("{:?}", clip.codec());
    let encoder = match Publisher::connect_whip(&endpoint, &token, clip).await {
        Ok(p) => p,
        Err(e) => {
            eprintln!("tongbu-load: WHIP publish refused: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Say so on stdout, so that a script knows when the stream is up.
    println!(
        "{}",
        serde_json::json!({"whip": encoder.whip_location(), "codec": codec})
    );
    tokio::select! {
        _ = tokio::time::sleep(Duration::from_secs(seconds)) => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    let sent = encoder.video_sent().len();
    encoder.close().await;
    println!(
        "{}",
        serde_json::json!({"video_packets": sent, "deleted": true})
    );
    ExitCode::SUCCESS
}

async fn classroom(url: String, drop_every: Option<u32>, seconds: u64) -> ExitCode {
    let joined = match drop_every {
        Some(n) => Subscriber::connect_lossy(&url, n).await,
        None => Subscriber::connect(&url).await,
    };
    let classroom = match joined {
        Ok(c) => c,
        Err(e) => {
            eprintln!("tongbu-load: cannot join: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Say so on stdout, so that a script knows when the classroom is in.
    println!(
        "{}",
        serde_json::json!({"joined": classroom.participant, "drop_every": drop_every})
    );
    tokio::select! {
        _ = tokio::time::sleep(Duration::from_secs(seconds)) => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    let (video, audio) = (
        classroom.packets(true).len(),
        classroom.packets(false).len(),
    );
    println!(
        "{}",
        serde_json::json!({
            "participant": classroom.participant,
            "video_packets": video,
            "audio_packets": audio,
            "drop_every": drop_every,
        })
    );
    classroom.close().await;
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Result<Args, String> {
        parse(s.split_whitespace().map(String::from))
    }

    #[test]
    fn bad_flags_are_named() {
        assert!(args("classroom --url ws://x/ws?token=t --drop-every 5").is_ok());
        assert_eq!(
            args("classroom --url ws://x/ws --drop-every 1")
                .err()
                .unwrap(),
            "--drop-every: \"1\" is not a whole number ≥ 2"
        );
        assert_eq!(
            args("classroom --drop-every 3").err().unwrap(),
            "--url is required"
        );
        assert!(args("classroom --url http://x/")
            .unwrap_err()
            .contains("--url"));
        assert!(args("classroom --url ws://x --seconds")
            .unwrap_err()
            .contains("needs a value"));
        assert!(args("meeting").unwrap_err().contains("unknown command"));
    }

    #[test]
    fn load_workloads_parse_with_defaults_and_name_bad_flags() {
        let Ok(Args::Load(c)) = args("w1 --publisher ws://h/ws?token=a --subscriber ws://h/ws?token=b --n 200 --server-pid 42") else {
            panic!("w1 parses");
        };
        assert!(matches!(c.workload, Workload::Lecture { n: 200, .. }));
        assert_eq!((c.seconds, c.server_pid), (10.0, Some(42)));
        assert!(!c.clip.is_empty());
        assert!(!c.decrypt_all, "header counting is the default");
        let Ok(Args::Load(c)) = args("w2 --url ws://h/ws?token=a --url ws://h/ws?token=b") else {
            panic!("w2 parses");
        };
        assert!(matches!(c.workload, Workload::Meeting { n: 12, ref urls } if urls.len() == 2));
        let Ok(Args::Load(c)) = args("w2 --url ws://h/ws?token=a --decrypt all") else {
            panic!("w2 parses");
        };
        assert!(c.decrypt_all);
        assert_eq!(
            args("w1 --publisher ws://a --subscriber ws://b --decrypt some").unwrap_err(),
            "--decrypt: \"some\" is not first or all"
        );
        assert_eq!(
            args("w1 --publisher ws://h/ws?token=a").unwrap_err(),
            "--subscriber is required"
        );
        assert_eq!(
            args("w1 --publisher ws://a --subscriber ws://b --n 0").unwrap_err(),
            "--n: \"0\" is not a whole number from 1 to 20000"
        );
        assert!(args("w2 --drop-every 3")
            .unwrap_err()
            .contains("unknown flag"));
        assert!(args("w2 --url ws://a --clip /nonexistent.ivf")
            .unwrap_err()
            .starts_with("--clip: /nonexistent.ivf"));
    }
}
