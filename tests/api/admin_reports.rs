//! Admin reports and data policy (issue #5): audit CSV export, usage, retention, and
//! the meeting settings of a workspace.

use serde_json::json;

use crate::chat_support::*;
use crate::harness::*;

const DAY_MS: i64 = 86_400_000;

fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// Run a statement the API cannot (backdating); `$1`, `$2` are the numbers, `$3` the text.
async fn exec(app: &TestApp, sql: &'static str, a: i64, b: i64, text: &str) -> u64 {
    convene::db!(app.state.store.write(), c => sqlx::query(sql)
        .bind(a)
        .bind(b)
        .bind(text)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))
    .expect("run test SQL")
}

/// People around the standard org: a member, a guest, and an admin of another workspace.
pub struct Outsiders {
    pub member: Account,
    pub guest: Account,
    pub other_admin: Account,
}

pub async fn outsiders(app: &TestApp, org: &Org) -> Outsiders {
    let member = app.add_member(&org.owner, &org.ws, "mona", "member").await;
    let guest = app.add_member(&org.owner, &org.ws, "gus", "guest").await;
    let other_ws = app.create_workspace(&org.owner, "Elsewhere").await;
    let other_admin = app.add_member(&org.owner, &other_ws, "otto", "admin").await;
    Outsiders {
        member,
        guest,
        other_admin,
    }
}

/// A member and a guest get 403, an admin of another workspace 404 (it does not exist
/// for them).
pub async fn assert_admins_only(app: &TestApp, o: &Outsiders, path: &str) {
    app.get(path, &o.member.access)
        .await
        .expect_error(403, "forbidden");
    app.get(path, &o.guest.access)
        .await
        .expect_error(403, "forbidden");
    app.get(path, &o.other_admin.access)
        .await
        .expect_error(404, "not_found");
}

fn csv_lines(text: &str) -> Vec<&str> {
    text.split("\r\n").filter(|l| !l.is_empty()).collect()
}

#[tokio::test]
async fn audit_csv_has_a_header_filters_and_defused_formulas() {
    let app = spawn_app().await;
    let org = app.setup_owner().await;
    let o = outsiders(&app, &org).await;
    app.patch(
        "/api/me",
        &o.member.access,
        json!({ "display_name": "=SUM(1,2) \"quoted\"" }),
    )
    .await
    .expect(200);
    app.sign_in(&o.member).await;
    let path = format!("/api/workspaces/{}/audit.csv", org.ws);

    let reply = app.get(&path, &org.owner.access).await.expect(200);
    assert_eq!(
        reply.header("content-type").as_deref(),
        Some("text/csv; charset=utf-8")
    );
    let disposition = reply.header("content-disposition").expect("disposition");
    assert!(
        disposition.starts_with("attachment; filename=\"audit-") && disposition.ends_with(".csv\""),
        "{disposition}"
    );
    let text = reply.text();
    let lines = csv_lines(&text);
    assert_eq!(
        lines[0],
        "time,actor_id,actor_name,action,target_type,target_id,detail,ip,id"
    );
    let json_entries = app.audit(&org.owner.access, &org.ws, "").await;
    assert_eq!(lines.len() - 1, json_entries.len(), "{text}");
    let login = lines
        .iter()
        .find(|l| l.contains(",auth.login,") && l.contains(&o.member.id))
        .expect("the member's sign-in is exported");
    assert!(
        login.contains(",\"'=SUM(1,2) \"\"quoted\"\"\",auth.login,"),
        "{login}"
    );

    // Filters: action, person, date range.
    let only_logins = app
        .get(&format!("{path}?action=auth.login"), &org.owner.access)
        .await
        .expect(200)
        .text();
    let rows = csv_lines(&only_logins);
    assert!(rows.len() >= 2);
    assert!(rows[1..].iter().all(|l| l.contains(",auth.login,")));
    let by_member = app
        .get(&format!("{path}?actor={}", o.member.id), &org.owner.access)
        .await
        .expect(200)
        .text();
    let rows = csv_lines(&by_member);
    assert!(rows.len() >= 2);
    assert!(rows[1..].iter().all(|l| l.contains(&o.member.id)));
    let today = time::OffsetDateTime::now_utc().date();
    let tomorrow = today.next_day().expect("tomorrow");
    let yesterday = today.previous_day().expect("yesterday");
    let future = app
        .get(&format!("{path}?from={tomorrow}"), &org.owner.access)
        .await
        .expect(200)
        .text();
    assert_eq!(csv_lines(&future).len(), 1, "only the header: {future}");
    let past = app
        .get(&format!("{path}?to={yesterday}"), &org.owner.access)
        .await
        .expect(200)
        .text();
    assert_eq!(csv_lines(&past).len(), 1, "only the header: {past}");
    let today_only = app
        .get(
            &format!("{path}?from={today}&to={today}"),
            &org.owner.access,
        )
        .await
        .expect(200)
        .text();
    assert_eq!(csv_lines(&today_only).len(), lines.len());
    // The JSON route takes the same date range.
    let json_future = app
        .audit(&org.owner.access, &org.ws, &format!("&from={tomorrow}"))
        .await;
    assert!(json_future.is_empty());
    app.get(&format!("{path}?from=yesterday"), &org.owner.access)
        .await
        .expect_error(422, "validation");
    app.get(&format!("{path}?actor=nobody"), &org.owner.access)
        .await
        .expect(400);

    assert_admins_only(&app, &o, &path).await;
    app.get_anon(&path).await.expect(401);
}

#[tokio::test]
async fn usage_counts_people_messages_and_meeting_minutes_per_day() {
    let app = spawn_app().await;
    let org = app.setup_owner().await;
    let o = outsiders(&app, &org).await;
    let general = channel(
        &app,
        &org.owner.access,
        &org.ws,
        "general",
        "public",
        &[&o.member],
    )
    .await;
    post(&app, &org.owner.access, &general, "today one").await;
    post(&app, &o.member.access, &general, "today two").await;
    post(&app, &o.member.access, &general, "two days ago").await;
    app.sign_in(&o.guest).await;
    let today = now_ms().div_euclid(DAY_MS) * DAY_MS;
    let yesterday = today - DAY_MS;
    assert_eq!(
        exec(
            &app,
            "UPDATE messages SET created_at = $1 + $2 WHERE body = $3",
            yesterday - DAY_MS,
            5_000,
            "two days ago"
        )
        .await,
        1
    );
    // A meeting here: 30 minutes two days ago, 45 yesterday. One in another workspace.
    let here = app
        .post(
            &format!("/api/workspaces/{}/meetings", org.ws),
            &org.owner.access,
            json!({ "title": "Standup" }),
        )
        .await
        .expect_json(201);
    let other_ws = app.create_workspace(&org.owner, "Third").await;
    let there = app
        .post(
            &format!("/api/workspaces/{other_ws}/meetings"),
            &org.owner.access,
            json!({ "title": "Elsewhere" }),
        )
        .await
        .expect_json(201);
    let attend =
        "INSERT INTO meeting_attendance (meeting_id, participant, user_id, joined_at, left_at)
         SELECT id, 'p-' || code, NULL, $1, $2 FROM meetings WHERE code = $3";
    exec(
        &app,
        attend,
        yesterday - 30 * 60_000,
        yesterday + 45 * 60_000,
        &s(&here, "code"),
    )
    .await;
    exec(
        &app,
        attend,
        yesterday - 30 * 60_000,
        yesterday + 45 * 60_000,
        &s(&there, "code"),
    )
    .await;

    let path = format!("/api/workspaces/{}/usage", org.ws);
    let usage = app
        .get(&format!("{path}?days=7"), &org.owner.access)
        .await
        .expect_json(200);
    let days = usage["days"].as_array().expect("days");
    assert_eq!(days.len(), 7);
    let date = |ms: i64| {
        time::OffsetDateTime::from_unix_timestamp(ms / 1000)
            .expect("date")
            .date()
            .to_string()
    };
    assert_eq!(days[6]["date"], date(today));
    assert_eq!(days[5]["date"], date(yesterday));
    assert_eq!(days[4]["date"], date(yesterday - DAY_MS));
    // Today: owner and member posted, the guest signed in (everyone signed in today too).
    assert_eq!(days[6]["messages"], 2);
    assert_eq!(days[6]["active_people"], 3);
    assert_eq!(days[6]["meeting_minutes"], 0);
    assert_eq!(days[5]["messages"], 0);
    assert_eq!(days[5]["active_people"], 0);
    assert_eq!(days[5]["meeting_minutes"], 45);
    assert_eq!(days[4]["messages"], 1);
    assert_eq!(days[4]["active_people"], 1);
    assert_eq!(days[4]["meeting_minutes"], 30);
    assert_eq!(days[0]["messages"], 0);
    let default = app.get(&path, &org.owner.access).await.expect_json(200);
    assert_eq!(default["days"].as_array().map(Vec::len), Some(30));
    for bad in ["0", "367", "x"] {
        let r = app
            .get(&format!("{path}?days={bad}"), &org.owner.access)
            .await;
        assert!(
            r.status == 422 || r.status == 400,
            "days={bad}: {}",
            r.status
        );
    }
    assert_admins_only(&app, &o, &path).await;
}

fn blob_exists(app: &TestApp, bytes: &[u8]) -> bool {
    use sha2::Digest;
    let sha = format!("{:x}", sha2::Sha256::digest(bytes));
    app.state
        .chat
        .settings
        .files_dir
        .join(&sha[..2])
        .join(&sha)
        .exists()
}

async fn upload_text(app: &TestApp, token: &str, channel: &str, bytes: &[u8]) -> String {
    let info = upload(
        app,
        token,
        channel,
        "notes.txt",
        "text/plain",
        bytes.to_vec(),
    )
    .await
    .expect_json(201);
    s(&info, "id")
}

async fn sweep(app: &TestApp) -> Vec<convene::chat::retention::Swept> {
    convene::chat::retention::sweep(
        &app.state.store,
        &app.state.chat.settings.files_dir,
        now_ms(),
        std::time::Duration::ZERO,
    )
    .await
    .expect("sweep")
}

#[tokio::test]
async fn retention_deletes_old_messages_and_their_files_only() {
    let app = spawn_app().await;
    let org = app.setup_owner().await;
    let token = &org.owner.access;
    let general = channel(&app, token, &org.ws, "general", "public", &[]).await;
    let only_old: &[u8] = b"only attached to an old message";
    let shared: &[u8] = b"attached to an old and a recent message";
    let f1 = upload_text(&app, token, &general, only_old).await;
    let f2 = upload_text(&app, token, &general, shared).await;
    let f3 = upload_text(&app, token, &general, shared).await;
    let old = post_reply(
        &app,
        token,
        &general,
        json!({ "body": "old with files", "file_ids": [f1, f2] }),
    )
    .await
    .expect_json(201);
    let old_root = post(&app, token, &general, "old thread").await;
    post_reply(
        &app,
        token,
        &general,
        json!({ "body": "old reply", "thread_root_id": old_root["id"] }),
    )
    .await
    .expect(201);
    let live_root = post(&app, token, &general, "old root of a live thread").await;
    post_reply(
        &app,
        token,
        &general,
        json!({ "body": "recent reply", "thread_root_id": live_root["id"] }),
    )
    .await
    .expect(201);
    let recent = post_reply(
        &app,
        token,
        &general,
        json!({ "body": "recent with file", "file_ids": [f3] }),
    )
    .await
    .expect_json(201);
    // Another workspace without retention keeps its old messages.
    let other_ws = app.create_workspace(&org.owner, "Keeps all").await;
    let other = channel(&app, token, &other_ws, "archive", "public", &[]).await;
    let other_old = post(&app, token, &other, "old elsewhere").await;

    let long_ago = now_ms() - 40 * DAY_MS;
    for body in [
        "old with files",
        "old thread",
        "old reply",
        "old root of a live thread",
        "old elsewhere",
    ] {
        assert_eq!(
            exec(
                &app,
                "UPDATE messages SET created_at = $1 + $2 WHERE body = $3",
                long_ago,
                0,
                body
            )
            .await,
            1,
            "{body}"
        );
    }
    exec(
        &app,
        "UPDATE messages SET last_reply_at = $1 + $2 WHERE body = $3",
        long_ago,
        1,
        "old thread",
    )
    .await;

    // No retention set: nothing happens, no audit entry.
    assert!(sweep(&app).await.is_empty());
    let ws_path = format!("/api/workspaces/{}", org.ws);
    let set = app
        .patch(&ws_path, token, json!({ "retention_days": 30 }))
        .await
        .expect_json(200);
    assert_eq!(set["retention_days"], 30);

    let report = sweep(&app).await;
    assert_eq!(report.len(), 1);
    assert_eq!(report[0].workspace.to_string(), org.ws);
    assert_eq!(
        (report[0].messages, report[0].files, report[0].blobs),
        (3, 2, 1)
    );

    for gone in [&old, &old_root] {
        app.get(&format!("/api/messages/{}", s(gone, "id")), token)
            .await
            .expect(404);
    }
    for kept in [&live_root, &recent] {
        app.get(&format!("/api/messages/{}", s(kept, "id")), token)
            .await
            .expect(200);
    }
    app.get(&format!("/api/messages/{}", s(&other_old, "id")), token)
        .await
        .expect(200);
    let bodies: Vec<String> = messages(&app, token, &general, "")
        .await
        .iter()
        .map(|m| s(m, "body"))
        .collect();
    assert!(
        bodies.contains(&"old root of a live thread".to_owned()),
        "{bodies:?}"
    );
    assert!(!bodies.contains(&"old with files".to_owned()), "{bodies:?}");
    assert!(
        !blob_exists(&app, only_old),
        "the blob only the old message used is gone"
    );
    assert!(
        blob_exists(&app, shared),
        "a blob a recent message uses stays"
    );
    app.get(&format!("/api/files/{f3}"), token)
        .await
        .expect(200);

    let entries = app.audit(token, &org.ws, "&action=retention.swept").await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["detail"]["messages"], 3);
    assert_eq!(entries[0]["detail"]["files"], 2);
    assert_eq!(entries[0]["detail"]["retention_days"], 30);
    assert!(
        app.audit(token, &other_ws, "&action=retention.swept")
            .await
            .is_empty()
    );

    // A second run finds nothing more, and says so.
    let again = sweep(&app).await;
    assert_eq!((again[0].messages, again[0].files), (0, 0));
}

#[tokio::test]
async fn retention_and_meeting_settings_are_validated_and_admins_only() {
    let app = spawn_app().await;
    let org = app.setup_owner().await;
    let o = outsiders(&app, &org).await;
    let token = &org.owner.access;
    let path = format!("/api/workspaces/{}", org.ws);
    let ws = app.get(&path, token).await.expect_json(200);
    assert_eq!(ws["retention_days"], serde_json::Value::Null);
    assert_eq!(ws["meeting_creators"], "everyone");
    assert_eq!(ws["meeting_guests_allowed"], true);

    let ws = app
        .patch(&path, token, json!({ "retention_days": 3650, "meeting_creators": "admins", "meeting_guests_allowed": false }))
        .await
        .expect_json(200);
    assert_eq!(ws["retention_days"], 3650);
    assert_eq!(ws["meeting_creators"], "admins");
    assert_eq!(ws["meeting_guests_allowed"], false);
    // Absent fields stay; null clears retention.
    let ws = app
        .patch(&path, token, json!({ "name": "Acme" }))
        .await
        .expect_json(200);
    assert_eq!(ws["retention_days"], 3650);
    let ws = app
        .patch(&path, token, json!({ "retention_days": null }))
        .await
        .expect_json(200);
    assert_eq!(ws["retention_days"], serde_json::Value::Null);
    assert_eq!(ws["meeting_creators"], "admins");
    for bad in [
        json!({ "retention_days": 0 }),
        json!({ "retention_days": 3651 }),
        json!({ "meeting_creators": "hosts" }),
    ] {
        app.patch(&path, token, bad)
            .await
            .expect_error(422, "validation");
    }
    let r = app
        .patch(&path, token, json!({ "retention_days": "forever" }))
        .await;
    assert!(r.status == 400 || r.status == 422, "{}", r.status);
    let updated = app.audit(token, &org.ws, "&action=workspace.updated").await;
    assert_eq!(
        updated[0]["detail"]["retention_days"],
        serde_json::Value::Null
    );
    assert_eq!(updated[2]["detail"]["meeting_creators"], "admins");

    // Only admins change settings.
    let change = json!({ "retention_days": 1 });
    app.patch(&path, &o.member.access, change.clone())
        .await
        .expect_error(403, "forbidden");
    app.patch(&path, &o.guest.access, change.clone())
        .await
        .expect_error(403, "forbidden");
    app.patch(&path, &o.other_admin.access, change)
        .await
        .expect_error(404, "not_found");

    // Who may start meetings.
    let meetings = format!("/api/workspaces/{}/meetings", org.ws);
    let start = json!({ "title": "Sync" });
    app.post(&meetings, &o.member.access, start.clone())
        .await
        .expect_error(403, "forbidden");
    app.post(&meetings, &o.guest.access, start.clone())
        .await
        .expect_error(403, "forbidden");
    app.post(&meetings, &o.other_admin.access, start.clone())
        .await
        .expect_error(404, "not_found");
    app.post(&meetings, token, start.clone()).await.expect(201);
    app.patch(&path, token, json!({ "meeting_creators": "everyone" }))
        .await
        .expect(200);
    app.post(&meetings, &o.member.access, start.clone())
        .await
        .expect(201);
    app.post(&meetings, &o.guest.access, start)
        .await
        .expect_error(403, "forbidden");
}
