//! Messages: send (REST and websocket share [`send`]), history in both directions,
//! edit, delete (a tombstone stays), reactions, pins, threads and following them.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::CurrentUser;
use crate::chat::Chat;
use crate::chat::access::ChannelAccess;
use crate::chat::events;
use crate::chat::load::{self, COLUMNS, FILE_COLUMNS, FileRow, MessageRow, placeholders};
use crate::chat::markdown::{self, MAX_MESSAGE_CHARS};
use crate::chat::model::{Message, Quote};
use crate::chat::writer::{NewMessage, Written};
use crate::error::{AppError, AppResult, ErrorBody};
use crate::http::extract::{Json, Path, Query};
use crate::store::ids::{ChannelId, FileId, MessageId, TeamId, UserId, rfc3339};
use crate::store::{Store, Tx, now_ms};
use crate::{AppState, db, tx};

/// Channels larger than this need an admin to mention everyone.
const OPEN_MENTION_ALL_MAX_MEMBERS: i64 = 50;
/// Most files on one message.
const MAX_FILES: usize = 10;

/// A message to post.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendMessage {
    /// Markdown text, at most 16,000 characters (may be empty when files are attached).
    #[serde(default)]
    pub body: String,
    /// Idempotency key (≤ 100 characters): a retried send with the same key lands once.
    pub client_key: Option<String>,
    /// Reply in the thread of this message.
    pub thread_root_id: Option<MessageId>,
    /// Quote this message of the same channel.
    pub quote_id: Option<MessageId>,
    /// Files uploaded to this channel by me and not yet attached.
    #[serde(default)]
    pub file_ids: Vec<FileId>,
    /// Ask every recipient to acknowledge (DingTalk's DING).
    #[serde(default)]
    pub ack_required: bool,
    /// Mention every member of these teams (and their sub-teams) who is in the channel.
    #[serde(default)]
    pub mention_team_ids: Vec<TeamId>,
}

fn require_message_text(body: &str, has_files: bool) -> AppResult<()> {
    let chars = body.chars().count();
    if chars > MAX_MESSAGE_CHARS {
        return Err(AppError::Validation(format!(
            "a message may be at most {MAX_MESSAGE_CHARS} characters"
        )));
    }
    if body.trim().is_empty() && !has_files {
        return Err(AppError::Validation("the message is empty".into()));
    }
    Ok(())
}

async fn channel_member_count(store: &Store, channel: ChannelId) -> AppResult<i64> {
    Ok(
        db!(store.read(), c => sqlx::query_scalar("SELECT COUNT(*) FROM channel_members WHERE channel_id = $1")
        .bind(channel)
        .fetch_one(c)
        .await)?,
    )
}

/// Resolve `@username` and team mentions to channel members.
async fn resolve_mentions(
    store: &Store,
    access: &ChannelAccess,
    text: &markdown::Mentions,
    teams: &[TeamId],
) -> AppResult<Vec<UserId>> {
    let channel = access.channel.id;
    let mut users: Vec<UserId> = Vec::new();
    if !text.usernames.is_empty() {
        let names: Vec<&str> = text
            .usernames
            .iter()
            .take(100)
            .map(String::as_str)
            .collect();
        let sql = format!(
            "SELECT u.id FROM users u JOIN channel_members cm ON cm.user_id = u.id
             WHERE cm.channel_id = $1 AND u.username IN ({})",
            placeholders(2, names.len())
        );
        let found: Vec<UserId> = db!(store.read(), c => {
            let mut q = sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).bind(channel);
            for n in &names {
                q = q.bind(*n);
            }
            q.fetch_all(c).await
        })?;
        users.extend(found);
    }
    for team in teams.iter().take(20) {
        let members =
            crate::chat::team_channels::team_member_ids(store, access.channel.workspace_id, *team)
                .await?
                .ok_or_else(|| {
                    AppError::Validation("a mentioned team does not exist in this workspace".into())
                })?;
        let sql = format!(
            "SELECT user_id FROM channel_members WHERE channel_id = $1 AND user_id IN ({})",
            placeholders(2, members.len().max(1))
        );
        if members.is_empty() {
            continue;
        }
        let found: Vec<UserId> = db!(store.read(), c => {
            let mut q = sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).bind(channel);
            for m in &members {
                q = q.bind(*m);
            }
            q.fetch_all(c).await
        })?;
        users.extend(found);
    }
    users.sort();
    users.dedup();
    Ok(users)
}

/// Check a thread root or quoted message belongs to the channel.
async fn message_in_channel(
    store: &Store,
    id: MessageId,
    channel: ChannelId,
) -> AppResult<MessageRow> {
    let row: Option<MessageRow> = db!(store.read(), c => sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM messages m WHERE m.id = $1 AND m.channel_id = $2"
    )))
    .bind(id)
    .bind(channel)
    .fetch_optional(c)
    .await)?;
    row.ok_or_else(|| AppError::Validation("the referenced message is not in this channel".into()))
}

/// Post a message as `user`. Returns the stored message; a retry with the same
/// `client_key` returns the first one without posting again.
pub async fn send(
    chat: &Chat,
    user: UserId,
    channel: ChannelId,
    req: SendMessage,
) -> AppResult<Message> {
    let access = ChannelAccess::load(&chat.store, channel, user).await?;
    access.require_post()?;
    require_message_text(&req.body, !req.file_ids.is_empty())?;
    if let Some(key) = &req.client_key
        && (key.is_empty() || key.chars().count() > 100)
    {
        return Err(AppError::Validation(
            "client_key must be 1-100 characters".into(),
        ));
    }
    if req.file_ids.len() > MAX_FILES {
        return Err(AppError::Validation(format!(
            "at most {MAX_FILES} files per message"
        )));
    }
    if let Some(root) = req.thread_root_id {
        let root = message_in_channel(&chat.store, root, channel).await?;
        if root.thread_root_id.is_some() {
            return Err(AppError::Validation(
                "reply to the thread's first message".into(),
            ));
        }
        if root.deleted_at.is_some() {
            return Err(AppError::Validation("that message was deleted".into()));
        }
    }
    if let Some(quote) = req.quote_id {
        message_in_channel(&chat.store, quote, channel).await?;
    }
    if !req.file_ids.is_empty() {
        let usable: i64 = {
            let sql = format!(
                "SELECT COUNT(*) FROM files WHERE channel_id = $1 AND uploader_id = $2 AND message_id IS NULL AND id IN ({})",
                placeholders(3, req.file_ids.len())
            );
            db!(chat.store.read(), c => {
                let mut q = sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).bind(channel).bind(user);
                for f in &req.file_ids {
                    q = q.bind(*f);
                }
                q.fetch_one(c).await
            })?
        };
        let mut distinct = req.file_ids.clone();
        distinct.sort();
        distinct.dedup();
        if usable != distinct.len() as i64 {
            return Err(AppError::Validation(
                "attach only files you uploaded to this channel and have not sent yet".into(),
            ));
        }
    }
    let found = markdown::mentions(&req.body);
    let mentions = resolve_mentions(&chat.store, &access, &found, &req.mention_team_ids).await?;
    let mention_all = found.everyone && !access.kind.is_direct();
    if mention_all
        && !access.may_manage()
        && channel_member_count(&chat.store, channel).await? > OPEN_MENTION_ALL_MAX_MEMBERS
    {
        return Err(AppError::Forbidden(format!(
            "only admins may mention everyone in channels with more than {OPEN_MENTION_ALL_MAX_MEMBERS} members"
        )));
    }
    let html = markdown::render(&req.body);
    let new = NewMessage {
        channel,
        sender: Some(user),
        bot_name: None,
        body: req.body,
        html,
        thread_root: req.thread_root_id,
        quote: req.quote_id,
        mentions,
        mention_all,
        ack_required: req.ack_required && req.thread_root_id.is_none(),
        files: req.file_ids,
        client_key: req.client_key,
    };
    let written = chat.writer.write(new.clone()).await?;
    if !written.created {
        // A retry of an earlier send: answer with what was stored, publish nothing.
        return load::one(&chat.store, written.id)
            .await?
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("message vanished after write")));
    }
    let message = fresh_message(chat, &new, &written).await?;
    events::message(&chat.bus, &message).await;
    if let Some((root, _)) = written.root_version
        && let Some(root) = load::one(&chat.store, root).await?
    {
        events::message(&chat.bus, &root).await;
    }
    Ok(message)
}

/// The API form of a message just written, built from what is known rather than read
/// back (sending is the hot path): only the quote and files are looked up.
async fn fresh_message(chat: &Chat, new: &NewMessage, written: &Written) -> AppResult<Message> {
    // The writer read the sender in the batch's transaction.
    let sender = written.sender.clone();
    let quote = match new.quote {
        Some(q) => load::one(&chat.store, q).await?.map(|m| Quote {
            id: m.id,
            sender_name: m.sender.map(|s| s.display_name).or(m.bot_name),
            excerpt: markdown::excerpt(&m.body, 140),
            deleted: m.deleted,
        }),
        None => None,
    };
    let files = if new.files.is_empty() {
        Vec::new()
    } else {
        let sql =
            format!("SELECT {FILE_COLUMNS} FROM files WHERE message_id = $1 ORDER BY created_at");
        let rows: Vec<FileRow> = db!(chat.store.read(), c => sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(written.id)
            .fetch_all(c)
            .await)?;
        rows.iter().map(FileRow::info).collect()
    };
    Ok(Message {
        id: written.id,
        channel_id: new.channel,
        seq: written.seq,
        version: written.seq,
        sender,
        bot_name: new.bot_name.clone(),
        body: new.body.clone(),
        html: new.html.clone(),
        created_at: rfc3339(written.created_at),
        edited_at: None,
        deleted: false,
        thread_root_id: new.thread_root,
        reply_count: 0,
        last_reply_at: None,
        quote,
        reactions: Vec::new(),
        pinned: false,
        ack_required: new.ack_required,
        files,
        mentions: new.mentions.clone(),
        mention_all: new.mention_all,
        client_key: new.client_key.clone(),
    })
}

/// Post a message.
#[utoipa::path(post, path = "/api/channels/{id}/messages", tag = "messages", operation_id = "sendMessage",
    params(("id" = String, Path, description = "channel id")), request_body = SendMessage, security(("bearer" = [])),
    responses((status = 201, body = Message), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn post(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(id): Path<ChannelId>,
    Json(body): Json<SendMessage>,
) -> AppResult<(StatusCode, Json<Message>)> {
    Ok((
        StatusCode::CREATED,
        Json(send(&state.chat, me.user_id, id, body).await?),
    ))
}

/// Which part of the history to read.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// Messages before this sequence number (older).
    pub before: Option<i64>,
    /// Messages after this sequence number (newer).
    pub after: Option<i64>,
    /// Messages around this message (jump to a message).
    pub around: Option<MessageId>,
    /// Replies of this thread instead of the channel's top-level messages.
    pub thread: Option<MessageId>,
    /// Every message (replies included) changed after this sequence number, in change
    /// order: how a client catches up after a gap.
    pub changed_after: Option<i64>,
    /// At most this many messages (1–200, default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
}

/// A page of messages, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct History {
    pub messages: Vec<Message>,
    /// More messages exist before the first one returned.
    pub has_more_before: bool,
    /// More messages exist after the last one returned.
    pub has_more_after: bool,
}

async fn page(
    store: &Store,
    filter: &str,
    binds: (ChannelId, Option<MessageId>),
    bound: i64,
    order: &str,
    limit: i64,
) -> AppResult<Vec<MessageRow>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM messages m WHERE m.channel_id = $1 AND {filter} ORDER BY {order} LIMIT $4"
    );
    Ok(
        db!(store.read(), c => sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(binds.0)
        .bind(binds.1)
        .bind(bound)
        .bind(limit)
        .fetch_all(c)
        .await)?,
    )
}

/// Read a channel's history (or a thread) in either direction from any point.
#[utoipa::path(get, path = "/api/channels/{id}/messages", tag = "messages", operation_id = "listMessages",
    params(("id" = String, Path, description = "channel id"), HistoryQuery), security(("bearer" = [])),
    responses((status = 200, body = History), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn history(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(id): Path<ChannelId>,
    Query(q): Query<HistoryQuery>,
) -> AppResult<Json<History>> {
    let store = &state.chat.store;
    ChannelAccess::load(store, id, me.user_id).await?;
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(AppError::Validation(
            "limit must be between 1 and 200".into(),
        ));
    }
    let given = [
        q.before.is_some(),
        q.after.is_some(),
        q.around.is_some(),
        q.changed_after.is_some(),
    ]
    .iter()
    .filter(|b| **b)
    .count();
    if given > 1 {
        return Err(AppError::Validation(
            "give at most one of before, after, around, changed_after".into(),
        ));
    }
    if let Some(root) = q.thread {
        message_in_channel(store, root, id).await?;
    }
    // $2 is the thread root, or NULL for the channel's top level.
    let scope = if q.thread.is_some() {
        "m.thread_root_id = $2"
    } else {
        "m.thread_root_id IS NULL AND $2 IS NULL"
    };
    let binds = (id, q.thread);
    let fetch = limit + 1;
    let (messages, more_before, more_after) = if let Some(after) = q.changed_after {
        let mut rows = page(
            store,
            "$2 IS NULL AND m.version_seq > $3",
            (id, None),
            after,
            "m.version_seq",
            fetch,
        )
        .await?;
        let more = rows.len() as i64 > limit;
        rows.truncate(limit as usize);
        (rows, false, more)
    } else if let Some(after) = q.after {
        let mut rows = page(
            store,
            &format!("{scope} AND m.seq > $3"),
            binds,
            after,
            "m.seq",
            fetch,
        )
        .await?;
        let more = rows.len() as i64 > limit;
        rows.truncate(limit as usize);
        let before = page(
            store,
            &format!("{scope} AND m.seq <= $3"),
            binds,
            after,
            "m.seq DESC",
            1,
        )
        .await?;
        (rows, !before.is_empty(), more)
    } else if let Some(around) = q.around {
        let target = message_in_channel(store, around, id).await?;
        let half = (limit / 2).max(1);
        let mut older = page(
            store,
            &format!("{scope} AND m.seq < $3"),
            binds,
            target.seq,
            "m.seq DESC",
            half + 1,
        )
        .await?;
        let more_before = older.len() as i64 > half;
        older.truncate(half as usize);
        older.reverse();
        let mut newer = page(
            store,
            &format!("{scope} AND m.seq >= $3"),
            binds,
            target.seq,
            "m.seq",
            limit - half + 1,
        )
        .await?;
        let more_after = newer.len() as i64 > limit - half;
        newer.truncate((limit - half) as usize);
        older.extend(newer);
        (older, more_before, more_after)
    } else {
        let before = q.before.unwrap_or(i64::MAX);
        let mut rows = page(
            store,
            &format!("{scope} AND m.seq < $3"),
            binds,
            before,
            "m.seq DESC",
            fetch,
        )
        .await?;
        let more = rows.len() as i64 > limit;
        rows.truncate(limit as usize);
        rows.reverse();
        (rows, more, q.before.is_some())
    };
    Ok(Json(History {
        messages: load::hydrate(store, messages).await?,
        has_more_before: more_before,
        has_more_after: more_after,
    }))
}

/// Load a message and check the caller may see its channel.
pub(crate) async fn visible_message(
    store: &Store,
    id: MessageId,
    user: UserId,
) -> AppResult<(MessageRow, ChannelAccess)> {
    let row: Option<MessageRow> = db!(store.read(), c => sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM messages m WHERE m.id = $1"
    )))
    .bind(id)
    .fetch_optional(c)
    .await)?;
    let row = row.ok_or_else(|| AppError::not_found("message"))?;
    let access = ChannelAccess::load(store, row.channel_id, user)
        .await
        .map_err(|_| AppError::not_found("message"))?;
    Ok((row, access))
}

/// Give the message the channel's next sequence number as its version, inside `tx`.
async fn bump_version(tx: &mut Tx, row: &MessageRow) -> AppResult<i64> {
    let version: i64 = tx!(tx, c => sqlx::query_scalar("UPDATE channels SET last_seq = last_seq + 1 WHERE id = $1 RETURNING last_seq")
        .bind(row.channel_id)
        .fetch_one(&mut *c)
        .await)?;
    tx!(tx, c => sqlx::query("UPDATE messages SET version_seq = $1 WHERE id = $2")
        .bind(version)
        .bind(row.id)
        .execute(&mut *c)
        .await.map(|r| r.rows_affected()))?;
    Ok(version)
}

/// Commit, reload and publish a changed message.
async fn publish_change(chat: &Chat, tx: Tx, id: MessageId) -> AppResult<Message> {
    tx.commit().await?;
    let message = load::one(&chat.store, id)
        .await?
        .ok_or_else(|| AppError::not_found("message"))?;
    events::message(&chat.bus, &message).await;
    Ok(message)
}

/// Get one message.
#[utoipa::path(get, path = "/api/messages/{id}", tag = "messages", operation_id = "getMessage",
    params(("id" = String, Path, description = "message id")), security(("bearer" = [])),
    responses((status = 200, body = Message), (status = 404, body = ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn get_one(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(id): Path<MessageId>,
) -> AppResult<Json<Message>> {
    visible_message(&state.chat.store, id, me.user_id).await?;
    Ok(Json(
        load::one(&state.chat.store, id)
            .await?
            .ok_or_else(|| AppError::not_found("message"))?,
    ))
}

/// New text for a message.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EditMessage {
    pub body: String,
}

/// Edit my message; it is marked as edited.
#[utoipa::path(patch, path = "/api/messages/{id}", tag = "messages", operation_id = "editMessage",
    params(("id" = String, Path, description = "message id")), request_body = EditMessage, security(("bearer" = [])),
    responses((status = 200, body = Message), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn edit(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(id): Path<MessageId>,
    Json(body): Json<EditMessage>,
) -> AppResult<Json<Message>> {
    let chat = &state.chat;
    let (row, access) = visible_message(&chat.store, id, me.user_id).await?;
    access.require_participate()?;
    if row.sender_id != Some(me.user_id) {
        return Err(AppError::Forbidden(
            "only the sender may edit a message".into(),
        ));
    }
    if row.deleted_at.is_some() {
        return Err(AppError::Conflict("that message was deleted".into()));
    }
    let has_files: i64 = db!(chat.store.read(), c => sqlx::query_scalar("SELECT COUNT(*) FROM files WHERE message_id = $1")
        .bind(id)
        .fetch_one(c)
        .await)?;
    require_message_text(&body.body, has_files > 0)?;
    let found = markdown::mentions(&body.body);
    let mentions = resolve_mentions(&chat.store, &access, &found, &[]).await?;
    let html = markdown::render(&body.body);
    let mut tx = chat.store.begin().await?;
    bump_version(&mut tx, &row).await?;
    tx!(&mut tx, c => {
        sqlx::query("UPDATE messages SET body = $1, html = $2, edited_at = $3 WHERE id = $4")
            .bind(&body.body)
            .bind(&html)
            .bind(now_ms())
            .bind(id)
            .execute(&mut *c)
            .await?;
        sqlx::query("DELETE FROM message_mentions WHERE message_id = $1").bind(id).execute(&mut *c).await?;
        for u in &mentions {
            sqlx::query("INSERT INTO message_mentions (message_id, user_id) VALUES ($1, $2)")
                .bind(id)
                .bind(*u)
                .execute(&mut *c)
                .await?;
        }
        Ok::<_, sqlx::Error>(())
    })?;
    Ok(Json(publish_change(chat, tx, id).await?))
}

/// Delete a message (mine, or any as a channel or workspace admin). A tombstone stays.
#[utoipa::path(delete, path = "/api/messages/{id}", tag = "messages", operation_id = "deleteMessage",
    params(("id" = String, Path, description = "message id")), security(("bearer" = [])),
    responses((status = 200, body = Message), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn delete(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(id): Path<MessageId>,
) -> AppResult<Json<Message>> {
    let chat = &state.chat;
    let (row, access) = visible_message(&chat.store, id, me.user_id).await?;
    access.require_member()?;
    let own = row.sender_id == Some(me.user_id);
    if !own && !access.may_manage() {
        return Err(AppError::Forbidden(
            "only the sender or an admin may delete a message".into(),
        ));
    }
    if row.deleted_at.is_some() {
        return Ok(Json(
            load::one(&chat.store, id)
                .await?
                .ok_or_else(|| AppError::not_found("message"))?,
        ));
    }
    let mut tx = chat.store.begin().await?;
    bump_version(&mut tx, &row).await?;
    tx!(&mut tx, c => {
        sqlx::query("UPDATE messages SET body = '', html = '', deleted_at = $1, pinned_at = NULL, pinned_by = NULL WHERE id = $2")
            .bind(now_ms())
            .bind(id)
            .execute(&mut *c)
            .await?;
        // Files of a deleted message are no longer downloadable.
        sqlx::query("DELETE FROM files WHERE message_id = $1").bind(id).execute(&mut *c).await?;
        sqlx::query("DELETE FROM reactions WHERE message_id = $1").bind(id).execute(&mut *c).await?;
        sqlx::query("DELETE FROM message_mentions WHERE message_id = $1").bind(id).execute(&mut *c).await.map(|r| r.rows_affected())
    })?;
    Ok(Json(publish_change(chat, tx, id).await?))
}

/// Check an emoji: a short token without spaces, e.g. 👍 or `:thumbsup:`.
fn parse_emoji(raw: &str) -> AppResult<String> {
    let ok = !raw.is_empty()
        && raw.chars().count() <= 32
        && !raw.chars().any(|c| {
            c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '&' | '"' | '\'' | '/')
        });
    if ok {
        Ok(raw.to_owned())
    } else {
        Err(AppError::Validation(
            "emoji must be a short token like 👍 or :thumbsup:".into(),
        ))
    }
}

/// Most distinct emoji on one message.
const MAX_DISTINCT_REACTIONS: i64 = 50;

/// React to a message with an emoji.
#[utoipa::path(put, path = "/api/messages/{id}/reactions/{emoji}", tag = "messages", operation_id = "addReaction",
    params(("id" = String, Path, description = "message id"), ("emoji" = String, Path, description = "emoji")), security(("bearer" = [])),
    responses((status = 200, body = Message), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn add_reaction(
    State(state): State<AppState>,
    me: CurrentUser,
    Path((id, emoji)): Path<(MessageId, String)>,
) -> AppResult<Json<Message>> {
    let chat = &state.chat;
    let emoji = parse_emoji(&emoji)?;
    let (row, access) = visible_message(&chat.store, id, me.user_id).await?;
    access.require_participate()?;
    if row.deleted_at.is_some() {
        return Err(AppError::Conflict("that message was deleted".into()));
    }
    let distinct: i64 = db!(chat.store.read(), c => sqlx::query_scalar("SELECT COUNT(DISTINCT emoji) FROM reactions WHERE message_id = $1 AND emoji <> $2")
        .bind(id)
        .bind(&emoji)
        .fetch_one(c)
        .await)?;
    if distinct >= MAX_DISTINCT_REACTIONS {
        return Err(AppError::Conflict(
            "this message has as many different reactions as it can hold".into(),
        ));
    }
    let mut tx = chat.store.begin().await?;
    let added = tx!(&mut tx, c => sqlx::query("INSERT INTO reactions (message_id, user_id, emoji, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING")
        .bind(id)
        .bind(me.user_id)
        .bind(&emoji)
        .bind(now_ms())
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected()))?;
    if added == 0 {
        drop(tx);
        return Ok(Json(
            load::one(&chat.store, id)
                .await?
                .ok_or_else(|| AppError::not_found("message"))?,
        ));
    }
    bump_version(&mut tx, &row).await?;
    Ok(Json(publish_change(chat, tx, id).await?))
}

/// Take back my reaction.
#[utoipa::path(delete, path = "/api/messages/{id}/reactions/{emoji}", tag = "messages", operation_id = "removeReaction",
    params(("id" = String, Path, description = "message id"), ("emoji" = String, Path, description = "emoji")), security(("bearer" = [])),
    responses((status = 200, body = Message), (status = 404, body = ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn remove_reaction(
    State(state): State<AppState>,
    me: CurrentUser,
    Path((id, emoji)): Path<(MessageId, String)>,
) -> AppResult<Json<Message>> {
    let chat = &state.chat;
    let (row, access) = visible_message(&chat.store, id, me.user_id).await?;
    access.require_participate()?;
    let mut tx = chat.store.begin().await?;
    let removed = tx!(&mut tx, c => sqlx::query("DELETE FROM reactions WHERE message_id = $1 AND user_id = $2 AND emoji = $3")
        .bind(id)
        .bind(me.user_id)
        .bind(&emoji)
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected()))?;
    if removed == 0 {
        drop(tx);
        return Ok(Json(
            load::one(&chat.store, id)
                .await?
                .ok_or_else(|| AppError::not_found("message"))?,
        ));
    }
    bump_version(&mut tx, &row).await?;
    Ok(Json(publish_change(chat, tx, id).await?))
}

async fn set_pin(chat: &Chat, user: UserId, id: MessageId, pin: bool) -> AppResult<Message> {
    let (row, access) = visible_message(&chat.store, id, user).await?;
    access.require_participate()?;
    if row.deleted_at.is_some() {
        return Err(AppError::Conflict("that message was deleted".into()));
    }
    if row.pinned_at.is_some() == pin {
        return load::one(&chat.store, id)
            .await?
            .ok_or_else(|| AppError::not_found("message"));
    }
    let mut tx = chat.store.begin().await?;
    bump_version(&mut tx, &row).await?;
    tx!(&mut tx, c => sqlx::query("UPDATE messages SET pinned_at = $1, pinned_by = $2 WHERE id = $3")
        .bind(pin.then(now_ms))
        .bind(pin.then_some(user))
        .bind(id)
        .execute(&mut *c)
        .await.map(|r| r.rows_affected()))?;
    publish_change(chat, tx, id).await
}

/// Pin a message to its channel.
#[utoipa::path(put, path = "/api/messages/{id}/pin", tag = "messages", operation_id = "pinMessage",
    params(("id" = String, Path, description = "message id")), security(("bearer" = [])),
    responses((status = 200, body = Message), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn pin(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(id): Path<MessageId>,
) -> AppResult<Json<Message>> {
    Ok(Json(set_pin(&state.chat, me.user_id, id, true).await?))
}

/// Unpin a message.
#[utoipa::path(delete, path = "/api/messages/{id}/pin", tag = "messages", operation_id = "unpinMessage",
    params(("id" = String, Path, description = "message id")), security(("bearer" = [])),
    responses((status = 200, body = Message), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn unpin(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(id): Path<MessageId>,
) -> AppResult<Json<Message>> {
    Ok(Json(set_pin(&state.chat, me.user_id, id, false).await?))
}

/// A channel's pinned messages, most recently pinned first.
#[utoipa::path(get, path = "/api/channels/{id}/pins", tag = "messages", operation_id = "listPins",
    params(("id" = String, Path, description = "channel id")), security(("bearer" = [])),
    responses((status = 200, body = Vec<Message>), (status = 404, body = ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn pins(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(id): Path<ChannelId>,
) -> AppResult<Json<Vec<Message>>> {
    let store = &state.chat.store;
    ChannelAccess::load(store, id, me.user_id).await?;
    let rows: Vec<MessageRow> = db!(store.read(), c => sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM messages m WHERE m.channel_id = $1 AND m.pinned_at IS NOT NULL ORDER BY m.pinned_at DESC LIMIT 100"
    )))
    .bind(id)
    .fetch_all(c)
    .await)?;
    Ok(Json(load::hydrate(store, rows).await?))
}

/// Follow or stop following a thread.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Follow {
    pub following: bool,
}

/// Whether I follow a thread.
#[derive(Debug, Serialize, ToSchema)]
pub struct FollowState {
    pub root_id: MessageId,
    pub following: bool,
}

/// Whether I follow the thread of a message (repliers and the author do unless
/// they chose otherwise).
#[utoipa::path(get, path = "/api/messages/{id}/follow", tag = "messages", operation_id = "getThreadFollow",
    params(("id" = String, Path, description = "thread's first message id")), security(("bearer" = [])),
    responses((status = 200, body = FollowState), (status = 404, body = ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn get_follow(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(id): Path<MessageId>,
) -> AppResult<Json<FollowState>> {
    let store = &state.chat.store;
    visible_message(store, id, me.user_id).await?;
    let following: Option<bool> = db!(store.read(), c => sqlx::query_scalar("SELECT following FROM thread_follows WHERE root_id = $1 AND user_id = $2")
        .bind(id)
        .bind(me.user_id)
        .fetch_optional(c)
        .await)?;
    Ok(Json(FollowState {
        root_id: id,
        following: following.unwrap_or(false),
    }))
}

/// Follow or unfollow the thread of a message.
#[utoipa::path(put, path = "/api/messages/{id}/follow", tag = "messages", operation_id = "followThread",
    params(("id" = String, Path, description = "thread's first message id")), request_body = Follow, security(("bearer" = [])),
    responses((status = 200, body = FollowState), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn follow(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(id): Path<MessageId>,
    Json(body): Json<Follow>,
) -> AppResult<Json<FollowState>> {
    let store = &state.chat.store;
    let (row, access) = visible_message(store, id, me.user_id).await?;
    access.require_member()?;
    if row.thread_root_id.is_some() {
        return Err(AppError::Validation(
            "follow the thread's first message".into(),
        ));
    }
    db!(store.write(), c => sqlx::query(
        "INSERT INTO thread_follows (root_id, user_id, following) VALUES ($1, $2, $3)
         ON CONFLICT (root_id, user_id) DO UPDATE SET following = excluded.following"
    )
    .bind(id)
    .bind(me.user_id)
    .bind(body.following)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(Json(FollowState {
        root_id: id,
        following: body.following,
    }))
}
