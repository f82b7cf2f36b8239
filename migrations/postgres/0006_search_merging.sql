-- Kept in step with the SQLite migrations, where this tunes FTS5 merging. PostgreSQL's
-- trigram index has nothing to tune here.
SELECT 1;
