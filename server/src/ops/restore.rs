//! `convene admin restore <file>`: a backup into an empty data directory.
//!
//! Nothing is written until the whole archive has been read once and every entry
//! matched its manifest (size and SHA-256, nothing missing, nothing extra, the gzip
//! checksum at the end). Then the archive is unpacked into a working folder inside
//! the data directory, checked again as it is written, and moved into place.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File};
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use flate2::read::GzDecoder;
use sqlx::Connection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};

use crate::config::Config;
use crate::ops::archive::{self, Hashing, TempDir};
use crate::ops::backup::{
    DATABASE_FILE, DatabaseKind, FORMAT_VERSION, MANIFEST, Manifest, ManifestEntry, mode_of,
};
use crate::ops::{is_sqlite, known_schema_version, sqlite_path};

/// The largest manifest accepted (a million files fit well within it).
const MAX_MANIFEST_BYTES: u64 = 512 * 1024 * 1024;

/// Why a restore was refused. Each message says what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    #[error("cannot read {path}: {source}")]
    Unreadable { path: PathBuf, source: io::Error },
    #[error("cannot write {path}: {source}; nothing was restored")]
    Unwritable { path: PathBuf, source: io::Error },
    #[error(
        "the data directory {path} is not empty ({found}); restore only into an empty or new directory \
         (choose another with --data-dir, or move the current contents away first)"
    )]
    TargetNotEmpty { path: PathBuf, found: String },
    #[error("{path} is not a directory; restore needs an empty or new data directory")]
    TargetNotDirectory { path: PathBuf },
    #[error(
        "{0}: this is not a Convene backup (an archive written by `convene admin backup` starts with manifest.json)"
    )]
    NotABackup(String),
    #[error(
        "the backup is damaged or incomplete (was it truncated or corrupted in transfer?): {0}; nothing was restored"
    )]
    Damaged(String),
    #[error(
        "the backup does not match its manifest ({0}); it was altered or damaged after it was written, nothing was restored"
    )]
    Mismatch(String),
    #[error(
        "this backup was written by a newer Convene ({convene_version}, archive format {found}); this binary \
         reads format {supported} and older. Restore it with Convene {convene_version} or newer"
    )]
    NewerFormat {
        found: u32,
        supported: u32,
        convene_version: String,
    },
    #[error(
        "this backup holds a newer database schema (version {found}) than this binary knows (up to {supported}); \
         it was written by Convene {convene_version}. Restore it with Convene {convene_version} or newer"
    )]
    NewerSchema {
        found: i64,
        supported: i64,
        convene_version: String,
    },
    #[error(
        "this backup holds a SQLite database, but this server is configured for PostgreSQL; restore it with \
         the default database (leave database_url empty) and the same --data-dir"
    )]
    SqliteIntoPostgres,
    #[error(
        "restore writes the SQLite database to {expected}, but database_url points at {configured}; \
         leave database_url empty or point it at {expected}"
    )]
    DatabaseElsewhere {
        expected: PathBuf,
        configured: PathBuf,
    },
}

/// What a restore did.
#[derive(Debug)]
pub struct Restored {
    pub manifest: Manifest,
    pub data_dir: PathBuf,
}

/// Restore the backup `file` into `config`'s data directory, which must be empty or
/// absent. Errors are [`RestoreError`]s where the backup or the target is at fault.
pub async fn restore(config: &Config, file: &Path) -> anyhow::Result<Restored> {
    let data_dir = config.data_dir.clone();
    check_target(&data_dir)?;
    let postgres_configured = !is_sqlite(config);
    if !postgres_configured {
        let configured = sqlite_path(&config.database_url());
        let expected = data_dir.join(DATABASE_FILE);
        if configured != expected {
            return Err(RestoreError::DatabaseElsewhere {
                expected,
                configured,
            }
            .into());
        }
    }

    // Read the whole archive once, writing nothing.
    let path = file.to_path_buf();
    let manifest = tokio::task::spawn_blocking(move || verify(&path))
        .await
        .context("the restore task failed")??;
    if manifest.database == DatabaseKind::Sqlite && postgres_configured {
        return Err(RestoreError::SqliteIntoPostgres.into());
    }

    // Unpack into a working folder inside the data directory (so the final moves stay
    // on one file system), check the database, then move everything into place.
    check_target(&data_dir)?;
    fs::create_dir_all(&data_dir)
        .with_context(|| format!("cannot create the data directory {}", data_dir.display()))?;
    let work = TempDir::new_in(&data_dir, "convene-restore")?;
    let (path, dir, expected) = (
        file.to_path_buf(),
        work.path().to_path_buf(),
        manifest.clone(),
    );
    tokio::task::spawn_blocking(move || unpack(&path, &dir, &expected))
        .await
        .context("the restore task failed")??;
    if manifest.database == DatabaseKind::Sqlite {
        check_database(&work.path().join(DATABASE_FILE), manifest.schema_version).await?;
    }
    move_into_place(work.path(), &data_dir)?;
    drop(work);
    archive::sync_dir(&data_dir);
    Ok(Restored { manifest, data_dir })
}

/// The target must be absent or an empty directory (a file system's `lost+found` is
/// allowed, so a fresh volume's root works).
fn check_target(dir: &Path) -> Result<(), RestoreError> {
    if !dir.exists() {
        return Ok(());
    }
    if !dir.is_dir() {
        return Err(RestoreError::TargetNotDirectory {
            path: dir.to_path_buf(),
        });
    }
    let unreadable = |e: io::Error| RestoreError::Unreadable {
        path: dir.to_path_buf(),
        source: e,
    };
    let mut found: Vec<String> = Vec::new();
    for entry in fs::read_dir(dir).map_err(unreadable)? {
        let name = entry.map_err(unreadable)?.file_name();
        let name = name.to_string_lossy().into_owned();
        if name != "lost+found" {
            found.push(name);
        }
    }
    if found.is_empty() {
        return Ok(());
    }
    found.sort();
    let shown = found.iter().take(3).cloned().collect::<Vec<_>>().join(", ");
    let found = if found.len() > 3 {
        format!("{shown} and {} more", found.len() - 3)
    } else {
        format!("it holds {shown}")
    };
    Err(RestoreError::TargetNotEmpty {
        path: dir.to_path_buf(),
        found,
    })
}

fn open(file: &Path) -> Result<tar::Archive<GzDecoder<BufReader<File>>>, RestoreError> {
    let f = File::open(file).map_err(|e| RestoreError::Unreadable {
        path: file.to_path_buf(),
        source: e,
    })?;
    Ok(tar::Archive::new(GzDecoder::new(BufReader::with_capacity(
        1 << 20,
        f,
    ))))
}

fn damaged(e: io::Error) -> RestoreError {
    RestoreError::Damaged(e.to_string())
}

/// Read the first entry, which must be the manifest, and check that this binary can
/// restore it.
fn read_manifest<R: Read>(
    entries: &mut tar::Entries<'_, R>,
    file: &Path,
) -> Result<Manifest, RestoreError> {
    let not_backup = || RestoreError::NotABackup(file.display().to_string());
    let mut first = match entries.next() {
        Some(Ok(entry)) => entry,
        Some(Err(e)) => return Err(classify_first_error(e, file)),
        None => return Err(not_backup()),
    };
    let is_manifest = first
        .path()
        .map(|p| p.as_os_str() == MANIFEST)
        .unwrap_or(false);
    if !is_manifest || first.size() > MAX_MANIFEST_BYTES {
        return Err(not_backup());
    }
    let mut bytes = Vec::new();
    first
        .by_ref()
        .take(MAX_MANIFEST_BYTES)
        .read_to_end(&mut bytes)
        .map_err(damaged)?;
    // Versions first, from a loose reading: a newer manifest may have a shape this
    // binary does not know, and "newer version" is the message that helps.
    let loose: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| RestoreError::Damaged(format!("manifest.json is not valid JSON ({e})")))?;
    let convene_version = loose["convene_version"]
        .as_str()
        .unwrap_or("unknown")
        .to_owned();
    let format = loose["format_version"]
        .as_u64()
        .ok_or_else(|| RestoreError::Damaged("manifest.json has no format_version".into()))?;
    if format > u64::from(FORMAT_VERSION) {
        return Err(RestoreError::NewerFormat {
            found: u32::try_from(format).unwrap_or(u32::MAX),
            supported: FORMAT_VERSION,
            convene_version,
        });
    }
    let manifest: Manifest = serde_json::from_slice(&bytes)
        .map_err(|e| RestoreError::Damaged(format!("manifest.json is not readable ({e})")))?;
    let supported = known_schema_version();
    if manifest.schema_version > supported {
        return Err(RestoreError::NewerSchema {
            found: manifest.schema_version,
            supported,
            convene_version,
        });
    }
    let mut seen = HashSet::new();
    for entry in &manifest.entries {
        if !archive::is_safe_relative(&entry.path) || entry.path == MANIFEST {
            return Err(RestoreError::Mismatch(format!(
                "the manifest names an unsafe path {:?}",
                entry.path
            )));
        }
        if !seen.insert(entry.path.as_str()) {
            return Err(RestoreError::Mismatch(format!(
                "the manifest names {} twice",
                entry.path
            )));
        }
        let hex = entry.sha256.len() == 64 && entry.sha256.bytes().all(|b| b.is_ascii_hexdigit());
        if !hex {
            return Err(RestoreError::Mismatch(format!(
                "the manifest has a malformed checksum for {}",
                entry.path
            )));
        }
    }
    if manifest.database == DatabaseKind::Sqlite
        && !manifest.entries.iter().any(|e| e.path == DATABASE_FILE)
    {
        return Err(RestoreError::Mismatch(
            "the manifest says SQLite but lists no database".into(),
        ));
    }
    Ok(manifest)
}

/// A file that is not gzip at all is "not a backup"; a gzip stream that breaks is damage.
fn classify_first_error(e: io::Error, file: &Path) -> RestoreError {
    if e.kind() == io::ErrorKind::InvalidInput || e.to_string().contains("invalid gzip header") {
        RestoreError::NotABackup(file.display().to_string())
    } else {
        damaged(e)
    }
}

/// Walk the archive after the manifest, calling `each` with every file entry's manifest
/// record and a reader of its bytes; checks that the entries are exactly the manifest's,
/// with the sizes and checksums it gives, and reads the compressed stream to its end so
/// its own checksum is checked too.
fn walk(
    file: &Path,
    mut each: impl FnMut(&ManifestEntry, &mut dyn Read) -> Result<(), RestoreError>,
) -> Result<Manifest, RestoreError> {
    let mut tar = open(file)?;
    let manifest = {
        let mut entries = tar.entries().map_err(damaged)?;
        let manifest = read_manifest(&mut entries, file)?;
        let expected: HashMap<&str, &ManifestEntry> = manifest
            .entries
            .iter()
            .map(|e| (e.path.as_str(), e))
            .collect();
        let mut seen: HashSet<String> = HashSet::new();
        for entry in entries {
            let mut entry = entry.map_err(damaged)?;
            let kind = entry.header().entry_type();
            let path = entry
                .path()
                .map_err(damaged)?
                .to_string_lossy()
                .into_owned();
            if kind.is_dir() {
                continue;
            }
            if !kind.is_file() {
                return Err(RestoreError::Mismatch(format!(
                    "{path} is not a regular file"
                )));
            }
            let Some(record) = expected.get(path.as_str()).copied() else {
                return Err(RestoreError::Mismatch(format!(
                    "{path} is in the archive but not in the manifest"
                )));
            };
            if !seen.insert(path.clone()) {
                return Err(RestoreError::Mismatch(format!(
                    "{path} is in the archive twice"
                )));
            }
            if entry.size() != record.size {
                return Err(RestoreError::Mismatch(format!(
                    "{path} is {} bytes, the manifest says {}",
                    entry.size(),
                    record.size
                )));
            }
            let mut reader = Hashing::new(&mut entry);
            each(record, &mut reader)?;
            // Whatever `each` left unread still counts.
            io::copy(&mut reader, &mut io::sink()).map_err(damaged)?;
            let (size, sha256) = reader.finish();
            if size != record.size {
                return Err(RestoreError::Damaged(format!(
                    "{path} ends after {size} of {} bytes",
                    record.size
                )));
            }
            if sha256 != record.sha256 {
                return Err(RestoreError::Mismatch(format!(
                    "the checksum of {path} differs"
                )));
            }
        }
        if let Some(missing) = manifest.entries.iter().find(|e| !seen.contains(&e.path)) {
            return Err(RestoreError::Damaged(format!(
                "{} of {} files are missing, {} among them",
                manifest.entries.len() - seen.len(),
                manifest.entries.len(),
                missing.path
            )));
        }
        manifest
    };
    // The tar end marker may come before the end of the gzip stream: read to the end
    // so a damaged tail (and the gzip checksum) is noticed.
    let mut rest = tar.into_inner();
    io::copy(&mut rest, &mut io::sink()).map_err(damaged)?;
    Ok(manifest)
}

/// Read the whole archive and check it against its manifest, writing nothing.
pub fn verify(file: &Path) -> Result<Manifest, RestoreError> {
    walk(file, |_, _| Ok(()))
}

/// Unpack a verified archive into `dir`, checking it again on the way (it could have
/// changed since it was verified).
fn unpack(file: &Path, dir: &Path, expected: &Manifest) -> anyhow::Result<()> {
    let failed = |path: &Path, e: io::Error| RestoreError::Unwritable {
        path: path.to_path_buf(),
        source: e,
    };
    let manifest = walk(file, |record, reader| {
        let dest = dir.join(&record.path);
        let mut out =
            archive::write_new_file(&dest, mode_of(&record.path)).map_err(|e| failed(&dest, e))?;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = reader.read(&mut buf).map_err(damaged)?;
            if n == 0 {
                break;
            }
            out.write_all(&buf[..n]).map_err(|e| failed(&dest, e))?;
        }
        archive::close_synced(out).map_err(|e| failed(&dest, e))?;
        Ok(())
    })?;
    anyhow::ensure!(
        manifest.entries == expected.entries,
        RestoreError::Mismatch("the archive changed while it was being restored".into())
    );
    Ok(())
}

/// Open the restored database and check it: SQLite's quick check, and the schema
/// version the manifest promised.
async fn check_database(path: &Path, schema_version: i64) -> anyhow::Result<()> {
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(false);
    let mut conn = SqliteConnection::connect_with(&options)
        .await
        .map_err(|e| RestoreError::Damaged(format!("the database does not open ({e})")))?;
    let check: String = sqlx::query_scalar("PRAGMA quick_check")
        .fetch_one(&mut conn)
        .await
        .map_err(|e| RestoreError::Damaged(format!("the database cannot be read ({e})")))?;
    if check != "ok" {
        return Err(RestoreError::Damaged(format!(
            "the database fails SQLite's integrity check ({check})"
        ))
        .into());
    }
    let version: Option<i64> =
        sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success")
            .fetch_one(&mut conn)
            .await
            .map_err(|e| {
                RestoreError::Damaged(format!("the database has no migration history ({e})"))
            })?;
    conn.close().await.ok();
    if version.unwrap_or(0) != schema_version {
        return Err(RestoreError::Mismatch(format!(
            "the database is at schema version {}, the manifest says {schema_version}",
            version.unwrap_or(0)
        ))
        .into());
    }
    Ok(())
}

/// Move every entry of `work` into `data_dir`.
fn move_into_place(work: &Path, data_dir: &Path) -> anyhow::Result<()> {
    let mut names: Vec<_> = fs::read_dir(work)
        .with_context(|| format!("cannot list {}", work.display()))?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<Result<_, _>>()
        .with_context(|| format!("cannot list {}", work.display()))?;
    names.sort();
    for name in names {
        let to = data_dir.join(&name);
        fs::rename(work.join(&name), &to)
            .with_context(|| format!("cannot move the restored {} into place", to.display()))?;
    }
    Ok(())
}
