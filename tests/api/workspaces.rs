//! Workspaces: create, list, read, settings, leave.

use serde_json::json;

use crate::harness::*;

#[tokio::test]
async fn creating_a_workspace_makes_me_its_owner() {
    let app = spawn_app().await;
    let org = app.setup_owner().await;
    let created = app
        .post(
            "/api/workspaces",
            &org.owner.access,
            json!({ "name": "  Globex Labs  " }),
        )
        .await
        .expect_json(201);
    assert_keys(
        &created,
        &[
            "id",
            "name",
            "slug",
            "open_registration",
            "receipts_policy",
            "retention_days",
            "meeting_creators",
            "meeting_guests_allowed",
            "created_at",
            "role",
        ],
    );
    assert_eq!(created["name"], "Globex Labs");
    assert_eq!(created["role"], "owner");
    assert_eq!(created["open_registration"], false);
    assert!(
        created["slug"]
            .as_str()
            .is_some_and(|s| s.starts_with("globex-labs"))
    );
    assert!(created["created_at"].is_string());
    let id = created["id"].as_str().expect("id");

    let fetched = app
        .get(&format!("/api/workspaces/{id}"), &org.owner.access)
        .await
        .expect_json(200);
    assert_eq!(fetched, created);
    let mine = app
        .get("/api/workspaces", &org.owner.access)
        .await
        .expect_json(200);
    let mine = mine.as_array().expect("list");
    assert_eq!(mine.len(), 2);
    assert_eq!(
        mine[1],
        json!({ "id": id, "name": "Globex Labs", "slug": created["slug"], "role": "owner" })
    );

    // Two workspaces may share a name; slugs stay unique.
    let twin = app
        .post(
            "/api/workspaces",
            &org.owner.access,
            json!({ "name": "Globex Labs" }),
        )
        .await
        .expect_json(201);
    assert_ne!(twin["slug"], created["slug"]);
    // A name without ASCII letters still gets a slug.
    let chinese = app
        .post(
            "/api/workspaces",
            &org.owner.access,
            json!({ "name": "研发中心" }),
        )
        .await
        .expect_json(201);
    assert!(chinese["slug"].as_str().is_some_and(|s| !s.is_empty()));

    let audit = app.audit(&org.owner.access, id, "").await;
    assert_eq!(audit.len(), 1, "only this workspace's events: {audit:?}");
    assert_eq!(audit[0]["action"], "workspace.created");
    assert_eq!(audit[0]["target_id"], id);
}

#[tokio::test]
async fn workspace_names_are_validated() {
    let app = spawn_app().await;
    let org = app.setup_owner().await;
    for name in [
        json!(""),
        json!("   "),
        json!("n".repeat(81)),
        json!("line\nbreak"),
    ] {
        let reply = app
            .post(
                "/api/workspaces",
                &org.owner.access,
                json!({ "name": name }),
            )
            .await;
        assert_eq!(reply.status.as_u16(), 422, "{name}: {}", reply.text());
        reply.expect_error(422, "validation");
    }
    app.post("/api/workspaces", &org.owner.access, json!({}))
        .await
        .expect_error(400, "bad_request");
    app.post("/api/workspaces", &org.owner.access, json!({ "name": 42 }))
        .await
        .expect_error(400, "bad_request");
    // 80 characters is the longest allowed.
    app.post(
        "/api/workspaces",
        &org.owner.access,
        json!({ "name": "n".repeat(80) }),
    )
    .await
    .expect(201);
    let mine = app
        .get("/api/workspaces", &org.owner.access)
        .await
        .expect_json(200);
    assert_eq!(mine.as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn only_admins_change_workspace_settings() {
    let app = spawn_app().await;
    let org = app.setup_owner().await;
    let admin = app.add_member(&org.owner, &org.ws, "adam", "admin").await;
    let member = app.add_member(&org.owner, &org.ws, "mia", "member").await;
    let path = format!("/api/workspaces/{}", org.ws);

    app.patch(&path, &member.access, json!({ "name": "Hijacked" }))
        .await
        .expect_error(403, "forbidden");
    let as_member = app.get(&path, &member.access).await.expect_json(200);
    assert_eq!(as_member["name"], WORKSPACE_NAME);
    assert_eq!(as_member["role"], "member");

    let updated = app
        .patch(
            &path,
            &admin.access,
            json!({ "name": "Acme Robotics GmbH", "open_registration": true }),
        )
        .await
        .expect_json(200);
    assert_eq!(updated["name"], "Acme Robotics GmbH");
    assert_eq!(updated["open_registration"], true);
    assert_eq!(updated["role"], "admin");
    // An empty patch changes nothing.
    let same = app
        .patch(&path, &org.owner.access, json!({}))
        .await
        .expect_json(200);
    assert_eq!(same["name"], "Acme Robotics GmbH");
    assert_eq!(same["role"], "owner");

    app.patch(&path, &admin.access, json!({ "name": "" }))
        .await
        .expect_error(422, "validation");
    app.patch(&path, &admin.access, json!({ "slug": "mine" }))
        .await
        .expect_error(400, "bad_request");
    let after = app.get(&path, &member.access).await.expect_json(200);
    assert_eq!(after["name"], "Acme Robotics GmbH");

    let updates = app
        .audit(&org.owner.access, &org.ws, "&action=workspace.updated")
        .await;
    assert_eq!(updates.len(), 2);
    assert_eq!(updates[1]["actor_id"], admin.id.as_str());
    assert_eq!(updates[1]["detail"]["name"], "Acme Robotics GmbH");
}

#[tokio::test]
async fn members_may_leave_but_the_last_owner_may_not() {
    let app = spawn_app().await;
    let org = app.setup_owner().await;
    let member = app.add_member(&org.owner, &org.ws, "mia", "member").await;
    let leave = format!("/api/workspaces/{}/leave", org.ws);

    app.post_empty(&leave, &org.owner.access)
        .await
        .expect_error(409, "conflict");
    app.get(&format!("/api/workspaces/{}", org.ws), &org.owner.access)
        .await
        .expect(200);

    app.post_empty(&leave, &member.access).await.expect(204);
    app.get(&format!("/api/workspaces/{}", org.ws), &member.access)
        .await
        .expect_error(404, "not_found");
    let mine = app
        .get("/api/workspaces", &member.access)
        .await
        .expect_json(200);
    assert_eq!(mine, json!([]));
    app.post_empty(&leave, &member.access)
        .await
        .expect_error(404, "not_found");
    let left = app
        .audit(&org.owner.access, &org.ws, "&action=member.left")
        .await;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["target_id"], member.id.as_str());

    // With a second owner, the first may leave.
    let heir = app.add_member(&org.owner, &org.ws, "heir", "admin").await;
    app.patch(
        &format!("/api/workspaces/{}/members/{}", org.ws, heir.id),
        &org.owner.access,
        json!({ "role": "owner" }),
    )
    .await
    .expect(200);
    app.post_empty(&leave, &org.owner.access).await.expect(204);
    let members = app
        .get(&format!("/api/workspaces/{}/members", org.ws), &heir.access)
        .await
        .expect_json(200);
    assert_eq!(members.as_array().map(Vec::len), Some(1));
    app.post_empty(&leave, &heir.access)
        .await
        .expect_error(409, "conflict");
}
