-- 6: passes (a classroom, a personal link) a host removed from a session.
CREATE TABLE session_removals (
    session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    pass TEXT NOT NULL,
    name TEXT NOT NULL,
    removed_utc INTEGER NOT NULL,
    PRIMARY KEY (session_id, pass)
);
