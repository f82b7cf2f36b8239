-- Let the full-text index keep up to 16 segments per level before merging them (FTS5's
-- default is 4). Each message transaction writes a new segment, and merging often was
-- half of the cost of storing a message; searches read a few more segments instead.
INSERT INTO messages_fts(messages_fts, rank) VALUES ('automerge', 16);
