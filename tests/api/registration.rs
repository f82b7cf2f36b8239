//! Registration through invitations and open registration; password rules and
//! duplicate accounts.

use serde_json::{Value, json};

use crate::harness::*;

fn new_person(username: &str) -> Value {
    json!({
        "email": format!("{username}@example.com"),
        "username": username,
        "display_name": display_name_for(username),
        "password": PASSWORD,
    })
}

fn with(mut body: Value, key: &str, value: Value) -> Value {
    body[key] = value;
    body
}

async fn member_count(app: &TestApp, org: &Org) -> usize {
    app.get(
        &format!("/api/workspaces/{}/members", org.ws),
        &org.owner.access,
    )
    .await
    .expect_json(200)
    .as_array()
    .map_or(0, Vec::len)
}

async fn invite_uses(app: &TestApp, org: &Org, id: &Value) -> i64 {
    let invites = app
        .get(
            &format!("/api/workspaces/{}/invites", org.ws),
            &org.owner.access,
        )
        .await
        .expect_json(200);
    invites
        .as_array()
        .expect("invites")
        .iter()
        .find(|i| i["id"] == *id)
        .and_then(|i| i["uses"].as_i64())
        .expect("the invite is listed")
}

#[tokio::test]
async fn an_invite_registers_a_person_with_the_invited_role_and_counts_the_use() {
    let app = spawn_app().await;
    let org = app.setup_owner().await;
    let invite = app
        .create_invite(
            &org.owner.access,
            &org.ws,
            json!({ "role": "admin", "max_uses": 5 }),
        )
        .await;
    let reply = app
        .register(with(
            new_person("bob"),
            "invite_token",
            invite["token"].clone(),
        ))
        .await
        .expect(201);
    assert!(
        reply
            .header("set-cookie")
            .is_some_and(|c| c.starts_with("convene_refresh="))
    );
    let bob = Account::from_auth(&reply.json(), PASSWORD);
    assert_eq!(bob.email, "bob@example.com");

    let me = app.get("/api/me", &bob.access).await.expect_json(200);
    assert_eq!(me["workspaces"][0]["id"], org.ws.as_str());
    assert_eq!(me["workspaces"][0]["role"], "admin");
    assert_eq!(invite_uses(&app, &org, &invite["id"]).await, 1);
    assert_eq!(member_count(&app, &org).await, 2);

    let joined = app
        .audit(&org.owner.access, &org.ws, "&action=member.joined")
        .await;
    assert_eq!(joined.len(), 1);
    assert_eq!(joined[0]["actor_id"], bob.id.as_str());
    assert_eq!(joined[0]["detail"]["via"], "invite");
    assert_eq!(joined[0]["detail"]["role"], "admin");
}

#[tokio::test]
async fn an_invite_stops_working_after_its_last_use() {
    let app = spawn_app().await;
    let org = app.setup_owner().await;
    let invite = app
        .create_invite(&org.owner.access, &org.ws, json!({ "max_uses": 1 }))
        .await;
    let token = invite["token"].as_str().expect("token");
    app.register_via_invite(token, "bob").await;
    app.get_anon(&format!("/api/invites/{token}"))
        .await
        .expect_error(404, "not_found");
    app.register(with(new_person("carol"), "invite_token", json!(token)))
        .await
        .expect_error(404, "not_found");
    assert_eq!(invite_uses(&app, &org, &invite["id"]).await, 1);
    assert_eq!(member_count(&app, &org).await, 2);
    app.login("carol", PASSWORD)
        .await
        .expect_error(401, "unauthorized");
}

#[tokio::test]
async fn an_expired_invite_is_refused() {
    let app = spawn_app().await;
    let org = app.setup_owner().await;
    let invite = app
        .create_invite(&org.owner.access, &org.ws, json!({}))
        .await;
    let token = invite["token"].as_str().expect("token");
    app.get_anon(&format!("/api/invites/{token}"))
        .await
        .expect(200);
    app.expire_all_invites().await;
    app.get_anon(&format!("/api/invites/{token}"))
        .await
        .expect_error(404, "not_found");
    app.register(with(new_person("bob"), "invite_token", json!(token)))
        .await
        .expect_error(404, "not_found");
    app.login("bob", PASSWORD)
        .await
        .expect_error(401, "unauthorized");
    assert_eq!(member_count(&app, &org).await, 1);
}

#[tokio::test]
async fn a_revoked_invite_is_refused() {
    let app = spawn_app().await;
    let org = app.setup_owner().await;
    let invite = app
        .create_invite(&org.owner.access, &org.ws, json!({}))
        .await;
    let token = invite["token"].as_str().expect("token");
    app.delete(
        &format!(
            "/api/workspaces/{}/invites/{}",
            org.ws,
            invite["id"].as_str().expect("id")
        ),
        &org.owner.access,
    )
    .await
    .expect(204);
    app.get_anon(&format!("/api/invites/{token}"))
        .await
        .expect_error(404, "not_found");
    app.register(with(new_person("bob"), "invite_token", json!(token)))
        .await
        .expect_error(404, "not_found");
    assert_eq!(member_count(&app, &org).await, 1);
    assert_eq!(invite_uses(&app, &org, &invite["id"]).await, 0);
}

#[tokio::test]
async fn an_invite_for_one_email_address_refuses_another() {
    let app = spawn_app().await;
    let org = app.setup_owner().await;
    let invite = app
        .create_invite(
            &org.owner.access,
            &org.ws,
            json!({ "email": "Bob@Example.com", "role": "guest" }),
        )
        .await;
    assert_eq!(invite["email"], "bob@example.com", "stored normalised");
    assert_eq!(
        invite["max_uses"], 1,
        "an invitation for one address works once"
    );
    let token = invite["token"].as_str().expect("token");
    let preview = app
        .get_anon(&format!("/api/invites/{token}"))
        .await
        .expect_json(200);
    assert_eq!(preview["email"], "bob@example.com");

    app.register(with(new_person("carol"), "invite_token", json!(token)))
        .await
        .expect_error(403, "forbidden");
    app.login("carol", PASSWORD)
        .await
        .expect_error(401, "unauthorized");
    assert_eq!(
        invite_uses(&app, &org, &invite["id"]).await,
        0,
        "the refused try used nothing"
    );

    let bob = app
        .register(json!({
            "invite_token": token,
            "email": "BOB@example.com",
            "username": "bob",
            "display_name": "Bob",
            "password": PASSWORD,
        }))
        .await
        .expect_json(201);
    let bob = Account::from_auth(&bob, PASSWORD);
    let me = app.get("/api/me", &bob.access).await.expect_json(200);
    assert_eq!(me["workspaces"][0]["role"], "guest");
}

#[tokio::test]
async fn open_registration_works_only_while_the_workspace_allows_it() {
    let app = spawn_app().await;
    let org = app.setup_owner().await;
    let listed = app
        .get_anon("/api/auth/open-workspaces")
        .await
        .expect_json(200);
    assert_eq!(listed, json!([]));
    app.register(with(new_person("bob"), "workspace_id", json!(org.ws)))
        .await
        .expect_error(404, "not_found");

    let ws = app
        .patch(
            &format!("/api/workspaces/{}", org.ws),
            &org.owner.access,
            json!({ "open_registration": true }),
        )
        .await
        .expect_json(200);
    assert_eq!(ws["open_registration"], true);
    let listed = app
        .get_anon("/api/auth/open-workspaces")
        .await
        .expect_json(200);
    let listed = listed.as_array().expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["id"], org.ws.as_str());
    assert_eq!(listed[0]["name"], WORKSPACE_NAME);
    assert!(listed[0]["slug"].is_string());
    assert_eq!(
        listed[0].as_object().map(|o| o.len()),
        Some(3),
        "only id, name and slug are public"
    );

    let bob = app
        .register(with(new_person("bob"), "workspace_id", json!(org.ws)))
        .await
        .expect_json(201);
    let bob = Account::from_auth(&bob, PASSWORD);
    let me = app.get("/api/me", &bob.access).await.expect_json(200);
    assert_eq!(me["workspaces"][0]["role"], "member");
    let joined = app
        .audit(&org.owner.access, &org.ws, "&action=member.joined")
        .await;
    assert_eq!(joined[0]["detail"]["via"], "open_registration");

    app.patch(
        &format!("/api/workspaces/{}", org.ws),
        &org.owner.access,
        json!({ "open_registration": false }),
    )
    .await
    .expect(200);
    app.register(with(new_person("carol"), "workspace_id", json!(org.ws)))
        .await
        .expect_error(404, "not_found");
    assert_eq!(member_count(&app, &org).await, 2);
}

#[tokio::test]
async fn registration_needs_exactly_one_way_in() {
    let app = spawn_app().await;
    let org = app.setup_owner().await;
    app.register(new_person("bob"))
        .await
        .expect_error(422, "validation");
    let invite = app
        .create_invite(&org.owner.access, &org.ws, json!({}))
        .await;
    let both = with(
        with(new_person("bob"), "invite_token", invite["token"].clone()),
        "workspace_id",
        json!(org.ws),
    );
    app.register(both).await.expect_error(422, "validation");
    app.register(with(
        new_person("bob"),
        "workspace_id",
        json!(uuid::Uuid::now_v7()),
    ))
    .await
    .expect_error(404, "not_found");
    app.register(with(
        new_person("bob"),
        "invite_token",
        json!("no-such-invite"),
    ))
    .await
    .expect_error(404, "not_found");
    assert_eq!(member_count(&app, &org).await, 1);
}

#[tokio::test]
async fn weak_passwords_are_refused_and_nothing_is_created() {
    let app = spawn_app().await;
    let org = app.setup_owner().await;
    let invite = app
        .create_invite(&org.owner.access, &org.ws, json!({}))
        .await;
    let base = with(
        new_person("bobby.tables"),
        "invite_token",
        invite["token"].clone(),
    );
    for weak in [
        "short".to_owned(),
        "password123".to_owned(),
        "qwertyuiop".to_owned(),
        "12345678".to_owned(),
        "bobby.tables".to_owned(),
        "bobby.tables@example.com".to_owned(),
        "x".repeat(300),
    ] {
        let reply = app
            .register(with(base.clone(), "password", json!(weak)))
            .await;
        assert_eq!(reply.status.as_u16(), 422, "{weak:?}: {}", reply.text());
        reply.expect_error(422, "validation");
    }
    assert_eq!(member_count(&app, &org).await, 1);
    assert_eq!(invite_uses(&app, &org, &invite["id"]).await, 0);
    app.login("bobby.tables", "password123")
        .await
        .expect_error(401, "unauthorized");
}

#[tokio::test]
async fn a_taken_email_or_username_is_a_conflict_and_changes_nothing() {
    let app = spawn_app().await;
    let org = app.setup_owner().await;
    let invite = app
        .create_invite(&org.owner.access, &org.ws, json!({}))
        .await;
    let token = invite["token"].clone();
    let same_email = json!({
        "invite_token": token,
        "email": "OLIVIA@example.com",
        "username": "olivia2",
        "display_name": "Other Olivia",
        "password": PASSWORD,
    });
    app.register(same_email).await.expect_error(409, "conflict");
    let same_username = json!({
        "invite_token": token,
        "email": "olivia2@example.com",
        "username": "Olivia",
        "display_name": "Other Olivia",
        "password": PASSWORD,
    });
    app.register(same_username)
        .await
        .expect_error(409, "conflict");
    assert_eq!(member_count(&app, &org).await, 1);
    assert_eq!(invite_uses(&app, &org, &invite["id"]).await, 0);
    // The original account is untouched.
    let me = app.sign_in(&org.owner).await;
    assert_eq!(me.display_name, OWNER_NAME);
    app.login("olivia2@example.com", PASSWORD)
        .await
        .expect_error(401, "unauthorized");
}

#[tokio::test]
async fn registration_validates_every_field() {
    let app = spawn_app().await;
    let org = app.setup_owner().await;
    let invite = app
        .create_invite(&org.owner.access, &org.ws, json!({}))
        .await;
    let base = with(new_person("bob"), "invite_token", invite["token"].clone());
    for (field, value) in [
        ("email", json!("bob")),
        ("email", json!("bob@localhost")),
        ("email", json!(format!("{}@example.com", "b".repeat(250)))),
        ("username", json!("_bob")),
        ("username", json!("b".repeat(33))),
        ("username", json!("bob!")),
        ("display_name", json!("   ")),
        ("display_name", json!("n".repeat(65))),
        ("display_name", json!("bell\u{0007}")),
        ("locale", json!("de")),
    ] {
        let reply = app.register(with(base.clone(), field, value.clone())).await;
        assert_eq!(
            reply.status.as_u16(),
            422,
            "{field} = {value}: {}",
            reply.text()
        );
        reply.expect_error(422, "validation");
    }
    assert_eq!(member_count(&app, &org).await, 1);
    // Locale is accepted case-insensitively and stored canonically.
    let bob = app
        .register(with(base, "locale", json!("ZH-cn")))
        .await
        .expect_json(201);
    assert_eq!(bob["user"]["locale"], "zh-CN");
}
