//! Sessions: joint lessons, research sessions, lectures, and their lifecycle.

use jiff::civil::Date;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::time::{local_date, zone};
use crate::ClassroomId;

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

    /// The states a session may come to `self` from: opened from scheduled, made live from
    /// scheduled or open, ended from any state before that. Nothing goes back.
    pub fn reached_from(self) -> &'static [SessionState] {
        use SessionState::*;
        match self {
            Scheduled => &[],
            Open => &[Scheduled],
            Live => &[Scheduled, Open],
            Ended => &[Scheduled, Open, Live],
            Report => &[Ended],
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

/// What a session is, whenever it takes place: the one description of its fields, shared by
/// the stored [`Session`], the checked [`NewSession`](crate::NewSession) and the written [`SessionDraft`](crate::SessionDraft) (flattened
/// in their JSON, so each reads as one flat object).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SessionSpec {
    pub kind: SessionKind,
    #[schema(example = "勾股定理")]
    pub title: String,
    #[serde(default)]
    #[schema(example = "数学")]
    pub subject: String,
    /// School year 1–12.
    #[serde(default)]
    pub grade: Option<u8>,
    #[schema(example = 45)]
    pub duration_min: i64,
    /// The teaching (lesson), convening (research) or speaking (lecture) classroom.
    pub host: ClassroomId,
    /// The remote classrooms, in display order.
    #[serde(default)]
    pub classrooms: Vec<ClassroomId>,
    /// People invited by name (research teachers, lecture guests); they join as observers.
    #[serde(default)]
    pub people: Vec<String>,
    /// 同课异构 pair (research sessions only).
    #[serde(default)]
    pub comparison: Option<Comparison>,
    /// Seats of a lecture's audience (lectures only): joins by the audience link beyond it are
    /// turned away with `full`. None: as many as the server holds.
    #[serde(default)]
    #[schema(example = json!(null))]
    pub audience: Option<u32>,
    /// Whether the session is recorded from the moment it goes live: true, false, or left empty
    /// for the server's default (`TONGBU_RECORDING_DEFAULT`). The host can still switch it.
    #[serde(default)]
    #[schema(example = json!(null))]
    pub record: Option<bool>,
}

impl SessionSpec {
    /// Every classroom taking part, host first.
    pub fn all_classrooms(&self) -> impl Iterator<Item = ClassroomId> + '_ {
        std::iter::once(self.host).chain(self.classrooms.iter().copied())
    }

    /// Whether `classroom` takes part (as host or remote classroom).
    pub fn includes(&self, classroom: ClassroomId) -> bool {
        self.host == classroom || self.classrooms.contains(&classroom)
    }
}

/// A scheduled session (one occurrence, when it belongs to a weekly series).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Session {
    pub id: SessionId,
    #[serde(flatten)]
    pub spec: SessionSpec,
    /// Start, seconds since the Unix epoch (UTC).
    pub start_utc: i64,
    /// IANA zone the session is shown in (the host school's).
    pub zone: String,
    /// The weekly series this occurrence belongs to.
    pub series: Option<SeriesId>,
    pub state: SessionState,
}

impl Session {
    /// End, seconds since the Unix epoch (UTC).
    pub fn end_utc(&self) -> i64 {
        self.start_utc + self.spec.duration_min * 60
    }

    /// When joins are accepted: from `lead_secs` before the start until `grace_secs` after the
    /// end, both in seconds since the epoch.
    pub fn join_window(&self, lead_secs: i64, grace_secs: i64) -> (i64, i64) {
        (self.start_utc - lead_secs, self.end_utc() + grace_secs)
    }

    /// Whether `classroom` takes part (as host or remote classroom).
    pub fn includes(&self, classroom: ClassroomId) -> bool {
        self.spec.includes(classroom)
    }

    /// The start on the session's wall clock, `YYYY-MM-DD HH:MM`.
    pub fn start_local(&self) -> String {
        crate::time::local_datetime(self.start_utc, &self.zone)
    }
}

/// The local date of a session's start, for listings "today" and "this week".
pub fn start_date(s: &Session) -> Option<Date> {
    local_date(s.start_utc, &zone(&s.zone).ok()?)
}

#[cfg(test)]
mod tests {
    use super::SessionState::{self, *};

    #[test]
    fn a_session_only_moves_forward() {
        let order = [Scheduled, Open, Live, Ended, Report];
        for (i, to) in order.iter().enumerate() {
            for from in SessionState::reached_from(*to) {
                let j = order.iter().position(|s| s == from).unwrap();
                assert!(j < i, "{} may not follow {}", to.as_str(), from.as_str());
            }
        }
        assert!(Live.reached_from().contains(&Open));
        assert!(
            !Live.reached_from().contains(&Ended),
            "an ended session never restarts"
        );
        assert!(
            Ended.reached_from().contains(&Scheduled),
            "ended unstarted by the timetable"
        );
    }
}
