//! Invitations: create, list, revoke, preview, accept.

use serde_json::{Value, json};

use crate::harness::*;

#[tokio::test]
async fn an_invites_token_and_link_appear_only_in_the_create_response() {
    let app = spawn_app().await;
    let org = app.setup_owner().await;
    let created = app
        .create_invite(
            &org.owner.access,
            &org.ws,
            json!({ "role": "guest", "max_uses": 3, "expires_in_hours": 2 }),
        )
        .await;
    assert_keys(
        &created,
        &[
            "id",
            "token",
            "url",
            "email",
            "role",
            "expires_at",
            "max_uses",
            "uses",
            "revoked",
            "created_at",
        ],
    );
    let token = created["token"]
        .as_str()
        .expect("token in the create response");
    assert!(token.len() >= 32);
    assert_eq!(
        created["url"],
        format!("{}/invite#{token}", app.base).as_str()
    );
    assert_eq!(created["role"], "guest");
    assert_eq!(created["max_uses"], 3);
    assert_eq!(created["uses"], 0);
    assert_eq!(created["revoked"], false);
    assert_eq!(created["email"], Value::Null);
    let expires = time::OffsetDateTime::parse(
        created["expires_at"].as_str().expect("expires_at"),
        &time::format_description::well_known::Rfc3339,
    )
    .expect("RFC 3339");
    let hours = (expires - time::OffsetDateTime::now_utc()).whole_minutes();
    assert!(
        (110..=120).contains(&hours),
        "expires in about two hours ({hours} min)"
    );

    let default = app
        .create_invite(&org.owner.access, &org.ws, json!({}))
        .await;
    assert_eq!(default["role"], "member");
    assert_eq!(default["max_uses"], Value::Null, "unlimited by default");

    let listed = app
        .get(
            &format!("/api/workspaces/{}/invites", org.ws),
            &org.owner.access,
        )
        .await
        .expect_json(200);
    let listed = listed.as_array().expect("invites");
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0]["id"], default["id"], "newest first");
    for invite in listed {
        assert_eq!(invite["token"], Value::Null);
        assert_eq!(invite["url"], Value::Null);
    }
    let listed_text = serde_json::to_string(listed).expect("json");
    assert!(!listed_text.contains(token), "the token is never listed");
    let mut first = created.clone();
    first["token"] = Value::Null;
    first["url"] = Value::Null;
    assert_eq!(listed[1], first);

    let audit = app
        .audit(&org.owner.access, &org.ws, "&action=invite.created")
        .await;
    assert_eq!(audit.len(), 2);
    assert!(
        !serde_json::to_string(&audit).expect("json").contains(token),
        "nor audited"
    );
}

#[tokio::test]
async fn invite_options_are_validated() {
    let app = spawn_app().await;
    let org = app.setup_owner().await;
    let path = format!("/api/workspaces/{}/invites", org.ws);
    for body in [
        json!({ "role": "owner" }),
        json!({ "expires_in_hours": 0 }),
        json!({ "expires_in_hours": 8761 }),
        json!({ "expires_in_hours": -5 }),
        json!({ "max_uses": 0 }),
        json!({ "max_uses": 10_001 }),
        json!({ "email": "not-an-email" }),
    ] {
        let reply = app.post(&path, &org.owner.access, body.clone()).await;
        assert_eq!(reply.status.as_u16(), 422, "{body}: {}", reply.text());
        reply.expect_error(422, "validation");
    }
    for body in [
        json!({ "role": "emperor" }),
        json!({ "max_uses": "ten" }),
        json!({ "token": "chosen-by-me" }),
    ] {
        let reply = app.post(&path, &org.owner.access, body.clone()).await;
        assert_eq!(reply.status.as_u16(), 400, "{body}: {}", reply.text());
        reply.expect_error(400, "bad_request");
    }
    let listed = app.get(&path, &org.owner.access).await.expect_json(200);
    assert_eq!(listed, json!([]), "nothing was created");
    // The bounds themselves are fine.
    app.post(
        &path,
        &org.owner.access,
        json!({ "expires_in_hours": 8760, "max_uses": 10_000 }),
    )
    .await
    .expect(201);
    app.post(
        &path,
        &org.owner.access,
        json!({ "expires_in_hours": 1, "max_uses": 1, "role": "admin" }),
    )
    .await
    .expect(201);
}

#[tokio::test]
async fn an_invite_preview_shows_the_workspace_to_anyone_with_the_link() {
    let app = spawn_app().await;
    let org = app.setup_owner().await;
    let invite = app
        .create_invite(&org.owner.access, &org.ws, json!({ "role": "admin" }))
        .await;
    let token = invite["token"].as_str().expect("token");
    let preview = app
        .get_anon(&format!("/api/invites/{token}"))
        .await
        .expect_json(200);
    assert_eq!(
        preview,
        json!({ "workspace_id": org.ws, "workspace_name": WORKSPACE_NAME, "email": null, "role": "admin" })
    );
    app.get_anon("/api/invites/not-a-token")
        .await
        .expect_error(404, "not_found");
    app.get_anon(&format!("/api/invites/{}", &token[..token.len() - 1]))
        .await
        .expect_error(404, "not_found");
}

#[tokio::test]
async fn a_signed_in_person_can_accept_an_invite_once() {
    let app = spawn_app().await;
    let org = app.setup_owner().await;
    let mia = app.add_member(&org.owner, &org.ws, "mia", "member").await;
    let other = app.create_workspace(&org.owner, "Globex").await;
    let invite = app
        .create_invite(
            &org.owner.access,
            &other,
            json!({ "role": "guest", "max_uses": 5 }),
        )
        .await;
    let accept = format!(
        "/api/invites/{}/accept",
        invite["token"].as_str().expect("token")
    );

    app.post_empty(&accept, "garbage")
        .await
        .expect_error(401, "unauthorized");
    let summary = app.post_empty(&accept, &mia.access).await.expect_json(200);
    assert_eq!(summary["id"], other.as_str());
    assert_eq!(summary["name"], "Globex");
    assert_eq!(summary["role"], "guest");
    let mine = app
        .get("/api/workspaces", &mia.access)
        .await
        .expect_json(200);
    assert_eq!(mine.as_array().map(Vec::len), Some(2));

    // Already a member: 409, and the use is not counted.
    app.post_empty(&accept, &mia.access)
        .await
        .expect_error(409, "conflict");
    let own = app
        .create_invite(&org.owner.access, &org.ws, json!({}))
        .await;
    app.post_empty(
        &format!(
            "/api/invites/{}/accept",
            own["token"].as_str().expect("token")
        ),
        &org.owner.access,
    )
    .await
    .expect_error(409, "conflict");
    let listed = app
        .get(
            &format!("/api/workspaces/{other}/invites"),
            &org.owner.access,
        )
        .await
        .expect_json(200);
    assert_eq!(listed[0]["uses"], 1);

    let joined = app
        .audit(&org.owner.access, &other, "&action=member.joined")
        .await;
    assert_eq!(joined.len(), 1);
    assert_eq!(joined[0]["actor_id"], mia.id.as_str());
    app.post_empty("/api/invites/unknown-token/accept", &mia.access)
        .await
        .expect_error(404, "not_found");
}

#[tokio::test]
async fn an_invite_for_another_address_cannot_be_accepted() {
    let app = spawn_app().await;
    let org = app.setup_owner().await;
    let mia = app.add_member(&org.owner, &org.ws, "mia", "member").await;
    let other = app.create_workspace(&org.owner, "Globex").await;
    let invite = app
        .create_invite(
            &org.owner.access,
            &other,
            json!({ "email": "someone.else@example.com" }),
        )
        .await;
    app.post_empty(
        &format!(
            "/api/invites/{}/accept",
            invite["token"].as_str().expect("token")
        ),
        &mia.access,
    )
    .await
    .expect_error(403, "forbidden");
    let mine = app
        .get("/api/workspaces", &mia.access)
        .await
        .expect_json(200);
    assert_eq!(mine.as_array().map(Vec::len), Some(1));
    let listed = app
        .get(
            &format!("/api/workspaces/{other}/invites"),
            &org.owner.access,
        )
        .await
        .expect_json(200);
    assert_eq!(listed[0]["uses"], 0);
}

#[tokio::test]
async fn revoking_an_invite_is_final_and_audited() {
    let app = spawn_app().await;
    let org = app.setup_owner().await;
    let invite = app
        .create_invite(&org.owner.access, &org.ws, json!({}))
        .await;
    let id = invite["id"].as_str().expect("id");
    let path = format!("/api/workspaces/{}/invites/{id}", org.ws);
    app.delete(&path, &org.owner.access).await.expect(204);
    app.delete(&path, &org.owner.access)
        .await
        .expect_error(404, "not_found");
    app.delete(
        &format!(
            "/api/workspaces/{}/invites/{}",
            org.ws,
            uuid::Uuid::now_v7()
        ),
        &org.owner.access,
    )
    .await
    .expect_error(404, "not_found");
    let listed = app
        .get(
            &format!("/api/workspaces/{}/invites", org.ws),
            &org.owner.access,
        )
        .await
        .expect_json(200);
    assert_eq!(listed[0]["revoked"], true);
    let audit = app
        .audit(&org.owner.access, &org.ws, "&action=invite.revoked")
        .await;
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0]["target_id"], id);
    assert_eq!(audit[0]["target_type"], "invite");
}
