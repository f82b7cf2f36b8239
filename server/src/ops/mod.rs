//! Operating on the data as a whole: `convene admin backup`, `restore` and `export`.
//!
//! - [`backup`]: a consistent `.tar.gz` of a running server's data directory: an
//!   SQLite snapshot (`VACUUM INTO`), the uploaded files, the generated signing key and
//!   a manifest with versions and checksums. On PostgreSQL the database is left to
//!   `pg_dump` and the archive holds the rest.
//! - [`restore`]: such an archive into an empty data directory, every checksum checked
//!   before anything is written.
//! - [`export`]: one workspace's members, channels, messages and files as JSON plus
//!   files, for a company leaving or for compliance.
//!
//! These commands work on the data directory and database directly: they do not start
//! the app (which would bind the media port of a running server, or on restore, create
//! a fresh database where the backup belongs).

use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;

use crate::config::Config;
use crate::db;
use crate::store::Db;

pub mod archive;
pub mod backup;
pub mod export;
pub mod restore;

/// `convene admin` subcommands that work on the data as a whole.
#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Write a consistent backup of the data directory (safe while the server runs).
    Backup {
        /// Archive to write, e.g. convene-2025-01-31.tar.gz (replaced if it exists).
        file: PathBuf,
    },
    /// Restore a backup into an empty data directory (the server must not be running).
    Restore {
        /// Archive written by `convene admin backup`.
        file: PathBuf,
    },
    /// Export one workspace (members, channels, messages, files) as JSON plus files.
    Export {
        /// Workspace id, slug or name.
        #[arg(long)]
        workspace: String,
        /// Archive to write, e.g. acme-export.tar.gz (replaced if it exists).
        file: PathBuf,
    },
}

/// Run a data command and print what it did.
pub async fn run(config: &Config, command: DataCommand) -> anyhow::Result<()> {
    match command {
        DataCommand::Backup { file } => {
            let done = backup::backup(config, &file).await?;
            println!(
                "convene: backup written to {} ({} files, {} bytes before compression, schema version {})",
                file.display(),
                done.manifest.entries.len(),
                done.manifest.entries.iter().map(|e| e.size).sum::<u64>(),
                done.manifest.schema_version,
            );
            if done.manifest.database == backup::DatabaseKind::Postgres {
                println!(
                    "convene: the database is PostgreSQL and is NOT in this archive; back it up with pg_dump \
                     (see \"Backup and restore\" in the README), e.g.\n  pg_dump --format=custom --file=convene.pgdump <database URL>"
                );
            }
            Ok(())
        }
        DataCommand::Restore { file } => {
            let done = restore::restore(config, &file).await?;
            println!(
                "convene: restored {} ({} files, made by convene {} on {}) into {}",
                file.display(),
                done.manifest.entries.len(),
                done.manifest.convene_version,
                done.manifest.created_at,
                done.data_dir.display(),
            );
            if done.manifest.database == backup::DatabaseKind::Postgres {
                println!(
                    "convene: this backup came from a PostgreSQL server: restore the database with pg_restore \
                     (see \"Backup and restore\" in the README) before starting the server"
                );
            }
            Ok(())
        }
        DataCommand::Export { workspace, file } => {
            let done = export::export(config, &workspace, &file).await?;
            println!(
                "convene: exported workspace {} ({}) to {}: {} members, {} channels, {} messages, {} files",
                done.workspace_name,
                done.workspace_id,
                file.display(),
                done.members,
                done.channels,
                done.messages,
                done.files,
            );
            if done.missing_files > 0 {
                println!(
                    "convene: warning: {} files are described in the database but missing from {}; \
                     they are listed in the export with \"missing\": true",
                    done.missing_files,
                    config.data_dir.join("files").display()
                );
            }
            Ok(())
        }
    }
}

/// The newest schema version (last migration) this binary knows. Both migration trees
/// have the same names, so either gives the answer.
pub fn known_schema_version() -> i64 {
    sqlx::migrate!("../migrations/sqlite")
        .iter()
        .map(|m| m.version)
        .max()
        .unwrap_or(0)
}

/// The schema version (last applied migration) of a database; 0 when none ran.
pub async fn schema_version(db: &Db) -> anyhow::Result<i64> {
    let version: Option<i64> =
        db!(db, c => sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success")
        .fetch_one(c)
        .await)
        .context("reading the schema version (the _sqlx_migrations table)")?;
    Ok(version.unwrap_or(0))
}

/// Is the configured database SQLite?
pub fn is_sqlite(config: &Config) -> bool {
    config.database_url().starts_with("sqlite:")
}

/// The SQLite database file of a `sqlite://` URL (without query parameters).
pub fn sqlite_path(url: &str) -> PathBuf {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    PathBuf::from(rest.split('?').next().unwrap_or(rest))
}
