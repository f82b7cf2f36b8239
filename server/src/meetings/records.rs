//! Stored meetings: the row, its hosts and invitees, and the API shape.

use rand::Rng;
use serde::Serialize;
use utoipa::ToSchema;

use crate::db;
use crate::error::{AppError, AppResult};
use crate::orgs::access::{Role, member_role};
use crate::store::Store;
use crate::store::ids::{ChannelId, MeetingId, UserId, WorkspaceId, rfc3339};

/// A meeting as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Meeting {
    pub id: MeetingId,
    /// The link code: the meeting page is `/m/<code>`.
    pub code: String,
    pub workspace_id: WorkspaceId,
    pub title: String,
    /// `/m/<code>`, relative to the server's public URL.
    pub url: String,
    pub host_id: Option<UserId>,
    pub cohost_ids: Vec<UserId>,
    /// The channel or DM the meeting was started from.
    pub channel_id: Option<ChannelId>,
    /// Scheduled start (RFC 3339), or null for an instant meeting.
    pub starts_at: Option<String>,
    pub duration_min: Option<i32>,
    pub invitee_ids: Vec<UserId>,
    /// People without an account may join with a display name.
    pub allow_guests: bool,
    /// People wait in a lobby until a host admits them.
    pub lobby: bool,
    /// Nobody new may join.
    pub locked: bool,
    pub max_participants: i32,
    pub created_at: String,
    pub ended_at: Option<String>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MeetingRow {
    pub id: MeetingId,
    pub workspace_id: WorkspaceId,
    pub code: String,
    pub title: String,
    pub created_by: Option<UserId>,
    pub channel_id: Option<ChannelId>,
    pub starts_at: Option<i64>,
    pub duration_min: Option<i32>,
    pub allow_guests: bool,
    pub lobby: bool,
    pub locked: bool,
    pub max_participants: i32,
    pub created_at: i64,
    pub ended_at: Option<i64>,
}

pub const COLUMNS: &str = "id, workspace_id, code, title, created_by, channel_id, starts_at, duration_min, allow_guests, lobby, locked, max_participants, created_at, ended_at";

/// A new link code like `kfz-qbtw-mhx`: 10 letters from 23 (no i, l, o), ~45 bits.
pub fn new_code() -> String {
    const LETTERS: &[u8] = b"abcdefghjkmnpqrstuvwxyz";
    let mut rng = rand::rng();
    let mut code = String::with_capacity(12);
    for (i, group) in [3usize, 4, 3].iter().enumerate() {
        if i > 0 {
            code.push('-');
        }
        for _ in 0..*group {
            code.push(LETTERS[rng.random_range(0..LETTERS.len())] as char);
        }
    }
    code
}

/// Is this a well-formed link code (checked before touching the database)?
pub fn valid_code(code: &str) -> bool {
    code.len() == 12
        && code.char_indices().all(|(i, c)| {
            if i == 3 || i == 8 {
                c == '-'
            } else {
                c.is_ascii_lowercase()
            }
        })
}

/// Load a meeting by code.
pub async fn by_code(store: &Store, code: &str) -> AppResult<MeetingRow> {
    if !valid_code(code) {
        return Err(AppError::not_found("meeting"));
    }
    let row: Option<MeetingRow> = db!(store.read(), c => sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM meetings WHERE code = $1"
    )))
    .bind(code)
    .fetch_optional(c)
    .await)?;
    row.ok_or_else(|| AppError::not_found("meeting"))
}

/// Co-host and invitee ids of a meeting.
pub async fn people(store: &Store, id: MeetingId) -> AppResult<(Vec<UserId>, Vec<UserId>)> {
    let cohosts: Vec<UserId> = db!(store.read(), c => sqlx::query_scalar(
        "SELECT user_id FROM meeting_hosts WHERE meeting_id = $1 ORDER BY user_id"
    )
    .bind(id)
    .fetch_all(c)
    .await)?;
    let invitees: Vec<UserId> = db!(store.read(), c => sqlx::query_scalar(
        "SELECT user_id FROM meeting_invitees WHERE meeting_id = $1 ORDER BY user_id"
    )
    .bind(id)
    .fetch_all(c)
    .await)?;
    Ok((cohosts, invitees))
}

/// The API view of a row.
pub async fn view(store: &Store, row: &MeetingRow) -> AppResult<Meeting> {
    let (cohost_ids, invitee_ids) = people(store, row.id).await?;
    Ok(Meeting {
        id: row.id,
        code: row.code.clone(),
        workspace_id: row.workspace_id,
        title: row.title.clone(),
        url: format!("/m/{}", row.code),
        host_id: row.created_by,
        cohost_ids,
        channel_id: row.channel_id,
        starts_at: row.starts_at.map(rfc3339),
        duration_min: row.duration_min,
        invitee_ids,
        allow_guests: row.allow_guests,
        lobby: row.lobby,
        locked: row.locked,
        max_participants: row.max_participants,
        created_at: rfc3339(row.created_at),
        ended_at: row.ended_at.map(rfc3339),
    })
}

/// How a signed-in person stands in a meeting.
pub struct Standing {
    pub workspace_role: Role,
    /// Host, co-host, or a workspace admin (who may run any meeting of the workspace).
    pub manages: bool,
    pub is_host: bool,
}

/// The caller's standing; 404 when they are not in the meeting's workspace.
pub async fn standing(store: &Store, row: &MeetingRow, user: UserId) -> AppResult<Standing> {
    let workspace_role = member_role(store, row.workspace_id, user)
        .await
        .map_err(|_| AppError::not_found("meeting"))?;
    let cohost: Option<i64> = db!(store.read(), c => sqlx::query_scalar(
        "SELECT 1 FROM meeting_hosts WHERE meeting_id = $1 AND user_id = $2"
    )
    .bind(row.id)
    .bind(user)
    .fetch_optional(c)
    .await)?;
    let is_host = row.created_by == Some(user);
    Ok(Standing {
        workspace_role,
        manages: is_host || cohost.is_some() || workspace_role.is_admin(),
        is_host,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_well_formed_and_vary() {
        let a = new_code();
        assert!(valid_code(&a), "{a}");
        assert_ne!(a, new_code());
        assert!(!valid_code("abc-defg-hi"));
        assert!(!valid_code("ABC-DEFG-HIJ"));
        assert!(!valid_code("abcd-efg-hij"));
        assert!(!valid_code("../../etc/pa"));
    }
}
