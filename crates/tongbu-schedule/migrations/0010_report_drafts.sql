-- 10: the quality report of a session still running, as sampled so far (JSON, shaped by
-- `report::QualityReport`): a restart continues it instead of losing the lesson's first part.
-- Gone when the session's report is written.
CREATE TABLE report_drafts (
    session_id INTEGER PRIMARY KEY REFERENCES sessions(id) ON DELETE CASCADE,
    saved_utc INTEGER NOT NULL,
    body TEXT NOT NULL
);
