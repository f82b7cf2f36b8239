//! Who may see and do what in a channel. A channel a person may not see answers 404,
//! exactly like one that does not exist.

use crate::chat::model::ChannelKind;
use crate::db;
use crate::error::{AppError, AppResult};
use crate::orgs::Role;
use crate::store::Store;
use crate::store::ids::{ChannelId, TeamId, UserId, WorkspaceId};

/// A `channels` row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ChannelRow {
    pub id: ChannelId,
    pub workspace_id: WorkspaceId,
    pub kind: String,
    pub name: Option<String>,
    pub topic: String,
    pub team_id: Option<TeamId>,
    pub created_at: i64,
    pub archived_at: Option<i64>,
    pub last_seq: i64,
    pub last_message_at: Option<i64>,
}

pub const CHANNEL_COLUMNS: &str = "c.id, c.workspace_id, c.kind, c.name, c.topic, c.team_id, c.created_at, c.archived_at, c.last_seq, c.last_message_at";

/// The caller's `channel_members` row.
#[derive(Debug, Clone)]
pub struct Membership {
    pub role: String,
    pub notify: String,
    pub last_read_seq: i64,
}

/// A channel together with the caller's standing in it.
#[derive(Debug, Clone)]
pub struct ChannelAccess {
    pub channel: ChannelRow,
    pub kind: ChannelKind,
    /// The caller's channel membership, if any.
    pub membership: Option<Membership>,
    /// The caller's role in the channel's workspace.
    pub workspace_role: Role,
    pub user: UserId,
}

impl ChannelAccess {
    /// Load a channel the caller may see: a member, or any non-guest workspace member
    /// for public channels. Otherwise 404.
    pub async fn load(store: &Store, channel: ChannelId, user: UserId) -> AppResult<ChannelAccess> {
        #[derive(sqlx::FromRow)]
        struct Row {
            #[sqlx(flatten)]
            channel: ChannelRow,
            workspace_role: Option<String>,
            member_role: Option<String>,
            notify: Option<String>,
            last_read_seq: Option<i64>,
        }
        // One query: this runs on every send and read.
        let row: Option<Row> = db!(store.read(), c => sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {CHANNEL_COLUMNS}, m.role AS workspace_role, cm.role AS member_role, cm.notify, cm.last_read_seq
             FROM channels c
             LEFT JOIN memberships m ON m.workspace_id = c.workspace_id AND m.user_id = $2
             LEFT JOIN channel_members cm ON cm.channel_id = c.id AND cm.user_id = $2
             WHERE c.id = $1"
        )))
        .bind(channel)
        .bind(user)
        .fetch_optional(c)
        .await)?;
        let row = row.ok_or_else(|| AppError::not_found("channel"))?;
        let workspace_role = row
            .workspace_role
            .as_deref()
            .map(Role::parse)
            .transpose()?
            .ok_or_else(|| AppError::not_found("channel"))?;
        let membership = match (row.member_role, row.notify, row.last_read_seq) {
            (Some(role), Some(notify), Some(last_read_seq)) => Some(Membership {
                role,
                notify,
                last_read_seq,
            }),
            _ => None,
        };
        let channel_row = row.channel;
        let kind = ChannelKind::parse(&channel_row.kind)?;
        let browsable = matches!(kind, ChannelKind::Public | ChannelKind::Announcement);
        // Workspace admins see team channels: they create and oversee them without
        // having to belong to the team.
        let visible = membership.is_some()
            || (browsable && workspace_role != Role::Guest)
            || (kind == ChannelKind::Team && workspace_role.is_admin());
        if !visible {
            return Err(AppError::not_found("channel"));
        }
        Ok(ChannelAccess {
            channel: channel_row,
            kind,
            membership,
            workspace_role,
            user,
        })
    }

    pub fn is_member(&self) -> bool {
        self.membership.is_some()
    }

    pub fn require_member(&self) -> AppResult<()> {
        if self.is_member() {
            Ok(())
        } else {
            Err(AppError::Forbidden("join the channel first".into()))
        }
    }

    /// Channel admins, and workspace admins for non-direct channels, manage a channel.
    pub fn may_manage(&self) -> bool {
        if self.kind.is_direct() {
            return false;
        }
        self.workspace_role.is_admin()
            || self.membership.as_ref().is_some_and(|m| m.role == "admin")
    }

    pub fn require_manage(&self) -> AppResult<()> {
        if self.kind.is_direct() {
            return Err(AppError::Forbidden(
                "direct messages have no settings to manage".into(),
            ));
        }
        if self.may_manage() {
            Ok(())
        } else {
            Err(AppError::Forbidden(
                "only channel admins and workspace admins may do this".into(),
            ))
        }
    }

    /// Post a message: a member of a channel that is not archived; in announcement
    /// channels only admins.
    pub fn require_post(&self) -> AppResult<()> {
        self.require_member()?;
        if self.channel.archived_at.is_some() {
            return Err(AppError::Conflict("this channel is archived".into()));
        }
        if self.kind == ChannelKind::Announcement && !self.may_manage() {
            return Err(AppError::Forbidden(
                "only admins post in announcement channels".into(),
            ));
        }
        Ok(())
    }

    /// Reactions, reads and acknowledgements: a member of a channel that is not archived.
    pub fn require_participate(&self) -> AppResult<()> {
        self.require_member()?;
        if self.channel.archived_at.is_some() {
            return Err(AppError::Conflict("this channel is archived".into()));
        }
        Ok(())
    }
}
