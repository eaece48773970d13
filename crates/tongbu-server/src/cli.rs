//! Command-line tasks besides serving: `tongbu token …` mints a join link.

use std::collections::HashMap;

use tongbu_schedule::{ClassroomId, JoinClaims, Role, SessionId, Store, TokenKey};

use crate::server::now_utc;
use crate::Config;

pub const TOKEN_USAGE: &str =
    "usage: tongbu token --session ID --role host|classroom|observer|operator --name NAME
                    [--classroom ID] [--valid-min MINUTES] [--base-url URL]

Prints a join link signed with the server's key (from TONGBU_DATA_DIR). By default the link is
valid until the session's end plus grace; --valid-min sets another lifetime.";

/// Why a command failed; the message says what to fix.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}\n\n{TOKEN_USAGE}")]
    Usage(String),
    #[error(transparent)]
    Schedule(#[from] tongbu_schedule::ScheduleError),
}

/// `tongbu token …`: returns the join URL.
pub fn token(config: &Config, args: &[String]) -> Result<String, CliError> {
    let mut opts: HashMap<&str, &str> = HashMap::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let key = match a.as_str() {
            "--session" | "--role" | "--name" | "--classroom" | "--valid-min" | "--base-url" => {
                a.as_str()
            }
            other => return Err(CliError::Usage(format!("unknown argument {other:?}"))),
        };
        let v = it
            .next()
            .ok_or_else(|| CliError::Usage(format!("{key} needs a value")))?;
        opts.insert(key, v);
    }
    let need = |k: &str| {
        opts.get(k)
            .copied()
            .ok_or_else(|| CliError::Usage(format!("{k} is required")))
    };
    let sid = need("--session")?
        .parse::<i64>()
        .map(SessionId)
        .map_err(|_| CliError::Usage("--session takes a session id (a number)".into()))?;
    let role: Role = need("--role")?.parse().map_err(CliError::Usage)?;
    let name = need("--name")?.to_string();
    let classroom = match opts.get("--classroom") {
        Some(c) => Some(ClassroomId(c.parse().map_err(|_| {
            CliError::Usage("--classroom takes a classroom id (a number)".into())
        })?)),
        None => None,
    };
    if matches!(role, Role::Host | Role::Classroom) && classroom.is_none() {
        return Err(CliError::Usage(format!(
            "a {role} link needs --classroom (which classroom joins)"
        )));
    }
    std::fs::create_dir_all(&config.data_dir).map_err(|source| {
        tongbu_schedule::ScheduleError::DataDir {
            path: config.data_dir.display().to_string(),
            source,
        }
    })?;
    let store = Store::open(&config.data_dir.join("tongbu.sqlite"))?;
    let session = store.session(sid)?;
    if let Some(c) = classroom {
        if !session.includes(c) && role != Role::Observer {
            return Err(CliError::Usage(format!(
                "classroom {} does not take part in session {}",
                c.0, sid.0
            )));
        }
    }
    let exp = match opts.get("--valid-min") {
        Some(m) => {
            let m: i64 = m
                .parse()
                .ok()
                .filter(|m| *m > 0)
                .ok_or_else(|| CliError::Usage("--valid-min takes a positive number".into()))?;
            now_utc() + m * 60
        }
        None => session.end_utc() + config.grace_secs,
    };
    let key = TokenKey::load_or_create(&config.data_dir.join("token.key"))?;
    let token = key.issue(&JoinClaims {
        sid,
        role,
        classroom,
        name,
        exp,
    });
    let base = opts
        .get("--base-url")
        .map(|s| s.trim_end_matches('/').to_string())
        .unwrap_or_else(|| format!("http://{}", config.http_addr));
    Ok(format!("{base}/lesson.html?token={token}"))
}
