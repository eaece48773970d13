-- 2: time zones, grades and capacity, school pairs, weekly series, people invited by name,
-- 同课异构 comparisons.
ALTER TABLE schools ADD COLUMN timezone TEXT NOT NULL DEFAULT 'Asia/Shanghai';
ALTER TABLE classrooms ADD COLUMN grade INTEGER;
ALTER TABLE classrooms ADD COLUMN capacity INTEGER;
CREATE TABLE school_pairs (
    id INTEGER PRIMARY KEY,
    beijing_school_id INTEGER NOT NULL REFERENCES schools(id),
    inner_mongolia_school_id INTEGER NOT NULL REFERENCES schools(id),
    since TEXT NOT NULL,
    UNIQUE (beijing_school_id, inner_mongolia_school_id)
);
CREATE TABLE series (
    id INTEGER PRIMARY KEY,
    until TEXT NOT NULL,
    except_dates TEXT NOT NULL
);
ALTER TABLE sessions ADD COLUMN grade INTEGER;
ALTER TABLE sessions ADD COLUMN zone TEXT NOT NULL DEFAULT 'Asia/Shanghai';
ALTER TABLE sessions ADD COLUMN series_id INTEGER REFERENCES series(id);
CREATE TABLE session_people (
    session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    name TEXT NOT NULL,
    PRIMARY KEY (session_id, position)
);
CREATE TABLE session_comparisons (
    session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    side INTEGER NOT NULL CHECK (side IN (0, 1)),
    classroom_id INTEGER NOT NULL REFERENCES classrooms(id),
    title TEXT NOT NULL,
    teacher TEXT NOT NULL,
    PRIMARY KEY (session_id, side)
);
CREATE INDEX sessions_by_start ON sessions(start_utc);
CREATE INDEX session_classrooms_by_classroom ON session_classrooms(classroom_id);
CREATE INDEX sessions_by_host ON sessions(host_classroom_id);
