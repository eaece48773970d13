//! `tongbu`: the server binary. Parses the command line and configuration, then starts the
//! server; everything else lives in crates/.

use std::path::PathBuf;
use std::process::ExitCode;

use tongbu_server::{Config, Server};

/// jemalloc rather than glibc's malloc, for a measured reason: with glibc, a lecture of 200
/// listeners plus a 12-person meeting (`benches/load.sh soak`) grew the server's RSS by 4–5 MiB
/// a minute while its live heap grew by little and only up to a bound (heaptrack) — freed
/// memory held in the arenas of the threads that allocate and free it in turn, which neither
/// `malloc_trim` nor two arenas cured. With jemalloc the same load levels off, at the same CPU
/// (BENCHMARKS.md, "Soak").
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

const USAGE: &str = "usage: tongbu [--config tongbu.toml] [--http-addr ADDR] [--media-udp-port PORT] [--data-dir DIR]
       tongbu [--config tongbu.toml] [--data-dir DIR] token --session ID --role ROLE --name NAME [--classroom ID]
       tongbu [--config tongbu.toml] [--data-dir DIR] schedule import FILE.csv|FILE.json [--dry-run] [--json]

Every setting can also be given as an environment variable TONGBU_<SECTION>_<KEY>,
e.g. TONGBU_HTTP_ADDR=127.0.0.1:8080 TONGBU_MEDIA_UDP_PORT=3478 TONGBU_PUBLIC_IP=203.0.113.7
TONGBU_DATA_DIR=data. Flags win over the environment, which wins over the file.";

/// How long a graceful stop waits for connections to close.
const STOP_WITHIN: std::time::Duration = std::time::Duration::from_secs(5);

/// SIGTERM (what systemd and containers send) or SIGINT (Ctrl-C).
async fn stop_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Logs to standard output: `RUST_LOG` filters; `TONGBU_LOG_FORMAT` is `text` (the default,
/// coloured only on a terminal) or `json` (one object a line, for a log collector).
fn init_logging() -> Result<(), String> {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,str0m=warn,dimpl=warn".into());
    let logs = tracing_subscriber::fmt().with_env_filter(filter);
    match std::env::var("TONGBU_LOG_FORMAT").as_deref() {
        Err(_) | Ok("text") => logs.with_ansi(std::io::stdout().is_terminal()).init(),
        Ok("json") => logs.json().with_current_span(true).init(),
        Ok(other) => {
            return Err(format!(
                "TONGBU_LOG_FORMAT is {other:?}; write \"text\" or \"json\""
            ))
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    if let Err(e) = init_logging() {
        eprintln!("tongbu: configuration error: {e}");
        return ExitCode::from(2);
    }

    let mut args = std::env::args().skip(1);
    let mut file: Option<PathBuf> = None;
    let mut flags: Vec<(&'static str, String)> = Vec::new();
    let mut command: Option<(String, Vec<String>)> = None;
    while let Some(a) = args.next() {
        let key = match a.as_str() {
            "token" | "schedule" => {
                command = Some((a.clone(), args.by_ref().collect()));
                break;
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            "--config" => None,
            "--http-addr" => Some("TONGBU_HTTP_ADDR"),
            "--media-udp-port" => Some("TONGBU_MEDIA_UDP_PORT"),
            "--data-dir" => Some("TONGBU_DATA_DIR"),
            other => {
                eprintln!("unknown argument {other:?}\n{USAGE}");
                return ExitCode::from(2);
            }
        };
        let Some(value) = args.next() else {
            eprintln!("{a} needs a value\n{USAGE}");
            return ExitCode::from(2);
        };
        match key {
            None => file = Some(PathBuf::from(value)),
            Some(k) => flags.push((k, value)),
        }
    }
    let env = |k: &str| {
        flags
            .iter()
            .find(|(fk, _)| *fk == k)
            .map(|(_, v)| v.clone())
            .or_else(|| std::env::var(k).ok())
    };
    let config = match Config::load(file.as_deref(), env) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("tongbu: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some((name, rest)) = command {
        if name == "schedule" {
            return match tongbu_server::cli::schedule(&config, &rest) {
                Ok((report, ok)) => {
                    println!("{report}");
                    if ok {
                        ExitCode::SUCCESS
                    } else {
                        ExitCode::FAILURE
                    }
                }
                Err(e) => {
                    eprintln!("tongbu schedule: {e}");
                    ExitCode::from(2)
                }
            };
        }
        return match tongbu_server::cli::token(&config, &rest) {
            Ok(url) => {
                println!("{url}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("tongbu token: {e}");
                ExitCode::from(2)
            }
        };
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("tongbu: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let server = match Server::start(config).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("tongbu: {e}");
                return ExitCode::FAILURE;
            }
        };
        let scheme = if server.state.config.tls.is_some() {
            "https"
        } else {
            "http"
        };
        println!(
            "Tongbu is running. Open {scheme}://{}/ (media: UDP {})",
            server.http_addr, server.media_addr
        );
        if server.state.demo.is_some() {
            // Printed to whoever started the server (who can read data/ anyway), never served.
            println!(
                "Operator dashboard (keep this link to yourself): {scheme}://{}/operator.html#token={}",
                server.http_addr,
                url_component(server.state.operator.secret())
            );
        }
        let mut server = server;
        tokio::select! {
            r = server.wait() => {
                if let Err(e) = r {
                    eprintln!("tongbu: the server stopped: {e}");
                    return ExitCode::FAILURE;
                }
                return ExitCode::SUCCESS;
            }
            _ = stop_signal() => println!("stopping: telling every participant to rejoin shortly"),
        }
        server.stop(STOP_WITHIN).await;
        ExitCode::SUCCESS
    })
}

/// Percent-encodes everything but unreserved characters (RFC 3986), for a URL fragment.
fn url_component(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
