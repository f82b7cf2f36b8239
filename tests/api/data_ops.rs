//! Backup, restore, workspace export and schema upgrades (`convene admin backup`,
//! `restore`, `export`): a backup of a live server under write load restores every
//! acknowledged message and file; restore refuses damaged, altered, newer or misplaced
//! archives and writes nothing; an export holds one workspace and nothing of another;
//! data written under the first migrations survives the upgrade to the current ones.

use std::collections::{BTreeMap, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use convene::config::Config;
use convene::ops::backup::{DatabaseKind, Manifest};
use convene::ops::restore::RestoreError;
use convene::ops::{backup, export, known_schema_version, restore};
use serde_json::{Value, json};

use crate::chat_support::*;
use crate::harness::*;

/// Every entry of a `.tar.gz`, path to bytes, in archive order.
fn unpack(archive: &Path) -> Vec<(String, Vec<u8>)> {
    let file = std::fs::File::open(archive).expect("open the archive");
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let mut out = Vec::new();
    for entry in tar.entries().expect("read the archive") {
        let mut entry = entry.expect("an entry");
        let path = entry
            .path()
            .expect("entry path")
            .to_string_lossy()
            .into_owned();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).expect("entry bytes");
        out.push((path, bytes));
    }
    out
}

/// Write entries as a `.tar.gz`.
fn pack(archive: &Path, entries: &[(String, Vec<u8>)]) {
    let file = std::fs::File::create(archive).expect("create the archive");
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
        file,
        flate2::Compression::fast(),
    ));
    for (path, bytes) in entries {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        tar.append_data(&mut header, path, bytes.as_slice())
            .expect("append an entry");
    }
    tar.into_inner()
        .expect("finish the tar")
        .finish()
        .expect("finish the gzip stream");
}

fn manifest_of(entries: &[(String, Vec<u8>)]) -> Manifest {
    assert_eq!(entries[0].0, "manifest.json", "the manifest comes first");
    serde_json::from_slice(&entries[0].1).expect("the manifest parses")
}

/// A config that restores into `dir` with the default (SQLite) database.
fn restore_config(dir: &Path) -> Config {
    Config {
        data_dir: dir.to_path_buf(),
        database_url: String::new(),
        ..Config::default()
    }
}

/// The app's config (its data directory and database).
fn config_of(app: &TestApp) -> Config {
    (*app.state.config).clone()
}

/// Is `dir` absent or empty?
fn untouched(dir: &Path) -> bool {
    std::fs::read_dir(dir).map_or(true, |mut d| d.next().is_none())
}

/// Restore `archive` into a fresh `dir`, expecting a refusal; returns it.
async fn refused(archive: &Path, dir: &Path) -> RestoreError {
    let err = restore::restore(&restore_config(dir), archive)
        .await
        .expect_err("the restore is refused");
    assert!(
        untouched(dir),
        "a refused restore writes nothing into {dir:?}"
    );
    match err.downcast::<RestoreError>() {
        Ok(e) => e,
        Err(other) => panic!("expected a RestoreError, got: {other:#}"),
    }
}

/// A message posted by the load task, and when its 201 arrived.
struct Acked {
    id: String,
    at: Instant,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backup_of_a_live_server_restores_every_acknowledged_message_and_file() {
    let app = spawn_app().await;
    let (org, people) = org_with(&app, &["bob"]).await;
    let owner = org.owner.clone();
    let ch = channel(
        &app,
        &owner.access,
        &org.ws,
        "ops-log",
        "public",
        &[&people[0]],
    )
    .await;

    // Files: a PNG (gets a thumbnail) and two others, two of them sent in a message.
    let mut uploads: Vec<(String, Vec<u8>)> = Vec::new();
    let blobs = [
        ("chart.png", "image/png", png_bytes(64, 48)),
        (
            "notes.txt",
            "text/plain",
            b"minutes of the ops meeting\n".repeat(500),
        ),
        (
            "data.bin",
            "application/octet-stream",
            (0..50_000u32).map(|i| (i % 253) as u8).collect(),
        ),
    ];
    for (name, mime, bytes) in blobs {
        let info = upload(&app, &owner.access, &ch, name, mime, bytes.clone())
            .await
            .expect_json(201);
        uploads.push((s(&info, "id"), bytes));
    }
    post_reply(
        &app,
        &owner.access,
        &ch,
        json!({ "body": "files", "file_ids": [uploads[0].0, uploads[1].0] }),
    )
    .await
    .expect(201);

    // Write load: two tasks post as fast as the server answers until told to stop.
    let stop = Arc::new(AtomicBool::new(false));
    let acked: Arc<Mutex<Vec<Acked>>> = Arc::default();
    let mut writers = Vec::new();
    for w in 0..2 {
        let (client, url, token) = (
            new_client(),
            app.url(&format!("/api/channels/{ch}/messages")),
            owner.access.clone(),
        );
        let (stop, acked) = (stop.clone(), acked.clone());
        writers.push(tokio::spawn(async move {
            let deadline = Instant::now() + Duration::from_secs(60);
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                i += 1;
                let reply = send(
                    client
                        .post(&url)
                        .bearer_auth(&token)
                        .json(&json!({ "body": format!("load {w}-{i}") })),
                )
                .await;
                if reply.status.as_u16() == 201 {
                    let id = s(&reply.json(), "id");
                    acked.lock().expect("lock").push(Acked {
                        id,
                        at: Instant::now(),
                    });
                }
            }
        }));
    }
    // Let the load get going, then back up while it runs.
    while acked.lock().expect("lock").len() < 40 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let out = tempfile::tempdir().expect("a folder for the archive");
    let archive = out.path().join("backup.tar.gz");
    let started = Instant::now();
    let made = backup::backup(&config_of(&app), &archive)
        .await
        .expect("the backup succeeds");
    let finished = Instant::now();
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.await.expect("a writer task");
    }
    let acked = std::mem::take(&mut *acked.lock().expect("lock"));
    let before: Vec<&Acked> = acked.iter().filter(|a| a.at < started).collect();
    let during = acked
        .iter()
        .filter(|a| a.at >= started && a.at <= finished)
        .count();
    eprintln!(
        "backup took {:?}; {} messages acknowledged before it, {during} during it",
        finished - started,
        before.len()
    );
    assert!(before.len() >= 40);

    // The manifest lists what the archive holds.
    let entries = unpack(&archive);
    let manifest = manifest_of(&entries);
    assert_eq!(manifest.format_version, backup::FORMAT_VERSION);
    assert_eq!(manifest.schema_version, known_schema_version());
    assert_eq!(manifest.convene_version, env!("CARGO_PKG_VERSION"));
    assert_eq!(manifest.entries, made.manifest.entries);
    let paths: Vec<&str> = entries[1..].iter().map(|(p, _)| p.as_str()).collect();
    let listed: Vec<&str> = manifest.entries.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, listed);
    assert!(
        paths.iter().any(|p| p.ends_with(".thumb.png")),
        "thumbnails are backed up: {paths:?}"
    );
    assert!(!paths.iter().any(|p| p.starts_with("files/tmp")));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&archive).expect("archive").permissions();
        assert_eq!(mode.mode() & 0o777, 0o600, "the archive is private");
    }

    // Restore into a directory that does not exist yet.
    let target_root = tempfile::tempdir().expect("a folder to restore into");
    let target = target_root.path().join("data");
    let restored = restore::restore(&restore_config(&target), &archive)
        .await
        .expect("the restore succeeds");
    assert_eq!(restored.manifest.entries, manifest.entries);
    let leftovers: Vec<_> = std::fs::read_dir(&target)
        .expect("the data dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(
        leftovers.is_empty(),
        "no working folder left: {leftovers:?}"
    );

    if manifest.database == DatabaseKind::Postgres {
        // The database is pg_dump's job; the archive holds the files.
        assert_eq!(app.backend, "postgres");
        assert!(!paths.contains(&"convene.db"));
        for entry in &manifest.entries {
            let on_disk = std::fs::read(target.join(&entry.path)).expect("restored file");
            assert_eq!(on_disk.len() as u64, entry.size);
        }
        return;
    }
    assert!(paths.contains(&"convene.db"));

    // Start the app on the restored directory: every message acknowledged before the
    // backup began is there, and every uploaded file downloads byte-identical.
    let secret = app.jwt_secret.clone();
    let again = spawn_app_with(move |c| {
        c.data_dir = target;
        c.database_url = String::new();
        c.jwt_secret = secret;
    })
    .await;
    let ids: HashSet<String> = match again.state.store.read() {
        convene::store::Db::Sqlite(pool) => {
            sqlx::query_scalar::<_, uuid::Uuid>("SELECT id FROM messages")
                .fetch_all(pool)
                .await
                .expect("read the restored messages")
                .into_iter()
                .map(|u| u.to_string())
                .collect()
        }
        convene::store::Db::Postgres(_) => unreachable!("the restored app runs on SQLite"),
    };
    let lost: Vec<&str> = before
        .iter()
        .filter(|a| !ids.contains(&a.id))
        .map(|a| a.id.as_str())
        .collect();
    assert!(
        lost.is_empty(),
        "acknowledged messages missing after restore: {lost:?}"
    );
    let one = before[before.len() / 2];
    let m = message(&again, &owner.access, &one.id).await;
    assert!(s(&m, "body").starts_with("load "));
    for (id, bytes) in &uploads {
        let got = again
            .get(&format!("/api/files/{id}"), &owner.access)
            .await
            .expect(200);
        assert_eq!(&got.bytes, bytes, "file {id} is restored byte-identical");
    }
    // And the restored server keeps working.
    post(&again, &owner.access, &ch, "after the restore").await;
}

#[tokio::test]
async fn restore_refuses_damaged_altered_newer_or_misplaced_backups() {
    let app = spawn_app().await;
    let org = app.setup_owner().await;
    let ch = channel(&app, &org.owner.access, &org.ws, "misc", "public", &[]).await;
    post(&app, &org.owner.access, &ch, "hello").await;
    upload(
        &app,
        &org.owner.access,
        &ch,
        "a.txt",
        "text/plain",
        b"some text to back up\n".repeat(200),
    )
    .await
    .expect(201);
    let work = tempfile::tempdir().expect("a work folder");
    let good = work.path().join("good.tar.gz");
    backup::backup(&config_of(&app), &good)
        .await
        .expect("the backup succeeds");
    let bytes = std::fs::read(&good).expect("read the backup");
    let entries = unpack(&good);
    let target = |name: &str| work.path().join(format!("target-{name}"));
    let write = |name: &str, bytes: &[u8]| -> PathBuf {
        let path = work.path().join(name);
        std::fs::write(&path, bytes).expect("write a test archive");
        path
    };

    // Damage in the middle of the compressed stream. A run of bytes, not one: a few
    // bits of a deflate stream are padding the decoder ignores (a single flipped byte
    // there decodes to the same archive, which is then rightly restored).
    let mut flipped = bytes.clone();
    let mid = flipped.len() / 2;
    for b in &mut flipped[mid..mid + 32] {
        *b ^= 0x5a;
    }
    let e = refused(&write("flipped.tar.gz", &flipped), &target("flipped")).await;
    assert!(
        matches!(e, RestoreError::Damaged(_) | RestoreError::Mismatch(_)),
        "{e}"
    );

    // Cut short, in the middle and just before the end.
    for (name, len) in [
        ("half", bytes.len() / 2),
        ("tail", bytes.len() - 5),
        ("tiny", 30),
    ] {
        let e = refused(
            &write(&format!("{name}.tar.gz"), &bytes[..len]),
            &target(name),
        )
        .await;
        assert!(matches!(e, RestoreError::Damaged(_)), "{name}: {e}");
        assert!(e.to_string().contains("truncated"), "{e}");
    }

    // Altered content that still unpacks cleanly: the checksum gives it away.
    let mut altered = entries.clone();
    let last = altered.len() - 1;
    altered[last].1[0] ^= 1;
    let path = work.path().join("altered.tar.gz");
    pack(&path, &altered);
    let e = refused(&path, &target("altered")).await;
    assert!(matches!(e, RestoreError::Mismatch(_)), "{e}");

    // A file missing from the archive, and one the manifest does not list.
    let mut missing = entries.clone();
    missing.pop();
    let path = work.path().join("missing.tar.gz");
    pack(&path, &missing);
    let e = refused(&path, &target("missing")).await;
    assert!(matches!(e, RestoreError::Damaged(_)), "{e}");
    let mut extra = entries.clone();
    extra.push(("files/zz/extra".into(), b"smuggled".to_vec()));
    let path = work.path().join("extra.tar.gz");
    pack(&path, &extra);
    let e = refused(&path, &target("extra")).await;
    assert!(matches!(e, RestoreError::Mismatch(_)), "{e}");

    // A manifest that lists a path outside the data directory.
    let mut escape = entries.clone();
    let mut manifest: Value = serde_json::from_slice(&escape[0].1).expect("manifest");
    manifest["entries"][0]["path"] = json!("../escaped.db");
    escape[0].1 = serde_json::to_vec(&manifest).expect("json");
    let path = work.path().join("escape.tar.gz");
    pack(&path, &escape);
    let e = refused(&path, &target("escape")).await;
    assert!(matches!(e, RestoreError::Mismatch(_)), "{e}");
    assert!(!work.path().join("escaped.db").exists());

    // Archives from a newer Convene: a newer format, a newer schema.
    for (name, field, value) in [
        (
            "format",
            "format_version",
            json!(backup::FORMAT_VERSION + 1),
        ),
        (
            "schema",
            "schema_version",
            json!(known_schema_version() + 1),
        ),
    ] {
        let mut newer = entries.clone();
        let mut manifest: Value = serde_json::from_slice(&newer[0].1).expect("manifest");
        manifest[field] = value;
        manifest["convene_version"] = json!("9.9.9");
        newer[0].1 = serde_json::to_vec(&manifest).expect("json");
        let path = work.path().join(format!("newer-{name}.tar.gz"));
        pack(&path, &newer);
        let e = refused(&path, &target(name)).await;
        match (name, &e) {
            ("format", RestoreError::NewerFormat { .. })
            | ("schema", RestoreError::NewerSchema { .. }) => {}
            _ => panic!("{name}: unexpected refusal {e}"),
        }
        let text = e.to_string();
        assert!(
            text.contains("newer") && text.contains("9.9.9"),
            "says which version to use: {text}"
        );
    }

    // Something that is not a backup at all.
    let e = refused(
        &write("notes.tar.gz", b"just some text, not an archive"),
        &target("notes"),
    )
    .await;
    assert!(matches!(e, RestoreError::NotABackup(_)), "{e}");

    // A data directory that is not empty: refused, and what was there is untouched.
    let busy = target("busy");
    std::fs::create_dir_all(&busy).expect("create the target");
    std::fs::write(busy.join("convene.db"), b"someone's data").expect("write a file");
    let err = restore::restore(&restore_config(&busy), &good)
        .await
        .expect_err("a non-empty directory is refused");
    let e = err.downcast::<RestoreError>().expect("a RestoreError");
    assert!(matches!(e, RestoreError::TargetNotEmpty { .. }), "{e}");
    assert_eq!(
        std::fs::read(busy.join("convene.db")).expect("still there"),
        b"someone's data"
    );
    assert_eq!(std::fs::read_dir(&busy).expect("dir").count(), 1);

    // The command line says so and exits non-zero.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_convene"))
        .args(["admin", "restore", "--data-dir"])
        .arg(&busy)
        .arg(&good)
        .env("RUST_BACKTRACE", "0")
        .env_remove("CONVENE_DATABASE_URL")
        .output()
        .expect("run convene");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("is not empty"), "stderr: {stderr}");

    // The good archive restores into an existing empty directory.
    let empty = target("empty");
    std::fs::create_dir_all(&empty).expect("create the target");
    restore::restore(&restore_config(&empty), &good)
        .await
        .expect("the good backup restores");
    let expected_db = app.backend == "sqlite";
    assert_eq!(empty.join("convene.db").is_file(), expected_db);
}

#[tokio::test]
async fn a_workspace_export_holds_that_workspace_and_nothing_of_another() {
    let app = spawn_app().await;
    let (org, people) = org_with(&app, &["bob"]).await;
    let (owner, bob) = (&org.owner, &people[0]);
    let ws2 = app.create_workspace(owner, "Globex Secret").await;
    let carol = app.add_member(owner, &ws2, "carol", "member").await;

    // Workspace 1: a channel with a thread, a reaction, an edit, a delete, a file; a DM.
    let ch = channel(
        &app,
        &owner.access,
        &org.ws,
        "launch-plans",
        "public",
        &[bob],
    )
    .await;
    let root = post(&app, &owner.access, &ch, "the launch is on Friday").await;
    let reply = post_reply(
        &app,
        &bob.access,
        &ch,
        json!({ "body": "I will bring the slides", "thread_root_id": root["id"] }),
    )
    .await
    .expect_json(201);
    app.put(
        &format!("/api/messages/{}/reactions/🎉", s(&root, "id")),
        &bob.access,
        json!(null),
    )
    .await
    .expect(200);
    let edited = post(&app, &bob.access, &ch, "draft wording").await;
    app.patch(
        &format!("/api/messages/{}", s(&edited, "id")),
        &bob.access,
        json!({ "body": "final wording" }),
    )
    .await
    .expect(200);
    let deleted = post(&app, &owner.access, &ch, "a mistake to delete").await;
    app.delete(
        &format!("/api/messages/{}", s(&deleted, "id")),
        &owner.access,
    )
    .await
    .expect(200);
    let file_bytes = b"quarterly numbers for the launch\n".repeat(100);
    let file = upload(
        &app,
        &owner.access,
        &ch,
        "numbers.csv",
        "text/csv",
        file_bytes.clone(),
    )
    .await
    .expect_json(201);
    post_reply(
        &app,
        &owner.access,
        &ch,
        json!({ "body": "numbers attached", "file_ids": [file["id"]] }),
    )
    .await
    .expect(201);
    let dm = open_dm(&app, &owner.access, &org.ws, &[&bob.id]).await;
    post(&app, &bob.access, &s(&dm, "id"), "a direct word").await;

    // Workspace 2: things that must not leak into workspace 1's export.
    let secret_ch = channel(
        &app,
        &owner.access,
        &ws2,
        "globex-vault",
        "public",
        &[&carol],
    )
    .await;
    post(&app, &carol.access, &secret_ch, "GLOBEX-SECRET-MESSAGE").await;
    upload(
        &app,
        &carol.access,
        &secret_ch,
        "globex.txt",
        "text/plain",
        b"GLOBEX-SECRET-FILE-BYTES".to_vec(),
    )
    .await
    .expect(201);

    let out = tempfile::tempdir().expect("a folder for the export");
    let archive = out.path().join("export.tar.gz");
    let done = export::export(&config_of(&app), &org.ws, &archive)
        .await
        .expect("the export succeeds");
    assert_eq!(done.workspace_id.to_string(), org.ws);
    assert_eq!((done.members, done.channels, done.files), (2, 2, 1));
    assert_eq!(done.missing_files, 0);

    let entries: BTreeMap<String, Vec<u8>> = unpack(&archive).into_iter().collect();
    let json_of = |path: &str| -> Value {
        serde_json::from_slice(
            entries
                .get(path)
                .unwrap_or_else(|| panic!("{path} is in the export: {:?}", entries.keys())),
        )
        .unwrap_or_else(|e| panic!("{path} is JSON: {e}"))
    };

    // Nothing of workspace 2 anywhere.
    for (path, bytes) in &entries {
        let text = String::from_utf8_lossy(bytes);
        for secret in [
            "GLOBEX",
            "Globex",
            "globex",
            "carol",
            ws2.as_str(),
            secret_ch.as_str(),
            carol.id.as_str(),
        ] {
            assert!(!text.contains(secret), "{path} leaks {secret:?}: {text}");
        }
    }

    let workspace = json_of("workspace.json");
    assert_eq!(workspace["format"], "convene-workspace-export");
    assert_eq!(workspace["workspace"]["id"], org.ws.as_str());
    assert_eq!(workspace["workspace"]["name"], WORKSPACE_NAME);
    assert_eq!(workspace["counts"]["members"], 2);

    let members = json_of("members.json");
    let usernames: HashSet<&str> = members
        .as_array()
        .expect("members")
        .iter()
        .filter_map(|m| m["username"].as_str())
        .collect();
    assert_eq!(usernames, HashSet::from([OWNER_USERNAME, "bob"]));
    let me = members
        .as_array()
        .and_then(|a| a.iter().find(|m| m["username"] == OWNER_USERNAME))
        .expect("the owner");
    assert_eq!(me["role"], "owner");
    assert_eq!(me["email"], OWNER_EMAIL);

    let index = json_of("channels.json");
    let listed: HashSet<&str> = index
        .as_array()
        .expect("channel index")
        .iter()
        .filter_map(|c| c["id"].as_str())
        .collect();
    assert_eq!(listed, HashSet::from([ch.as_str(), s(&dm, "id").as_str()]));

    let channel = json_of(&format!("channels/{ch}.json"));
    assert_eq!(channel["channel"]["name"], "launch-plans");
    assert_eq!(channel["channel"]["kind"], "public");
    let channel_members: HashSet<&str> = channel["members"]
        .as_array()
        .expect("channel members")
        .iter()
        .filter_map(|m| m["username"].as_str())
        .collect();
    assert_eq!(channel_members, HashSet::from([OWNER_USERNAME, "bob"]));
    let messages = channel["messages"].as_array().expect("messages");
    let find = |id: &Value| -> &Value {
        messages
            .iter()
            .find(|m| m["id"] == *id)
            .unwrap_or_else(|| panic!("message {id} is exported: {messages:?}"))
    };
    let seqs: Vec<i64> = messages.iter().filter_map(|m| m["seq"].as_i64()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "in order: {seqs:?}");

    let r = find(&root["id"]);
    assert_eq!(r["body"], "the launch is on Friday");
    assert_eq!(r["author"]["username"], OWNER_USERNAME);
    assert_eq!(r["reply_count"], 1);
    assert_eq!(r["reactions"][0]["emoji"], "🎉");
    assert_eq!(r["reactions"][0]["username"], "bob");
    assert!(r["created_at"].as_str().is_some_and(|t| t.ends_with('Z')));
    let t = find(&reply["id"]);
    assert_eq!(t["thread_root_id"], root["id"]);
    assert_eq!(t["author"]["username"], "bob");
    let e = find(&edited["id"]);
    assert_eq!(e["body"], "final wording");
    assert_eq!(e["edited"], true);
    assert!(e["edited_at"].is_string());
    let d = find(&deleted["id"]);
    assert_eq!(d["deleted"], true);
    assert_eq!(d["body"], "");
    assert_eq!(r["deleted"], false);
    assert_eq!(r["edited"], false);

    let files = channel["files"].as_array().expect("files");
    assert_eq!(files.len(), 1);
    assert_eq!(files[0]["id"], file["id"]);
    assert_eq!(files[0]["name"], "numbers.csv");
    let attached = messages
        .iter()
        .find(|m| m["body"] == "numbers attached")
        .expect("the message with the file");
    assert_eq!(attached["file_ids"], json!([file["id"]]));
    let path = files[0]["path"].as_str().expect("file path");
    assert_eq!(path, format!("files/{}/numbers.csv", s(&file, "id")));
    assert_eq!(entries.get(path), Some(&file_bytes), "file bytes");

    let direct = json_of(&format!("channels/{}.json", s(&dm, "id")));
    assert_eq!(direct["messages"][0]["body"], "a direct word");

    // By slug or name too; an unknown workspace is an error, and writes no archive.
    let again = out.path().join("again.tar.gz");
    let by_name = export::export(&config_of(&app), "acme robotics", &again)
        .await
        .expect("export by name");
    assert_eq!(by_name.workspace_id, done.workspace_id);
    let nowhere = out.path().join("nowhere.tar.gz");
    let err = export::export(&config_of(&app), "no-such-workspace", &nowhere)
        .await
        .expect_err("unknown workspace");
    assert!(err.to_string().contains("no workspace"), "{err}");
    assert!(!nowhere.exists());
    let left: Vec<_> = std::fs::read_dir(out.path())
        .expect("dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(left.is_empty(), "no partial files left: {left:?}");
}

#[tokio::test]
async fn upgrading_from_the_first_migrations_keeps_the_data() {
    use sqlx::sqlite::{SqliteConnectOptions, SqlitePool};

    let dir = tempfile::tempdir().expect("a data directory");
    let url = format!("sqlite://{}", dir.path().join("convene.db").display());
    let options = SqliteConnectOptions::from_str(&url)
        .expect("SQLite URL")
        .create_if_missing(true)
        .foreign_keys(true);
    let pool = SqlitePool::connect_with(options)
        .await
        .expect("open the database");
    let all = sqlx::migrate!("../migrations/sqlite");
    let first: Vec<_> = all.iter().filter(|m| m.version == 1).cloned().collect();
    assert_eq!(first.len(), 1);
    sqlx::migrate::Migrator::with_migrations(first)
        .run(&pool)
        .await
        .expect("apply the first migration only");

    // Data as the first release wrote it.
    let hash = convene::auth::password::Passwords::new()
        .await
        .expect("passwords")
        .hash(PASSWORD.to_owned())
        .await
        .expect("hash");
    let (user, ws) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
    sqlx::query(
        "INSERT INTO users (id, email, username, display_name, password_hash, created_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(user)
    .bind(OWNER_EMAIL)
    .bind(OWNER_USERNAME)
    .bind(OWNER_NAME)
    .bind(&hash)
    .bind(1_700_000_000_000i64)
    .execute(&pool)
    .await
    .expect("insert a user");
    sqlx::query("INSERT INTO workspaces (id, name, slug, created_at) VALUES ($1, $2, $3, $4)")
        .bind(ws)
        .bind(WORKSPACE_NAME)
        .bind("acme-robotics")
        .bind(1_700_000_000_000i64)
        .execute(&pool)
        .await
        .expect("insert a workspace");
    sqlx::query(
        "INSERT INTO memberships (workspace_id, user_id, role, joined_at) VALUES ($1, $2, 'owner', $3)",
    )
    .bind(ws)
    .bind(user)
    .bind(1_700_000_000_000i64)
    .execute(&pool)
    .await
    .expect("insert a membership");
    pool.close().await;

    // The current binary migrates it.
    let store = convene::store::Store::connect(&url, 2)
        .await
        .expect("connect");
    store
        .migrate()
        .await
        .expect("migrate to the current schema");
    assert_eq!(
        convene::ops::schema_version(store.read())
            .await
            .expect("schema version"),
        known_schema_version()
    );
    let convene::store::Db::Sqlite(pool) = store.read() else {
        unreachable!("a SQLite store")
    };
    let (name, status, policy): (String, String, String) = sqlx::query_as(
        "SELECT u.display_name, u.status_text, w.receipts_policy
         FROM users u JOIN memberships m ON m.user_id = u.id JOIN workspaces w ON w.id = m.workspace_id
         WHERE u.id = $1",
    )
    .bind(user)
    .fetch_one(pool)
    .await
    .expect("the data is still there");
    assert_eq!(name, OWNER_NAME);
    assert_eq!(status, "", "new columns get their defaults");
    assert_eq!(policy, "on");
    store.close().await;

    // And the app runs on it: the person signs in and sees their workspace.
    let data_dir = dir.path().to_path_buf();
    let app = spawn_app_with(move |c| {
        c.data_dir = data_dir;
        c.database_url = String::new();
    })
    .await;
    assert!(app.setup_token.is_none(), "an account exists: no setup");
    let body = app.login(OWNER_USERNAME, PASSWORD).await.expect_json(200);
    let owner = Account::from_auth(&body, PASSWORD);
    let me = app.get("/api/me", &owner.access).await.expect_json(200);
    assert_eq!(me["workspaces"][0]["id"], ws.to_string());
    assert_eq!(me["workspaces"][0]["role"], "owner");
}
