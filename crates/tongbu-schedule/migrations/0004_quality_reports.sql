-- 4: quality reports, one per ended session (JSON, shaped by `report::QualityReport`).
CREATE TABLE session_reports (
    session_id INTEGER PRIMARY KEY REFERENCES sessions(id) ON DELETE CASCADE,
    ended_utc INTEGER NOT NULL,
    body TEXT NOT NULL,
    summary TEXT NOT NULL
);
CREATE INDEX reports_by_end ON session_reports(ended_utc);
