//! The message writer: one task that persists new messages in batched transactions.
//! On SQLite all writes go through one connection, so batching many sends into one
//! transaction is what makes thousands of persisted messages per second possible.
//! A message is acknowledged only after its transaction commits.

use std::collections::HashMap;

use tokio::sync::{mpsc, oneshot};

use crate::error::{AppError, AppResult};
use crate::store::ids::{ChannelId, FileId, MessageId, UserId};
use crate::store::{Store, Tx, now_ms};
use crate::tx;

use super::load::{USER_SUMMARIES_SQL, by_id, placeholders};
use super::model::UserSummary;

/// Most messages written in one transaction.
const MAX_BATCH: usize = 512;

/// A validated message to persist.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub channel: ChannelId,
    pub sender: Option<UserId>,
    pub bot_name: Option<String>,
    pub body: String,
    pub html: String,
    pub thread_root: Option<MessageId>,
    pub quote: Option<MessageId>,
    pub mentions: Vec<UserId>,
    pub mention_all: bool,
    pub ack_required: bool,
    pub files: Vec<FileId>,
    /// Client-chosen idempotency key: a retried send with the same key lands once.
    pub client_key: Option<String>,
}

/// What the writer did with one message.
#[derive(Debug, Clone)]
pub struct Written {
    pub id: MessageId,
    pub seq: i64,
    pub created_at: i64,
    /// False when the idempotency key matched an earlier message (nothing new written).
    pub created: bool,
    /// For thread replies: the root and its new version.
    pub root_version: Option<(MessageId, i64)>,
    /// The sender as messages show them, read in the batch's transaction (sending is the
    /// hot path: one read per batch, not per message); `None` for bots and retries.
    pub sender: Option<UserSummary>,
}

struct Job {
    message: NewMessage,
    reply: oneshot::Sender<AppResult<Written>>,
}

/// Handle to the writer task. Cheap to clone; the task ends when all handles drop.
#[derive(Clone)]
pub struct Writer {
    jobs: mpsc::Sender<Job>,
}

impl Writer {
    pub fn start(store: Store) -> Writer {
        let (jobs, rx) = mpsc::channel(8192);
        tokio::spawn(run(store, rx));
        Writer { jobs }
    }

    /// Persist `message`; returns once it is committed.
    pub async fn write(&self, message: NewMessage) -> AppResult<Written> {
        let (reply, rx) = oneshot::channel();
        self.jobs
            .send(Job { message, reply })
            .await
            .map_err(|_| AppError::Internal(anyhow::anyhow!("message writer stopped")))?;
        rx.await
            .map_err(|_| AppError::Internal(anyhow::anyhow!("message writer dropped a job")))?
    }
}

async fn run(store: Store, mut rx: mpsc::Receiver<Job>) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        metrics::histogram!("convene_message_batch_size").record(batch.len() as f64);
        // Sends waiting behind this batch: a queue that keeps growing means the
        // database cannot keep up with the message rate.
        metrics::gauge!("convene_message_write_queue").set(rx.len() as f64);
        let messages: Vec<&NewMessage> = batch.iter().map(|j| &j.message).collect();
        match write_batch(&store, &messages).await {
            Ok(results) => {
                let stored = results.iter().filter(|r| r.is_ok()).count();
                metrics::counter!("convene_messages_persisted_total").increment(stored as u64);
                // In order, batch after batch: senders publish their events when answered,
                // and clients expect a channel's events in sequence.
                for (job, result) in batch.into_iter().zip(results) {
                    let _ = job.reply.send(result);
                }
            }
            Err(e) => {
                // One bad message must not fail the others: retry them one by one.
                tracing::warn!(error = %e, size = batch.len(), "batch write failed; retrying singly");
                for job in batch {
                    let result = write_batch(&store, &[&job.message])
                        .await
                        .and_then(|mut r| {
                            r.pop().unwrap_or_else(|| {
                                Err(AppError::Internal(anyhow::anyhow!("empty write result")))
                            })
                        });
                    if result.is_ok() {
                        metrics::counter!("convene_messages_persisted_total").increment(1);
                    }
                    let _ = job.reply.send(result);
                }
            }
        }
    }
}

/// The people who sent the new `rows`, as messages show them.
async fn senders_of(
    tx: &mut Tx,
    rows: &[(usize, MessageId, i64)],
    batch: &[&NewMessage],
) -> AppResult<HashMap<UserId, UserSummary>> {
    let mut ids: Vec<UserId> = rows
        .iter()
        .filter_map(|(i, _, _)| batch[*i].sender)
        .collect();
    ids.sort();
    ids.dedup();
    let mut people: Vec<UserSummary> = Vec::new();
    for chunk in ids.chunks(500) {
        let sql = USER_SUMMARIES_SQL.replace("{in}", &marks(tx, 1, chunk.len()));
        let rows: Vec<UserSummary> = tx!(tx, c => {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
            for id in chunk {
                q = q.bind(*id);
            }
            q.fetch_all(&mut *c).await
        })?;
        people.extend(rows);
    }
    Ok(by_id(people))
}

/// Take the next sequence number of `channel` (row-locked until commit).
async fn next_seq(tx: &mut Tx, channel: ChannelId, now: i64, is_message: bool) -> AppResult<i64> {
    let seq: i64 = tx!(tx, c => sqlx::query_scalar(
        "UPDATE channels SET last_seq = last_seq + 1,
            last_message_at = CASE WHEN $2 THEN $3 ELSE last_message_at END
         WHERE id = $1 RETURNING last_seq"
    )
    .bind(channel)
    .bind(is_message)
    .bind(now)
    .fetch_one(&mut *c)
    .await)?;
    Ok(seq)
}

/// Rows per multi-row INSERT (14 parameters each, well under both databases' limits).
const INSERT_CHUNK: usize = 128;

/// The bind marker for parameter `i` (1-based): `$i` on PostgreSQL, a plain `?` on
/// SQLite, where numbered markers cost a scan of all markers on every bind (quadratic in
/// the batch statements here). Statements built with it number parameters in textual
/// order and bind in that order.
fn mark(tx: &Tx, i: usize) -> String {
    match tx {
        Tx::Sqlite(_) => "?".to_owned(),
        Tx::Postgres(_) => format!("${i}"),
    }
}

/// `n` markers from `start`, comma-separated.
fn marks(tx: &Tx, start: usize, n: usize) -> String {
    (start..start + n)
        .map(|i| mark(tx, i))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Earlier messages of this batch's senders with these idempotency keys.
async fn existing_keys(
    tx: &mut Tx,
    batch: &[&NewMessage],
) -> AppResult<HashMap<(Option<UserId>, String), (MessageId, i64, i64, ChannelId)>> {
    let keys: Vec<(Option<UserId>, &str)> = batch
        .iter()
        .filter_map(|m| m.client_key.as_deref().map(|k| (m.sender, k)))
        .collect();
    let mut found = HashMap::new();
    for chunk in keys.chunks(250) {
        type Row = (Option<UserId>, String, MessageId, i64, i64, ChannelId);
        let senders: Vec<Option<UserId>> = chunk.iter().map(|(s, _)| *s).collect();
        let sql = existing_keys_sql(tx, &senders);
        let rows: Vec<Row> = tx!(tx, c => {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
            for (sender, key) in chunk {
                if let Some(sender) = sender {
                    q = q.bind(*sender);
                }
                q = q.bind(*key);
            }
            q.fetch_all(&mut *c).await
        })?;
        for (sender, key, id, seq, created_at, channel) in rows {
            found.insert((sender, key), (id, seq, created_at, channel));
        }
    }
    Ok(found)
}

/// The lookup of (sender, key) pairs, one OR term per pair, each one search of the
/// `messages_client_key` index; the markers are the senders that are not null, each
/// followed by its key. (Joining a VALUES list instead let SQLite seek by sender alone
/// and walk every key that sender ever used, on every batch.)
fn existing_keys_sql(tx: &Tx, senders: &[Option<UserId>]) -> String {
    let mut next = 0;
    let mut marker = || {
        next += 1;
        mark(tx, next)
    };
    let terms: Vec<String> = senders
        .iter()
        .map(|sender| {
            let sender = match sender {
                Some(_) => format!("= {}", marker()),
                None => "IS NULL".to_owned(),
            };
            format!("(sender_id {sender} AND client_key = {})", marker())
        })
        .collect();
    format!(
        "SELECT sender_id, client_key, id, seq, created_at, channel_id FROM messages
         WHERE client_key IS NOT NULL AND ({})",
        terms.join(" OR ")
    )
}

/// Reserve `count` sequence numbers in each channel with one statement; returns each
/// channel's new `last_seq` (the reserved numbers end there).
async fn reserve_seqs(
    tx: &mut Tx,
    counts: &[(ChannelId, i64)],
    now: i64,
) -> AppResult<HashMap<ChannelId, i64>> {
    let mut last = HashMap::new();
    for chunk in counts.chunks(200) {
        let mut cases = String::new();
        for i in 0..chunk.len() {
            cases.push_str(&format!(
                " WHEN {} THEN {}",
                mark(tx, 2 + 2 * i),
                mark(tx, 3 + 2 * i)
            ));
        }
        let sql = format!(
            "UPDATE channels SET last_message_at = {}, last_seq = last_seq + CASE id{cases} ELSE 0 END
             WHERE id IN ({}) RETURNING id, last_seq",
            mark(tx, 1),
            marks(tx, 2 + 2 * chunk.len(), chunk.len())
        );
        let rows: Vec<(ChannelId, i64)> = tx!(tx, c => {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(now);
            for (channel, n) in chunk {
                q = q.bind(*channel).bind(*n);
            }
            for (channel, _) in chunk {
                q = q.bind(*channel);
            }
            q.fetch_all(&mut *c).await
        })?;
        if rows.len() != chunk.len() {
            return Err(AppError::not_found("channel"));
        }
        last.extend(rows);
    }
    Ok(last)
}

/// Write a batch in one transaction: one lookup of idempotency keys, one sequence
/// reservation for all top-level messages, multi-row inserts (SQLite runs every
/// statement on its one writer thread, so statements per batch, not per message, set the
/// pace). The outer error fails the whole batch (the database); an inner error concerns
/// one message only.
async fn write_batch(store: &Store, batch: &[&NewMessage]) -> AppResult<Vec<AppResult<Written>>> {
    let mut tx = store.begin().await?;
    let now = now_ms();
    let reused = || {
        AppError::Conflict(
            "this client_key was already used for a message in another channel".into(),
        )
    };
    let earlier = existing_keys(&mut tx, batch).await?;
    let mut out: Vec<Option<AppResult<Written>>> = (0..batch.len()).map(|_| None).collect();
    // Retries inside this batch: (index, index of the first with that key).
    let mut repeats: Vec<(usize, usize)> = Vec::new();
    let mut first_with_key: HashMap<(Option<UserId>, &str), usize> = HashMap::new();
    let mut fresh: Vec<usize> = Vec::new();
    for (i, m) in batch.iter().enumerate() {
        if let Some(key) = m.client_key.as_deref() {
            if let Some((id, seq, created_at, channel)) = earlier.get(&(m.sender, key.to_owned())) {
                out[i] = Some(if *channel == m.channel {
                    Ok(Written {
                        id: *id,
                        seq: *seq,
                        created_at: *created_at,
                        created: false,
                        root_version: None,
                        sender: None,
                    })
                } else {
                    Err(reused())
                });
                continue;
            }
            if let Some(first) = first_with_key.get(&(m.sender, key)) {
                repeats.push((i, *first));
                continue;
            }
            first_with_key.insert((m.sender, key), i);
        }
        fresh.push(i);
    }

    // Sequence numbers: top-level messages in one reservation, in batch order per
    // channel; thread replies one by one (they also bump their root's version).
    let mut counts: Vec<(ChannelId, i64)> = Vec::new();
    for &i in fresh.iter().filter(|&&i| batch[i].thread_root.is_none()) {
        match counts.iter_mut().find(|(c, _)| *c == batch[i].channel) {
            Some((_, n)) => *n += 1,
            None => counts.push((batch[i].channel, 1)),
        }
    }
    let last = reserve_seqs(&mut tx, &counts, now).await?;
    let mut next: HashMap<ChannelId, i64> = counts
        .iter()
        .map(|(c, n)| (*c, last.get(c).copied().unwrap_or(0) - n + 1))
        .collect();
    let mut rows: Vec<(usize, MessageId, i64)> = Vec::with_capacity(fresh.len());
    for &i in &fresh {
        let m = batch[i];
        let seq = if m.thread_root.is_none() {
            let n = next.entry(m.channel).or_insert(0);
            *n += 1;
            *n - 1
        } else {
            next_seq(&mut tx, m.channel, now, false).await?
        };
        rows.push((i, MessageId::new(), seq));
    }

    for chunk in rows.chunks(INSERT_CHUNK) {
        let values: Vec<String> = (0..chunk.len())
            .map(|r| format!("({})", marks(&tx, r * 14 + 1, 14)))
            .collect();
        let sql = format!(
            "INSERT INTO messages (id, channel_id, seq, version_seq, sender_id, bot_name, body, html, thread_root_id,
                quote_id, mention_all, ack_required, client_key, created_at) VALUES {}",
            values.join(", ")
        );
        tx!(&mut tx, c => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (i, id, seq) in chunk {
                let m = batch[*i];
                q = q
                    .bind(*id)
                    .bind(m.channel)
                    .bind(*seq)
                    .bind(*seq)
                    .bind(m.sender)
                    .bind(&m.bot_name)
                    .bind(&m.body)
                    .bind(&m.html)
                    .bind(m.thread_root)
                    .bind(m.quote)
                    .bind(m.mention_all)
                    .bind(m.ack_required)
                    .bind(&m.client_key)
                    .bind(now);
            }
            q.execute(&mut *c).await.map(|r| r.rows_affected())
        })?;
    }

    for &(i, id, seq) in &rows {
        let m = batch[i];
        for user in &m.mentions {
            tx!(&mut tx, c => sqlx::query("INSERT INTO message_mentions (message_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                .bind(id)
                .bind(*user)
                .execute(&mut *c)
                .await.map(|r| r.rows_affected()))?;
        }
        if !m.files.is_empty() {
            let sql = format!(
                "UPDATE files SET message_id = $1 WHERE channel_id = $2 AND uploader_id IS NOT DISTINCT FROM $3
                 AND message_id IS NULL AND id IN ({})",
                placeholders(4, m.files.len())
            );
            tx!(&mut tx, c => {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).bind(m.channel).bind(m.sender);
                for f in &m.files {
                    q = q.bind(*f);
                }
                q.execute(&mut *c).await.map(|r| r.rows_affected())
            })?;
        }
        let mut root_version = None;
        if let Some(root) = m.thread_root {
            let version = next_seq(&mut tx, m.channel, now, false).await?;
            tx!(&mut tx, c => {
                sqlx::query("UPDATE messages SET reply_count = reply_count + 1, last_reply_at = $1, version_seq = $2 WHERE id = $3")
                    .bind(now)
                    .bind(version)
                    .bind(root)
                    .execute(&mut *c)
                    .await?;
                // Repliers and the root's author follow the thread unless they chose not to.
                sqlx::query(
                    "INSERT INTO thread_follows (root_id, user_id, following)
                     SELECT $1, u, TRUE FROM (SELECT $2 AS u UNION SELECT sender_id FROM messages WHERE id = $1) s
                     WHERE u IS NOT NULL ON CONFLICT (root_id, user_id) DO NOTHING"
                )
                .bind(root)
                .bind(m.sender)
                .execute(&mut *c)
                .await.map(|r| r.rows_affected())
            })?;
            root_version = Some((root, version));
        }
        out[i] = Some(Ok(Written {
            id,
            seq,
            created_at: now,
            created: true,
            root_version,
            sender: None,
        }));
    }
    let senders = senders_of(&mut tx, &rows, batch).await?;
    for &(i, _, _) in &rows {
        if let (Some(Ok(w)), Some(sender)) = (&mut out[i], batch[i].sender) {
            w.sender = senders.get(&sender).cloned();
        }
    }
    tx.commit().await?;
    for (i, first) in repeats {
        out[i] = Some(match &out[first] {
            Some(Ok(w)) if batch[first].channel == batch[i].channel => Ok(Written {
                created: false,
                ..w.clone()
            }),
            Some(Ok(_)) => Err(reused()),
            _ => Err(AppError::Internal(anyhow::anyhow!(
                "first send of a key has no result"
            ))),
        });
    }
    Ok(out
        .into_iter()
        .map(|r| {
            r.unwrap_or_else(|| Err(AppError::Internal(anyhow::anyhow!("message not written"))))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The key lookup runs on every batch, so it must stay index searches however many
    /// keys the senders have used before: checked against the SQLite the server ships.
    #[tokio::test]
    async fn the_key_lookup_searches_the_index_once_per_key() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let store = Store::connect(&url, 2).await.expect("open the database");
        store.migrate().await.expect("migrate");
        let mut tx = store.begin().await.expect("begin");
        let senders = [Some(UserId::new()), None, Some(UserId::new())];
        let sql = format!("EXPLAIN QUERY PLAN {}", existing_keys_sql(&tx, &senders));
        let rows: Vec<(i64, i64, i64, String)> = tx!(&mut tx, c => {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
            for sender in senders {
                if let Some(sender) = sender {
                    q = q.bind(sender);
                }
                q = q.bind("key");
            }
            q.fetch_all(&mut *c).await
        })
        .expect("explain");
        let plan: Vec<String> = rows.into_iter().map(|(_, _, _, detail)| detail).collect();
        let searches = plan
            .iter()
            .filter(|d| {
                d.contains("USING INDEX messages_client_key (sender_id=? AND client_key=?)")
            })
            .count();
        assert_eq!(searches, senders.len(), "{plan:#?}");
        assert!(!plan.iter().any(|d| d.starts_with("SCAN")), "{plan:#?}");
    }
}
