//! The quality reports table: one JSON report per ended session, with its summary.

use rusqlite::{params, OptionalExtension};

use super::Db;
use crate::{QualityReport, ReportSummary, ScheduleError, SessionId};

fn report_json<T: serde::Serialize>(v: &T) -> Result<String, ScheduleError> {
    serde_json::to_string(v).map_err(|e| ScheduleError::Corrupt {
        what: "quality report",
        value: e.to_string(),
    })
}

fn parse_report(body: &str) -> Result<QualityReport, ScheduleError> {
    serde_json::from_str(body).map_err(|e| ScheduleError::Corrupt {
        what: "quality report",
        value: e.to_string(),
    })
}

impl Db<'_> {
    pub(super) fn save_report(&self, r: &QualityReport) -> Result<(), ScheduleError> {
        self.state_of(r.session)?;
        let body = report_json(r)?;
        // The list of past sessions reads only this, never the (large) body.
        let summary = report_json(&ReportSummary::of(r, String::new()))?;
        self.0
            .prepare_cached(
                "INSERT INTO session_reports (session_id, ended_utc, body, summary)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(session_id) DO UPDATE SET ended_utc = ?2, body = ?3, summary = ?4",
            )?
            .execute(params![r.session.0, r.ended_utc, body, summary])?;
        Ok(())
    }

    pub(super) fn report(&self, id: SessionId) -> Result<QualityReport, ScheduleError> {
        let body: Option<String> = self
            .0
            .prepare_cached("SELECT body FROM session_reports WHERE session_id = ?1")?
            .query_row(params![id.0], |r| r.get(0))
            .optional()?;
        let Some(body) = body else {
            // Tell a session without a report from one that does not exist.
            self.state_of(id)?;
            return Err(ScheduleError::NotFound {
                what: "report of session",
                id: id.0,
            });
        };
        parse_report(&body)
    }

    pub(super) fn recent_reports(&self, limit: u32) -> Result<Vec<ReportSummary>, ScheduleError> {
        let mut st = self.0.prepare_cached(
            "SELECT r.summary, s.title FROM session_reports r JOIN sessions s ON s.id = r.session_id
             ORDER BY r.ended_utc DESC, r.session_id DESC LIMIT ?1",
        )?;
        let rows = st.query_map(params![limit], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (summary, title) = row?;
            // One unreadable row is left out (and logged), not the whole list.
            match serde_json::from_str::<ReportSummary>(&summary) {
                Ok(s) => out.push(ReportSummary { title, ..s }),
                Err(e) => tracing::warn!(%title, "unreadable report summary left out: {e}"),
            }
        }
        Ok(out)
    }
}
