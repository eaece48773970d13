-- 7: local teacher accounts, for schools without the education platform.
CREATE TABLE local_accounts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    username TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    school_id INTEGER NOT NULL REFERENCES schools(id) ON DELETE CASCADE,
    password_hash TEXT NOT NULL,
    created_utc INTEGER NOT NULL
);
