//! `convene admin export --workspace <id|slug|name> <file>`: everything of one workspace
//! as JSON plus files, for a company that leaves or for compliance. Nothing of any
//! other workspace goes in.
//!
//! Archive layout (`.tar.gz`):
//!
//! ```text
//! workspace.json           the workspace, its teams, counts, when and by what it was exported
//! members.json             members: id, username, name, email, role, joined, deactivated
//! channels.json            index of the channels (public, private, team, announcement, DMs)
//! channels/<id>.json       a channel, its members, its files and all its messages in order
//! files/<file id>/<name>   the files shared in the workspace
//! ```
//!
//! A message has its body, author, time, thread (root id and reply count), quote,
//! reactions, attached file ids, and whether and when it was edited or deleted (a
//! deleted message's body is empty: deleting erases it). Times are RFC 3339 UTC.
//! Run against a live server, a message sent during the export may or may not be in it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Serialize;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

use crate::config::Config;
use crate::db;
use crate::ops::archive::{ArchiveWriter, FILE_MODE, TempDir, parent_dir};
use crate::ops::{is_sqlite, known_schema_version, schema_version, sqlite_path};
use crate::store::Store;
use crate::store::ids::{ChannelId, FileId, MessageId, TeamId, UserId, WorkspaceId, rfc3339};

/// Version of the export layout, in `workspace.json`.
pub const EXPORT_FORMAT_VERSION: u32 = 1;
/// Messages read per query.
const PAGE: i64 = 1000;

/// What an export wrote.
#[derive(Debug)]
pub struct Exported {
    pub workspace_id: WorkspaceId,
    pub workspace_name: String,
    pub members: usize,
    pub channels: usize,
    pub messages: u64,
    pub files: usize,
    /// Files described in the database whose bytes are not on disk.
    pub missing_files: usize,
}

#[derive(sqlx::FromRow)]
struct WorkspaceRow {
    id: WorkspaceId,
    name: String,
    slug: String,
    created_at: i64,
}

/// `workspace.json`.
#[derive(Serialize)]
struct WorkspaceOut {
    format: &'static str,
    format_version: u32,
    convene_version: &'static str,
    exported_at: String,
    workspace: WorkspaceInfoOut,
    counts: CountsOut,
    teams: Vec<TeamOut>,
}

#[derive(Serialize)]
struct WorkspaceInfoOut {
    id: WorkspaceId,
    name: String,
    slug: String,
    created_at: String,
}

#[derive(Serialize)]
struct CountsOut {
    members: usize,
    channels: usize,
    messages: u64,
    files: usize,
    missing_files: usize,
}

#[derive(sqlx::FromRow)]
struct MemberRow {
    id: UserId,
    username: String,
    display_name: String,
    email: String,
    role: String,
    joined_at: i64,
    deactivated_at: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct TeamRow {
    id: TeamId,
    parent_id: Option<TeamId>,
    name: String,
    created_at: i64,
}

#[derive(sqlx::FromRow)]
struct TeamMemberRow {
    team_id: TeamId,
    user_id: UserId,
    lead: bool,
}

#[derive(sqlx::FromRow)]
struct ChannelRow {
    id: ChannelId,
    kind: String,
    name: Option<String>,
    topic: String,
    team_id: Option<TeamId>,
    created_by: Option<UserId>,
    created_at: i64,
    archived_at: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct ChannelMemberRow {
    user_id: UserId,
    username: String,
    role: String,
    joined_at: i64,
}

#[derive(sqlx::FromRow)]
struct FileRow {
    id: FileId,
    message_id: Option<MessageId>,
    uploader_id: Option<UserId>,
    sha256: String,
    size: i64,
    name: String,
    content_type: String,
    created_at: i64,
}

#[derive(sqlx::FromRow)]
struct MessageRow {
    id: MessageId,
    seq: i64,
    sender_id: Option<UserId>,
    username: Option<String>,
    display_name: Option<String>,
    bot_name: Option<String>,
    body: String,
    thread_root_id: Option<MessageId>,
    reply_count: i64,
    quote_id: Option<MessageId>,
    created_at: i64,
    edited_at: Option<i64>,
    deleted_at: Option<i64>,
    pinned_at: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct ReactionRow {
    message_id: MessageId,
    emoji: String,
    user_id: UserId,
    username: String,
}

#[derive(Serialize)]
struct MemberOut {
    id: UserId,
    username: String,
    display_name: String,
    email: String,
    role: String,
    joined_at: String,
    deactivated: bool,
    deactivated_at: Option<String>,
}

#[derive(Serialize)]
struct TeamOut {
    id: TeamId,
    parent_id: Option<TeamId>,
    name: String,
    created_at: String,
    members: Vec<TeamMemberOut>,
}

#[derive(Serialize)]
struct TeamMemberOut {
    user_id: UserId,
    lead: bool,
}

#[derive(Serialize)]
struct ChannelOut {
    id: ChannelId,
    kind: String,
    name: Option<String>,
    topic: String,
    team_id: Option<TeamId>,
    created_by: Option<UserId>,
    created_at: String,
    archived: bool,
    archived_at: Option<String>,
}

#[derive(Serialize)]
struct ChannelIndexOut {
    #[serde(flatten)]
    channel: ChannelOut,
    members: usize,
    messages: u64,
    files: usize,
    path: String,
}

#[derive(Serialize)]
struct ChannelMemberOut {
    user_id: UserId,
    username: String,
    role: String,
    joined_at: String,
}

#[derive(Serialize)]
struct FileOut {
    id: FileId,
    name: String,
    size: i64,
    content_type: String,
    sha256: String,
    uploader_id: Option<UserId>,
    message_id: Option<MessageId>,
    created_at: String,
    /// Where the bytes are in the export; `None` when they were missing on the server.
    path: Option<String>,
    missing: bool,
}

#[derive(Serialize)]
struct AuthorOut {
    id: UserId,
    username: Option<String>,
    display_name: Option<String>,
}

#[derive(Serialize)]
struct ReactionOut {
    emoji: String,
    user_id: UserId,
    username: String,
}

#[derive(Serialize)]
struct MessageOut {
    id: MessageId,
    seq: i64,
    /// The person who sent it; `None` for webhook (bot) messages and removed accounts.
    author: Option<AuthorOut>,
    bot_name: Option<String>,
    body: String,
    created_at: String,
    edited: bool,
    edited_at: Option<String>,
    deleted: bool,
    deleted_at: Option<String>,
    /// The thread this is a reply in.
    thread_root_id: Option<MessageId>,
    /// Replies in this message's thread.
    reply_count: i64,
    quote_id: Option<MessageId>,
    pinned: bool,
    reactions: Vec<ReactionOut>,
    file_ids: Vec<FileId>,
}

/// What the archive writer thread is asked to do.
enum Item {
    Bytes {
        path: String,
        bytes: Vec<u8>,
    },
    /// A file on disk; `scratch` files are deleted once archived.
    File {
        path: String,
        disk: PathBuf,
        scratch: bool,
    },
    Finish,
}

/// Sends to the archive writer, which runs on the blocking pool.
struct Sink {
    tx: mpsc::Sender<Item>,
    /// `None` once awaited.
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl Sink {
    fn start(out: &Path) -> anyhow::Result<Sink> {
        let mut writer = ArchiveWriter::create(out)?;
        let (tx, mut rx) = mpsc::channel::<Item>(4);
        let task = tokio::task::spawn_blocking(move || {
            while let Some(item) = rx.blocking_recv() {
                match item {
                    Item::Bytes { path, bytes } => writer.add_bytes(&path, &bytes, FILE_MODE)?,
                    Item::File {
                        path,
                        disk,
                        scratch,
                    } => {
                        writer.add_file(&path, &disk, FILE_MODE, None)?;
                        if scratch {
                            let _ = std::fs::remove_file(&disk);
                        }
                    }
                    Item::Finish => return writer.finish(),
                }
            }
            // Closed without Finish: dropping the writer removes the partial archive.
            anyhow::bail!("the export was abandoned")
        });
        Ok(Sink {
            tx,
            task: Some(task),
        })
    }

    /// Wait for the writer to end; its result.
    async fn join(&mut self) -> anyhow::Result<()> {
        match self.task.take() {
            Some(task) => task.await.context("the archive writer failed")?,
            None => anyhow::bail!("the archive writer has stopped"),
        }
    }

    async fn send(&mut self, item: Item) -> anyhow::Result<()> {
        if self.tx.send(item).await.is_err() {
            // The writer stopped: its error says why.
            self.join().await?;
            anyhow::bail!("the archive writer stopped early");
        }
        Ok(())
    }

    async fn json(&mut self, path: &str, value: &impl Serialize) -> anyhow::Result<()> {
        let bytes = serde_json::to_vec_pretty(value)?;
        self.send(Item::Bytes {
            path: path.into(),
            bytes,
        })
        .await
    }

    /// Complete the archive and move it into place.
    async fn finish(mut self) -> anyhow::Result<()> {
        self.send(Item::Finish).await?;
        self.join().await
    }

    /// Stop without an archive: the writer removes its partial file.
    async fn abandon(mut self) {
        let (closed, _) = mpsc::channel(1);
        drop(std::mem::replace(&mut self.tx, closed));
        let _ = self.join().await;
    }
}

fn time(ms: i64) -> String {
    rfc3339(ms)
}

fn time_opt(ms: Option<i64>) -> Option<String> {
    ms.map(rfc3339)
}

/// A file name safe as one archive path component.
fn safe_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c == '/' || c == '\\' || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect();
    let trimmed = cleaned.trim();
    if trimmed.is_empty() || trimmed == "." || trimmed == ".." {
        "file".into()
    } else {
        trimmed.to_owned()
    }
}

/// Where the bytes of a file with this hash are stored, if the hash is well formed.
fn blob_path(files_dir: &Path, sha256: &str) -> Option<PathBuf> {
    let ok = sha256.len() == 64 && sha256.bytes().all(|b| b.is_ascii_hexdigit());
    ok.then(|| files_dir.join(&sha256[..2]).join(sha256))
}

/// Export the workspace named by `workspace` (id, slug or name) to `out`.
pub async fn export(config: &Config, workspace: &str, out: &Path) -> anyhow::Result<Exported> {
    let url = config.database_url();
    if is_sqlite(config) {
        let path = sqlite_path(&url);
        anyhow::ensure!(
            path.is_file(),
            "no database at {}: is the data directory (--data-dir) right?",
            path.display()
        );
    }
    let store = Store::connect(&url, 2).await?;
    let result = export_from(&store, &config.data_dir.join("files"), workspace, out).await;
    store.close().await;
    result
}

async fn export_from(
    store: &Store,
    files_dir: &Path,
    workspace: &str,
    out: &Path,
) -> anyhow::Result<Exported> {
    let found = schema_version(store.read()).await?;
    let known = known_schema_version();
    anyhow::ensure!(
        found <= known,
        "the database is at schema version {found}, newer than this binary knows ({known}): use the Convene that runs the server"
    );
    anyhow::ensure!(
        found == known,
        "the database is at schema version {found}, this binary expects {known}: run `convene migrate` (or start the server) first"
    );
    let ws = find_workspace(store, workspace).await?;
    anyhow::ensure!(
        parent_dir(out).is_dir(),
        "cannot write {}: the folder {} does not exist",
        out.display(),
        parent_dir(out).display()
    );
    let work = TempDir::new_in(parent_dir(out), "convene-export")?;
    let mut sink = Sink::start(out)?;
    match write_workspace(store, &ws, files_dir, work.path(), &mut sink).await {
        Ok(done) => {
            sink.finish().await?;
            drop(work);
            Ok(done)
        }
        Err(e) => {
            sink.abandon().await;
            Err(e)
        }
    }
}

/// Send everything of workspace `ws` to the archive.
async fn write_workspace(
    store: &Store,
    ws: &WorkspaceRow,
    files_dir: &Path,
    work: &Path,
    sink: &mut Sink,
) -> anyhow::Result<Exported> {
    // Members and teams.
    let members: Vec<MemberRow> = db!(store.read(), c => sqlx::query_as(
        "SELECT u.id, u.username, u.display_name, u.email, m.role, m.joined_at, u.deactivated_at
         FROM memberships m JOIN users u ON u.id = m.user_id
         WHERE m.workspace_id = $1 ORDER BY u.username")
        .bind(ws.id)
        .fetch_all(c)
        .await)?;
    let members_out: Vec<MemberOut> = members
        .into_iter()
        .map(|m| MemberOut {
            id: m.id,
            username: m.username,
            display_name: m.display_name,
            email: m.email,
            role: m.role,
            joined_at: time(m.joined_at),
            deactivated: m.deactivated_at.is_some(),
            deactivated_at: time_opt(m.deactivated_at),
        })
        .collect();
    sink.json("members.json", &members_out).await?;

    let teams: Vec<TeamRow> = db!(store.read(), c => sqlx::query_as(
        "SELECT id, parent_id, name, created_at FROM teams WHERE workspace_id = $1 ORDER BY created_at, id")
        .bind(ws.id)
        .fetch_all(c)
        .await)?;
    let team_members: Vec<TeamMemberRow> = db!(store.read(), c => sqlx::query_as(
        "SELECT tm.team_id, tm.user_id, tm.lead FROM team_members tm JOIN teams t ON t.id = tm.team_id
         WHERE t.workspace_id = $1 ORDER BY tm.added_at")
        .bind(ws.id)
        .fetch_all(c)
        .await)?;
    let mut by_team: HashMap<TeamId, Vec<TeamMemberOut>> = HashMap::new();
    for tm in team_members {
        by_team.entry(tm.team_id).or_default().push(TeamMemberOut {
            user_id: tm.user_id,
            lead: tm.lead,
        });
    }
    let teams_out: Vec<TeamOut> = teams
        .into_iter()
        .map(|t| TeamOut {
            members: by_team.remove(&t.id).unwrap_or_default(),
            id: t.id,
            parent_id: t.parent_id,
            name: t.name,
            created_at: time(t.created_at),
        })
        .collect();

    // Channels, each with its messages and files.
    let channels: Vec<ChannelRow> = db!(store.read(), c => sqlx::query_as(
        "SELECT id, kind, name, topic, team_id, created_by, created_at, archived_at
         FROM channels WHERE workspace_id = $1 ORDER BY created_at, id")
        .bind(ws.id)
        .fetch_all(c)
        .await)?;
    let mut index = Vec::with_capacity(channels.len());
    let (mut total_messages, mut total_files, mut missing_files) = (0u64, 0usize, 0usize);
    for ch in channels {
        let channel = ChannelOut {
            id: ch.id,
            kind: ch.kind,
            name: ch.name,
            topic: ch.topic,
            team_id: ch.team_id,
            created_by: ch.created_by,
            created_at: time(ch.created_at),
            archived: ch.archived_at.is_some(),
            archived_at: time_opt(ch.archived_at),
        };
        let path = format!("channels/{}.json", ch.id);
        let disk = work.join(format!("{}.json", ch.id));
        let written = write_channel(store, ws.id, &channel, files_dir, &disk).await?;
        sink.send(Item::File {
            path: path.clone(),
            disk,
            scratch: true,
        })
        .await?;
        for (archive_path, blob) in written.blobs {
            sink.send(Item::File {
                path: archive_path,
                disk: blob,
                scratch: false,
            })
            .await?;
        }
        total_messages += written.messages;
        total_files += written.files;
        missing_files += written.missing;
        index.push(ChannelIndexOut {
            channel,
            members: written.members,
            messages: written.messages,
            files: written.files,
            path,
        });
    }
    let channel_count = index.len();
    sink.json("channels.json", &index).await?;

    let summary = WorkspaceOut {
        format: "convene-workspace-export",
        format_version: EXPORT_FORMAT_VERSION,
        convene_version: env!("CARGO_PKG_VERSION"),
        exported_at: rfc3339(crate::store::now_ms()),
        workspace: WorkspaceInfoOut {
            id: ws.id,
            name: ws.name.clone(),
            slug: ws.slug.clone(),
            created_at: time(ws.created_at),
        },
        counts: CountsOut {
            members: members_out.len(),
            channels: channel_count,
            messages: total_messages,
            files: total_files,
            missing_files,
        },
        teams: teams_out,
    };
    sink.json("workspace.json", &summary).await?;
    Ok(Exported {
        workspace_id: ws.id,
        workspace_name: ws.name.clone(),
        members: members_out.len(),
        channels: channel_count,
        messages: total_messages,
        files: total_files,
        missing_files,
    })
}

/// Find a workspace by id, slug or name.
async fn find_workspace(store: &Store, key: &str) -> anyhow::Result<WorkspaceRow> {
    const SELECT: &str = "SELECT id, name, slug, created_at FROM workspaces";
    let key = key.trim();
    if let Ok(id) = key.parse::<WorkspaceId>() {
        let row: Option<WorkspaceRow> = db!(store.read(), c => sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT} WHERE id = $1")))
            .bind(id)
            .fetch_optional(c)
            .await)?;
        if let Some(row) = row {
            return Ok(row);
        }
    }
    let by_slug: Option<WorkspaceRow> = db!(store.read(), c => sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT} WHERE LOWER(slug) = LOWER($1)")))
        .bind(key)
        .fetch_optional(c)
        .await)?;
    if let Some(row) = by_slug {
        return Ok(row);
    }
    let mut by_name: Vec<WorkspaceRow> = db!(store.read(), c => sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT} WHERE LOWER(name) = LOWER($1) ORDER BY created_at LIMIT 10")))
        .bind(key)
        .fetch_all(c)
        .await)?;
    match by_name.len() {
        0 => anyhow::bail!("no workspace has the id, slug or name {key:?}"),
        1 => Ok(by_name.remove(0)),
        _ => {
            let list = by_name
                .iter()
                .map(|w| format!("{} (slug {}, id {})", w.name, w.slug, w.id))
                .collect::<Vec<_>>()
                .join("; ");
            anyhow::bail!(
                "several workspaces are named {key:?}: {list}; give the slug or id instead"
            )
        }
    }
}

/// What [`write_channel`] wrote.
struct ChannelWritten {
    members: usize,
    messages: u64,
    files: usize,
    missing: usize,
    /// Files to add: archive path and where the bytes are.
    blobs: Vec<(String, PathBuf)>,
}

/// Write `channels/<id>.json` for one channel to `disk`, reading its messages a page
/// at a time so a large channel never sits in memory whole.
async fn write_channel(
    store: &Store,
    ws: WorkspaceId,
    channel: &ChannelOut,
    files_dir: &Path,
    disk: &Path,
) -> anyhow::Result<ChannelWritten> {
    let id = channel.id;
    let members: Vec<ChannelMemberRow> = db!(store.read(), c => sqlx::query_as(
        "SELECT cm.user_id, u.username, cm.role, cm.joined_at
         FROM channel_members cm JOIN users u ON u.id = cm.user_id
         WHERE cm.channel_id = $1 ORDER BY cm.joined_at, u.username")
        .bind(id)
        .fetch_all(c)
        .await)?;
    let members: Vec<ChannelMemberOut> = members
        .into_iter()
        .map(|m| ChannelMemberOut {
            user_id: m.user_id,
            username: m.username,
            role: m.role,
            joined_at: time(m.joined_at),
        })
        .collect();
    let files: Vec<FileRow> = db!(store.read(), c => sqlx::query_as(
        "SELECT id, message_id, uploader_id, sha256, size, name, content_type, created_at
         FROM files WHERE channel_id = $1 AND workspace_id = $2 ORDER BY created_at, id")
        .bind(id)
        .bind(ws)
        .fetch_all(c)
        .await)?;
    let mut blobs = Vec::new();
    let mut missing = 0;
    let mut by_message: HashMap<MessageId, Vec<FileId>> = HashMap::new();
    let mut files_out = Vec::with_capacity(files.len());
    for f in files {
        if let Some(m) = f.message_id {
            by_message.entry(m).or_default().push(f.id);
        }
        let blob = blob_path(files_dir, &f.sha256).filter(|p| p.is_file());
        let path = match blob {
            Some(blob) => {
                let path = format!("files/{}/{}", f.id, safe_name(&f.name));
                blobs.push((path.clone(), blob));
                Some(path)
            }
            None => {
                missing += 1;
                None
            }
        };
        files_out.push(FileOut {
            missing: path.is_none(),
            path,
            id: f.id,
            name: f.name,
            size: f.size,
            content_type: f.content_type,
            sha256: f.sha256,
            uploader_id: f.uploader_id,
            message_id: f.message_id,
            created_at: time(f.created_at),
        });
    }

    let file = tokio::fs::File::create(disk)
        .await
        .with_context(|| format!("cannot create {}", disk.display()))?;
    let mut out = tokio::io::BufWriter::new(file);
    let head = serde_json::json!({ "channel": channel, "members": members, "files": files_out });
    // `{"channel": …, "members": …, "files": …, "messages": [` then one message a line.
    let head = serde_json::to_string(&head)?;
    let head = head
        .strip_suffix('}')
        .context("a JSON object ends with }")?;
    out.write_all(head.as_bytes()).await?;
    out.write_all(b",\"messages\":[").await?;

    let mut after = 0i64;
    let mut count = 0u64;
    loop {
        let page: Vec<MessageRow> = db!(store.read(), c => sqlx::query_as(
            "SELECT m.id, m.seq, m.sender_id, u.username, u.display_name, m.bot_name, m.body,
                    m.thread_root_id, m.reply_count, m.quote_id, m.created_at, m.edited_at, m.deleted_at, m.pinned_at
             FROM messages m LEFT JOIN users u ON u.id = m.sender_id
             WHERE m.channel_id = $1 AND m.seq > $2 ORDER BY m.seq LIMIT $3")
            .bind(id)
            .bind(after)
            .bind(PAGE)
            .fetch_all(c)
            .await)?;
        let Some(last) = page.last().map(|m| m.seq) else {
            break;
        };
        let reactions: Vec<ReactionRow> = db!(store.read(), c => sqlx::query_as(
            "SELECT r.message_id, r.emoji, r.user_id, u.username
             FROM reactions r JOIN messages m ON m.id = r.message_id JOIN users u ON u.id = r.user_id
             WHERE m.channel_id = $1 AND m.seq > $2 AND m.seq <= $3 ORDER BY r.created_at, r.emoji")
            .bind(id)
            .bind(after)
            .bind(last)
            .fetch_all(c)
            .await)?;
        let mut by_reaction: HashMap<MessageId, Vec<ReactionOut>> = HashMap::new();
        for r in reactions {
            by_reaction
                .entry(r.message_id)
                .or_default()
                .push(ReactionOut {
                    emoji: r.emoji,
                    user_id: r.user_id,
                    username: r.username,
                });
        }
        for m in page {
            let message = MessageOut {
                author: m.sender_id.map(|id| AuthorOut {
                    id,
                    username: m.username,
                    display_name: m.display_name,
                }),
                reactions: by_reaction.remove(&m.id).unwrap_or_default(),
                file_ids: by_message.remove(&m.id).unwrap_or_default(),
                id: m.id,
                seq: m.seq,
                bot_name: m.bot_name,
                body: m.body,
                created_at: time(m.created_at),
                edited: m.edited_at.is_some(),
                edited_at: time_opt(m.edited_at),
                deleted: m.deleted_at.is_some(),
                deleted_at: time_opt(m.deleted_at),
                thread_root_id: m.thread_root_id,
                reply_count: m.reply_count,
                quote_id: m.quote_id,
                pinned: m.pinned_at.is_some(),
            };
            out.write_all(if count == 0 { b"\n" } else { b",\n" })
                .await?;
            out.write_all(&serde_json::to_vec(&message)?).await?;
            count += 1;
        }
        after = last;
    }
    out.write_all(b"\n]}\n").await?;
    out.flush().await?;
    out.into_inner().sync_all().await?;
    Ok(ChannelWritten {
        members: members.len(),
        messages: count,
        files: files_out.len(),
        missing,
        blobs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_become_one_safe_path_component() {
        assert_eq!(safe_name("report.pdf"), "report.pdf");
        assert_eq!(safe_name("会议 纪要.pdf"), "会议 纪要.pdf");
        assert_eq!(safe_name("../../etc/passwd"), ".._.._etc_passwd");
        assert_eq!(safe_name(".."), "file");
        assert_eq!(safe_name("  "), "file");
        assert_eq!(safe_name("a\\b\nc"), "a_b_c");
    }

    #[test]
    fn only_well_formed_hashes_name_a_blob() {
        let dir = Path::new("/data/files");
        assert_eq!(blob_path(dir, "ab"), None);
        assert_eq!(blob_path(dir, &"../".repeat(22)), None);
        let sha = "a".repeat(64);
        assert_eq!(
            blob_path(dir, &sha),
            Some(PathBuf::from(format!("/data/files/aa/{sha}")))
        );
    }
}
