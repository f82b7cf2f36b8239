//! Chat types as the API shows them.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{AppError, AppResult};
use crate::store::ids::{ChannelId, FileId, MessageId, TeamId, UserId, WorkspaceId};

/// What kind of conversation a channel is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ChannelKind {
    /// Any workspace member may browse and join.
    Public,
    /// By invitation.
    Private,
    /// Membership follows a team and its sub-teams.
    Team,
    /// Only admins post; everyone reads.
    Announcement,
    /// Direct message between two people.
    Dm,
    /// Group direct message (3–50 people).
    Group,
}

impl ChannelKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Public => "public",
            ChannelKind::Private => "private",
            ChannelKind::Team => "team",
            ChannelKind::Announcement => "announcement",
            ChannelKind::Dm => "dm",
            ChannelKind::Group => "group",
        }
    }

    pub fn parse(s: &str) -> AppResult<ChannelKind> {
        Ok(match s {
            "public" => ChannelKind::Public,
            "private" => ChannelKind::Private,
            "team" => ChannelKind::Team,
            "announcement" => ChannelKind::Announcement,
            "dm" => ChannelKind::Dm,
            "group" => ChannelKind::Group,
            other => {
                return Err(AppError::Internal(anyhow::anyhow!(
                    "unknown channel kind {other}"
                )));
            }
        })
    }

    /// DMs and group DMs have no name and no channel admin.
    pub fn is_direct(self) -> bool {
        matches!(self, ChannelKind::Dm | ChannelKind::Group)
    }
}

/// How loudly a channel notifies a member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum NotifyLevel {
    All,
    Mentions,
    Mute,
}

impl NotifyLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            NotifyLevel::All => "all",
            NotifyLevel::Mentions => "mentions",
            NotifyLevel::Mute => "mute",
        }
    }

    pub fn parse(s: &str) -> NotifyLevel {
        match s {
            "mentions" => NotifyLevel::Mentions,
            "mute" => NotifyLevel::Mute,
            _ => NotifyLevel::All,
        }
    }
}

/// A person in chat payloads.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct UserSummary {
    pub id: UserId,
    pub username: String,
    pub display_name: String,
    #[sqlx(skip)]
    pub avatar_url: Option<String>,
    #[serde(skip)]
    pub avatar_updated_at: Option<i64>,
}

/// A channel as one member sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Channel {
    pub id: ChannelId,
    pub workspace_id: WorkspaceId,
    pub kind: ChannelKind,
    /// Null for DMs and group DMs (show the other members' names instead).
    pub name: Option<String>,
    pub topic: String,
    /// For team channels: the team whose members (and sub-teams' members) belong here.
    pub team_id: Option<TeamId>,
    pub archived: bool,
    pub created_at: String,
    /// Sequence number of the latest change in this channel.
    pub last_seq: i64,
    pub last_message_at: Option<String>,
    pub member_count: i64,
    /// Whether I am a member (false when browsing public channels).
    pub is_member: bool,
    /// `admin` or `member`; null when not a member.
    pub my_role: Option<String>,
    pub notify: NotifyLevel,
    /// Everything up to this sequence number is read.
    pub last_read_seq: i64,
    /// Unread messages (not mine, not thread replies) after `last_read_seq`.
    pub unread_count: i64,
    /// Unread messages that mention me or everyone.
    pub mention_count: i64,
    /// For DMs and group DMs: the other people.
    pub peers: Vec<UserSummary>,
    /// Read receipts are tracked here (DMs, and channels up to the configured size).
    pub receipts: bool,
}

/// One emoji reaction on a message.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Reaction {
    pub emoji: String,
    pub count: i64,
    pub user_ids: Vec<UserId>,
}

/// The message a reply quotes.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Quote {
    pub id: MessageId,
    pub sender_name: Option<String>,
    pub excerpt: String,
    pub deleted: bool,
}

/// A file attached to a message.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FileInfo {
    pub id: FileId,
    pub name: String,
    pub size: i64,
    pub content_type: String,
    /// Download URL (needs the bearer token).
    pub url: String,
    /// Thumbnail URL for images.
    pub thumbnail_url: Option<String>,
    pub width: Option<i64>,
    pub height: Option<i64>,
}

/// A message.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Message {
    pub id: MessageId,
    pub channel_id: ChannelId,
    /// Position of the message in its channel.
    pub seq: i64,
    /// Sequence number of the message's latest change (edit, reaction, reply, pin, delete).
    pub version: i64,
    /// Null for webhook posts.
    pub sender: Option<UserSummary>,
    /// Name of the bot that posted through a webhook.
    pub bot_name: Option<String>,
    /// Markdown source (empty once deleted).
    pub body: String,
    /// Sanitised HTML rendering of `body`; the only HTML clients insert.
    pub html: String,
    pub created_at: String,
    pub edited_at: Option<String>,
    /// A deleted message stays as a tombstone.
    pub deleted: bool,
    /// Set on thread replies.
    pub thread_root_id: Option<MessageId>,
    pub reply_count: i64,
    pub last_reply_at: Option<String>,
    pub quote: Option<Quote>,
    pub reactions: Vec<Reaction>,
    pub pinned: bool,
    /// DingTalk-style "DING": recipients must acknowledge.
    pub ack_required: bool,
    pub files: Vec<FileInfo>,
    /// Mentioned people.
    pub mentions: Vec<UserId>,
    /// `@all` / `@channel`.
    pub mention_all: bool,
    /// The sender's idempotency key, so the sender's client matches its own echo.
    pub client_key: Option<String>,
}
