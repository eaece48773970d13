-- 8: a lecture's audience size (seats), NULL for no limit.
ALTER TABLE sessions ADD COLUMN audience INTEGER CHECK (audience IS NULL OR audience > 0);
