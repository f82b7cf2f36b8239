-- Team chat: channels, messages, threads, reactions, receipts, files, webhooks, search.
-- Every change to a channel's messages takes the next per-channel sequence number
-- (channels.last_seq); a message's version_seq is the sequence of its latest change,
-- so a client that says where it was gets exactly what changed since.

ALTER TABLE users ADD COLUMN status_text TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN last_seen_at BIGINT;
ALTER TABLE users ADD COLUMN share_read_receipts BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE workspaces ADD COLUMN receipts_policy TEXT NOT NULL DEFAULT 'on';

CREATE TABLE channels (
    id BLOB PRIMARY KEY NOT NULL,
    workspace_id BLOB NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    name TEXT,
    topic TEXT NOT NULL DEFAULT '',
    team_id BLOB REFERENCES teams(id) ON DELETE SET NULL,
    dm_key TEXT UNIQUE,
    created_by BLOB REFERENCES users(id) ON DELETE SET NULL,
    created_at BIGINT NOT NULL,
    archived_at BIGINT,
    last_seq BIGINT NOT NULL DEFAULT 0,
    last_message_at BIGINT
);
CREATE UNIQUE INDEX channels_name ON channels(workspace_id, name) WHERE name IS NOT NULL;
CREATE INDEX channels_team ON channels(team_id) WHERE team_id IS NOT NULL;

CREATE TABLE channel_members (
    channel_id BLOB NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    user_id BLOB NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role TEXT NOT NULL DEFAULT 'member',
    notify TEXT NOT NULL DEFAULT 'all',
    joined_at BIGINT NOT NULL,
    last_read_seq BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (channel_id, user_id)
);
CREATE INDEX channel_members_user ON channel_members(user_id);

CREATE TABLE files (
    id BLOB PRIMARY KEY NOT NULL,
    workspace_id BLOB NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    channel_id BLOB NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    uploader_id BLOB REFERENCES users(id) ON DELETE SET NULL,
    message_id BLOB,
    sha256 TEXT NOT NULL,
    size BIGINT NOT NULL,
    name TEXT NOT NULL,
    content_type TEXT NOT NULL,
    width BIGINT,
    height BIGINT,
    has_thumbnail BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL
);
CREATE INDEX files_channel ON files(channel_id);
CREATE INDEX files_message ON files(message_id);

CREATE TABLE messages (
    id BLOB PRIMARY KEY NOT NULL,
    channel_id BLOB NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    seq BIGINT NOT NULL,
    version_seq BIGINT NOT NULL,
    sender_id BLOB REFERENCES users(id) ON DELETE SET NULL,
    bot_name TEXT,
    body TEXT NOT NULL,
    html TEXT NOT NULL,
    thread_root_id BLOB REFERENCES messages(id) ON DELETE CASCADE,
    reply_count BIGINT NOT NULL DEFAULT 0,
    last_reply_at BIGINT,
    quote_id BLOB,
    mention_all BOOLEAN NOT NULL DEFAULT FALSE,
    ack_required BOOLEAN NOT NULL DEFAULT FALSE,
    client_key TEXT,
    created_at BIGINT NOT NULL,
    edited_at BIGINT,
    deleted_at BIGINT,
    pinned_at BIGINT,
    pinned_by BLOB REFERENCES users(id) ON DELETE SET NULL
);
CREATE UNIQUE INDEX messages_channel_seq ON messages(channel_id, seq);
CREATE INDEX messages_channel_version ON messages(channel_id, version_seq);
CREATE INDEX messages_thread ON messages(thread_root_id, seq) WHERE thread_root_id IS NOT NULL;
CREATE UNIQUE INDEX messages_client_key ON messages(sender_id, client_key) WHERE client_key IS NOT NULL;

CREATE TABLE message_mentions (
    message_id BLOB NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    user_id BLOB NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (message_id, user_id)
);
CREATE INDEX message_mentions_user ON message_mentions(user_id);

CREATE TABLE reactions (
    message_id BLOB NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    user_id BLOB NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    emoji TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (message_id, user_id, emoji)
);

CREATE TABLE thread_follows (
    root_id BLOB NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    user_id BLOB NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    following BOOLEAN NOT NULL,
    PRIMARY KEY (root_id, user_id)
);

CREATE TABLE message_acks (
    message_id BLOB NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    user_id BLOB NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    acked_at BIGINT NOT NULL,
    PRIMARY KEY (message_id, user_id)
);

CREATE TABLE webhooks (
    id BLOB PRIMARY KEY NOT NULL,
    channel_id BLOB NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    token_hash BLOB NOT NULL UNIQUE,
    created_by BLOB REFERENCES users(id) ON DELETE SET NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX webhooks_channel ON webhooks(channel_id);

-- Full-text search: trigram tokens find any substring of three or more characters,
-- which is what Chinese text needs (no spaces between words).
CREATE VIRTUAL TABLE messages_fts USING fts5(body, content='messages', content_rowid='rowid', tokenize='trigram');
CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts(rowid, body) VALUES (new.rowid, new.body);
END;
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts(messages_fts, rowid, body) VALUES ('delete', old.rowid, old.body);
END;
CREATE TRIGGER messages_fts_update AFTER UPDATE OF body ON messages BEGIN
    INSERT INTO messages_fts(messages_fts, rowid, body) VALUES ('delete', old.rowid, old.body);
    INSERT INTO messages_fts(rowid, body) VALUES (new.rowid, new.body);
END;
