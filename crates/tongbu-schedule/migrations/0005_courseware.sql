-- 5: courseware: each page's image once by its SHA-256, decks of a session listing them.
CREATE TABLE courseware_pages (
    digest TEXT PRIMARY KEY,
    image TEXT NOT NULL CHECK (image IN ('png', 'jpeg', 'webp')),
    bytes BLOB NOT NULL
);
CREATE TABLE courseware_decks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    title TEXT NOT NULL,
    created_utc INTEGER NOT NULL
);
CREATE INDEX decks_by_session ON courseware_decks(session_id);
CREATE TABLE courseware_deck_pages (
    deck_id INTEGER NOT NULL REFERENCES courseware_decks(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    digest TEXT NOT NULL REFERENCES courseware_pages(digest),
    PRIMARY KEY (deck_id, position)
);
