//! A session as a person writes it ([`SessionDraft`]: a REST body, a row of an imported
//! timetable), checked field by field and resolved into a [`NewSession`] ready to store.

use jiff::civil::Date;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::time::{check_year, parse_date, parse_start, wall_clock, zone, DEFAULT_ZONE};
use crate::validate::Problems;
use crate::{Classroom, ClassroomId, ScheduleError, SessionKind, SessionSpec};

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

/// A session as a person writes it (REST body, a row of an imported timetable): what it is,
/// and when as written; checked and resolved into a [`NewSession`] by [`SessionDraft::resolve`].
/// One flat JSON object; a field it does not know is refused by name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(try_from = "DraftFields")]
pub struct SessionDraft {
    #[serde(flatten)]
    pub spec: SessionSpec,
    /// Wall-clock time of the host school (`2026-03-02 08:00`), or an instant with an offset
    /// (`2026-03-02T00:00:00Z`).
    #[schema(example = "2026-03-02 08:00")]
    pub start: String,
    /// IANA zone of `start` when it has no offset; the host school's zone when absent.
    #[serde(default)]
    pub zone: Option<String>,
    #[serde(default)]
    pub repeat: Option<WeeklyDraft>,
}

/// A draft as read, with whatever else the object held: serde cannot refuse unknown fields
/// next to a flattened struct, so they are gathered here and refused by name.
#[derive(Deserialize)]
struct DraftFields {
    #[serde(flatten)]
    spec: SessionSpec,
    start: String,
    #[serde(default)]
    zone: Option<String>,
    #[serde(default)]
    repeat: Option<WeeklyDraft>,
    #[serde(flatten)]
    unknown: std::collections::BTreeMap<String, serde::de::IgnoredAny>,
}

impl TryFrom<DraftFields> for SessionDraft {
    type Error = String;

    fn try_from(d: DraftFields) -> Result<Self, String> {
        if let Some(field) = d.unknown.keys().next() {
            return Err(format!(
                "unknown field `{field}`; a session has kind, title, subject, grade, start, \
                 zone, duration_min, host, classrooms, people, comparison, audience, record and repeat"
            ));
        }
        Ok(SessionDraft {
            spec: d.spec,
            start: d.start,
            zone: d.zone,
            repeat: d.repeat,
        })
    }
}

/// A checked session, ready to store: every occurrence's start is computed.
#[derive(Debug, Clone, PartialEq)]
pub struct NewSession {
    pub spec: SessionSpec,
    /// IANA zone it is shown in (the host school's unless the draft named one).
    pub zone: String,
    /// Start of each occurrence (UTC seconds), in order; one unless it repeats weekly.
    pub starts: Vec<i64>,
    /// The weekly rule it was expanded from: last date and skipped dates.
    pub weekly: Option<(Date, Vec<Date>)>,
}

/// Longest session accepted, in minutes.
pub const MAX_DURATION_MIN: i64 = 8 * 60;
/// Largest audience a lecture may be scheduled for.
pub const MAX_AUDIENCE: u32 = 100_000;
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
            spec: SessionSpec {
                kind,
                title: title.into(),
                subject: subject.into(),
                grade: None,
                duration_min,
                host,
                classrooms,
                people: Vec::new(),
                comparison: None,
                audience: None,
                record: None,
            },
            zone: DEFAULT_ZONE.into(),
            starts: vec![start_utc],
            weekly: None,
        }
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
        p.text("title", &self.spec.title, 200);
        if self.spec.subject.chars().count() > 50 {
            p.add("subject", "must be at most 50 characters");
        }
        if let Some(g) = self.spec.grade {
            if !(1..=12).contains(&g) {
                p.add("grade", "must be a school year from 1 to 12 (初一 is 7)");
            }
        }
        if !(5..=MAX_DURATION_MIN).contains(&self.spec.duration_min) {
            p.add(
                "duration_min",
                format!("must be between 5 and {MAX_DURATION_MIN} minutes"),
            );
        }
        let host = lookup(self.spec.host);
        if host.is_none() {
            p.add("host", format!("no classroom with id {}", self.spec.host.0));
        }
        for (i, c) in self.spec.classrooms.iter().enumerate() {
            let field = format!("classrooms[{i}]");
            if *c == self.spec.host {
                p.add(
                    field,
                    "is the host classroom; list only the remote classrooms",
                );
            } else if self.spec.classrooms[..i].contains(c) {
                p.add(field, format!("classroom {} is listed twice", c.0));
            } else if lookup(*c).is_none() {
                p.add(field, format!("no classroom with id {}", c.0));
            }
        }
        match self.spec.kind {
            SessionKind::Lesson if self.spec.classrooms.is_empty() => p.add(
                "classrooms",
                "a joint lesson needs at least one remote classroom",
            ),
            SessionKind::Research
                if self.spec.classrooms.is_empty() && self.spec.people.is_empty() =>
            {
                p.add(
                    "classrooms",
                    "a research session needs at least one other classroom or person",
                )
            }
            _ => {}
        }
        if self.spec.people.len() > 5000 {
            p.add("people", "at most 5000 people may be invited by name");
        }
        for (i, name) in self.spec.people.iter().enumerate() {
            p.text(&format!("people[{i}]"), name, 50);
        }
        if let Some(c) = &self.spec.comparison {
            if self.spec.kind != SessionKind::Research {
                p.add(
                    "comparison",
                    "only a research session (同步教研) compares two lessons",
                );
            }
            for (side, l) in [("left", &c.left), ("right", &c.right)] {
                if l.classroom != self.spec.host && !self.spec.classrooms.contains(&l.classroom) {
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
        match (self.spec.kind, self.spec.audience) {
            (_, None) => {}
            (SessionKind::Lecture, Some(n)) if (1..=MAX_AUDIENCE).contains(&n) => {}
            (SessionKind::Lecture, Some(_)) => p.add(
                "audience",
                format!("must be between 1 and {MAX_AUDIENCE} seats, or left empty for no limit"),
            ),
            (_, Some(_)) => p.add("audience", "only an expert lecture has an audience size"),
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
            spec: SessionSpec {
                title: self.spec.title.trim().to_string(),
                subject: self.spec.subject.trim().to_string(),
                people: self
                    .spec
                    .people
                    .iter()
                    .map(|n| n.trim().to_string())
                    .collect(),
                ..self.spec.clone()
            },
            zone: zone_name,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SchoolId;
    use crate::{ComparedLesson, Comparison};

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
            spec: SessionSpec {
                kind: SessionKind::Lesson,
                title: "勾股定理".into(),
                subject: "数学".into(),
                grade: Some(8),
                duration_min: 45,
                host: ClassroomId(1),
                classrooms: vec![ClassroomId(2), ClassroomId(3)],
                people: vec![],
                comparison: None,
                audience: None,
                record: None,
            },
            start: "2026-03-02 08:00".into(),
            zone: None,
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
        d.spec.title = " ".into();
        d.spec.duration_min = 0;
        d.spec.grade = Some(13);
        d.start = "next monday".into();
        d.spec.classrooms = vec![
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
        d.spec.classrooms.clear();
        d.spec.comparison = Some(Comparison {
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

    #[test]
    fn a_draft_reads_as_one_flat_object_and_refuses_an_unknown_field_by_name() {
        let json = r#"{"kind":"lecture","title":"专家讲座","start":"2026-03-02 08:00",
                       "duration_min":60,"host":1,"audience":800}"#;
        let d: SessionDraft = serde_json::from_str(json).unwrap();
        assert_eq!(d.spec.audience, Some(800));
        assert_eq!(d.spec.kind, SessionKind::Lecture);
        let typo = json.replace("\"audience\"", "\"audiance\"");
        let e = serde_json::from_str::<SessionDraft>(&typo).unwrap_err();
        assert!(e.to_string().contains("unknown field `audiance`"), "{e}");
        // Written back, it is the same flat object.
        let again: SessionDraft =
            serde_json::from_value(serde_json::to_value(&d).unwrap()).unwrap();
        assert_eq!(again, d);
    }

    #[test]
    fn only_a_lecture_has_an_audience_size_and_it_is_bounded() {
        let mut d = draft();
        d.spec.audience = Some(300);
        assert_eq!(fields(d.resolve(&lookup).unwrap_err()), vec!["audience"]);
        d.spec.kind = SessionKind::Lecture;
        assert_eq!(d.resolve(&lookup).unwrap().spec.audience, Some(300));
        d.spec.audience = Some(0);
        assert_eq!(fields(d.resolve(&lookup).unwrap_err()), vec!["audience"]);
        d.spec.audience = Some(MAX_AUDIENCE + 1);
        assert_eq!(fields(d.resolve(&lookup).unwrap_err()), vec!["audience"]);
    }
}
