-- Video meetings: a meeting has a link code, an optional schedule, hosts, invitees and a
-- guest policy. Who is in a meeting right now lives in memory on the node that hosts it;
-- attendance is recorded for usage reports.

ALTER TABLE workspaces ADD COLUMN meeting_guests_allowed BOOLEAN NOT NULL DEFAULT TRUE;

CREATE TABLE meetings (
    id BLOB PRIMARY KEY NOT NULL,
    workspace_id BLOB NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    code TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    created_by BLOB REFERENCES users(id) ON DELETE SET NULL,
    channel_id BLOB REFERENCES channels(id) ON DELETE SET NULL,
    starts_at BIGINT,
    duration_min INTEGER,
    allow_guests BOOLEAN NOT NULL DEFAULT TRUE,
    lobby BOOLEAN NOT NULL DEFAULT FALSE,
    locked BOOLEAN NOT NULL DEFAULT FALSE,
    max_participants INTEGER NOT NULL,
    created_at BIGINT NOT NULL,
    ended_at BIGINT
);
CREATE INDEX meetings_workspace ON meetings(workspace_id, starts_at);

-- Host and co-hosts.
CREATE TABLE meeting_hosts (
    meeting_id BLOB NOT NULL REFERENCES meetings(id) ON DELETE CASCADE,
    user_id BLOB NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (meeting_id, user_id)
);

CREATE TABLE meeting_invitees (
    meeting_id BLOB NOT NULL REFERENCES meetings(id) ON DELETE CASCADE,
    user_id BLOB NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (meeting_id, user_id)
);
CREATE INDEX meeting_invitees_user ON meeting_invitees(user_id);

-- One row per participant per stay (guests have no user).
CREATE TABLE meeting_attendance (
    meeting_id BLOB NOT NULL REFERENCES meetings(id) ON DELETE CASCADE,
    participant TEXT NOT NULL,
    user_id BLOB REFERENCES users(id) ON DELETE SET NULL,
    joined_at BIGINT NOT NULL,
    left_at BIGINT,
    PRIMARY KEY (meeting_id, participant)
);
