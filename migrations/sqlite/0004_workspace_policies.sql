-- Workspace policies (issue #5): message retention and who may start meetings.
-- retention_days: NULL keeps messages forever; otherwise messages older than that many
-- days are deleted by the retention sweep. meeting_creators: 'everyone' or 'admins'.

ALTER TABLE workspaces ADD COLUMN retention_days BIGINT;
ALTER TABLE workspaces ADD COLUMN meeting_creators TEXT NOT NULL DEFAULT 'everyone';

-- The sweep looks for old top-level messages channel by channel.
CREATE INDEX messages_channel_created ON messages(channel_id, created_at);
