//! Reading messages back with everything a client shows: sender, reactions, files,
//! mentions and the quoted message, loaded in a few batched queries.

use std::collections::HashMap;

use crate::accounts::model::avatar_url;
use crate::chat::markdown::excerpt;
use crate::chat::model::{FileInfo, Message, Quote, Reaction, UserSummary};
use crate::db;
use crate::error::AppResult;
use crate::store::Store;
use crate::store::ids::{ChannelId, FileId, MessageId, UserId, rfc3339};

/// A `messages` row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MessageRow {
    pub id: MessageId,
    pub channel_id: ChannelId,
    pub seq: i64,
    pub version_seq: i64,
    pub sender_id: Option<UserId>,
    pub bot_name: Option<String>,
    pub body: String,
    pub html: String,
    pub thread_root_id: Option<MessageId>,
    pub reply_count: i64,
    pub last_reply_at: Option<i64>,
    pub quote_id: Option<MessageId>,
    pub mention_all: bool,
    pub ack_required: bool,
    pub client_key: Option<String>,
    pub created_at: i64,
    pub edited_at: Option<i64>,
    pub deleted_at: Option<i64>,
    pub pinned_at: Option<i64>,
}

/// Columns selected into a `MessageRow` (table alias `m`).
pub const COLUMNS: &str = "m.id, m.channel_id, m.seq, m.version_seq, m.sender_id, m.bot_name, m.body, m.html,
    m.thread_root_id, m.reply_count, m.last_reply_at, m.quote_id, m.mention_all, m.ack_required, m.client_key, m.created_at,
    m.edited_at, m.deleted_at, m.pinned_at";

/// `$start, $start+1, …` for an IN list of `n` values.
pub fn placeholders(start: usize, n: usize) -> String {
    (start..start + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Run `sql` (which has one IN list of `$1..$n`) for `ids`, in chunks.
macro_rules! fetch_in {
    ($store:expr, $row:ty, $sql:expr, $ids:expr) => {{
        let mut out: Vec<$row> = Vec::new();
        for chunk in $ids.chunks(500) {
            let sql = $sql.replace("{in}", &placeholders(1, chunk.len()));
            let rows: Vec<$row> = db!($store.read(), c => {
                let mut q = sqlx::query_as::<_, $row>(sqlx::AssertSqlSafe(sql));
                for id in chunk {
                    q = q.bind(*id);
                }
                q.fetch_all(c).await
            })?;
            out.extend(rows);
        }
        out
    }};
}

/// People as messages show them, by id: `{in}` stands for the ids' markers.
pub const USER_SUMMARIES_SQL: &str =
    "SELECT id, username, display_name, avatar_updated_at FROM users WHERE id IN ({in})";

/// Rows of [`USER_SUMMARIES_SQL`] keyed by id, with their avatar URLs filled in.
pub fn by_id(rows: Vec<UserSummary>) -> HashMap<UserId, UserSummary> {
    rows.into_iter()
        .map(|mut u| {
            u.avatar_url = avatar_url(u.id, u.avatar_updated_at);
            (u.id, u)
        })
        .collect()
}

pub async fn user_summaries(
    store: &Store,
    ids: &[UserId],
) -> AppResult<HashMap<UserId, UserSummary>> {
    let mut ids = ids.to_vec();
    ids.sort();
    ids.dedup();
    Ok(by_id(fetch_in!(
        store,
        UserSummary,
        USER_SUMMARIES_SQL,
        ids
    )))
}

#[derive(sqlx::FromRow)]
struct ReactionRow {
    message_id: MessageId,
    emoji: String,
    user_id: UserId,
}

#[derive(sqlx::FromRow)]
struct MentionRow {
    message_id: MessageId,
    user_id: UserId,
}

#[derive(sqlx::FromRow)]
pub(crate) struct FileRow {
    pub id: FileId,
    pub message_id: Option<MessageId>,
    pub name: String,
    pub size: i64,
    pub content_type: String,
    pub width: Option<i64>,
    pub height: Option<i64>,
    pub has_thumbnail: bool,
}

impl FileRow {
    pub fn info(&self) -> FileInfo {
        FileInfo {
            id: self.id,
            name: self.name.clone(),
            size: self.size,
            content_type: self.content_type.clone(),
            url: format!("/api/files/{}", self.id),
            thumbnail_url: self
                .has_thumbnail
                .then(|| format!("/api/files/{}/thumbnail", self.id)),
            width: self.width,
            height: self.height,
        }
    }
}

pub(crate) const FILE_COLUMNS: &str =
    "id, message_id, name, size, content_type, width, height, has_thumbnail";

#[derive(sqlx::FromRow)]
struct QuoteRow {
    id: MessageId,
    sender_id: Option<UserId>,
    bot_name: Option<String>,
    body: String,
    deleted_at: Option<i64>,
}

/// Turn rows into API messages.
pub async fn hydrate(store: &Store, rows: Vec<MessageRow>) -> AppResult<Vec<Message>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<MessageId> = rows.iter().map(|r| r.id).collect();
    let reactions = fetch_in!(
        store,
        ReactionRow,
        "SELECT message_id, emoji, user_id FROM reactions WHERE message_id IN ({in}) ORDER BY created_at",
        ids
    );
    let mentions = fetch_in!(
        store,
        MentionRow,
        "SELECT message_id, user_id FROM message_mentions WHERE message_id IN ({in})",
        ids
    );
    let files = fetch_in!(
        store,
        FileRow,
        &format!(
            "SELECT {FILE_COLUMNS} FROM files WHERE message_id IN ({{in}}) ORDER BY created_at"
        ),
        ids
    );
    let quote_ids: Vec<MessageId> = rows.iter().filter_map(|r| r.quote_id).collect();
    let quotes = fetch_in!(
        store,
        QuoteRow,
        "SELECT id, sender_id, bot_name, body, deleted_at FROM messages WHERE id IN ({in})",
        quote_ids
    );
    let mut people: Vec<UserId> = rows.iter().filter_map(|r| r.sender_id).collect();
    people.extend(quotes.iter().filter_map(|q| q.sender_id));
    let users = user_summaries(store, &people).await?;

    let mut reactions_by: HashMap<MessageId, Vec<Reaction>> = HashMap::new();
    for r in reactions {
        let list = reactions_by.entry(r.message_id).or_default();
        match list.iter_mut().find(|x| x.emoji == r.emoji) {
            Some(x) => {
                x.count += 1;
                x.user_ids.push(r.user_id);
            }
            None => list.push(Reaction {
                emoji: r.emoji,
                count: 1,
                user_ids: vec![r.user_id],
            }),
        }
    }
    let mut mentions_by: HashMap<MessageId, Vec<UserId>> = HashMap::new();
    for m in mentions {
        mentions_by.entry(m.message_id).or_default().push(m.user_id);
    }
    let mut files_by: HashMap<MessageId, Vec<FileInfo>> = HashMap::new();
    for f in &files {
        if let Some(m) = f.message_id {
            files_by.entry(m).or_default().push(f.info());
        }
    }
    let quotes_by: HashMap<MessageId, Quote> = quotes
        .into_iter()
        .map(|q| {
            let sender_name = q
                .sender_id
                .and_then(|s| users.get(&s).map(|u| u.display_name.clone()))
                .or(q.bot_name);
            (
                q.id,
                Quote {
                    id: q.id,
                    sender_name,
                    excerpt: excerpt(&q.body, 140),
                    deleted: q.deleted_at.is_some(),
                },
            )
        })
        .collect();

    Ok(rows
        .into_iter()
        .map(|r| Message {
            id: r.id,
            channel_id: r.channel_id,
            seq: r.seq,
            version: r.version_seq,
            sender: r.sender_id.and_then(|s| users.get(&s).cloned()),
            bot_name: r.bot_name,
            body: r.body,
            html: r.html,
            created_at: rfc3339(r.created_at),
            edited_at: r.edited_at.map(rfc3339),
            deleted: r.deleted_at.is_some(),
            thread_root_id: r.thread_root_id,
            reply_count: r.reply_count,
            last_reply_at: r.last_reply_at.map(rfc3339),
            quote: r.quote_id.and_then(|q| quotes_by.get(&q).cloned()),
            reactions: reactions_by.remove(&r.id).unwrap_or_default(),
            pinned: r.pinned_at.is_some(),
            ack_required: r.ack_required,
            files: files_by.remove(&r.id).unwrap_or_default(),
            mentions: mentions_by.remove(&r.id).unwrap_or_default(),
            mention_all: r.mention_all,
            client_key: r.client_key,
        })
        .collect())
}

/// One message by id, hydrated.
pub async fn one(store: &Store, id: MessageId) -> AppResult<Option<Message>> {
    let row: Option<MessageRow> = db!(store.read(), c => sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM messages m WHERE m.id = $1"
    )))
    .bind(id)
    .fetch_optional(c)
    .await)?;
    Ok(hydrate(store, row.into_iter().collect()).await?.pop())
}
