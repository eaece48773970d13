//! Sessions: joint lessons, research sessions, lectures, and their lifecycle.

use jiff::civil::Date;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::time::{
    check_year, local_date, parse_date, parse_start, wall_clock, zone, DEFAULT_ZONE,
};
use crate::validate::Problems;
use crate::{Classroom, ClassroomId, ScheduleError};

/// A session's id in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(transparent)]
pub struct SessionId(pub i64);

/// What kind of session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SessionKind {
    /// 同步课堂: one host classroom teaches, remote classrooms join.
    Lesson,
    /// 同步教研: many-to-many among teachers.
    Research,
    /// One speaker, a large receive-only audience.
    Lecture,
}

impl SessionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionKind::Lesson => "lesson",
            SessionKind::Research => "research",
            SessionKind::Lecture => "lecture",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "lesson" => Some(SessionKind::Lesson),
            "research" => Some(SessionKind::Research),
            "lecture" => Some(SessionKind::Lecture),
            _ => None,
        }
    }
}

/// scheduled → open → live → ended → report (DESIGN.md, "Session lifecycle").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SessionState {
    Scheduled,
    Open,
    Live,
    Ended,
    Report,
}

impl SessionState {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionState::Scheduled => "scheduled",
            SessionState::Open => "open",
            SessionState::Live => "live",
            SessionState::Ended => "ended",
            SessionState::Report => "report",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "scheduled" => Some(SessionState::Scheduled),
            "open" => Some(SessionState::Open),
            "live" => Some(SessionState::Live),
            "ended" => Some(SessionState::Ended),
            "report" => Some(SessionState::Report),
            _ => None,
        }
    }

    /// Whether the session is over (no more joins).
    pub fn is_over(self) -> bool {
        matches!(self, SessionState::Ended | SessionState::Report)
    }
}

/// A weekly series' id: the occurrences of one recurring timetable entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(transparent)]
pub struct SeriesId(pub i64);

/// One of the two lessons of a 同课异构 comparison: the same topic taught by another teacher.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ComparedLesson {
    /// The classroom where it is taught (one of the session's classrooms).
    pub classroom: ClassroomId,
    #[schema(example = "勾股定理 · 探究课")]
    pub title: String,
    #[schema(example = "王老师")]
    pub teacher: String,
}

/// 同课异构: two lessons on the same topic, shown side by side in a research session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Comparison {
    pub left: ComparedLesson,
    pub right: ComparedLesson,
}

/// A scheduled session (one occurrence, when it belongs to a weekly series).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Session {
    pub id: SessionId,
    pub kind: SessionKind,
    pub title: String,
    pub subject: String,
    /// School year 1–12.
    pub grade: Option<u8>,
    /// Start, seconds since the Unix epoch (UTC).
    pub start_utc: i64,
    pub duration_min: i64,
    /// IANA zone the session is shown in (the host school's).
    pub zone: String,
    /// The teaching (lesson), convening (research) or speaking (lecture) classroom.
    pub host: ClassroomId,
    /// The remote classrooms, in display order.
    pub classrooms: Vec<ClassroomId>,
    /// People invited by name (research teachers, lecture guests); they join as observers.
    pub people: Vec<String>,
    /// 同课异构 pair (research sessions only).
    pub comparison: Option<Comparison>,
    /// The weekly series this occurrence belongs to.
    pub series: Option<SeriesId>,
    pub state: SessionState,
}

impl Session {
    /// End, seconds since the Unix epoch (UTC).
    pub fn end_utc(&self) -> i64 {
        self.start_utc + self.duration_min * 60
    }

    /// When joins are accepted: from `lead_secs` before the start until `grace_secs` after the
    /// end, both in seconds since the epoch.
    pub fn join_window(&self, lead_secs: i64, grace_secs: i64) -> (i64, i64) {
        (self.start_utc - lead_secs, self.end_utc() + grace_secs)
    }

    /// Whether `classroom` takes part (as host or remote classroom).
    pub fn includes(&self, classroom: ClassroomId) -> bool {
        self.host == classroom || self.classrooms.contains(&classroom)
    }

    /// The start on the session's wall clock, `YYYY-MM-DD HH:MM`.
    pub fn start_local(&self) -> String {
        crate::time::local_datetime(self.start_utc, &self.zone)
    }
}

/// Weekly recurrence as written: the same weekday and wall-clock time every week until a date,
/// except on some dates (holidays, exams).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WeeklyDraft {
    /// Last date an occurrence may fall on, `YYYY-MM-DD`.
    #[schema(example = "2027-01-15")]
    pub until: String,
    /// Dates without an occurrence, `YYYY-MM-DD`.
    #[serde(default)]
    pub except: Vec<String>,
}

/// A session as a person writes it (REST body, a row of an imported timetable); checked and
/// resolved into a [`NewSession`] by [`SessionDraft::resolve`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionDraft {
    pub kind: SessionKind,
    #[schema(example = "勾股定理")]
    pub title: String,
    #[serde(default)]
    #[schema(example = "数学")]
    pub subject: String,
    #[serde(default)]
    pub grade: Option<u8>,
    /// Wall-clock time of the host school (`2026-03-02 08:00`), or an instant with an offset
    /// (`2026-03-02T00:00:00Z`).
    #[schema(example = "2026-03-02 08:00")]
    pub start: String,
    /// IANA zone of `start` when it has no offset; the host school's zone when absent.
    #[serde(default)]
    pub zone: Option<String>,
    #[schema(example = 45)]
    pub duration_min: i64,
    pub host: ClassroomId,
    #[serde(default)]
    pub classrooms: Vec<ClassroomId>,
    #[serde(default)]
    pub people: Vec<String>,
    #[serde(default)]
    pub comparison: Option<Comparison>,
    #[serde(default)]
    pub repeat: Option<WeeklyDraft>,
}

/// A checked session, ready to store: every occurrence's start is computed.
#[derive(Debug, Clone, PartialEq)]
pub struct NewSession {
    pub kind: SessionKind,
    pub title: String,
    pub subject: String,
    pub grade: Option<u8>,
    pub duration_min: i64,
    pub zone: String,
    pub host: ClassroomId,
    pub classrooms: Vec<ClassroomId>,
    pub people: Vec<String>,
    pub comparison: Option<Comparison>,
    /// Start of each occurrence (UTC seconds), in order; one unless it repeats weekly.
    pub starts: Vec<i64>,
    /// The weekly rule it was expanded from: last date and skipped dates.
    pub weekly: Option<(Date, Vec<Date>)>,
}

/// Longest session accepted, in minutes.
pub const MAX_DURATION_MIN: i64 = 8 * 60;
/// Longest weekly series accepted, in days.
pub const MAX_SERIES_DAYS: i32 = 366;

impl NewSession {
    /// A single session in Beijing time, for code that already holds checked values.
    pub fn single(
        kind: SessionKind,
        title: &str,
        subject: &str,
        start_utc: i64,
        duration_min: i64,
        host: ClassroomId,
        classrooms: Vec<ClassroomId>,
    ) -> Self {
        Self {
            kind,
            title: title.into(),
            subject: subject.into(),
            grade: None,
            duration_min,
            zone: DEFAULT_ZONE.into(),
            host,
            classrooms,
            people: Vec::new(),
            comparison: None,
            starts: vec![start_utc],
            weekly: None,
        }
    }

    /// Every classroom taking part, host first.
    pub fn all_classrooms(&self) -> impl Iterator<Item = ClassroomId> + '_ {
        std::iter::once(self.host).chain(self.classrooms.iter().copied())
    }
}

impl SessionDraft {
    /// Checks every field and computes the occurrences. `lookup` finds a classroom and its
    /// school's time zone (None when there is no such classroom). All problems are reported at
    /// once, each with its field.
    pub fn resolve(
        &self,
        lookup: &dyn Fn(ClassroomId) -> Option<(Classroom, String)>,
    ) -> Result<NewSession, ScheduleError> {
        let mut p = Problems::default();
        p.text("title", &self.title, 200);
        if self.subject.chars().count() > 50 {
            p.add("subject", "must be at most 50 characters");
        }
        if let Some(g) = self.grade {
            if !(1..=12).contains(&g) {
                p.add("grade", "must be a school year from 1 to 12 (初一 is 7)");
            }
        }
        if !(5..=MAX_DURATION_MIN).contains(&self.duration_min) {
            p.add(
                "duration_min",
                format!("must be between 5 and {MAX_DURATION_MIN} minutes"),
            );
        }
        let host = lookup(self.host);
        if host.is_none() {
            p.add("host", format!("no classroom with id {}", self.host.0));
        }
        for (i, c) in self.classrooms.iter().enumerate() {
            let field = format!("classrooms[{i}]");
            if *c == self.host {
                p.add(
                    field,
                    "is the host classroom; list only the remote classrooms",
                );
            } else if self.classrooms[..i].contains(c) {
                p.add(field, format!("classroom {} is listed twice", c.0));
            } else if lookup(*c).is_none() {
                p.add(field, format!("no classroom with id {}", c.0));
            }
        }
        match self.kind {
            SessionKind::Lesson if self.classrooms.is_empty() => p.add(
                "classrooms",
                "a joint lesson needs at least one remote classroom",
            ),
            SessionKind::Research if self.classrooms.is_empty() && self.people.is_empty() => p.add(
                "classrooms",
                "a research session needs at least one other classroom or person",
            ),
            _ => {}
        }
        if self.people.len() > 5000 {
            p.add("people", "at most 5000 people may be invited by name");
        }
        for (i, name) in self.people.iter().enumerate() {
            p.text(&format!("people[{i}]"), name, 50);
        }
        if let Some(c) = &self.comparison {
            if self.kind != SessionKind::Research {
                p.add(
                    "comparison",
                    "only a research session (同步教研) compares two lessons",
                );
            }
            for (side, l) in [("left", &c.left), ("right", &c.right)] {
                if l.classroom != self.host && !self.classrooms.contains(&l.classroom) {
                    p.add(
                        format!("comparison.{side}.classroom"),
                        "must be the host or one of the session's classrooms",
                    );
                }
                p.text(&format!("comparison.{side}.title"), &l.title, 200);
                p.text(&format!("comparison.{side}.teacher"), &l.teacher, 50);
            }
            if c.left.classroom == c.right.classroom {
                p.add(
                    "comparison.right.classroom",
                    "the two lessons must come from two different classrooms",
                );
            }
        }
        let zone_name = match (&self.zone, &host) {
            (Some(z), _) => z.clone(),
            (None, Some((_, z))) => z.clone(),
            (None, None) => DEFAULT_ZONE.to_string(),
        };
        let tz = match zone(&zone_name) {
            Ok(tz) => Some(tz),
            Err(e) => {
                p.add("zone", e);
                None
            }
        };
        let start = tz
            .as_ref()
            .and_then(|tz| match parse_start(&self.start, tz) {
                Ok(s) => match check_year(s, tz) {
                    Ok(()) => Some(s),
                    Err(e) => {
                        p.add("start", e);
                        None
                    }
                },
                Err(e) => {
                    p.add("start", e);
                    None
                }
            });
        let mut starts = start.into_iter().collect::<Vec<_>>();
        let mut weekly = None;
        if let (Some(rule), Some(start), Some(tz)) = (&self.repeat, start, &tz) {
            match expand_weekly(start, tz, rule, &mut p) {
                Some((s, w)) => {
                    starts = s;
                    weekly = Some(w);
                }
                None => starts.clear(),
            }
        }
        p.into_result()?;
        Ok(NewSession {
            kind: self.kind,
            title: self.title.trim().to_string(),
            subject: self.subject.trim().to_string(),
            grade: self.grade,
            duration_min: self.duration_min,
            zone: zone_name,
            host: self.host,
            classrooms: self.classrooms.clone(),
            people: self.people.iter().map(|n| n.trim().to_string()).collect(),
            comparison: self.comparison.clone(),
            starts,
            weekly,
        })
    }
}

type Weekly = (Date, Vec<Date>);

/// The starts of a weekly series: the same wall-clock time in `tz` each week from `start` until
/// `rule.until`, skipping `rule.except`. Problems go to `p` (field `repeat.…`).
fn expand_weekly(
    start: i64,
    tz: &jiff::tz::TimeZone,
    rule: &WeeklyDraft,
    p: &mut Problems,
) -> Option<(Vec<i64>, Weekly)> {
    let first = jiff::Timestamp::from_second(start)
        .ok()?
        .to_zoned(tz.clone());
    let first_date = first.date();
    let until = match parse_date(&rule.until) {
        Ok(d) => d,
        Err(e) => {
            p.add("repeat.until", e);
            return None;
        }
    };
    let span = first_date.until(until).map(|s| s.get_days()).unwrap_or(-1);
    if span < 0 {
        p.add(
            "repeat.until",
            "must be on or after the first session's date",
        );
        return None;
    }
    if span > MAX_SERIES_DAYS {
        p.add(
            "repeat.until",
            format!("a weekly series may last at most {MAX_SERIES_DAYS} days (one school year)"),
        );
        return None;
    }
    let mut dates = Vec::new();
    let mut d = first_date;
    while d <= until {
        dates.push(d);
        d = d.checked_add(jiff::Span::new().weeks(1)).ok()?;
    }
    let mut except = Vec::new();
    for (i, e) in rule.except.iter().enumerate() {
        match parse_date(e) {
            Ok(x) if dates.contains(&x) => except.push(x),
            Ok(x) => p.add(
                format!("repeat.except[{i}]"),
                format!("{x} is not one of the series' weekly dates ({first_date} and every {} after, until {until})", first.strftime("%A")),
            ),
            Err(m) => p.add(format!("repeat.except[{i}]"), m),
        }
    }
    let mut starts = Vec::new();
    for date in dates.into_iter().filter(|d| !except.contains(d)) {
        match wall_clock(date.to_datetime(first.time()), tz) {
            Ok(s) => starts.push(s),
            Err(e) => p.add("repeat", e),
        }
    }
    if starts.is_empty() {
        p.add("repeat.except", "every date of the series is excepted");
    }
    Some((starts, (until, except)))
}

/// The local date of a session's start, for listings "today" and "this week".
pub fn start_date(s: &Session) -> Option<Date> {
    local_date(s.start_utc, &zone(&s.zone).ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SchoolId;

    fn lookup(id: ClassroomId) -> Option<(Classroom, String)> {
        (1..=4).contains(&id.0).then(|| {
            (
                Classroom {
                    id,
                    school: SchoolId(id.0),
                    school_name: format!("school {}", id.0),
                    name: "初二(1)班".into(),
                    grade: Some(8),
                    capacity: None,
                },
                "Asia/Shanghai".to_string(),
            )
        })
    }

    fn draft() -> SessionDraft {
        SessionDraft {
            kind: SessionKind::Lesson,
            title: "勾股定理".into(),
            subject: "数学".into(),
            grade: Some(8),
            start: "2026-03-02 08:00".into(),
            zone: None,
            duration_min: 45,
            host: ClassroomId(1),
            classrooms: vec![ClassroomId(2), ClassroomId(3)],
            people: vec![],
            comparison: None,
            repeat: None,
        }
    }

    fn fields(e: ScheduleError) -> Vec<String> {
        match e {
            ScheduleError::Invalid(v) => v.into_iter().map(|f| f.field).collect(),
            other => panic!("expected invalid input, got {other}"),
        }
    }

    #[test]
    fn a_good_draft_resolves_in_the_host_schools_zone() {
        let s = draft().resolve(&lookup).unwrap();
        // 08:00 in Beijing is 00:00 UTC.
        assert_eq!(
            s.starts,
            vec![parse_start("2026-03-02T00:00:00Z", &zone("UTC").unwrap()).unwrap()]
        );
        assert_eq!(s.zone, "Asia/Shanghai");
    }

    #[test]
    fn every_bad_field_is_named_at_once() {
        let mut d = draft();
        d.title = " ".into();
        d.duration_min = 0;
        d.grade = Some(13);
        d.start = "next monday".into();
        d.classrooms = vec![
            ClassroomId(1),
            ClassroomId(9),
            ClassroomId(2),
            ClassroomId(2),
        ];
        assert_eq!(
            fields(d.resolve(&lookup).unwrap_err()),
            vec![
                "title",
                "grade",
                "duration_min",
                "classrooms[0]",
                "classrooms[1]",
                "classrooms[3]",
                "start"
            ]
        );
        let mut d = draft();
        d.classrooms.clear();
        d.comparison = Some(Comparison {
            left: ComparedLesson {
                classroom: ClassroomId(1),
                title: "a".into(),
                teacher: "t".into(),
            },
            right: ComparedLesson {
                classroom: ClassroomId(4),
                title: "b".into(),
                teacher: "u".into(),
            },
        });
        assert_eq!(
            fields(d.resolve(&lookup).unwrap_err()),
            vec!["classrooms", "comparison", "comparison.right.classroom"]
        );
    }

    #[test]
    fn weekly_series_keep_the_wall_clock_and_skip_exceptions() {
        let mut d = draft();
        d.repeat = Some(WeeklyDraft {
            until: "2026-03-30".into(),
            except: vec!["2026-03-16".into()],
        });
        let s = d.resolve(&lookup).unwrap();
        let local: Vec<String> = s
            .starts
            .iter()
            .map(|t| crate::time::local_datetime(*t, "Asia/Shanghai"))
            .collect();
        assert_eq!(
            local,
            vec![
                "2026-03-02 08:00",
                "2026-03-09 08:00",
                "2026-03-23 08:00",
                "2026-03-30 08:00"
            ]
        );
        // Across a daylight-saving change the wall clock stays, the UTC instant moves.
        let mut d = draft();
        d.zone = Some("Europe/Berlin".into());
        d.start = "2026-03-23 08:00".into();
        d.repeat = Some(WeeklyDraft {
            until: "2026-04-06".into(),
            except: vec![],
        });
        let s = d.resolve(&lookup).unwrap();
        assert_eq!(s.starts[1] - s.starts[0], 7 * 86_400 - 3600);
        // A date that is not one of the series', an end before the start.
        let mut d = draft();
        d.repeat = Some(WeeklyDraft {
            until: "2026-02-01".into(),
            except: vec![],
        });
        assert_eq!(
            fields(d.resolve(&lookup).unwrap_err()),
            vec!["repeat.until"]
        );
        let mut d = draft();
        d.repeat = Some(WeeklyDraft {
            until: "2026-03-30".into(),
            except: vec!["2026-03-17".into()],
        });
        assert_eq!(
            fields(d.resolve(&lookup).unwrap_err()),
            vec!["repeat.except[0]"]
        );
    }
}
