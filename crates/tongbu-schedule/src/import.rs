//! Importing a term's timetable (`tongbu schedule import FILE.csv|json`): schools, classrooms,
//! pairs and sessions named as people write them ("四子王旗第一中学/初二(1)班"), checked row by
//! row, and stored all or nothing.
//!
//! CSV files hold sessions only, one per line, with the header
//! `kind,title,subject,grade,start,zone,duration_min,host,classrooms,people,repeat_until,except`
//! and optionally `audience` (a lecture's seats); lists separated by `;`. JSON files may also declare `schools`, `classrooms` and `pairs`,
//! which are added when absent.

use serde::{Deserialize, Serialize};

use crate::store::Store;
use crate::{
    ClassroomId, NewClassroom, NewPair, NewSchool, ScheduleError, SessionDraft, SessionKind,
    SessionSpec, WeeklyDraft,
};

/// A classroom of an import file, its school named.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportClassroom {
    pub school: String,
    pub name: String,
    #[serde(default)]
    pub grade: Option<u8>,
    #[serde(default)]
    pub capacity: Option<u32>,
}

/// A pair of an import file, its schools named.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportPair {
    pub beijing: String,
    pub inner_mongolia: String,
    pub since: String,
}

/// A session of an import file: classrooms named `school/classroom`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportSession {
    pub kind: SessionKind,
    pub title: String,
    #[serde(default)]
    pub subject: String,
    #[serde(default)]
    pub grade: Option<u8>,
    pub start: String,
    #[serde(default)]
    pub zone: Option<String>,
    pub duration_min: i64,
    pub host: String,
    #[serde(default)]
    pub classrooms: Vec<String>,
    #[serde(default)]
    pub people: Vec<String>,
    #[serde(default)]
    pub repeat_until: Option<String>,
    #[serde(default)]
    pub except: Vec<String>,
    /// A lecture's seats.
    #[serde(default)]
    pub audience: Option<u32>,
    /// Recorded when it goes live (empty: the server's default).
    #[serde(default)]
    pub record: Option<bool>,
}

/// A whole import file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Timetable {
    #[serde(default)]
    pub schools: Vec<NewSchool>,
    #[serde(default)]
    pub classrooms: Vec<ImportClassroom>,
    #[serde(default)]
    pub pairs: Vec<ImportPair>,
    /// Each with the row it came from (CSV line, or position in the JSON list from 1).
    #[serde(default, deserialize_with = "numbered")]
    pub sessions: Vec<(usize, ImportSession)>,
}

fn numbered<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Vec<(usize, ImportSession)>, D::Error> {
    let v = Vec::<ImportSession>::deserialize(d)?;
    Ok(v.into_iter().enumerate().map(|(i, s)| (i + 1, s)).collect())
}

/// A CSV line as read.
#[derive(Debug, Deserialize)]
struct CsvRow {
    kind: SessionKind,
    title: String,
    #[serde(default)]
    subject: String,
    #[serde(default)]
    grade: Option<u8>,
    start: String,
    #[serde(default)]
    zone: Option<String>,
    duration_min: i64,
    host: String,
    #[serde(default)]
    classrooms: String,
    #[serde(default)]
    people: String,
    #[serde(default)]
    repeat_until: Option<String>,
    #[serde(default)]
    except: String,
    #[serde(default)]
    audience: Option<u32>,
    #[serde(default)]
    record: Option<bool>,
}

fn list(s: &str) -> Vec<String> {
    s.split([';', '；'])
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(String::from)
        .collect()
}

/// A problem with one row of the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RowProblem {
    /// `schools`, `classrooms`, `pairs` or `sessions`.
    pub section: &'static str,
    /// CSV line number, or position in the JSON list (from 1).
    pub row: usize,
    pub field: String,
    pub message: String,
}

impl std::fmt::Display for RowProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} row {}: {}: {}",
            self.section, self.row, self.field, self.message
        )
    }
}

/// What an import did, or (dry run, or problems found) would have done.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ImportReport {
    pub dry_run: bool,
    /// Whether the changes were stored: only when not a dry run and no row had a problem.
    pub stored: bool,
    pub schools_added: usize,
    pub classrooms_added: usize,
    pub pairs_added: usize,
    /// Sessions added, counting each occurrence of a weekly series.
    pub sessions_added: usize,
    pub problems: Vec<RowProblem>,
}

/// Why a file could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum ImportFileError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is not valid JSON for a timetable: {message}")]
    Json { path: String, message: String },
    #[error("{path} line {line}: {message}")]
    Csv {
        path: String,
        line: u64,
        message: String,
    },
    #[error("{path}: the file name must end in .csv or .json")]
    Format { path: String },
}

impl Timetable {
    /// Reads a `.csv` or `.json` file.
    pub fn from_file(path: &std::path::Path) -> Result<Self, ImportFileError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ImportFileError::Read {
            path: shown.clone(),
            source,
        })?;
        match path.extension().and_then(|e| e.to_str()) {
            Some("json") => Self::from_json(&text).map_err(|message| ImportFileError::Json {
                path: shown,
                message,
            }),
            Some("csv") => Self::from_csv(&text).map_err(|(line, message)| ImportFileError::Csv {
                path: shown,
                line,
                message,
            }),
            _ => Err(ImportFileError::Format { path: shown }),
        }
    }

    pub fn from_json(text: &str) -> Result<Self, String> {
        serde_json::from_str(text).map_err(|e| e.to_string())
    }

    /// Parses CSV; an unreadable line stops with its line number.
    pub fn from_csv(text: &str) -> Result<Self, (u64, String)> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut reader = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_reader(text.as_bytes());
        let mut t = Timetable::default();
        let headers = reader.headers().map_err(|e| (1, e.to_string()))?.clone();
        for record in reader.records() {
            let record =
                record.map_err(|e| (e.position().map_or(0, |p| p.line()), e.to_string()))?;
            // The line the record starts on (a quoted field may span lines).
            let line = record.position().map_or(0, |p| p.line()) as usize;
            let row: CsvRow = record
                .deserialize(Some(&headers))
                .map_err(|e| (line as u64, e.to_string()))?;
            t.sessions.push((
                line,
                ImportSession {
                    kind: row.kind,
                    title: row.title,
                    subject: row.subject,
                    grade: row.grade,
                    start: row.start,
                    zone: row.zone.filter(|z| !z.is_empty()),
                    duration_min: row.duration_min,
                    host: row.host,
                    classrooms: list(&row.classrooms),
                    people: list(&row.people),
                    repeat_until: row.repeat_until.filter(|u| !u.is_empty()),
                    except: list(&row.except),
                    audience: row.audience,
                    record: row.record,
                },
            ));
        }
        Ok(t)
    }
}

/// Adds the timetable to the store as one transaction. Every row is checked; if any has a
/// problem, or on a dry run, nothing is stored and the report says what would have happened.
pub fn import(
    store: &dyn Store,
    t: &Timetable,
    dry_run: bool,
) -> Result<ImportReport, ScheduleError> {
    let mut report = ImportReport {
        dry_run,
        ..Default::default()
    };
    store.atomically(&mut |tx| {
        report = run(tx, t, dry_run)?;
        Ok(report.stored)
    })?;
    Ok(report)
}

fn run(store: &dyn Store, t: &Timetable, dry_run: bool) -> Result<ImportReport, ScheduleError> {
    let mut r = ImportReport {
        dry_run,
        ..Default::default()
    };
    let mut problem = |section, row, field: &str, message: String| {
        r.problems.push(RowProblem {
            section,
            row,
            field: field.to_string(),
            message,
        })
    };
    let mut added = [0usize; 4];
    for (i, s) in t.schools.iter().enumerate() {
        if store.school_by_name(&s.name)?.is_some() {
            continue;
        }
        match store.add_school(s) {
            Ok(_) => added[0] += 1,
            Err(e) => each_problem(e, &mut |f, m| problem("schools", i + 1, f, m))?,
        }
    }
    for (i, c) in t.classrooms.iter().enumerate() {
        let Some(school) = store.school_by_name(&c.school)? else {
            problem(
                "classrooms",
                i + 1,
                "school",
                format!("no school named {}", c.school),
            );
            continue;
        };
        if store.classroom_by_name(school.id, &c.name)?.is_some() {
            continue;
        }
        let new = NewClassroom {
            school: school.id,
            name: c.name.clone(),
            grade: c.grade,
            capacity: c.capacity,
        };
        match store.add_classroom(&new) {
            Ok(_) => added[1] += 1,
            Err(e) => each_problem(e, &mut |f, m| problem("classrooms", i + 1, f, m))?,
        }
    }
    for (i, p) in t.pairs.iter().enumerate() {
        let bj = store.school_by_name(&p.beijing)?;
        let im = store.school_by_name(&p.inner_mongolia)?;
        let (Some(bj), Some(im)) = (bj, im) else {
            problem(
                "pairs",
                i + 1,
                "beijing",
                format!("no school named {} or {}", p.beijing, p.inner_mongolia),
            );
            continue;
        };
        let new = NewPair {
            beijing: bj.id,
            inner_mongolia: im.id,
            since: p.since.clone(),
        };
        match store.add_pair(&new) {
            Ok(_) => added[2] += 1,
            Err(ScheduleError::Conflict(_)) => {}
            Err(e) => each_problem(e, &mut |f, m| problem("pairs", i + 1, f, m))?,
        }
    }
    for (row, s) in &t.sessions {
        let mut unknown = false;
        let mut find = |field: &str, name: &str| -> Result<ClassroomId, ScheduleError> {
            let found = match name.split_once('/') {
                Some((school, room)) => match store.school_by_name(school.trim())? {
                    Some(sc) => store.classroom_by_name(sc.id, room.trim())?.map(|c| c.id),
                    None => None,
                },
                None => None,
            };
            Ok(found.unwrap_or_else(|| {
                unknown = true;
                problem(
                    "sessions",
                    *row,
                    field,
                    format!(
                        "no classroom {name:?}; write it as \"school/classroom\", both as stored"
                    ),
                );
                ClassroomId(-1)
            }))
        };
        let host = find("host", &s.host)?;
        let mut classrooms = Vec::new();
        for (i, c) in s.classrooms.iter().enumerate() {
            classrooms.push(find(&format!("classrooms[{i}]"), c)?);
        }
        if unknown {
            continue;
        }
        let draft = SessionDraft {
            spec: SessionSpec {
                kind: s.kind,
                title: s.title.clone(),
                subject: s.subject.clone(),
                grade: s.grade,
                duration_min: s.duration_min,
                host,
                classrooms,
                people: s.people.clone(),
                comparison: None,
                audience: s.audience,
                record: s.record,
            },
            start: s.start.clone(),
            zone: s.zone.clone(),
            repeat: s.repeat_until.as_ref().map(|until| WeeklyDraft {
                until: until.clone(),
                except: s.except.clone(),
            }),
        };
        let resolved = draft.resolve(&|id| {
            let c = store.classroom(id).ok()?;
            let zone = store.school(c.school).ok()?.timezone;
            Some((c, zone))
        });
        let result = resolved.and_then(|new| store.add_session(&new));
        match result {
            Ok(added_sessions) => added[3] += added_sessions.len(),
            Err(ScheduleError::Clash(c)) => problem(
                "sessions",
                *row,
                "start",
                format!(
                    "{} is already booked then, in session {} \"{}\" at {}",
                    c.classroom_name, c.session.0, c.title, c.start_local
                ),
            ),
            Err(e) => each_problem(e, &mut |f, m| problem("sessions", *row, f, m))?,
        }
    }
    [
        r.schools_added,
        r.classrooms_added,
        r.pairs_added,
        r.sessions_added,
    ] = added;
    r.stored = !dry_run && r.problems.is_empty();
    Ok(r)
}

/// Turns a validation error into row problems; other errors stop the import.
fn each_problem(e: ScheduleError, f: &mut dyn FnMut(&str, String)) -> Result<(), ScheduleError> {
    match e {
        ScheduleError::Invalid(fields) => {
            for x in fields {
                f(&x.field, x.message);
            }
            Ok(())
        }
        ScheduleError::Conflict(m) | ScheduleError::InUse(m) => {
            f("name", m);
            Ok(())
        }
        other => Err(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SqliteStore;

    const JSON: &str = r#"{
      "schools": [
        {"name": "北京市第十二中学", "region": "beijing", "district": "丰台区"},
        {"name": "扎赉特旗音德尔第三中学", "region": "inner_mongolia", "district": "扎赉特旗"}
      ],
      "classrooms": [
        {"school": "北京市第十二中学", "name": "初一(2)班", "grade": 7, "capacity": 45},
        {"school": "扎赉特旗音德尔第三中学", "name": "初一(4)班", "grade": 7}
      ],
      "pairs": [{"beijing": "北京市第十二中学", "inner_mongolia": "扎赉特旗音德尔第三中学", "since": "2023-09-01"}]
    }"#;

    const CSV: &str = "kind,title,subject,grade,start,zone,duration_min,host,classrooms,people,repeat_until,except
lesson,有理数,数学,7,2026-03-02 08:00,,45,北京市第十二中学/初一(2)班,扎赉特旗音德尔第三中学/初一(4)班,,2026-03-30,2026-03-16
lesson,重叠,数学,7,2026-03-09 08:30,,45,扎赉特旗音德尔第三中学/初一(4)班,北京市第十二中学/初一(2)班,,,
lesson,无此班,数学,7,2026-03-02 14:00,,45,北京市第十二中学/初九(9)班,扎赉特旗音德尔第三中学/初一(4)班,,,
lecture,讲座,,,2026-13-02 14:00,,0,北京市第十二中学/初一(2)班,,张老师;李老师,,
";

    #[test]
    fn a_term_imports_all_or_nothing_with_problems_per_row() {
        let store = SqliteStore::open_in_memory().unwrap();
        let r = import(&store, &Timetable::from_json(JSON).unwrap(), false).unwrap();
        assert!(r.stored && r.problems.is_empty(), "{r:?}");
        assert_eq!(
            (r.schools_added, r.classrooms_added, r.pairs_added),
            (2, 2, 1)
        );
        // Importing the same file again adds nothing and is not an error.
        let again = import(&store, &Timetable::from_json(JSON).unwrap(), false).unwrap();
        assert_eq!(
            again.schools_added + again.classrooms_added + again.pairs_added,
            0
        );

        let t = Timetable::from_csv(CSV).unwrap();
        let dry = import(&store, &t, true).unwrap();
        assert!(!dry.stored);
        let found: Vec<(usize, &str)> = dry
            .problems
            .iter()
            .map(|p| (p.row, p.field.as_str()))
            .collect();
        assert_eq!(
            found,
            vec![(3, "start"), (4, "host"), (5, "duration_min"), (5, "start")],
            "{:#?}",
            dry.problems
        );
        assert!(
            dry.problems[0].message.contains("有理数"),
            "{}",
            dry.problems[0]
        );
        assert_eq!(dry.sessions_added, 4, "the good row's four weeks");
        // With problems nothing is stored even without --dry-run.
        let real = import(&store, &t, false).unwrap();
        assert!(!real.stored);
        assert!(store
            .sessions(&crate::SessionQuery::between(0, i64::MAX))
            .unwrap()
            .is_empty());
        // Only the good row: stored.
        let good: String = CSV.lines().take(2).map(|l| format!("{l}\n")).collect();
        let r = import(&store, &Timetable::from_csv(&good).unwrap(), false).unwrap();
        assert!(r.stored && r.sessions_added == 4, "{r:?}");
    }

    #[test]
    fn an_unreadable_csv_line_is_named() {
        let bad = "kind,title,start,duration_min,host\nlesson,x,2026-03-02 08:00,forty,a/b\n";
        let (line, message) = Timetable::from_csv(bad).unwrap_err();
        assert_eq!(line, 2);
        assert!(
            message.contains("duration_min") || message.contains("invalid"),
            "{message}"
        );
    }
}
