//! Command-line tasks besides serving: `tongbu token …` mints a join link, `tongbu schedule
//! import FILE` loads a term's timetable.

use std::collections::HashMap;
use std::path::PathBuf;

use tongbu_schedule::import::{import, Timetable};
use tongbu_schedule::{ClassroomId, JoinClaims, Role, SessionId, SqliteStore, Store, TokenKey};

use crate::server::now_utc;
use crate::Config;

pub const TOKEN_USAGE: &str =
    "usage: tongbu token --session ID --role host|classroom|observer|operator --name NAME
                    [--classroom ID] [--valid-min MINUTES] [--base-url URL]
       tongbu token --whip --session ID --name NAME [--valid-min MINUTES] [--base-url URL]

Prints a join link signed with the server's key (from TONGBU_DATA_DIR). By default the link is
valid until the session's end plus grace; --valid-min sets another lifetime. With --whip it
prints the WHIP endpoint and bearer token an encoder (OBS: Settings → Stream → WHIP) publishes
the session's host stream with.";

pub const SCHEDULE_USAGE: &str = "usage: tongbu schedule import FILE.csv|FILE.json [--dry-run] [--json]

Loads a timetable into the server's database (TONGBU_DATA_DIR): every row is checked (unknown
schools or classrooms, bad times, double bookings, also between rows of the file) and the file is
stored all or nothing. --dry-run reports what would happen and stores nothing; --json prints the
report as JSON. Exit status 1 when any row has a problem.

CSV header: kind,title,subject,grade,start,zone,duration_min,host,classrooms,people,repeat_until,except
  host and classrooms as school/classroom; lists separated by ';'; start as 2026-03-02 08:00
  (the host school's wall clock). JSON may also declare schools, classrooms and pairs.";

/// Why a command failed; the message says what to fix.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}\n\n{TOKEN_USAGE}")]
    Usage(String),
    #[error("{0}\n\n{SCHEDULE_USAGE}")]
    ScheduleUsage(String),
    #[error(transparent)]
    Schedule(#[from] tongbu_schedule::ScheduleError),
    #[error(transparent)]
    File(#[from] tongbu_schedule::import::ImportFileError),
}

fn open_store(config: &Config) -> Result<SqliteStore, CliError> {
    std::fs::create_dir_all(&config.data_dir).map_err(|source| {
        tongbu_schedule::ScheduleError::DataDir {
            path: config.data_dir.display().to_string(),
            source,
        }
    })?;
    Ok(SqliteStore::open(&config.data_dir.join("tongbu.sqlite"))?)
}

/// `tongbu schedule import FILE [--dry-run] [--json]`: returns the report to print and whether
/// every row was fine.
pub fn schedule(config: &Config, args: &[String]) -> Result<(String, bool), CliError> {
    let mut file: Option<PathBuf> = None;
    let (mut dry_run, mut as_json) = (false, false);
    let mut it = args.iter();
    match it.next().map(String::as_str) {
        Some("import") => {}
        Some(other) => {
            return Err(CliError::ScheduleUsage(format!(
                "unknown schedule command {other:?}"
            )))
        }
        None => return Err(CliError::ScheduleUsage("which schedule command?".into())),
    }
    for a in it {
        match a.as_str() {
            "--dry-run" => dry_run = true,
            "--json" => as_json = true,
            f if !f.starts_with("--") && file.is_none() => file = Some(PathBuf::from(f)),
            other => {
                return Err(CliError::ScheduleUsage(format!(
                    "unexpected argument {other:?}"
                )))
            }
        }
    }
    let file = file.ok_or_else(|| CliError::ScheduleUsage("FILE is required".into()))?;
    let timetable = Timetable::from_file(&file)?;
    let store = open_store(config)?;
    let report = import(&store, &timetable, dry_run)?;
    let ok = report.problems.is_empty();
    if as_json {
        let text = serde_json::to_string_pretty(&report).unwrap_or_default();
        return Ok((text, ok));
    }
    let mut out = String::new();
    let verb = if report.stored { "added" } else { "would add" };
    out.push_str(&format!(
        "{}: {verb} {} schools, {} classrooms, {} pairs, {} sessions\n",
        file.display(),
        report.schools_added,
        report.classrooms_added,
        report.pairs_added,
        report.sessions_added
    ));
    for p in &report.problems {
        out.push_str(&format!("  {p}\n"));
    }
    out.push_str(match (report.stored, dry_run, ok) {
        (true, _, _) => "stored.",
        (false, true, true) => "dry run: no problems found; nothing stored.",
        (false, true, false) => "dry run: fix the rows above; nothing stored.",
        (false, false, _) => "nothing stored: fix the rows above and import again.",
    });
    Ok((out, ok))
}

/// `tongbu token …`: returns the join URL.
pub fn token(config: &Config, args: &[String]) -> Result<String, CliError> {
    let mut opts: HashMap<&str, &str> = HashMap::new();
    let mut it = args.iter();
    let mut whip = false;
    while let Some(a) = it.next() {
        if a == "--whip" {
            whip = true;
            continue;
        }
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
    let role: Role = match (whip, opts.get("--role")) {
        (true, None) | (true, Some(&"host")) => Role::Host,
        (true, Some(_)) => {
            return Err(CliError::Usage(
                "a WHIP stream is the host's; leave out --role".into(),
            ))
        }
        (false, _) => need("--role")?.parse().map_err(CliError::Usage)?,
    };
    let name = need("--name")?.to_string();
    let store = open_store(config)?;
    let session = store.session(sid)?;
    let classroom = match opts.get("--classroom") {
        Some(c) => Some(ClassroomId(c.parse().map_err(|_| {
            CliError::Usage("--classroom takes a classroom id (a number)".into())
        })?)),
        // The encoder publishes for the host classroom.
        None if whip => Some(session.spec.host),
        None => None,
    };
    if matches!(role, Role::Host | Role::Classroom) && classroom.is_none() {
        return Err(CliError::Usage(format!(
            "a {role} link needs --classroom (which classroom joins)"
        )));
    }
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
    let key = match &config.token_secret {
        Some(secret) => TokenKey::from_secret(secret.as_bytes()),
        None => TokenKey::load_or_create(&config.data_dir.join("token.key"))?,
    };
    let token = key.issue(&JoinClaims {
        sid,
        role,
        classroom,
        name,
        exp,
        shared: false,
    });
    let base = opts
        .get("--base-url")
        .map(|s| s.trim_end_matches('/').to_string())
        .unwrap_or_else(|| format!("http://{}", config.http_addr));
    if whip {
        return Ok(format!(
            "WHIP endpoint: {base}/whip/{}\nBearer token: {token}",
            sid.0
        ));
    }
    Ok(format!("{base}/lesson.html?token={token}"))
}
