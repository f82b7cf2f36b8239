//! Teams: the department tree, its rules, and team members with leads.

use serde_json::{Value, json};

use crate::harness::*;

async fn teams(app: &TestApp, token: &str, ws: &str) -> Vec<Value> {
    app.get(&format!("/api/workspaces/{ws}/teams"), token)
        .await
        .expect_json(200)
        .as_array()
        .expect("teams")
        .clone()
}

fn parent_of(teams: &[Value], id: &str) -> Value {
    teams
        .iter()
        .find(|t| t["id"] == id)
        .unwrap_or_else(|| panic!("team {id} listed"))["parent_id"]
        .clone()
}

#[tokio::test]
async fn teams_form_a_tree_that_can_be_renamed_and_moved() {
    let app = spawn_app().await;
    let org = app.setup_owner().await;
    let token = &org.owner.access;
    let eng = app.create_team(token, &org.ws, "Engineering", None).await;
    let backend = app.create_team(token, &org.ws, "Backend", Some(&eng)).await;
    let frontend = app
        .create_team(token, &org.ws, "Frontend", Some(&eng))
        .await;

    let list = teams(&app, token, &org.ws).await;
    let names: Vec<&str> = list.iter().filter_map(|t| t["name"].as_str()).collect();
    assert_eq!(names, ["Backend", "Engineering", "Frontend"]);
    assert_eq!(parent_of(&list, &eng), Value::Null);
    assert_eq!(parent_of(&list, &backend), eng.as_str());
    assert_keys(
        &list[0],
        &["id", "name", "parent_id", "member_count", "created_at"],
    );
    assert_eq!(list[0]["member_count"], 0);
    assert!(list[0]["created_at"].is_string());

    let path = |id: &str| format!("/api/workspaces/{}/teams/{id}", org.ws);
    let renamed = app
        .patch(&path(&backend), token, json!({ "name": " Platform " }))
        .await
        .expect_json(200);
    assert_eq!(renamed["name"], "Platform");
    assert_eq!(
        renamed["parent_id"],
        eng.as_str(),
        "a rename keeps the parent"
    );

    let moved = app
        .patch(&path(&frontend), token, json!({ "parent_id": null }))
        .await
        .expect_json(200);
    assert_eq!(
        moved["parent_id"],
        Value::Null,
        "null moves to the top level"
    );
    assert_eq!(moved["name"], "Frontend");
    let moved = app
        .patch(&path(&backend), token, json!({ "parent_id": frontend }))
        .await
        .expect_json(200);
    assert_eq!(moved["parent_id"], frontend.as_str());
    // A team may be moved under its grandparent's other child and back.
    app.patch(
        &path(&backend),
        token,
        json!({ "parent_id": eng, "name": "Backend" }),
    )
    .await
    .expect(200);

    let actions: Vec<String> = app
        .audit(token, &org.ws, "&action=team.")
        .await
        .iter()
        .filter_map(|e| e["action"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(
        actions,
        [
            "team.moved",
            "team.moved",
            "team.moved",
            "team.renamed",
            "team.created",
            "team.created",
            "team.created"
        ]
    );
}

#[tokio::test]
async fn a_team_cannot_be_moved_under_itself_or_its_descendants() {
    let app = spawn_app().await;
    let org = app.setup_owner().await;
    let token = &org.owner.access;
    let a = app.create_team(token, &org.ws, "A", None).await;
    let b = app.create_team(token, &org.ws, "B", Some(&a)).await;
    let c = app.create_team(token, &org.ws, "C", Some(&b)).await;
    let path = |id: &str| format!("/api/workspaces/{}/teams/{id}", org.ws);
    for (team, parent) in [(&a, &a), (&a, &b), (&a, &c), (&b, &c)] {
        app.patch(&path(team), token, json!({ "parent_id": parent }))
            .await
            .expect_error(409, "conflict");
    }
    let list = teams(&app, token, &org.ws).await;
    assert_eq!(parent_of(&list, &a), Value::Null);
    assert_eq!(parent_of(&list, &b), a.as_str());
    assert_eq!(parent_of(&list, &c), b.as_str());
}

#[tokio::test]
async fn a_parent_from_another_workspace_or_nowhere_is_refused() {
    let app = spawn_app().await;
    let org = app.setup_owner().await;
    let token = &org.owner.access;
    let other = app.create_workspace(&org.owner, "Globex").await;
    let foreign = app.create_team(token, &other, "Foreign", None).await;
    let local = app.create_team(token, &org.ws, "Local", None).await;
    let create = format!("/api/workspaces/{}/teams", org.ws);
    for parent in [json!(foreign), json!(uuid::Uuid::now_v7())] {
        app.post(
            &create,
            token,
            json!({ "name": "Child", "parent_id": parent }),
        )
        .await
        .expect_error(422, "validation");
        app.patch(
            &format!("/api/workspaces/{}/teams/{local}", org.ws),
            token,
            json!({ "parent_id": parent }),
        )
        .await
        .expect_error(422, "validation");
    }
    app.post(
        &create,
        token,
        json!({ "name": "Child", "parent_id": "not-a-uuid" }),
    )
    .await
    .expect_error(400, "bad_request");
    let list = teams(&app, token, &org.ws).await;
    assert_eq!(list.len(), 1);
    assert_eq!(parent_of(&list, &local), Value::Null);
    // A team of another workspace is not reachable through this one.
    app.patch(
        &format!("/api/workspaces/{}/teams/{foreign}", org.ws),
        token,
        json!({ "name": "Mine" }),
    )
    .await
    .expect_error(404, "not_found");
    app.delete(
        &format!("/api/workspaces/{}/teams/{foreign}", org.ws),
        token,
    )
    .await
    .expect_error(404, "not_found");
    let list = teams(&app, token, &other).await;
    assert_eq!(list[0]["name"], "Foreign");
}

#[tokio::test]
async fn a_team_with_sub_teams_cannot_be_deleted() {
    let app = spawn_app().await;
    let org = app.setup_owner().await;
    let token = &org.owner.access;
    let parent = app.create_team(token, &org.ws, "Sales", None).await;
    let child = app
        .create_team(token, &org.ws, "Sales EMEA", Some(&parent))
        .await;
    let path = |id: &str| format!("/api/workspaces/{}/teams/{id}", org.ws);
    app.delete(&path(&parent), token)
        .await
        .expect_error(409, "conflict");
    assert_eq!(teams(&app, token, &org.ws).await.len(), 2);
    app.delete(&path(&child), token).await.expect(204);
    app.delete(&path(&parent), token).await.expect(204);
    app.delete(&path(&parent), token)
        .await
        .expect_error(404, "not_found");
    assert!(teams(&app, token, &org.ws).await.is_empty());
    let deleted = app.audit(token, &org.ws, "&action=team.deleted").await;
    assert_eq!(deleted.len(), 2);
    assert_eq!(deleted[0]["detail"]["name"], "Sales");
}

#[tokio::test]
async fn team_members_and_leads_are_managed_by_admins() {
    let app = spawn_app().await;
    let org = app.setup_owner().await;
    let token = &org.owner.access;
    let mia = app.add_member(&org.owner, &org.ws, "mia", "member").await;
    let outsider_ws = app.create_workspace(&org.owner, "Elsewhere").await;
    let outsider = app
        .add_member(&org.owner, &outsider_ws, "otto", "member")
        .await;
    let team = app.create_team(token, &org.ws, "Support", None).await;
    let members = format!("/api/workspaces/{}/teams/{team}/members", org.ws);

    let added = app
        .put(&format!("{members}/{}", mia.id), token, json!({}))
        .await
        .expect_json(200);
    assert_eq!(
        added,
        json!({ "user_id": mia.id, "username": "mia", "display_name": "Mia Tester", "lead": false })
    );
    let lead = app
        .put(
            &format!("{members}/{}", org.owner.id),
            token,
            json!({ "lead": true }),
        )
        .await
        .expect_json(200);
    assert_eq!(lead["lead"], true);
    let listed = app.get(&members, &mia.access).await.expect_json(200);
    let listed = listed.as_array().expect("team members");
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0]["user_id"], org.owner.id.as_str(), "leads first");
    // Toggling the lead flag keeps one row per person.
    app.put(
        &format!("{members}/{}", mia.id),
        token,
        json!({ "lead": true }),
    )
    .await
    .expect(200);
    app.put(
        &format!("{members}/{}", org.owner.id),
        token,
        json!({ "lead": false }),
    )
    .await
    .expect(200);
    let listed = app.get(&members, token).await.expect_json(200);
    assert_eq!(listed[0]["user_id"], mia.id.as_str());
    assert_eq!(listed.as_array().map(Vec::len), Some(2));
    let team_row = teams(&app, token, &org.ws).await;
    assert_eq!(team_row[0]["member_count"], 2);

    // Someone who is not in the workspace cannot be added.
    app.put(
        &format!("{members}/{}", outsider.id),
        token,
        json!({ "lead": false }),
    )
    .await
    .expect_error(422, "validation");
    app.put(
        &format!("{members}/{}", uuid::Uuid::now_v7()),
        token,
        json!({}),
    )
    .await
    .expect_error(422, "validation");
    // Members read but do not manage.
    app.put(
        &format!("{members}/{}", mia.id),
        &mia.access,
        json!({ "lead": false }),
    )
    .await
    .expect_error(403, "forbidden");
    app.delete(&format!("{members}/{}", org.owner.id), &mia.access)
        .await
        .expect_error(403, "forbidden");
    app.post(
        &format!("/api/workspaces/{}/teams", org.ws),
        &mia.access,
        json!({ "name": "Mine" }),
    )
    .await
    .expect_error(403, "forbidden");
    app.get(&format!("/api/workspaces/{}/teams", org.ws), &mia.access)
        .await
        .expect(200);

    app.delete(&format!("{members}/{}", mia.id), token)
        .await
        .expect(204);
    app.delete(&format!("{members}/{}", mia.id), token)
        .await
        .expect_error(404, "not_found");
    let listed = app.get(&members, token).await.expect_json(200);
    assert_eq!(listed.as_array().map(Vec::len), Some(1));
    let audit = app
        .audit(token, &org.ws, "&action=team.member_removed")
        .await;
    assert_eq!(audit[0]["target_id"], mia.id.as_str());
    assert_eq!(audit[0]["detail"]["team_id"], team.as_str());
}

#[tokio::test]
async fn team_names_are_validated() {
    let app = spawn_app().await;
    let org = app.setup_owner().await;
    let token = &org.owner.access;
    let create = format!("/api/workspaces/{}/teams", org.ws);
    for name in [
        json!(""),
        json!("  "),
        json!("t".repeat(65)),
        json!("a\u{0000}b"),
    ] {
        let reply = app.post(&create, token, json!({ "name": name })).await;
        assert_eq!(reply.status.as_u16(), 422, "{name}: {}", reply.text());
        reply.expect_error(422, "validation");
    }
    let team = app.create_team(token, &org.ws, &"t".repeat(64), None).await;
    app.patch(&format!("{create}/{team}"), token, json!({ "name": "" }))
        .await
        .expect_error(422, "validation");
    let list = teams(&app, token, &org.ws).await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["name"], "t".repeat(64).as_str());
}
