//! `convene admin backup <file>`: a consistent archive of a running server's data.
//!
//! Archive layout (`.tar.gz`), paths relative to the data directory:
//!
//! ```text
//! manifest.json            always first: versions, and every other entry's size and SHA-256
//! convene.db               SQLite snapshot (absent for PostgreSQL: use pg_dump)
//! jwt.key                  the generated signing key, when the data directory has one
//! files/ab/ab12…           uploaded files (stored by SHA-256) and their thumbnails
//! ```
//!
//! The SQLite snapshot is taken with `VACUUM INTO` on a connection of its own: one read
//! transaction, so it is consistent while the server keeps writing (WAL mode lets both
//! go on). Files are written to disk before their database row, and never changed or
//! removed afterwards, so every file the snapshot mentions is on disk when the files are
//! read after it.

use std::fs;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use serde::{Deserialize, Serialize};
use sqlx::Connection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};

use crate::config::Config;
use crate::ops::archive::{self, ArchiveWriter, FILE_MODE, SECRET_MODE, TempDir};
use crate::ops::{is_sqlite, schema_version, sqlite_path};
use crate::store::ids::rfc3339;
use crate::store::{Store, now_ms};

/// Version of the archive layout. Restore refuses archives with a higher one.
pub const FORMAT_VERSION: u32 = 1;
/// Name of the manifest entry (the first in the archive).
pub const MANIFEST: &str = "manifest.json";
/// The SQLite database inside the archive and the data directory.
pub const DATABASE_FILE: &str = "convene.db";
/// The generated signing key.
pub const JWT_KEY_FILE: &str = "jwt.key";
/// Uploaded files.
pub const FILES_DIR: &str = "files";

/// Which database the backup was taken from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DatabaseKind {
    Sqlite,
    Postgres,
}

/// `manifest.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// [`FORMAT_VERSION`] of the binary that wrote it.
    pub format_version: u32,
    /// Version of the `convene` binary that wrote it.
    pub convene_version: String,
    /// RFC 3339 UTC.
    pub created_at: String,
    pub database: DatabaseKind,
    /// Last migration applied to the database.
    pub schema_version: i64,
    /// Every other entry of the archive, in archive order.
    pub entries: Vec<ManifestEntry>,
}

/// One file of the archive.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ManifestEntry {
    /// Relative to the data directory, `/`-separated.
    pub path: String,
    pub size: u64,
    /// Lowercase hex.
    pub sha256: String,
}

/// What a backup wrote.
#[derive(Debug)]
pub struct Backup {
    pub manifest: Manifest,
}

/// Mode a restored entry gets: secrets stay private.
pub fn mode_of(path: &str) -> u32 {
    if path == JWT_KEY_FILE {
        SECRET_MODE
    } else {
        FILE_MODE
    }
}

/// Write a backup of `config`'s data to `out`.
pub async fn backup(config: &Config, out: &Path) -> anyhow::Result<Backup> {
    let data_dir = config.data_dir.clone();
    anyhow::ensure!(
        data_dir.is_dir(),
        "the data directory {} does not exist (set --data-dir or CONVENE_DATA_DIR)",
        data_dir.display()
    );
    anyhow::ensure!(
        archive::parent_dir(out).is_dir(),
        "cannot write {}: the folder {} does not exist",
        out.display(),
        archive::parent_dir(out).display()
    );
    // The snapshot is staged beside the archive, not in the data directory.
    let work = TempDir::new_in(archive::parent_dir(out), "convene-backup")?;
    let url = config.database_url();
    let (database, schema, snapshot) = if is_sqlite(config) {
        let snapshot = work.path().join(DATABASE_FILE);
        let schema = snapshot_sqlite(&url, &snapshot).await?;
        (DatabaseKind::Sqlite, schema, Some(snapshot))
    } else {
        let store = Store::connect(&url, 1).await?;
        let schema = schema_version(store.read()).await;
        store.close().await;
        (DatabaseKind::Postgres, schema?, None)
    };
    let out = out.to_path_buf();
    let manifest = tokio::task::spawn_blocking(move || {
        write_archive(&data_dir, snapshot.as_deref(), database, schema, &out)
    })
    .await
    .context("the backup task failed")??;
    drop(work);
    Ok(Backup { manifest })
}

/// Snapshot the SQLite database at `url` into `dest` with `VACUUM INTO`; returns its
/// schema version.
async fn snapshot_sqlite(url: &str, dest: &Path) -> anyhow::Result<i64> {
    let source = sqlite_path(url);
    anyhow::ensure!(
        source.is_file(),
        "no database at {}: is the data directory (--data-dir) right?",
        source.display()
    );
    // A connection of its own, not the server's pool: the snapshot is one read
    // transaction, and WAL mode lets the server keep writing meanwhile.
    let options = SqliteConnectOptions::from_str(url)
        .with_context(|| format!("bad SQLite URL {url}"))?
        .create_if_missing(false)
        .busy_timeout(Duration::from_secs(30));
    let mut conn = SqliteConnection::connect_with(&options)
        .await
        .with_context(|| format!("opening {}", source.display()))?;
    let dest_text = dest
        .to_str()
        .context("the backup's folder name is not valid UTF-8")?;
    sqlx::query("VACUUM INTO $1")
        .bind(dest_text)
        .execute(&mut conn)
        .await
        .context("taking a snapshot of the database (VACUUM INTO)")?;
    conn.close().await.ok();

    // Check the copy, and read its schema version.
    let options = SqliteConnectOptions::new()
        .filename(dest)
        .create_if_missing(false);
    let mut copy = SqliteConnection::connect_with(&options)
        .await
        .context("opening the database snapshot")?;
    let check: String = sqlx::query_scalar("PRAGMA quick_check")
        .fetch_one(&mut copy)
        .await
        .context("checking the database snapshot")?;
    anyhow::ensure!(
        check == "ok",
        "the database snapshot fails SQLite's integrity check: {check}"
    );
    let version: Option<i64> =
        sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success")
            .fetch_one(&mut copy)
            .await
            .context("reading the schema version of the snapshot")?;
    copy.close().await.ok();
    Ok(version.unwrap_or(0))
}

/// A file to archive: its path in the archive and on disk.
struct Source {
    path: String,
    disk: PathBuf,
}

/// Every regular file under `<data_dir>/files`, except uploads still in progress.
fn uploaded_files(data_dir: &Path) -> anyhow::Result<Vec<Source>> {
    let root = data_dir.join(FILES_DIR);
    let mut out = Vec::new();
    if !root.is_dir() {
        return Ok(out);
    }
    let mut stack = vec![(root, FILES_DIR.to_owned())];
    while let Some((dir, rel)) = stack.pop() {
        let mut entries: Vec<fs::DirEntry> = fs::read_dir(&dir)
            .with_context(|| format!("cannot list {}", dir.display()))?
            .collect::<Result<_, _>>()
            .with_context(|| format!("cannot list {}", dir.display()))?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                tracing::warn!(path = %entry.path().display(), "skipping a file whose name is not UTF-8");
                continue;
            };
            let path = format!("{rel}/{name}");
            let kind = entry
                .file_type()
                .with_context(|| format!("cannot read {}", entry.path().display()))?;
            if kind.is_dir() {
                // Uploads being received; not referenced by the database yet.
                if path != "files/tmp" {
                    stack.push((entry.path(), path));
                }
            } else if kind.is_file() {
                out.push(Source {
                    path,
                    disk: entry.path(),
                });
            } else {
                tracing::warn!(path = %entry.path().display(), "skipping something that is not a regular file");
            }
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

fn write_archive(
    data_dir: &Path,
    snapshot: Option<&Path>,
    database: DatabaseKind,
    schema_version: i64,
    out: &Path,
) -> anyhow::Result<Manifest> {
    let mut sources = Vec::new();
    if let Some(snapshot) = snapshot {
        sources.push(Source {
            path: DATABASE_FILE.into(),
            disk: snapshot.to_path_buf(),
        });
    }
    let key = data_dir.join(JWT_KEY_FILE);
    if key.is_file() {
        sources.push(Source {
            path: JWT_KEY_FILE.into(),
            disk: key,
        });
    }
    sources.extend(uploaded_files(data_dir)?);

    // Checksums first, so the manifest can lead the archive (restore reads it before
    // anything else and refuses early); each file is checked again as it is written.
    let mut entries = Vec::with_capacity(sources.len());
    for source in &sources {
        let (size, sha256) = archive::hash_file(&source.disk)
            .with_context(|| format!("cannot read {}", source.disk.display()))?;
        entries.push(ManifestEntry {
            path: source.path.clone(),
            size,
            sha256,
        });
    }
    let manifest = Manifest {
        format_version: FORMAT_VERSION,
        convene_version: env!("CARGO_PKG_VERSION").into(),
        created_at: rfc3339(now_ms()),
        database,
        schema_version,
        entries,
    };
    let mut writer = ArchiveWriter::create(out)?;
    let json = serde_json::to_vec_pretty(&manifest)?;
    writer.add_bytes(MANIFEST, &json, FILE_MODE)?;
    for (source, entry) in sources.iter().zip(&manifest.entries) {
        writer.add_file(
            &entry.path,
            &source.disk,
            mode_of(&entry.path),
            Some((entry.size, &entry.sha256)),
        )?;
    }
    writer.finish()?;
    Ok(manifest)
}
