-- 1: schools, classrooms, sessions and who takes part.
CREATE TABLE schools (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    region TEXT NOT NULL CHECK (region IN ('beijing', 'inner_mongolia')),
    district TEXT NOT NULL
);
CREATE TABLE classrooms (
    id INTEGER PRIMARY KEY,
    school_id INTEGER NOT NULL REFERENCES schools(id),
    name TEXT NOT NULL,
    UNIQUE (school_id, name)
);
CREATE TABLE sessions (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('lesson', 'research', 'lecture')),
    title TEXT NOT NULL,
    subject TEXT NOT NULL,
    start_utc INTEGER NOT NULL,
    duration_min INTEGER NOT NULL CHECK (duration_min > 0),
    host_classroom_id INTEGER NOT NULL REFERENCES classrooms(id),
    state TEXT NOT NULL
);
CREATE TABLE session_classrooms (
    session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    classroom_id INTEGER NOT NULL REFERENCES classrooms(id),
    position INTEGER NOT NULL,
    PRIMARY KEY (session_id, classroom_id)
);
