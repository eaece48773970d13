//! The sessions tables: a session, its classrooms, people and comparison, its state, and the
//! bookings that must not clash.

use rusqlite::{params, OptionalExtension};

use super::{corrupt, not_found, Db};
use crate::error::Clash;
use crate::store::SessionQuery;
use crate::time::local_datetime;
use crate::{
    ClassroomId, ComparedLesson, Comparison, NewSession, ScheduleError, SeriesId, Session,
    SessionId, SessionKind, SessionSpec, SessionState,
};

impl Db<'_> {
    /// The first session of another id that books `classroom` during [start, end).
    pub(super) fn clash(
        &self,
        classroom: ClassroomId,
        start: i64,
        end: i64,
        except: Option<SessionId>,
    ) -> Result<Option<ScheduleError>, ScheduleError> {
        let hit: Option<(i64, String, i64, String)> = self
            .0
            .prepare_cached(
                "SELECT s.id, s.title, s.start_utc, s.zone FROM sessions s
                 WHERE s.state IN ('scheduled', 'open', 'live')
                   AND s.start_utc < ?3 AND s.start_utc + s.duration_min * 60 > ?2
                   AND s.id != ?4
                   AND (s.host_classroom_id = ?1 OR EXISTS (
                        SELECT 1 FROM session_classrooms sc
                        WHERE sc.session_id = s.id AND sc.classroom_id = ?1))
                 ORDER BY s.start_utc, s.id LIMIT 1",
            )?
            .query_row(
                params![classroom.0, start, end, except.map_or(-1, |s| s.0)],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?;
        let Some((id, title, start_utc, zone)) = hit else {
            return Ok(None);
        };
        let room = self.classroom(classroom)?;
        Ok(Some(ScheduleError::Clash(Box::new(Clash {
            classroom,
            classroom_name: room.display_name(),
            session: SessionId(id),
            title,
            start_utc,
            start_local: local_datetime(start_utc, &zone),
        }))))
    }

    pub(super) fn check_bookings(
        &self,
        s: &NewSession,
        start: i64,
        except: Option<SessionId>,
    ) -> Result<(), ScheduleError> {
        let end = start + s.spec.duration_min * 60;
        for c in s.spec.all_classrooms() {
            self.classroom(c)?;
            if let Some(clash) = self.clash(c, start, end, except)? {
                return Err(clash);
            }
        }
        Ok(())
    }

    pub(super) fn write_participants(&self, id: i64, s: &NewSession) -> Result<(), ScheduleError> {
        for (pos, c) in s.spec.classrooms.iter().enumerate() {
            self.0
                .prepare_cached(
                    "INSERT INTO session_classrooms (session_id, classroom_id, position)
                     VALUES (?1, ?2, ?3)",
                )?
                .execute(params![id, c.0, pos as i64])?;
        }
        for (pos, name) in s.spec.people.iter().enumerate() {
            self.0
                .prepare_cached(
                    "INSERT INTO session_people (session_id, position, name) VALUES (?1, ?2, ?3)",
                )?
                .execute(params![id, pos as i64, name])?;
        }
        if let Some(c) = &s.spec.comparison {
            for (side, l) in [(0, &c.left), (1, &c.right)] {
                self.0
                    .prepare_cached(
                        "INSERT INTO session_comparisons
                         (session_id, side, classroom_id, title, teacher)
                         VALUES (?1, ?2, ?3, ?4, ?5)",
                    )?
                    .execute(params![id, side, l.classroom.0, l.title, l.teacher])?;
            }
        }
        Ok(())
    }

    pub(super) fn state_of(&self, id: SessionId) -> Result<SessionState, ScheduleError> {
        let state: String = self
            .0
            .prepare_cached("SELECT state FROM sessions WHERE id = ?1")?
            .query_row(params![id.0], |r| r.get(0))
            .optional()?
            .ok_or_else(|| not_found("session", id.0))?;
        SessionState::parse(&state).ok_or_else(|| corrupt("session state", &state))
    }

    pub(super) fn ids(
        &self,
        sql: &str,
        p: impl rusqlite::Params,
    ) -> Result<Vec<SessionId>, ScheduleError> {
        let mut stmt = self.0.prepare_cached(sql)?;
        let ids = stmt
            .query_map(p, |r| Ok(SessionId(r.get(0)?)))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ids)
    }

    pub(super) fn add_session(&self, s: &NewSession) -> Result<Vec<Session>, ScheduleError> {
        for start in &s.starts {
            self.check_bookings(s, *start, None)?;
        }
        let series = match &s.weekly {
            Some((until, except)) => {
                let except: Vec<String> = except.iter().map(|d| d.to_string()).collect();
                self.0
                    .prepare_cached("INSERT INTO series (until, except_dates) VALUES (?1, ?2)")?
                    .execute(params![
                        until.to_string(),
                        serde_json::to_string(&except).unwrap_or_default()
                    ])?;
                Some(self.0.last_insert_rowid())
            }
            None => None,
        };
        let mut out = Vec::with_capacity(s.starts.len());
        for start in &s.starts {
            self.0
                .prepare_cached(
                    "INSERT INTO sessions (kind, title, subject, grade, start_utc, duration_min,
                                           zone, host_classroom_id, series_id, audience, record,
                                           state)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, 'scheduled')",
                )?
                .execute(params![
                    s.spec.kind.as_str(),
                    s.spec.title,
                    s.spec.subject,
                    s.spec.grade,
                    start,
                    s.spec.duration_min,
                    s.zone,
                    s.spec.host.0,
                    series,
                    s.spec.audience,
                    s.spec.record
                ])?;
            let id = self.0.last_insert_rowid();
            self.write_participants(id, s)?;
            out.push(self.session(SessionId(id))?);
        }
        Ok(out)
    }

    pub(super) fn session(&self, id: SessionId) -> Result<Session, ScheduleError> {
        type SessionRow = (
            String,
            String,
            String,
            Option<u8>,
            i64,
            i64,
            String,
            i64,
            Option<i64>,
            String,
            Option<u32>,
            Option<bool>,
        );
        let row: SessionRow = self
            .0
            .prepare_cached(
                "SELECT kind, title, subject, grade, start_utc, duration_min, zone,
                        host_classroom_id, series_id, state, audience, record
                 FROM sessions WHERE id = ?1",
            )?
            .query_row(params![id.0], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                    r.get(8)?,
                    r.get(9)?,
                    r.get(10)?,
                    r.get(11)?,
                ))
            })
            .optional()?
            .ok_or_else(|| not_found("session", id.0))?;
        let classrooms = self
            .0
            .prepare_cached(
                "SELECT classroom_id FROM session_classrooms WHERE session_id = ?1
                 ORDER BY position",
            )?
            .query_map(params![id.0], |r| Ok(ClassroomId(r.get(0)?)))?
            .collect::<Result<Vec<_>, _>>()?;
        let people = self
            .0
            .prepare_cached(
                "SELECT name FROM session_people WHERE session_id = ?1 ORDER BY position",
            )?
            .query_map(params![id.0], |r| r.get(0))?
            .collect::<Result<Vec<String>, _>>()?;
        let sides = self
            .0
            .prepare_cached(
                "SELECT classroom_id, title, teacher FROM session_comparisons
                 WHERE session_id = ?1 ORDER BY side",
            )?
            .query_map(params![id.0], |r| {
                Ok(ComparedLesson {
                    classroom: ClassroomId(r.get(0)?),
                    title: r.get(1)?,
                    teacher: r.get(2)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let comparison = match <[ComparedLesson; 2]>::try_from(sides) {
            Ok([left, right]) => Some(Comparison { left, right }),
            Err(_) => None,
        };
        Ok(Session {
            id,
            spec: SessionSpec {
                kind: SessionKind::parse(&row.0).ok_or_else(|| corrupt("session kind", &row.0))?,
                title: row.1,
                subject: row.2,
                grade: row.3,
                duration_min: row.5,
                host: ClassroomId(row.7),
                classrooms,
                people,
                comparison,
                audience: row.10,
                record: row.11,
            },
            start_utc: row.4,
            zone: row.6,
            series: row.8.map(SeriesId),
            state: SessionState::parse(&row.9).ok_or_else(|| corrupt("session state", &row.9))?,
        })
    }

    pub(super) fn sessions(&self, q: &SessionQuery) -> Result<Vec<Session>, ScheduleError> {
        let ids = self.ids(
            "SELECT s.id FROM sessions s
             WHERE s.start_utc < ?2 AND s.start_utc + s.duration_min * 60 > ?1
               AND (?3 IS NULL OR s.host_classroom_id = ?3 OR EXISTS (
                    SELECT 1 FROM session_classrooms sc
                    WHERE sc.session_id = s.id AND sc.classroom_id = ?3))
               AND (?4 IS NULL OR EXISTS (
                    SELECT 1 FROM classrooms c WHERE c.school_id = ?4
                      AND (c.id = s.host_classroom_id OR EXISTS (
                           SELECT 1 FROM session_classrooms sc
                           WHERE sc.session_id = s.id AND sc.classroom_id = c.id))))
             ORDER BY s.start_utc, s.id",
            params![
                q.from,
                q.to,
                q.classroom.map(|c| c.0),
                q.school.map(|s| s.0)
            ],
        )?;
        ids.into_iter().map(|id| self.session(id)).collect()
    }

    pub(super) fn update_session(
        &self,
        id: SessionId,
        s: &NewSession,
    ) -> Result<Session, ScheduleError> {
        let state = self.state_of(id)?;
        if !matches!(state, SessionState::Scheduled | SessionState::Open) {
            return Err(ScheduleError::InUse(format!(
                "the session is {}; only a session that has not started can be changed",
                state.as_str()
            )));
        }
        let [start] = s.starts[..] else {
            return Err(ScheduleError::Invalid(vec![crate::FieldError {
                field: "repeat".into(),
                message: "a change applies to one session; to repeat it, create a new series"
                    .into(),
            }]));
        };
        self.check_bookings(s, start, Some(id))?;
        self.0
            .prepare_cached(
                "UPDATE sessions SET kind = ?2, title = ?3, subject = ?4, grade = ?5,
                        start_utc = ?6, duration_min = ?7, zone = ?8, host_classroom_id = ?9,
                        audience = ?10, record = ?11
                 WHERE id = ?1",
            )?
            .execute(params![
                id.0,
                s.spec.kind.as_str(),
                s.spec.title,
                s.spec.subject,
                s.spec.grade,
                start,
                s.spec.duration_min,
                s.zone,
                s.spec.host.0,
                s.spec.audience,
                s.spec.record
            ])?;
        for table in [
            "DELETE FROM session_classrooms WHERE session_id = ?1",
            "DELETE FROM session_people WHERE session_id = ?1",
            "DELETE FROM session_comparisons WHERE session_id = ?1",
        ] {
            self.0.prepare_cached(table)?.execute(params![id.0])?;
        }
        self.write_participants(id.0, s)?;
        self.session(id)
    }

    pub(super) fn delete_session(&self, id: SessionId) -> Result<(), ScheduleError> {
        let state = self.state_of(id)?;
        if !matches!(state, SessionState::Scheduled | SessionState::Open) {
            return Err(ScheduleError::InUse(format!(
                "the session is {}; a session that went live is kept for its report",
                state.as_str()
            )));
        }
        self.0
            .prepare_cached("DELETE FROM sessions WHERE id = ?1")?
            .execute(params![id.0])?;
        Ok(())
    }

    pub(super) fn transition_session_state(
        &self,
        id: SessionId,
        from: &[SessionState],
        to: SessionState,
    ) -> Result<bool, ScheduleError> {
        let current = self.state_of(id)?;
        if !from.contains(&current) {
            return Ok(false);
        }
        self.0
            .prepare_cached("UPDATE sessions SET state = ?2 WHERE id = ?1")?
            .execute(params![id.0, to.as_str()])?;
        Ok(true)
    }

    pub(super) fn sessions_due_to_open(
        &self,
        now_utc: i64,
        lead_secs: i64,
    ) -> Result<Vec<SessionId>, ScheduleError> {
        self.ids(
            "SELECT id FROM sessions
             WHERE state = 'scheduled' AND start_utc - ?2 <= ?1
               AND start_utc + duration_min * 60 > ?1
             ORDER BY id",
            params![now_utc, lead_secs],
        )
    }

    pub(super) fn sessions_due_to_end(
        &self,
        now_utc: i64,
        grace_secs: i64,
    ) -> Result<Vec<SessionId>, ScheduleError> {
        self.ids(
            "SELECT id FROM sessions
             WHERE state IN ('scheduled', 'open', 'live')
               AND start_utc + duration_min * 60 + ?2 <= ?1
             ORDER BY id",
            params![now_utc, grace_secs],
        )
    }
}
