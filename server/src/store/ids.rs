//! Typed identifiers and time helpers shared by every domain.
//!
//! IDs are UUIDv7 (time-ordered, so B-tree inserts stay local); stored as BLOB on
//! SQLite and `uuid` on PostgreSQL. Times are stored as unix milliseconds (BIGINT):
//! RFC 3339 text does not sort chronologically in SQLite.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, sqlx::Type, utoipa::ToSchema)]
        #[sqlx(transparent)]
        #[serde(transparent)]
        #[schema(value_type = String, format = Uuid)]
        pub struct $name(pub Uuid);

        impl $name {
            pub fn new() -> Self {
                $name(Uuid::now_v7())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map($name)
            }
        }
    };
}

typed_id!(
    /// A person's account.
    UserId
);
typed_id!(
    /// A signed-in device; access tokens name it.
    SessionId
);
typed_id!(
    /// A workspace (a company or organisation).
    WorkspaceId
);
typed_id!(
    /// A team (department) inside a workspace.
    TeamId
);
typed_id!(
    /// An invitation to a workspace.
    InviteId
);
typed_id!(
    /// An audit log entry.
    AuditId
);
typed_id!(
    /// A channel, DM or group DM.
    ChannelId
);
typed_id!(
    /// A chat message.
    MessageId
);
typed_id!(
    /// An uploaded file.
    FileId
);
typed_id!(
    /// An incoming webhook.
    WebhookId
);
typed_id!(
    /// A video meeting.
    MeetingId
);

/// Now as unix milliseconds.
pub fn now_ms() -> i64 {
    (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// Unix milliseconds as an RFC 3339 UTC string for the API.
pub fn rfc3339(ms: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}
