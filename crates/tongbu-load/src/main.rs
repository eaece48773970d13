//! `tongbu-load`: synthetic participants against a running Tongbu server, from the command line.
//!
//! `tongbu-load classroom --url <ws-url> [--drop-every N] [--seconds S]` joins as a receiving
//! classroom (webrtc-rs) with the signaling URL of a join link, optionally on a link that loses
//! every N-th incoming packet, stays S seconds (default 60), and prints one JSON line of what it
//! received. It lets an operator rehearse a weak rural link and watch the dashboard react, and
//! the browser tests use it to put a weak classroom in front of the dashboard.

use std::process::ExitCode;
use std::time::Duration;

use tongbu_load::Subscriber;

const USAGE: &str =
    "usage: tongbu-load classroom --url ws://HOST/ws?token=… [--drop-every N] [--seconds S]

  --url         the signaling URL of a classroom's join link (/ws?token=…)
  --drop-every  lose every N-th incoming packet (N ≥ 2; 5 loses 20 %), to play a weak link
  --seconds     how long to stay (default 60, at most 3600)";

#[derive(Debug)]
struct Args {
    url: String,
    drop_every: Option<u32>,
    seconds: u64,
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    match args.next().as_deref() {
        Some("classroom") => {}
        Some("-h" | "--help") | None => return Err(String::new()),
        Some(other) => return Err(format!("unknown command {other:?}")),
    }
    let (mut url, mut drop_every, mut seconds) = (None, None, 60);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--url" => url = Some(value),
            "--drop-every" => match value.parse::<u32>() {
                Ok(n) if n >= 2 => drop_every = Some(n),
                _ => return Err(format!("--drop-every: {value:?} is not a whole number ≥ 2")),
            },
            "--seconds" => match value.parse::<u64>() {
                Ok(s) if (1..=3600).contains(&s) => seconds = s,
                _ => {
                    return Err(format!(
                        "--seconds: {value:?} is not a whole number from 1 to 3600"
                    ))
                }
            },
            other => return Err(format!("unknown flag {other:?}")),
        }
    }
    let url = url.ok_or("--url is required")?;
    if !url.starts_with("ws://") && !url.starts_with("wss://") {
        return Err(format!("--url: {url:?} is not a ws:// or wss:// URL"));
    }
    Ok(Args {
        url,
        drop_every,
        seconds,
    })
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
    runtime.block_on(async move {
        let joined = match args.drop_every {
            Some(n) => Subscriber::connect_lossy(&args.url, n).await,
            None => Subscriber::connect(&args.url).await,
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
            serde_json::json!({"joined": classroom.participant, "drop_every": args.drop_every})
        );
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(args.seconds)) => {}
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
                "drop_every": args.drop_every,
            })
        );
        classroom.close().await;
        ExitCode::SUCCESS
    })
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
}
