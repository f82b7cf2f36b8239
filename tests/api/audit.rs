//! The audit log: what admins did, filters and paging.

use serde_json::{Value, json};

use crate::harness::*;

fn actions(entries: &[Value]) -> Vec<String> {
    entries
        .iter()
        .filter_map(|e| e["action"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn admin_actions_are_recorded_with_actor_action_target_and_address() {
    let app = spawn_app().await;
    let org = app.setup_owner().await;
    let token = &org.owner.access;
    let adam = app.add_member(&org.owner, &org.ws, "adam", "member").await;
    app.patch(
        &format!("/api/workspaces/{}/members/{}", org.ws, adam.id),
        token,
        json!({ "role": "admin" }),
    )
    .await
    .expect(200);
    let team = app.create_team(&adam.access, &org.ws, "Ops", None).await;
    app.patch(
        &format!("/api/workspaces/{}", org.ws),
        token,
        json!({ "name": "Acme Two" }),
    )
    .await
    .expect(200);

    let entries = app.audit(token, &org.ws, "").await;
    assert_eq!(
        actions(&entries),
        [
            "workspace.updated",
            "team.created",
            "member.role_changed",
            "member.joined",
            "invite.created",
            "setup.completed"
        ]
    );
    let team_created = &entries[1];
    assert_eq!(team_created["actor_id"], adam.id.as_str());
    assert_eq!(team_created["actor_name"], "Adam Tester");
    assert_eq!(team_created["target_type"], "team");
    assert_eq!(team_created["target_id"], team.as_str());
    assert_eq!(team_created["detail"]["name"], "Ops");
    assert_eq!(team_created["ip"], "127.0.0.1");
    assert!(team_created["id"].is_string());
    let created_at = team_created["created_at"].as_str().expect("created_at");
    time::OffsetDateTime::parse(created_at, &time::format_description::well_known::Rfc3339)
        .expect("created_at is RFC 3339");
    let mut keys: Vec<&str> = team_created
        .as_object()
        .expect("entry")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "action",
            "actor_id",
            "actor_name",
            "created_at",
            "detail",
            "id",
            "ip",
            "target_id",
            "target_type"
        ]
    );
    let role = &entries[2];
    assert_eq!(role["actor_id"], org.owner.id.as_str());
    assert_eq!(role["target_id"], adam.id.as_str());
    assert_eq!(role["detail"], json!({ "from": "member", "to": "admin" }));
}

#[tokio::test]
async fn the_audit_log_can_be_filtered_by_actor_and_action() {
    let app = spawn_app().await;
    let org = app.setup_owner().await;
    let token = &org.owner.access;
    let adam = app.add_member(&org.owner, &org.ws, "adam", "admin").await;
    let team = app.create_team(&adam.access, &org.ws, "Ops", None).await;
    app.put(
        &format!(
            "/api/workspaces/{}/teams/{team}/members/{}",
            org.ws, adam.id
        ),
        token,
        json!({ "lead": true }),
    )
    .await
    .expect(200);
    app.patch(
        &format!("/api/workspaces/{}/members/{}", org.ws, adam.id),
        token,
        json!({ "role": "member" }),
    )
    .await
    .expect(200);

    let by_adam = app
        .audit(token, &org.ws, &format!("&actor={}", adam.id))
        .await;
    assert_eq!(actions(&by_adam), ["team.created", "member.joined"]);
    assert!(by_adam.iter().all(|e| e["actor_id"] == adam.id.as_str()));

    let exact = app.audit(token, &org.ws, "&action=team.created").await;
    assert_eq!(actions(&exact), ["team.created"]);
    let prefix = app.audit(token, &org.ws, "&action=member.").await;
    assert_eq!(actions(&prefix), ["member.role_changed", "member.joined"]);
    let team_prefix = app.audit(token, &org.ws, "&action=team.").await;
    assert_eq!(actions(&team_prefix), ["team.member_set", "team.created"]);
    // Without the trailing dot the filter is exact.
    assert!(app.audit(token, &org.ws, "&action=member").await.is_empty());
    assert!(
        app.audit(token, &org.ws, "&action=nothing.like.this")
            .await
            .is_empty()
    );
    let both = app
        .audit(
            token,
            &org.ws,
            &format!("&actor={}&action=member.", org.owner.id),
        )
        .await;
    assert_eq!(actions(&both), ["member.role_changed"]);
    assert!(
        app.audit(token, &org.ws, &format!("&actor={}", uuid::Uuid::now_v7()))
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn the_audit_log_pages_with_before_and_validates_its_parameters() {
    let app = spawn_app().await;
    let org = app.setup_owner().await;
    let token = &org.owner.access;
    for i in 0..6 {
        app.create_team(token, &org.ws, &format!("Team {i}"), None)
            .await;
    }
    let all = app.audit(token, &org.ws, "").await;
    assert_eq!(all.len(), 7, "setup + six teams");
    let ids: Vec<&str> = all.iter().filter_map(|e| e["id"].as_str()).collect();

    let path = format!("/api/workspaces/{}/audit", org.ws);
    let mut seen = Vec::new();
    let mut before: Option<String> = None;
    loop {
        let query = match &before {
            Some(b) => format!("{path}?limit=3&before={b}"),
            None => format!("{path}?limit=3"),
        };
        let page = app.get(&query, token).await.expect_json(200);
        let page = page.as_array().expect("page").clone();
        assert!(page.len() <= 3);
        if page.is_empty() {
            break;
        }
        for e in &page {
            seen.push(e["id"].as_str().expect("id").to_owned());
        }
        before = page
            .last()
            .and_then(|e| e["id"].as_str())
            .map(str::to_owned);
    }
    assert_eq!(seen, ids, "pages cover the log once, newest first");

    let default = app.get(&path, token).await.expect_json(200);
    assert_eq!(default.as_array().map(Vec::len), Some(7));
    app.get(&format!("{path}?limit=200"), token)
        .await
        .expect(200);
    app.get(&format!("{path}?limit=1"), token).await.expect(200);
    for bad in ["limit=0", "limit=201", "limit=-1"] {
        app.get(&format!("{path}?{bad}"), token)
            .await
            .expect_error(422, "validation");
    }
    let long_action = format!("action={}", "a".repeat(101));
    app.get(&format!("{path}?{long_action}"), token)
        .await
        .expect_error(422, "validation");
    for bad in ["limit=ten", "before=not-an-id", "actor=42", "limit=1e3"] {
        app.get(&format!("{path}?{bad}"), token)
            .await
            .expect_error(400, "bad_request");
    }
}

#[tokio::test]
async fn only_admins_of_the_workspace_read_its_audit_log() {
    let app = spawn_app().await;
    let org = app.setup_owner().await;
    let mia = app.add_member(&org.owner, &org.ws, "mia", "member").await;
    let other = app.create_workspace(&org.owner, "Globex").await;
    app.get(&format!("/api/workspaces/{}/audit", org.ws), &mia.access)
        .await
        .expect_error(403, "forbidden");
    // Mia is nobody in Globex.
    app.get(&format!("/api/workspaces/{other}/audit"), &mia.access)
        .await
        .expect_error(404, "not_found");
    // The Globex log holds only Globex events.
    let globex = app.audit(&org.owner.access, &other, "").await;
    assert_eq!(actions(&globex), ["workspace.created"]);
}
