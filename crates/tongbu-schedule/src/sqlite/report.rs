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
        self.0
            .prepare_cached("DELETE FROM report_drafts WHERE session_id = ?1")?
            .execute(params![r.session.0])?;
        Ok(())
    }

    pub(super) fn save_report_draft(
        &self,
        r: &QualityReport,
        saved_utc: i64,
    ) -> Result<(), ScheduleError> {
        self.state_of(r.session)?;
        let body = report_json(r)?;
        self.0
            .prepare_cached(
                "INSERT INTO report_drafts (session_id, saved_utc, body) VALUES (?1, ?2, ?3)
                 ON CONFLICT(session_id) DO UPDATE SET saved_utc = ?2, body = ?3",
            )?
            .execute(params![r.session.0, saved_utc, body])?;
        Ok(())
    }

    pub(super) fn report_drafts(&self) -> Result<Vec<QualityReport>, ScheduleError> {
        let bodies = self
            .0
            .prepare_cached(
                "SELECT d.body FROM report_drafts d
                 WHERE NOT EXISTS (SELECT 1 FROM session_reports r
                                   WHERE r.session_id = d.session_id)",
            )?
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        bodies.iter().map(|b| parse_report(b)).collect()
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
