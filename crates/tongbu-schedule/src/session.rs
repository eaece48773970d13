//! Sessions: joint lessons, research sessions, lectures, and their lifecycle.

use serde::{Deserialize, Serialize};

use crate::ClassroomId;

/// A session's id in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SessionId(pub i64);

/// What kind of session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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

/// A scheduled session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub id: SessionId,
    pub kind: SessionKind,
    pub title: String,
    pub subject: String,
    /// Start, seconds since the Unix epoch (UTC).
    pub start_utc: i64,
    pub duration_min: i64,
    pub host: ClassroomId,
    /// The remote classrooms, in display order.
    pub classrooms: Vec<ClassroomId>,
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
}
