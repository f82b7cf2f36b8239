//! My account: profile, avatar, password, signed-in devices.

use reqwest::Method;
use serde_json::json;

use crate::harness::*;

#[tokio::test]
async fn me_shows_my_profile_and_my_workspaces() {
    let app = spawn_app().await;
    let org = app.setup_owner().await;
    let second = app.create_workspace(&org.owner, "Second Shop").await;
    let me = app.get("/api/me", &org.owner.access).await.expect_json(200);
    let user = me["user"].as_object().expect("user");
    let mut keys: Vec<&str> = user.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "avatar_url",
            "created_at",
            "display_name",
            "email",
            "id",
            "locale",
            "share_read_receipts",
            "status_text",
            "time_zone",
            "username"
        ],
        "User has exactly the contract's fields (no password hash, no internals)"
    );
    let names: Vec<&str> = me["workspaces"]
        .as_array()
        .expect("workspaces")
        .iter()
        .filter_map(|w| w["name"].as_str())
        .collect();
    assert_eq!(names, [WORKSPACE_NAME, "Second Shop"]);
    assert_eq!(me["workspaces"][1]["id"], second.as_str());
    assert_eq!(me["workspaces"][1]["role"], "owner");
}

#[tokio::test]
async fn profile_changes_are_saved() {
    let app = spawn_app().await;
    let org = app.setup_owner().await;
    let user = app
        .patch(
            "/api/me",
            &org.owner.access,
            json!({ "display_name": "  Olivia O.  ", "locale": "zh-cn", "time_zone": "Asia/Shanghai" }),
        )
        .await
        .expect_json(200);
    assert_eq!(user["display_name"], "Olivia O.");
    assert_eq!(user["locale"], "zh-CN");
    assert_eq!(user["time_zone"], "Asia/Shanghai");
    // Absent fields stay as they are.
    let user = app
        .patch("/api/me", &org.owner.access, json!({ "time_zone": "UTC" }))
        .await
        .expect_json(200);
    assert_eq!(user["display_name"], "Olivia O.");
    assert_eq!(user["locale"], "zh-CN");
    assert_eq!(user["time_zone"], "UTC");
    let me = app.get("/api/me", &org.owner.access).await.expect_json(200);
    assert_eq!(me["user"], user);
    // A name of 64 characters (not bytes) is fine.
    let long = "王".repeat(64);
    let user = app
        .patch(
            "/api/me",
            &org.owner.access,
            json!({ "display_name": long }),
        )
        .await
        .expect_json(200);
    assert_eq!(user["display_name"], long.as_str());
}

#[tokio::test]
async fn invalid_profile_changes_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    let org = app.setup_owner().await;
    let before = app.get("/api/me", &org.owner.access).await.expect_json(200);
    let validation = [
        json!({ "locale": "fr" }),
        json!({ "locale": "" }),
        json!({ "time_zone": "../etc/passwd" }),
        json!({ "time_zone": "" }),
        json!({ "time_zone": "asia/shanghai" }),
        json!({ "time_zone": format!("Europe/{}", "A".repeat(64)) }),
        json!({ "display_name": "" }),
        json!({ "display_name": "x".repeat(65) }),
        json!({ "display_name": "tab\there" }),
        // A valid field does not carry an invalid one through.
        json!({ "display_name": "Fine Name", "locale": "xx" }),
    ];
    for body in validation {
        let reply = app.patch("/api/me", &org.owner.access, body.clone()).await;
        assert_eq!(reply.status.as_u16(), 422, "{body}: {}", reply.text());
        reply.expect_error(422, "validation");
    }
    let bad_shape = [
        json!({ "email": "new@example.com" }),
        json!({ "username": "newname" }),
        json!({ "display_name": 5 }),
        json!({ "locale": ["en"] }),
        json!("just a string"),
    ];
    for body in bad_shape {
        let reply = app.patch("/api/me", &org.owner.access, body.clone()).await;
        assert_eq!(reply.status.as_u16(), 400, "{body}: {}", reply.text());
        reply.expect_error(400, "bad_request");
    }
    let after = app.get("/api/me", &org.owner.access).await.expect_json(200);
    assert_eq!(before, after);
}

#[tokio::test]
async fn an_uploaded_avatar_is_served_as_a_png_to_people_who_share_a_workspace() {
    let app = spawn_app().await;
    let org = app.setup_owner().await;
    let bob = app.add_member(&org.owner, &org.ws, "bob", "member").await;
    let elsewhere = app.create_workspace(&org.owner, "Elsewhere").await;
    let carol = app
        .add_member(&org.owner, &elsewhere, "carol", "member")
        .await;

    let user = app
        .raw(
            Method::PUT,
            "/api/me/avatar",
            Some(&bob.access),
            Some("image/png"),
            png_bytes(64, 48),
        )
        .await
        .expect_json(200);
    let url = user["avatar_url"].as_str().expect("avatar url").to_owned();
    assert!(
        url.starts_with(&format!("/api/users/{}/avatar", bob.id)),
        "{url}"
    );

    for viewer in [&bob, &org.owner] {
        let reply = app.get(&url, &viewer.access).await.expect(200);
        assert_eq!(reply.header("content-type").as_deref(), Some("image/png"));
        let img = image::load_from_memory_with_format(&reply.bytes, image::ImageFormat::Png)
            .expect("the avatar is a PNG");
        assert_eq!(
            (img.width(), img.height()),
            (256, 256),
            "resized to a square"
        );
    }
    // Carol shares no workspace with Bob.
    app.get(&url, &carol.access)
        .await
        .expect_error(404, "not_found");
    app.get_anon(&url).await.expect_error(401, "unauthorized");
    let members = app
        .get(
            &format!("/api/workspaces/{}/members?q=bob", org.ws),
            &org.owner.access,
        )
        .await
        .expect_json(200);
    assert_eq!(members[0]["avatar_url"], url.as_str());

    // A JPEG is accepted and stored as PNG; the URL changes so caches refresh.
    let user = app
        .raw(
            Method::PUT,
            "/api/me/avatar",
            Some(&bob.access),
            Some("image/jpeg"),
            jpeg_bytes(300, 200),
        )
        .await
        .expect_json(200);
    let url2 = user["avatar_url"].as_str().expect("avatar url").to_owned();
    let reply = app.get(&url2, &org.owner.access).await.expect(200);
    assert_eq!(reply.header("content-type").as_deref(), Some("image/png"));

    let user = app
        .delete("/api/me/avatar", &bob.access)
        .await
        .expect_json(200);
    assert_eq!(user["avatar_url"], serde_json::Value::Null);
    app.get(&url2, &org.owner.access)
        .await
        .expect_error(404, "not_found");
    // No avatar, no problem: deleting again is fine.
    app.delete("/api/me/avatar", &bob.access).await.expect(200);
}

#[tokio::test]
async fn bad_avatar_uploads_are_refused() {
    let app = spawn_app().await;
    let org = app.setup_owner().await;
    let token = Some(org.owner.access.as_str());
    let png = png_bytes(16, 16);
    app.raw(
        Method::PUT,
        "/api/me/avatar",
        token,
        Some("text/plain"),
        png.clone(),
    )
    .await
    .expect_error(415, "unsupported_media_type");
    app.raw(
        Method::PUT,
        "/api/me/avatar",
        token,
        Some("image/svg+xml"),
        b"<svg/>".to_vec(),
    )
    .await
    .expect_error(415, "unsupported_media_type");
    app.raw(Method::PUT, "/api/me/avatar", token, None, png.clone())
        .await
        .expect_error(415, "unsupported_media_type");
    app.raw(
        Method::PUT,
        "/api/me/avatar",
        token,
        Some("image/png"),
        b"definitely not an image".to_vec(),
    )
    .await
    .expect_error(422, "validation");
    app.raw(
        Method::PUT,
        "/api/me/avatar",
        token,
        Some("image/png"),
        Vec::new(),
    )
    .await
    .expect_error(422, "validation");
    // A JPEG labelled as PNG is not decoded as something else.
    app.raw(
        Method::PUT,
        "/api/me/avatar",
        token,
        Some("image/png"),
        jpeg_bytes(16, 16),
    )
    .await
    .expect_error(422, "validation");
    let too_big = vec![0u8; 5 * 1024 * 1024 + 1];
    let reply = app
        .raw(
            Method::PUT,
            "/api/me/avatar",
            token,
            Some("image/png"),
            too_big,
        )
        .await;
    assert_eq!(reply.status.as_u16(), 413, "{}", reply.text());

    let me = app.get("/api/me", &org.owner.access).await.expect_json(200);
    assert_eq!(
        me["user"]["avatar_url"],
        serde_json::Value::Null,
        "nothing was stored"
    );
    // Exactly at the limit the body is read (and here rejected only as a bad image).
    let at_limit = vec![0u8; 5 * 1024 * 1024];
    app.raw(
        Method::PUT,
        "/api/me/avatar",
        token,
        Some("image/png"),
        at_limit,
    )
    .await
    .expect_error(422, "validation");
}

/// Server bug: the avatar route reads the body with axum's plain `Bytes` extractor, so
/// an upload over the limit gets axum's text/plain rejection instead of the API's
/// JSON error body.
#[tokio::test]
async fn an_oversized_avatar_gets_the_json_error_body() {
    let app = spawn_app().await;
    let org = app.setup_owner().await;
    let too_big = vec![0u8; 5 * 1024 * 1024 + 1];
    app.raw(
        Method::PUT,
        "/api/me/avatar",
        Some(&org.owner.access),
        Some("image/png"),
        too_big,
    )
    .await
    .expect_error(413, "payload_too_large");
}

#[tokio::test]
async fn changing_the_password_ends_the_other_sessions() {
    let app = spawn_app().await;
    let org = app.setup_owner().await;
    let phone = app.sign_in(&org.owner).await;
    let path = "/api/me/password";

    app.post(
        path,
        &org.owner.access,
        json!({ "current_password": "wrong-current-pass", "new_password": NEW_PASSWORD }),
    )
    .await
    .expect_error(403, "forbidden");
    app.post(
        path,
        &org.owner.access,
        json!({ "current_password": PASSWORD, "new_password": "password123" }),
    )
    .await
    .expect_error(422, "validation");
    app.post(
        path,
        &org.owner.access,
        json!({ "current_password": PASSWORD, "new_password": "olivia@example.com" }),
    )
    .await
    .expect_error(422, "validation");
    app.post(
        path,
        &org.owner.access,
        json!({ "current_password": PASSWORD }),
    )
    .await
    .expect_error(400, "bad_request");
    // Nothing changed so far.
    app.get("/api/me", &phone.access).await.expect(200);

    app.post(
        path,
        &org.owner.access,
        json!({ "current_password": PASSWORD, "new_password": NEW_PASSWORD }),
    )
    .await
    .expect(204);
    app.get("/api/me", &phone.access)
        .await
        .expect_error(401, "unauthorized");
    app.refresh(&phone.refresh)
        .await
        .expect_error(401, "unauthorized");
    app.get("/api/me", &org.owner.access).await.expect(200);
    app.refresh(&org.owner.refresh).await.expect(200);

    app.login(OWNER_USERNAME, PASSWORD)
        .await
        .expect_error(401, "unauthorized");
    app.login(OWNER_USERNAME, NEW_PASSWORD).await.expect(200);
    let audit = app
        .audit(&org.owner.access, &org.ws, "&action=auth.password_changed")
        .await;
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0]["actor_id"], org.owner.id.as_str());
}

#[tokio::test]
async fn the_sessions_list_shows_devices_and_marks_the_current_one() {
    let app = spawn_app().await;
    let org = app.setup_owner().await;
    let chrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36";
    let laptop = send(
        app.client
            .post(app.url("/api/auth/login"))
            .header("user-agent", chrome)
            .json(&json!({ "login": OWNER_EMAIL, "password": PASSWORD })),
    )
    .await
    .expect_json(200);
    let laptop = Account::from_auth(&laptop, PASSWORD);
    let named = send(
        app.client
            .post(app.url("/api/auth/login"))
            .header("user-agent", chrome)
            .json(
                &json!({ "login": OWNER_EMAIL, "password": PASSWORD, "device": "  Work laptop  " }),
            ),
    )
    .await
    .expect_json(200);
    let named = Account::from_auth(&named, PASSWORD);

    let sessions = app
        .get("/api/me/sessions", &laptop.access)
        .await
        .expect_json(200);
    let sessions = sessions.as_array().expect("sessions");
    assert_eq!(sessions.len(), 3);
    let find = |id: &str| {
        sessions
            .iter()
            .find(|s| s["id"] == id)
            .unwrap_or_else(|| panic!("session {id} listed"))
            .clone()
    };
    let this = find(&laptop.session);
    assert_keys(
        &this,
        &[
            "id",
            "device",
            "user_agent",
            "ip",
            "created_at",
            "last_seen_at",
            "current",
        ],
    );
    assert_eq!(this["current"], true);
    assert_eq!(this["device"], "Chrome on Windows");
    assert_eq!(this["user_agent"], chrome);
    assert_eq!(this["ip"], "127.0.0.1");
    assert!(this["created_at"].is_string() && this["last_seen_at"].is_string());
    assert_eq!(find(&named.session)["device"], "Work laptop");
    assert_eq!(find(&named.session)["current"], false);
    assert_eq!(find(&org.owner.session)["device"], "API client");
    assert_eq!(
        find(&org.owner.session)["user_agent"],
        serde_json::Value::Null
    );
    assert_eq!(sessions.iter().filter(|s| s["current"] == true).count(), 1);

    app.delete(
        &format!("/api/me/sessions/{}", named.session),
        &laptop.access,
    )
    .await
    .expect(204);
    let sessions = app
        .get("/api/me/sessions", &laptop.access)
        .await
        .expect_json(200);
    assert_eq!(sessions.as_array().map(Vec::len), Some(2));
    app.delete(
        &format!("/api/me/sessions/{}", named.session),
        &laptop.access,
    )
    .await
    .expect_error(404, "not_found");
    app.delete(
        &format!("/api/me/sessions/{}", uuid::Uuid::now_v7()),
        &laptop.access,
    )
    .await
    .expect_error(404, "not_found");
}

#[tokio::test]
async fn nobody_can_end_another_persons_session() {
    let app = spawn_app().await;
    let org = app.setup_owner().await;
    let bob = app.add_member(&org.owner, &org.ws, "bob", "admin").await;
    app.delete(
        &format!("/api/me/sessions/{}", org.owner.session),
        &bob.access,
    )
    .await
    .expect_error(404, "not_found");
    app.get("/api/me", &org.owner.access).await.expect(200);
    let sessions = app
        .get("/api/me/sessions", &bob.access)
        .await
        .expect_json(200);
    assert_eq!(
        sessions.as_array().map(Vec::len),
        Some(1),
        "only Bob's own session is listed"
    );
    assert_eq!(sessions[0]["id"], bob.session.as_str());
}
