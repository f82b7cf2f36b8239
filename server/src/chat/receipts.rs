//! Read positions and DingTalk-style receipts: each member's "read up to here" per
//! channel gives unread counts across tabs and devices and, for DMs and channels up
//! to the configured size, who has and has not read each message, live. Also
//! "acknowledge required" messages (DING) and their reminders.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::CurrentUser;
use crate::chat::Chat;
use crate::chat::access::ChannelAccess;
use crate::chat::channels::{receipts_enabled, receipts_policy};
use crate::chat::events::{self, Event};
use crate::chat::load::{self, COLUMNS, MessageRow, user_summaries};
use crate::chat::messages::visible_message;
use crate::chat::model::UserSummary;
use crate::error::{AppError, AppResult, ErrorBody};
use crate::http::extract::{Json, Path};
use crate::orgs::access::member_role;
use crate::store::ids::{ChannelId, MessageId, UserId, WorkspaceId, rfc3339};
use crate::store::{Store, now_ms};
use crate::{AppState, db};

/// Does this channel track receipts, and which members share theirs?
struct ReceiptScope {
    enabled: bool,
    policy: String,
}

async fn scope(chat: &Chat, access: &ChannelAccess) -> AppResult<ReceiptScope> {
    let policy = receipts_policy(&chat.store, access.channel.workspace_id).await?;
    let count: i64 = db!(chat.store.read(), c => sqlx::query_scalar("SELECT COUNT(*) FROM channel_members WHERE channel_id = $1")
        .bind(access.channel.id)
        .fetch_one(c)
        .await)?;
    Ok(ReceiptScope {
        enabled: receipts_enabled(chat, access.kind, count, &policy),
        policy,
    })
}

/// Members whose read positions are shown: everyone, or under the `user` policy only
/// those who chose to share them.
const SHARING: &str = "($2 <> 'user' OR u.share_read_receipts)";

/// Move my read position in a channel forward to `seq`. Returns the new position.
pub async fn mark_read(chat: &Chat, user: UserId, channel: ChannelId, seq: i64) -> AppResult<i64> {
    let access = ChannelAccess::load(&chat.store, channel, user).await?;
    access.require_member()?;
    if seq < 0 {
        return Err(AppError::Validation("seq must not be negative".into()));
    }
    let seq = seq.min(access.channel.last_seq);
    let moved = db!(chat.store.write(), c => sqlx::query(
        "UPDATE channel_members SET last_read_seq = $1 WHERE channel_id = $2 AND user_id = $3 AND last_read_seq < $1"
    )
    .bind(seq)
    .bind(channel)
    .bind(user)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    if moved > 0 {
        let event = Event::Read {
            channel_id: channel,
            user_id: user,
            seq,
        };
        let s = scope(chat, &access).await?;
        let shares: bool = db!(chat.store.read(), c => sqlx::query_scalar("SELECT share_read_receipts FROM users WHERE id = $1")
            .bind(user)
            .fetch_one(c)
            .await)?;
        if s.enabled && (s.policy != "user" || shares) {
            events::to_channel(&chat.bus, channel, event).await;
        } else {
            // Still keep my other tabs and devices in step.
            events::to_users(&chat.bus, vec![user], event).await;
        }
    }
    Ok(seq.max(access.membership.map(|m| m.last_read_seq).unwrap_or(0)))
}

/// "Read up to here".
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MarkRead {
    /// Sequence number of the newest message actually shown.
    pub seq: i64,
}

/// Where I have read up to.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReadPosition {
    pub channel_id: ChannelId,
    pub last_read_seq: i64,
}

/// Report that I have read a channel up to a message.
#[utoipa::path(post, path = "/api/channels/{id}/read", tag = "receipts", operation_id = "markRead",
    params(("id" = String, Path, description = "channel id")), request_body = MarkRead, security(("bearer" = [])),
    responses((status = 200, body = ReadPosition), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn read(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(id): Path<ChannelId>,
    Json(body): Json<MarkRead>,
) -> AppResult<Json<ReadPosition>> {
    let last_read_seq = mark_read(&state.chat, me.user_id, id, body.seq).await?;
    Ok(Json(ReadPosition {
        channel_id: id,
        last_read_seq,
    }))
}

/// Mark every channel of a workspace read.
#[utoipa::path(post, path = "/api/workspaces/{ws}/read-all", tag = "receipts", operation_id = "markAllRead",
    params(("ws" = String, Path, description = "workspace id")), security(("bearer" = [])),
    responses((status = 204), (status = 404, body = ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn read_all(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(ws): Path<WorkspaceId>,
) -> AppResult<StatusCode> {
    member_role(&state.store, ws, me.user_id).await?;
    let unread: Vec<(ChannelId, i64)> = db!(state.store.read(), c => sqlx::query_as(
        "SELECT c.id, c.last_seq FROM channels c JOIN channel_members cm ON cm.channel_id = c.id
         WHERE c.workspace_id = $1 AND cm.user_id = $2 AND cm.last_read_seq < c.last_seq"
    )
    .bind(ws)
    .bind(me.user_id)
    .fetch_all(c)
    .await)?;
    for (channel, seq) in unread {
        mark_read(&state.chat, me.user_id, channel, seq).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// One member's read position.
#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct MemberRead {
    pub user_id: UserId,
    pub last_read_seq: i64,
}

/// Read positions of a channel's members, for computing receipts of any message.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReadState {
    /// False when the channel is too large or receipts are off: `members` is then empty.
    pub receipts: bool,
    pub members: Vec<MemberRead>,
}

/// Every member's read position (when receipts are on for this channel).
#[utoipa::path(get, path = "/api/channels/{id}/read-state", tag = "receipts", operation_id = "getReadState",
    params(("id" = String, Path, description = "channel id")), security(("bearer" = [])),
    responses((status = 200, body = ReadState), (status = 404, body = ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn read_state(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(id): Path<ChannelId>,
) -> AppResult<Json<ReadState>> {
    let chat = &state.chat;
    let access = ChannelAccess::load(&chat.store, id, me.user_id).await?;
    access.require_member()?;
    let s = scope(chat, &access).await?;
    if !s.enabled {
        return Ok(Json(ReadState {
            receipts: false,
            members: vec![],
        }));
    }
    let members: Vec<MemberRead> = db!(chat.store.read(), c => sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT cm.user_id, cm.last_read_seq FROM channel_members cm JOIN users u ON u.id = cm.user_id
         WHERE cm.channel_id = $1 AND {SHARING}"
    )))
    .bind(id)
    .bind(&s.policy)
    .fetch_all(c)
    .await)?;
    Ok(Json(ReadState {
        receipts: true,
        members,
    }))
}

/// Who has and has not read a message.
#[derive(Debug, Serialize, ToSchema)]
pub struct Receipts {
    pub message_id: MessageId,
    pub read: Vec<UserSummary>,
    pub unread: Vec<UserSummary>,
}

/// Who has read a message and who has not (members other than the sender).
#[utoipa::path(get, path = "/api/messages/{id}/receipts", tag = "receipts", operation_id = "getReceipts",
    params(("id" = String, Path, description = "message id")), security(("bearer" = [])),
    responses((status = 200, body = Receipts), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn receipts(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(id): Path<MessageId>,
) -> AppResult<Json<Receipts>> {
    let chat = &state.chat;
    let (row, access) = visible_message(&chat.store, id, me.user_id).await?;
    access.require_member()?;
    let s = scope(chat, &access).await?;
    if !s.enabled {
        return Err(AppError::Conflict(
            "read receipts are not tracked in this channel".into(),
        ));
    }
    let members: Vec<MemberRead> = db!(chat.store.read(), c => sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT cm.user_id, cm.last_read_seq FROM channel_members cm JOIN users u ON u.id = cm.user_id
         WHERE cm.channel_id = $1 AND {SHARING}"
    )))
    .bind(row.channel_id)
    .bind(&s.policy)
    .fetch_all(c)
    .await)?;
    let others: Vec<&MemberRead> = members
        .iter()
        .filter(|m| Some(m.user_id) != row.sender_id)
        .collect();
    let ids: Vec<UserId> = others.iter().map(|m| m.user_id).collect();
    let users = user_summaries(&chat.store, &ids).await?;
    let (mut read, mut unread) = (Vec::new(), Vec::new());
    for m in others {
        if let Some(u) = users.get(&m.user_id) {
            if m.last_read_seq >= row.seq {
                read.push(u.clone())
            } else {
                unread.push(u.clone())
            }
        }
    }
    Ok(Json(Receipts {
        message_id: id,
        read,
        unread,
    }))
}

/// Acknowledge a message that asks for it (DING).
#[utoipa::path(post, path = "/api/messages/{id}/ack", tag = "receipts", operation_id = "acknowledgeMessage",
    params(("id" = String, Path, description = "message id")), security(("bearer" = [])),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn ack(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(id): Path<MessageId>,
) -> AppResult<StatusCode> {
    let chat = &state.chat;
    let (row, access) = visible_message(&chat.store, id, me.user_id).await?;
    access.require_member()?;
    if !row.ack_required || row.deleted_at.is_some() {
        return Err(AppError::Conflict(
            "this message does not ask for acknowledgement".into(),
        ));
    }
    db!(chat.store.write(), c => sqlx::query("INSERT INTO message_acks (message_id, user_id, acked_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
        .bind(id)
        .bind(me.user_id)
        .bind(now_ms())
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    // Acknowledging implies having read it.
    mark_read(chat, me.user_id, row.channel_id, row.seq).await?;
    if let Some(sender) = row.sender_id {
        let event = Event::Ack {
            channel_id: row.channel_id,
            message_id: id,
            user_id: me.user_id,
        };
        events::to_users(&chat.bus, vec![sender], event).await;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Someone who acknowledged.
#[derive(Debug, Serialize, ToSchema)]
pub struct Acked {
    pub user: UserSummary,
    pub acked_at: String,
}

/// Acknowledgement status of a DING message.
#[derive(Debug, Serialize, ToSchema)]
pub struct Acks {
    pub message_id: MessageId,
    pub acked: Vec<Acked>,
    /// Members (other than the sender) who have not acknowledged yet.
    pub pending: Vec<UserSummary>,
}

/// Who has acknowledged a DING message and who has not.
#[utoipa::path(get, path = "/api/messages/{id}/acks", tag = "receipts", operation_id = "getAcks",
    params(("id" = String, Path, description = "message id")), security(("bearer" = [])),
    responses((status = 200, body = Acks), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn acks(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(id): Path<MessageId>,
) -> AppResult<Json<Acks>> {
    let chat = &state.chat;
    let (row, access) = visible_message(&chat.store, id, me.user_id).await?;
    access.require_member()?;
    if !row.ack_required {
        return Err(AppError::Conflict(
            "this message does not ask for acknowledgement".into(),
        ));
    }
    let acked: Vec<(UserId, i64)> = db!(chat.store.read(), c => sqlx::query_as("SELECT user_id, acked_at FROM message_acks WHERE message_id = $1 ORDER BY acked_at")
        .bind(id)
        .fetch_all(c)
        .await)?;
    let pending = pending_acks(&chat.store, &row).await?;
    let mut ids: Vec<UserId> = acked.iter().map(|a| a.0).collect();
    ids.extend(pending.iter().copied());
    let users = user_summaries(&chat.store, &ids).await?;
    Ok(Json(Acks {
        message_id: id,
        acked: acked
            .into_iter()
            .filter_map(|(u, at)| {
                users.get(&u).map(|user| Acked {
                    user: user.clone(),
                    acked_at: rfc3339(at),
                })
            })
            .collect(),
        pending: pending
            .into_iter()
            .filter_map(|u| users.get(&u).cloned())
            .collect(),
    }))
}

async fn pending_acks(store: &Store, row: &MessageRow) -> AppResult<Vec<UserId>> {
    Ok(db!(store.read(), c => sqlx::query_scalar(
        "SELECT cm.user_id FROM channel_members cm WHERE cm.channel_id = $1 AND cm.user_id <> $2
         AND NOT EXISTS (SELECT 1 FROM message_acks a WHERE a.message_id = $3 AND a.user_id = cm.user_id)"
    )
    .bind(row.channel_id)
    .bind(row.sender_id)
    .bind(row.id)
    .fetch_all(c)
    .await)?)
}

/// Remind people of DING messages they have not acknowledged, every `every`, for a day.
pub async fn remind_loop(chat: Chat, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.tick().await;
    loop {
        tick.tick().await;
        if let Err(e) = remind_once(&chat).await {
            tracing::warn!(error = %e, "DING reminders failed");
        }
    }
}

/// Send one round of reminders.
pub async fn remind_once(chat: &Chat) -> AppResult<()> {
    let since = now_ms() - 86_400_000;
    let rows: Vec<MessageRow> = db!(chat.store.read(), c => sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM messages m WHERE m.ack_required AND m.deleted_at IS NULL AND m.created_at > $1 LIMIT 1000"
    )))
    .bind(since)
    .fetch_all(c)
    .await)?;
    for row in rows {
        let pending = pending_acks(&chat.store, &row).await?;
        if pending.is_empty() {
            continue;
        }
        if let Some(message) = load::one(&chat.store, row.id).await? {
            events::to_users(&chat.bus, pending, Event::Ding { message: &message }).await;
        }
    }
    Ok(())
}
