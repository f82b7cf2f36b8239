//! Pieces shared by backups and exports: the `.tar.gz` writer (written to a temporary
//! file beside the target and renamed into place only when complete), a reader that
//! hashes what passes through it, safe archive paths, and small file-system helpers.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Component, Path, PathBuf};

use anyhow::Context;
use flate2::Compression;
use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};

/// Permissions of secrets and of archives that hold them.
pub const SECRET_MODE: u32 = 0o600;
/// Permissions of everything else written into an archive.
pub const FILE_MODE: u32 = 0o644;

/// A reader that hashes (SHA-256) and counts the bytes read through it.
pub struct Hashing<R> {
    inner: R,
    hasher: Sha256,
    bytes: u64,
}

impl<R: Read> Hashing<R> {
    pub fn new(inner: R) -> Self {
        Hashing {
            inner,
            hasher: Sha256::new(),
            bytes: 0,
        }
    }

    /// Bytes read so far and their SHA-256 as lowercase hex.
    pub fn finish(self) -> (u64, String) {
        (self.bytes, format!("{:x}", self.hasher.finalize()))
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
}

/// Size and SHA-256 of a file on disk.
pub fn hash_file(path: &Path) -> io::Result<(u64, String)> {
    let mut reader = Hashing::new(File::open(path)?);
    io::copy(&mut reader, &mut io::sink())?;
    Ok(reader.finish())
}

/// Is `path` a plain relative path (`a/b/c`: no `..`, no `.`, no root, no empty part)?
pub fn is_safe_relative(path: &str) -> bool {
    !path.contains('\\')
        && !path.contains('\0')
        && path
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..")
        && Path::new(path)
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
}

/// A `.tar.gz` being written to `<target>.partial-<random>`; [`ArchiveWriter::finish`]
/// renames it to the target. Dropped unfinished, it removes the partial file, so a
/// failed run never leaves something that looks like a complete archive.
pub struct ArchiveWriter {
    builder: Option<tar::Builder<GzEncoder<BufWriter<File>>>>,
    partial: PathBuf,
    target: PathBuf,
    mtime: u64,
}

impl ArchiveWriter {
    /// Start an archive that will become `target` (readable by its owner only: backups
    /// hold the signing key, exports hold private messages).
    pub fn create(target: &Path) -> anyhow::Result<ArchiveWriter> {
        let dir = parent_dir(target);
        anyhow::ensure!(
            dir.is_dir(),
            "cannot write {}: the folder {} does not exist",
            target.display(),
            dir.display()
        );
        anyhow::ensure!(
            !target.is_dir(),
            "cannot write {}: it is a folder; give a file name such as convene-backup.tar.gz",
            target.display()
        );
        let file_name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "archive".into());
        let partial = dir.join(format!(
            ".{file_name}.partial-{}",
            uuid::Uuid::now_v7().simple()
        ));
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, SECRET_MODE);
        let file = options
            .open(&partial)
            .with_context(|| format!("cannot create {}", partial.display()))?;
        let gz = GzEncoder::new(BufWriter::with_capacity(1 << 20, file), Compression::new(6));
        let mut builder = tar::Builder::new(gz);
        builder.mode(tar::HeaderMode::Deterministic);
        let mtime = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        Ok(ArchiveWriter {
            builder: Some(builder),
            partial,
            target: target.to_path_buf(),
            mtime,
        })
    }

    fn header(&self, size: u64, mode: u32) -> tar::Header {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_size(size);
        header.set_mode(mode);
        header.set_mtime(self.mtime);
        header
    }

    fn builder(&mut self) -> io::Result<&mut tar::Builder<GzEncoder<BufWriter<File>>>> {
        self.builder
            .as_mut()
            .ok_or_else(|| io::Error::other("archive already finished"))
    }

    /// Add `bytes` as the file `path`.
    pub fn add_bytes(&mut self, path: &str, bytes: &[u8], mode: u32) -> anyhow::Result<()> {
        let mut header = self.header(bytes.len() as u64, mode);
        self.builder()?
            .append_data(&mut header, path, bytes)
            .with_context(|| format!("writing {path} into the archive"))
    }

    /// Add the file at `src` as `path`, streaming it; returns the size and SHA-256 of
    /// what was written. When `expect` is given (size, sha256 from an earlier read),
    /// a file that changed since fails the archive instead of contradicting its manifest.
    pub fn add_file(
        &mut self,
        path: &str,
        src: &Path,
        mode: u32,
        expect: Option<(u64, &str)>,
    ) -> anyhow::Result<(u64, String)> {
        let file = File::open(src).with_context(|| format!("cannot read {}", src.display()))?;
        let size = match expect {
            Some((size, _)) => size,
            None => file
                .metadata()
                .with_context(|| format!("cannot read {}", src.display()))?
                .len(),
        };
        let mut header = self.header(size, mode);
        let mut reader = Hashing::new(file.take(size));
        self.builder()?
            .append_data(&mut header, path, &mut reader)
            .with_context(|| format!("writing {path} into the archive"))?;
        let (written, sha256) = reader.finish();
        // tar pads a short read without complaint: a file that shrank would corrupt the
        // archive, so check the count.
        anyhow::ensure!(
            written == size,
            "{} changed while it was being archived (expected {size} bytes, read {written})",
            src.display()
        );
        if let Some((_, expected)) = expect {
            anyhow::ensure!(
                sha256 == expected,
                "{} changed while it was being archived",
                src.display()
            );
        }
        Ok((written, sha256))
    }

    /// Write the end of the archive, flush it to disk and rename it into place.
    pub fn finish(mut self) -> anyhow::Result<()> {
        let builder = self.builder.take().context("archive already finished")?;
        let gz = builder.into_inner().context("finishing the archive")?;
        let buffered = gz.finish().context("finishing the archive")?;
        let file = buffered
            .into_inner()
            .map_err(|e| e.into_error())
            .context("writing the archive")?;
        file.sync_all().context("flushing the archive to disk")?;
        drop(file);
        fs::rename(&self.partial, &self.target)
            .with_context(|| format!("cannot create {}", self.target.display()))?;
        sync_dir(parent_dir(&self.target));
        Ok(())
    }
}

impl Drop for ArchiveWriter {
    fn drop(&mut self) {
        if self.builder.is_some() {
            // Unfinished: do not leave a partial archive behind.
            drop(self.builder.take());
            let _ = fs::remove_file(&self.partial);
        }
    }
}

/// The folder a path is in (`.` for a bare file name).
pub fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Flush a directory's entries (new names, renames) to disk; best effort.
pub fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// A directory removed (with its contents) when dropped, unless kept.
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Create `<parent>/.<prefix>-<random>`.
    pub fn new_in(parent: &Path, prefix: &str) -> anyhow::Result<TempDir> {
        let path = parent.join(format!(".{prefix}-{}", uuid::Uuid::now_v7().simple()));
        fs::create_dir(&path)
            .with_context(|| format!("cannot create a working folder {}", path.display()))?;
        Ok(TempDir { path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// Create the new file `path` (parent folders too), with `mode` on Unix.
pub fn write_new_file(path: &Path, mode: u32) -> io::Result<File> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)?;
    }
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    #[cfg(not(unix))]
    let _ = mode;
    options.open(path)
}

/// Flush and close a file written with [`write_new_file`].
pub fn close_synced(mut file: File) -> io::Result<()> {
    file.flush()?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_relative_paths_are_safe() {
        for ok in ["convene.db", "jwt.key", "files/ab/abcdef", "a/b.c/d"] {
            assert!(is_safe_relative(ok), "{ok}");
        }
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "files/../../x",
            "./x",
            "a//b",
            "a/",
            "a\\b",
            "a/./b",
        ] {
            assert!(!is_safe_relative(bad), "{bad}");
        }
    }
}
