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

use super::load::placeholders;

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
        let messages: Vec<&NewMessage> = batch.iter().map(|j| &j.message).collect();
        match write_batch(&store, &messages).await {
            Ok(results) => {
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
                    let _ = job.reply.send(result);
                }
            }
        }
    }
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

/// Write a batch in one transaction. The outer error fails the whole batch (the
/// database); an inner error concerns one message only.
async fn write_batch(store: &Store, batch: &[&NewMessage]) -> AppResult<Vec<AppResult<Written>>> {
    let mut tx = store.begin().await?;
    let mut out = Vec::with_capacity(batch.len());
    // Idempotency keys seen earlier in this batch, with their channel.
    let mut keys: HashMap<(Option<UserId>, String), (ChannelId, Written)> = HashMap::new();
    let reused = || {
        AppError::Conflict(
            "this client_key was already used for a message in another channel".into(),
        )
    };
    for m in batch {
        let now = now_ms();
        if let Some(key) = &m.client_key {
            if let Some((channel, w)) = keys.get(&(m.sender, key.clone())) {
                out.push(if *channel == m.channel {
                    Ok(Written {
                        created: false,
                        ..w.clone()
                    })
                } else {
                    Err(reused())
                });
                continue;
            }
            let existing: Option<(MessageId, i64, i64, ChannelId)> = tx!(&mut tx, c => sqlx::query_as(
                "SELECT id, seq, created_at, channel_id FROM messages WHERE sender_id = $1 AND client_key = $2"
            )
            .bind(m.sender)
            .bind(key)
            .fetch_optional(&mut *c)
            .await)?;
            if let Some((id, seq, created_at, channel)) = existing {
                out.push(if channel == m.channel {
                    Ok(Written {
                        id,
                        seq,
                        created_at,
                        created: false,
                        root_version: None,
                    })
                } else {
                    Err(reused())
                });
                continue;
            }
        }
        let id = MessageId::new();
        let seq = next_seq(&mut tx, m.channel, now, m.thread_root.is_none()).await?;
        tx!(&mut tx, c => sqlx::query(
            "INSERT INTO messages (id, channel_id, seq, version_seq, sender_id, bot_name, body, html, thread_root_id,
                quote_id, mention_all, ack_required, client_key, created_at)
             VALUES ($1, $2, $3, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
        )
        .bind(id)
        .bind(m.channel)
        .bind(seq)
        .bind(m.sender)
        .bind(&m.bot_name)
        .bind(&m.body)
        .bind(&m.html)
        .bind(m.thread_root)
        .bind(m.quote)
        .bind(m.mention_all)
        .bind(m.ack_required)
        .bind(&m.client_key)
        .bind(now)
        .execute(&mut *c)
        .await.map(|r| r.rows_affected()))?;
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
        let written = Written {
            id,
            seq,
            created_at: now,
            created: true,
            root_version,
        };
        if let Some(key) = &m.client_key {
            keys.insert((m.sender, key.clone()), (m.channel, written.clone()));
        }
        out.push(Ok(written));
    }
    tx.commit().await?;
    Ok(out)
}
