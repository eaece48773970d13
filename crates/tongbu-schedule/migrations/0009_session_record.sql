-- 9: whether a session is recorded when it goes live: 1 yes, 0 no, NULL the server's default.
ALTER TABLE sessions ADD COLUMN record INTEGER CHECK (record IS NULL OR record IN (0, 1));
