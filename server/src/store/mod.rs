//! The database: one connection pool per backend, embedded migrations, and the
//! `db!` dispatch that runs one query body on whichever backend is configured.
//!
//! Domain code writes SQL once with `$1` placeholders; where the dialects differ, the
//! difference lives here. SQLite gets a separate single-connection writer pool so
//! writes are serialized and load never surfaces as "database is locked".

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

mod checkpoints;
pub mod ids;
pub mod text_search;
use checkpoints::Checkpoints;
pub use ids::now_ms;

/// A pool of one backend.
#[derive(Clone, Debug)]
pub enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Run `$body` with `$conn` bound to the concrete pool of `$db`. The body is compiled
/// once per backend, so it must be valid for both (same SQL, `$N` placeholders).
#[macro_export]
macro_rules! db {
    ($db:expr, $conn:ident => $body:expr) => {
        match $db {
            $crate::store::Db::Sqlite($conn) => $body,
            $crate::store::Db::Postgres($conn) => $body,
        }
    };
}

/// An open transaction on the writer.
pub enum Tx {
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

/// Run `$body` with `$conn` bound to the connection of the transaction `$tx`
/// (a `&mut Tx`), so functions of several domains can share one transaction.
#[macro_export]
macro_rules! tx {
    ($tx:expr, $conn:ident => $body:expr) => {
        match $tx {
            $crate::store::Tx::Sqlite(t) => {
                let $conn = &mut **t;
                $body
            }
            $crate::store::Tx::Postgres(t) => {
                let $conn = &mut **t;
                $body
            }
        }
    };
}

impl Tx {
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Sqlite(t) => t.commit().await,
            Tx::Postgres(t) => t.commit().await,
        }
    }
}

/// How full a pool is right now.
#[derive(Debug, Clone, Copy)]
pub struct PoolUsage {
    pub open: u32,
    pub idle: u32,
    pub max: u32,
}

impl PoolUsage {
    fn of<DB: sqlx::Database>(pool: &sqlx::Pool<DB>) -> PoolUsage {
        PoolUsage {
            open: pool.size(),
            idle: u32::try_from(pool.num_idle()).unwrap_or(u32::MAX),
            max: pool.options().get_max_connections(),
        }
    }
}

/// Reader and writer pools (the same pool on PostgreSQL).
#[derive(Clone, Debug)]
pub struct Store {
    reader: Db,
    writer: Db,
    /// SQLite's background WAL checkpoints, while any clone of the store lives.
    checkpoints: Option<Arc<Checkpoints>>,
}

impl Store {
    /// Connect to `url` (`sqlite://` or `postgres://`) and apply migrations.
    pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<Store> {
        let store = if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)
                .with_context(|| format!("bad SQLite URL {url}"))?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
                // Statement journals (the undo of one multi-row statement) in memory,
                // not in temporary files written on every batch.
                .pragma("temp_store", "memory");
            // The writer checkpoints only past 40 MiB of WAL (SQLite's default is 4):
            // a background connection keeps the WAL copied back (see `checkpoints`),
            // and a page written by many batches is copied once per checkpoint.
            let writer_options = options.clone().pragma("wal_autocheckpoint", "10000");
            // SQLite connections are local files: no need to ping each one before use.
            let writer = SqlitePoolOptions::new()
                .test_before_acquire(false)
                .max_connections(1)
                .acquire_timeout(Duration::from_secs(30))
                .connect_with(writer_options)
                .await
                .with_context(|| format!("opening SQLite database {url}"))?;
            let checkpoints = Checkpoints::start(&options)
                .await
                .context("opening the SQLite checkpoint connection")?;
            let reader = SqlitePoolOptions::new()
                .test_before_acquire(false)
                .max_connections(max_connections.max(2))
                .acquire_timeout(Duration::from_secs(30))
                .connect_with(options.read_only(true))
                .await
                .context("opening SQLite readers")?;
            Store {
                reader: Db::Sqlite(reader),
                writer: Db::Sqlite(writer),
                checkpoints: Some(Arc::new(checkpoints)),
            }
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let pool = PgPoolOptions::new()
                .max_connections(max_connections)
                .acquire_timeout(Duration::from_secs(30))
                .connect(url)
                .await
                .context("connecting to PostgreSQL")?;
            Store {
                reader: Db::Postgres(pool.clone()),
                writer: Db::Postgres(pool),
                checkpoints: None,
            }
        } else {
            anyhow::bail!("database URL must start with sqlite:// or postgres://");
        };
        Ok(store)
    }

    /// Apply pending migrations (embedded in the binary).
    pub async fn migrate(&self) -> anyhow::Result<()> {
        match &self.writer {
            Db::Sqlite(p) => sqlx::migrate!("../migrations/sqlite").run(p).await,
            Db::Postgres(p) => sqlx::migrate!("../migrations/postgres").run(p).await,
        }
        .context("applying database migrations")
    }

    /// Each distinct pool by name with its open, idle and maximum connections (for
    /// the saturation metrics: busy = open - idle, saturated when busy reaches max).
    pub fn pool_usage(&self) -> Vec<(&'static str, PoolUsage)> {
        match (&self.reader, &self.writer) {
            (Db::Sqlite(r), Db::Sqlite(w)) => {
                vec![("read", PoolUsage::of(r)), ("write", PoolUsage::of(w))]
            }
            (Db::Postgres(p), _) | (_, Db::Postgres(p)) => vec![("shared", PoolUsage::of(p))],
        }
    }

    /// Pool for reads.
    pub fn read(&self) -> &Db {
        &self.reader
    }

    /// Pool for writes (one connection on SQLite).
    pub fn write(&self) -> &Db {
        &self.writer
    }

    /// Begin a transaction on the writer that holds `ws`'s row lock (PostgreSQL; SQLite
    /// has one writer anyway), so checks such as "keep one owner" or "teams stay a tree"
    /// cannot race with another change to the same workspace.
    pub async fn begin_workspace(
        &self,
        ws: crate::store::ids::WorkspaceId,
    ) -> Result<Tx, sqlx::Error> {
        let mut tx = self.begin().await?;
        crate::tx!(&mut tx, c => sqlx::query("UPDATE workspaces SET id = id WHERE id = $1")
            .bind(ws)
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(tx)
    }

    /// Begin a transaction on the writer.
    pub async fn begin(&self) -> Result<Tx, sqlx::Error> {
        Ok(match &self.writer {
            Db::Sqlite(p) => Tx::Sqlite(p.begin().await?),
            Db::Postgres(p) => Tx::Postgres(p.begin().await?),
        })
    }

    /// Is the database answering?
    pub async fn ping(&self) -> bool {
        let r: Result<i64, sqlx::Error> = db!(self.read(), c => sqlx::query_scalar("SELECT CAST(1 AS BIGINT)").fetch_one(c).await);
        r.is_ok()
    }

    /// Backend name for logs and `/readyz`.
    pub fn backend(&self) -> &'static str {
        match self.writer {
            Db::Sqlite(_) => "sqlite",
            Db::Postgres(_) => "postgres",
        }
    }

    pub async fn close(&self) {
        if let Some(c) = &self.checkpoints {
            c.stop().await;
        }
        match (&self.reader, &self.writer) {
            (Db::Sqlite(r), Db::Sqlite(w)) => {
                r.close().await;
                w.close().await;
            }
            (_, Db::Postgres(p)) | (Db::Postgres(p), _) => p.close().await,
        }
    }
}

#[cfg(test)]
mod tests {
    fn names(dir: &str) -> Vec<String> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(dir);
        let mut names: Vec<String> = std::fs::read_dir(path)
            .expect("migrations dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    /// Writes reach the database file itself soon, not only the WAL (which the writer
    /// checkpoints only when it is large): a copy of the file alone holds them.
    #[tokio::test]
    async fn the_wal_is_copied_back_into_the_database_file_in_the_background() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let path = dir.path().join("t.db");
        let store = super::Store::connect(&format!("sqlite://{}", path.display()), 2)
            .await
            .expect("open the database");
        crate::db!(store.write(), c => {
            sqlx::query("CREATE TABLE notes (body TEXT)").execute(c).await.expect("create");
            sqlx::query("INSERT INTO notes VALUES ('kept')").execute(c).await.expect("insert");
        });
        let copy = dir.path().join("copy.db");
        let mut found = Vec::new();
        for _ in 0..50 {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            std::fs::copy(&path, &copy).expect("copy the database file");
            // A copy taken mid-checkpoint may not open; the next one will.
            let url = format!("sqlite://{}", copy.display());
            let Ok(pool) = sqlx::SqlitePool::connect(&url).await else {
                continue;
            };
            found = sqlx::query_scalar::<_, String>("SELECT body FROM notes")
                .fetch_all(&pool)
                .await
                .unwrap_or_default();
            pool.close().await;
            if !found.is_empty() {
                break;
            }
        }
        assert_eq!(found, ["kept"]);
        store.close().await;
    }

    #[test]
    fn both_migration_trees_list_the_same_migrations() {
        let sqlite = names("migrations/sqlite");
        assert!(!sqlite.is_empty());
        assert_eq!(sqlite, names("migrations/postgres"));
    }
}
