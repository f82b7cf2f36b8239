//! WAL checkpoints for SQLite off the writer's path. SQLite's automatic checkpoint
//! runs inside the commit that crosses its threshold, so that commit (and every send
//! queued behind it) waits while pages are copied back and synced. A connection of its
//! own copies them back every [`EVERY`] instead; the writer's automatic checkpoint stays
//! as the bound on the WAL's size and then finds little left to copy.

use std::sync::Mutex;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{ConnectOptions, Connection};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How often the WAL is copied back into the database file.
const EVERY: Duration = Duration::from_millis(250);

/// The checkpointing task; it stops when this is dropped or stopped.
#[derive(Debug)]
pub struct Checkpoints {
    cancel: CancellationToken,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Checkpoints {
    /// Open the checkpointing connection and start the task.
    pub async fn start(options: &SqliteConnectOptions) -> Result<Checkpoints, sqlx::Error> {
        let mut conn = options.connect().await?;
        let cancel = CancellationToken::new();
        let cancelled = cancel.clone();
        let task = tokio::spawn(async move {
            let mut ticker = tokio::time::interval(EVERY);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = cancelled.cancelled() => break,
                    _ = ticker.tick() => {
                        if let Err(e) = checkpoint(&mut conn).await {
                            tracing::warn!(error = %e, "WAL checkpoint failed");
                        }
                    }
                }
            }
            let _ = conn.close().await;
        });
        Ok(Checkpoints {
            cancel,
            task: Mutex::new(Some(task)),
        })
    }

    /// Stop checkpointing and close the connection.
    pub async fn stop(&self) {
        self.cancel.cancel();
        let task = self.task.lock().ok().and_then(|mut t| t.take());
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}

impl Drop for Checkpoints {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// Copy what the WAL holds back into the database without waiting for anyone: a
/// passive checkpoint stops at frames a reader still needs and leaves them for next time.
async fn checkpoint(conn: &mut SqliteConnection) -> Result<(), sqlx::Error> {
    sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
        .execute(conn)
        .await
        .map(drop)
}
