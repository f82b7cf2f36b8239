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
