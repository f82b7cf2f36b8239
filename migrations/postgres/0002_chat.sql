-- Team chat: channels, messages, threads, reactions, receipts, files, webhooks, search.
-- Every change to a channel's messages takes the next per-channel sequence number
-- (channels.last_seq); a message's version_seq is the sequence of its latest change,
-- so a client that says where it was gets exactly what changed since.

ALTER TABLE users ADD COLUMN status_text TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN last_seen_at BIGINT;
ALTER TABLE users ADD COLUMN share_read_receipts BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE workspaces ADD COLUMN receipts_policy TEXT NOT NULL DEFAULT 'on';

CREATE TABLE channels (
    id UUID PRIMARY KEY NOT NULL,
    workspace_id UUID NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    name TEXT,
    topic TEXT NOT NULL DEFAULT '',
    team_id UUID REFERENCES teams(id) ON DELETE SET NULL,
    dm_key TEXT UNIQUE,
    created_by UUID REFERENCES users(id) ON DELETE SET NULL,
    created_at BIGINT NOT NULL,
    archived_at BIGINT,
    last_seq BIGINT NOT NULL DEFAULT 0,
    last_message_at BIGINT
);
CREATE UNIQUE INDEX channels_name ON channels(workspace_id, name) WHERE name IS NOT NULL;
CREATE INDEX channels_team ON channels(team_id) WHERE team_id IS NOT NULL;

CREATE TABLE channel_members (
    channel_id UUID NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role TEXT NOT NULL DEFAULT 'member',
    notify TEXT NOT NULL DEFAULT 'all',
    joined_at BIGINT NOT NULL,
    last_read_seq BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (channel_id, user_id)
);
CREATE INDEX channel_members_user ON channel_members(user_id);

CREATE TABLE files (
    id UUID PRIMARY KEY NOT NULL,
    workspace_id UUID NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    channel_id UUID NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    uploader_id UUID REFERENCES users(id) ON DELETE SET NULL,
    message_id UUID,
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
    id UUID PRIMARY KEY NOT NULL,
    channel_id UUID NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    seq BIGINT NOT NULL,
    version_seq BIGINT NOT NULL,
    sender_id UUID REFERENCES users(id) ON DELETE SET NULL,
    bot_name TEXT,
    body TEXT NOT NULL,
    html TEXT NOT NULL,
    thread_root_id UUID REFERENCES messages(id) ON DELETE CASCADE,
    reply_count BIGINT NOT NULL DEFAULT 0,
    last_reply_at BIGINT,
    quote_id UUID,
    mention_all BOOLEAN NOT NULL DEFAULT FALSE,
    ack_required BOOLEAN NOT NULL DEFAULT FALSE,
    client_key TEXT,
    created_at BIGINT NOT NULL,
    edited_at BIGINT,
    deleted_at BIGINT,
    pinned_at BIGINT,
    pinned_by UUID REFERENCES users(id) ON DELETE SET NULL
);
CREATE UNIQUE INDEX messages_channel_seq ON messages(channel_id, seq);
CREATE INDEX messages_channel_version ON messages(channel_id, version_seq);
CREATE INDEX messages_thread ON messages(thread_root_id, seq) WHERE thread_root_id IS NOT NULL;
CREATE UNIQUE INDEX messages_client_key ON messages(sender_id, client_key) WHERE client_key IS NOT NULL;

CREATE TABLE message_mentions (
    message_id UUID NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (message_id, user_id)
);
CREATE INDEX message_mentions_user ON message_mentions(user_id);

CREATE TABLE reactions (
    message_id UUID NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    emoji TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (message_id, user_id, emoji)
);

CREATE TABLE thread_follows (
    root_id UUID NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    following BOOLEAN NOT NULL,
    PRIMARY KEY (root_id, user_id)
);

CREATE TABLE message_acks (
    message_id UUID NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    acked_at BIGINT NOT NULL,
    PRIMARY KEY (message_id, user_id)
);

CREATE TABLE webhooks (
    id UUID PRIMARY KEY NOT NULL,
    channel_id UUID NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    token_hash BYTEA NOT NULL UNIQUE,
    created_by UUID REFERENCES users(id) ON DELETE SET NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX webhooks_channel ON webhooks(channel_id);

-- Full-text search: trigram indexes find any substring, which is what Chinese text
-- needs (no spaces between words).
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX messages_body_trgm ON messages USING gin (body gin_trgm_ops);
