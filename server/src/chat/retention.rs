//! Message retention: a workspace with `retention_days` set loses messages older than
//! that. The sweep deletes a few hundred messages per transaction with a short pause
//! between batches, so the writer is never held long and chat does not stall. A thread
//! goes as a whole once its root and its last reply are both past the limit; files go
//! with their messages, and a stored blob goes when no file row uses it any more.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use crate::chat::files::{blob_path, thumb_path};
use crate::error::AppResult;
use crate::orgs::audit::{self, Event};
use crate::store::ids::{MessageId, WorkspaceId};
use crate::store::{Store, now_ms};
use crate::{db, tx};

const DAY_MS: i64 = 86_400_000;
/// Messages (thread roots) per transaction.
pub const BATCH: i64 = 300;

/// What one sweep removed from one workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Swept {
    pub workspace: WorkspaceId,
    pub retention_days: i64,
    /// Messages deleted, thread replies included.
    pub messages: u64,
    /// File attachments deleted.
    pub files: u64,
    /// Stored blobs removed from disk (no other file used them).
    pub blobs: u64,
}

/// Apply every workspace's retention as of `now` (ms), pausing `pause` between batches.
/// Writes one `retention.swept` audit entry per workspace with a retention setting.
pub async fn sweep(
    store: &Store,
    files_dir: &Path,
    now: i64,
    pause: Duration,
) -> AppResult<Vec<Swept>> {
    let policies: Vec<(WorkspaceId, i64)> = db!(store.read(), c => sqlx::query_as(
        "SELECT id, retention_days FROM workspaces WHERE retention_days IS NOT NULL ORDER BY id"
    )
    .fetch_all(c)
    .await)?;
    let mut report = Vec::with_capacity(policies.len());
    for (ws, days) in policies {
        let cutoff = now - days.clamp(1, 3650) * DAY_MS;
        let mut swept = Swept {
            workspace: ws,
            retention_days: days,
            messages: 0,
            files: 0,
            blobs: 0,
        };
        loop {
            let (messages, files, shas) = sweep_batch(store, ws, cutoff).await?;
            swept.messages += messages;
            swept.files += files;
            swept.blobs += remove_unused_blobs(store, files_dir, shas).await?;
            if messages == 0 {
                break;
            }
            tokio::time::sleep(pause).await;
        }
        audit::record(
            store,
            Event {
                workspace: Some(ws),
                actor: None,
                action: "retention.swept",
                target_type: Some("workspace"),
                target_id: Some(ws.to_string()),
                detail: serde_json::json!({
                    "retention_days": days,
                    "messages": swept.messages,
                    "files": swept.files,
                }),
                ip: None,
            },
        )
        .await?;
        report.push(swept);
    }
    Ok(report)
}

/// Delete up to [`BATCH`] expired threads (or lone messages) of `ws` in one
/// transaction. Returns messages and files deleted and the blobs those files used.
async fn sweep_batch(
    store: &Store,
    ws: WorkspaceId,
    cutoff: i64,
) -> AppResult<(u64, u64, BTreeSet<String>)> {
    let mut tx = store.begin().await?;
    let roots: Vec<MessageId> = tx!(&mut tx, c => sqlx::query_scalar(
        "SELECT m.id FROM messages m JOIN channels ch ON ch.id = m.channel_id
         WHERE ch.workspace_id = $1 AND m.thread_root_id IS NULL AND m.created_at < $2
           AND (m.last_reply_at IS NULL OR m.last_reply_at < $2)
         LIMIT $3"
    )
    .bind(ws)
    .bind(cutoff)
    .bind(BATCH)
    .fetch_all(&mut *c)
    .await)?;
    let (mut messages, mut files, mut shas) = (0u64, 0u64, BTreeSet::new());
    for root in roots {
        const OF_THREAD: &str =
            "message_id = $1 OR message_id IN (SELECT id FROM messages WHERE thread_root_id = $1)";
        let used: Vec<String> = tx!(&mut tx, c => sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT sha256 FROM files WHERE {OF_THREAD}"
        )))
        .bind(root)
        .fetch_all(&mut *c)
        .await)?;
        shas.extend(used);
        files += tx!(&mut tx, c => sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM files WHERE {OF_THREAD}")))
            .bind(root)
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected()))?;
        messages += tx!(&mut tx, c => sqlx::query("DELETE FROM messages WHERE thread_root_id = $1")
            .bind(root)
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected()))?;
        messages += tx!(&mut tx, c => sqlx::query("DELETE FROM messages WHERE id = $1")
            .bind(root)
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected()))?;
    }
    tx.commit().await?;
    Ok((messages, files, shas))
}

/// Remove the stored blobs (and thumbnails) of `shas` that no file row uses any more.
async fn remove_unused_blobs(
    store: &Store,
    files_dir: &Path,
    shas: BTreeSet<String>,
) -> AppResult<u64> {
    let mut removed = 0;
    for sha in shas {
        // Stored names are hex digests; anything else never came from an upload.
        if sha.len() < 3 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
            continue;
        }
        let users: i64 = db!(store.read(), c => sqlx::query_scalar(
            "SELECT COUNT(*) FROM files WHERE sha256 = $1"
        )
        .bind(&sha)
        .fetch_one(c)
        .await)?;
        if users > 0 {
            continue;
        }
        if tokio::fs::remove_file(blob_path(files_dir, &sha))
            .await
            .is_ok()
        {
            removed += 1;
        }
        let _ = tokio::fs::remove_file(thumb_path(files_dir, &sha)).await;
    }
    Ok(removed)
}

/// Sweep every `every`, the first time after `first`. Errors are logged, not fatal.
pub async fn sweep_loop(
    store: Store,
    files_dir: std::path::PathBuf,
    first: Duration,
    every: Duration,
) {
    tokio::time::sleep(first).await;
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        match sweep(&store, &files_dir, now_ms(), Duration::from_millis(50)).await {
            Ok(report) => {
                for s in report.iter().filter(|s| s.messages > 0) {
                    tracing::info!(workspace = %s.workspace, messages = s.messages, files = s.files, "retention sweep");
                }
            }
            Err(e) => tracing::warn!(error = %e, "retention sweep failed"),
        }
    }
}
