//! First-run setup: the one-time link creates the owner and the first workspace.

use serde_json::json;

use crate::harness::*;

fn setup_body(token: &str) -> serde_json::Value {
    json!({
        "token": token,
        "email": OWNER_EMAIL,
        "username": OWNER_USERNAME,
        "display_name": OWNER_NAME,
        "password": PASSWORD,
        "workspace_name": WORKSPACE_NAME,
    })
}

#[tokio::test]
async fn setup_creates_the_owner_and_the_first_workspace_then_closes() {
    let app = spawn_app().await;
    let status = app.get_anon("/api/setup").await.expect_json(200);
    assert_eq!(status, json!({ "required": true }));

    let token = app.setup_token.clone().expect("setup token");
    let reply = app
        .post_anon("/api/setup", setup_body(&token))
        .await
        .expect(201);
    assert_eq!(reply.header("cache-control").as_deref(), Some("no-store"));
    let body = reply.json();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert!(
        body["refresh_token"]
            .as_str()
            .is_some_and(|t| t.len() >= 32)
    );
    let user = &body["user"];
    assert_eq!(user["email"], OWNER_EMAIL);
    assert_eq!(user["username"], OWNER_USERNAME);
    assert_eq!(user["display_name"], OWNER_NAME);
    assert_eq!(user["locale"], "en");
    assert_eq!(user["time_zone"], "UTC");
    assert_eq!(user["avatar_url"], serde_json::Value::Null);
    assert!(
        user["created_at"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );

    let owner = Account::from_auth(&body, PASSWORD);
    let me = app.get("/api/me", &owner.access).await.expect_json(200);
    let workspaces = me["workspaces"].as_array().expect("workspaces");
    assert_eq!(workspaces.len(), 1);
    assert_eq!(workspaces[0]["name"], WORKSPACE_NAME);
    assert_eq!(workspaces[0]["role"], "owner");
    assert!(
        workspaces[0]["slug"]
            .as_str()
            .is_some_and(|s| s.starts_with("acme-robotics"))
    );

    let status = app.get_anon("/api/setup").await.expect_json(200);
    assert_eq!(status, json!({ "required": false }));

    let ws = workspaces[0]["id"].as_str().expect("ws id");
    let audit = app
        .audit(&owner.access, ws, "&action=setup.completed")
        .await;
    assert_eq!(audit.len(), 1, "setup is audited: {audit:?}");
    assert_eq!(audit[0]["actor_id"], owner.id.as_str());
}

#[tokio::test]
async fn the_setup_link_works_only_once() {
    let app = spawn_app().await;
    let org = app.setup_owner().await;
    let token = app.setup_token.clone().expect("setup token");
    let mut second = setup_body(&token);
    second["email"] = json!("mallory@example.com");
    second["username"] = json!("mallory");
    app.post_anon("/api/setup", second)
        .await
        .expect_error(404, "not_found");

    let members = app
        .get(
            &format!("/api/workspaces/{}/members", org.ws),
            &org.owner.access,
        )
        .await
        .expect_json(200);
    assert_eq!(members.as_array().map(Vec::len), Some(1));
    app.login("mallory", PASSWORD)
        .await
        .expect_error(401, "unauthorized");
    let mine = app
        .get("/api/workspaces", &org.owner.access)
        .await
        .expect_json(200);
    assert_eq!(mine.as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn a_wrong_setup_token_is_refused_and_setup_stays_open() {
    let app = spawn_app().await;
    app.post_anon("/api/setup", setup_body("not-the-token"))
        .await
        .expect_error(404, "not_found");
    let status = app.get_anon("/api/setup").await.expect_json(200);
    assert_eq!(status["required"], true);
    app.login(OWNER_USERNAME, PASSWORD)
        .await
        .expect_error(401, "unauthorized");
}

#[tokio::test]
async fn setup_with_invalid_fields_creates_nothing_and_keeps_the_link() {
    let app = spawn_app().await;
    let token = app.setup_token.clone().expect("setup token");
    let cases = [
        ("email", json!("not-an-email")),
        ("username", json!("ab")),
        ("username", json!("has space")),
        ("password", json!("short")),
        ("password", json!("password123")),
        ("display_name", json!("")),
        ("display_name", json!("x".repeat(65))),
        ("workspace_name", json!("   ")),
        ("workspace_name", json!("w".repeat(81))),
        ("locale", json!("fr")),
    ];
    for (field, value) in cases {
        let mut body = setup_body(&token);
        body[field] = value.clone();
        let reply = app.post_anon("/api/setup", body).await;
        assert_eq!(
            reply.status.as_u16(),
            422,
            "{field} = {value}: {}",
            reply.text()
        );
        reply.expect_error(422, "validation");
    }
    let status = app.get_anon("/api/setup").await.expect_json(200);
    assert_eq!(status["required"], true, "nothing was created");
    app.login(OWNER_USERNAME, PASSWORD)
        .await
        .expect_error(401, "unauthorized");

    // The link was not used up by the failed attempts.
    app.post_anon("/api/setup", setup_body(&token))
        .await
        .expect(201);
}

#[tokio::test]
async fn no_setup_token_is_issued_once_an_account_exists() {
    let app = spawn_app().await;
    app.setup_owner().await;
    // What `App::build` runs on every start: once an account exists, no setup link.
    let token = convene::accounts::setup::issue_token(&app.state.store)
        .await
        .expect("issue_token");
    assert!(token.is_none());
}
