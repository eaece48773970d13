-- 3: session ids are never reused (AUTOINCREMENT), so that a link to a cancelled session
-- can never open a later one. SQLite's table rebuild; foreign keys are off while migrating.
CREATE TABLE sessions_v3 (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL CHECK (kind IN ('lesson', 'research', 'lecture')),
    title TEXT NOT NULL,
    subject TEXT NOT NULL,
    start_utc INTEGER NOT NULL,
    duration_min INTEGER NOT NULL CHECK (duration_min > 0),
    host_classroom_id INTEGER NOT NULL REFERENCES classrooms(id),
    state TEXT NOT NULL,
    grade INTEGER,
    zone TEXT NOT NULL DEFAULT 'Asia/Shanghai',
    series_id INTEGER REFERENCES series(id)
);
INSERT INTO sessions_v3 (id, kind, title, subject, start_utc, duration_min,
                         host_classroom_id, state, grade, zone, series_id)
    SELECT id, kind, title, subject, start_utc, duration_min,
           host_classroom_id, state, grade, zone, series_id FROM sessions;
DROP TABLE sessions;
ALTER TABLE sessions_v3 RENAME TO sessions;
CREATE INDEX sessions_by_start ON sessions(start_utc);
CREATE INDEX sessions_by_host ON sessions(host_classroom_id);
