//! Password-reset links: an admin makes one, the person sets a new password with it
//! once, every old session ends, and the rules for who may reset whom hold.

use serde_json::json;

use crate::harness::*;

fn reset_path(ws: &str, user: &str) -> String {
    format!("/api/workspaces/{ws}/members/{user}/password-reset")
}

#[tokio::test]
async fn a_reset_link_sets_a_new_password_once_and_ends_every_old_session() {
    let app = spawn_app().await;
    let org = app.setup_owner().await;
    let mia = app.add_member(&org.owner, &org.ws, "mia", "member").await;
    let mut socket = app.ws_connect_and_auth(&mia.access).await;

    let link = app
        .post_empty(&reset_path(&org.ws, &mia.id), &org.owner.access)
        .await
        .expect_json(201);
    let token = link["token"].as_str().expect("token").to_owned();
    let url = link["url"].as_str().expect("url");
    assert!(
        url.ends_with(&format!("/reset-password#{token}")),
        "the link carries the token in its fragment: {url}"
    );
    // A newer link replaces the first.
    let link = app
        .post_empty(&reset_path(&org.ws, &mia.id), &org.owner.access)
        .await
        .expect_json(201);
    let old_token = token;
    let token = link["token"].as_str().expect("token").to_owned();
    assert_ne!(old_token, token);
    app.get_anon(&format!("/api/auth/password-reset/{old_token}"))
        .await
        .expect_error(404, "not_found");

    let preview = app
        .get_anon(&format!("/api/auth/password-reset/{token}"))
        .await
        .expect_json(200);
    assert_eq!(preview["username"], "mia");
    assert_eq!(preview["email"], mia.email.as_str());

    // A weak password is refused and leaves the link usable.
    app.post_anon(
        &format!("/api/auth/password-reset/{token}"),
        json!({ "new_password": "mia" }),
    )
    .await
    .expect_error(422, "validation");
    app.post_anon(
        &format!("/api/auth/password-reset/{old_token}"),
        json!({ "new_password": NEW_PASSWORD }),
    )
    .await
    .expect_error(404, "not_found");
    app.get("/api/me", &mia.access).await.expect(200);

    app.post_anon(
        &format!("/api/auth/password-reset/{token}"),
        json!({ "new_password": NEW_PASSWORD }),
    )
    .await
    .expect(204);
    ws_expect_close(&mut socket, 4001).await;
    app.get("/api/me", &mia.access)
        .await
        .expect_error(401, "unauthorized");
    app.refresh(&mia.refresh)
        .await
        .expect_error(401, "unauthorized");
    app.login("mia", PASSWORD)
        .await
        .expect_error(401, "unauthorized");
    app.login("mia", NEW_PASSWORD).await.expect(200);

    // Used up.
    app.post_anon(
        &format!("/api/auth/password-reset/{token}"),
        json!({ "new_password": "another long passphrase 42" }),
    )
    .await
    .expect_error(404, "not_found");
    app.login("mia", NEW_PASSWORD).await.expect(200);

    let actions: Vec<String> = app
        .audit(&org.owner.access, &org.ws, "")
        .await
        .iter()
        .filter_map(|e| e["action"].as_str().map(str::to_owned))
        .filter(|a| a.contains("password_reset"))
        .collect();
    assert_eq!(
        actions,
        [
            "auth.password_reset",
            "member.password_reset_link",
            "member.password_reset_link"
        ]
    );
}

#[tokio::test]
async fn reset_links_follow_the_rules_for_who_may_act_on_an_account() {
    let app = spawn_app().await;
    let org = app.setup_owner().await;
    let admin = app.add_member(&org.owner, &org.ws, "adam", "admin").await;
    let mia = app.add_member(&org.owner, &org.ws, "mia", "member").await;
    let gus = app.add_member(&org.owner, &org.ws, "gus", "guest").await;
    let path = |id: &str| reset_path(&org.ws, id);

    // Members and guests may not; admins may not reset owners, nor themselves.
    app.post_empty(&path(&gus.id), &mia.access)
        .await
        .expect_error(403, "forbidden");
    app.post_empty(&path(&mia.id), &gus.access)
        .await
        .expect_error(403, "forbidden");
    app.post_empty(&path(&org.owner.id), &admin.access)
        .await
        .expect_error(403, "forbidden");
    app.post_empty(&path(&admin.id), &admin.access)
        .await
        .expect_error(409, "conflict");
    app.post_empty(&path(&uuid::Uuid::now_v7().to_string()), &admin.access)
        .await
        .expect_error(404, "not_found");
    app.post_empty(&path(&gus.id), &admin.access)
        .await
        .expect(201);

    // Someone who also belongs to a workspace the admin does not run is out of reach:
    // the account is shared, so a reset would open that workspace too.
    let other = app.create_workspace(&org.owner, "Side Project").await;
    let invite = app
        .create_invite(&org.owner.access, &other, json!({}))
        .await;
    app.post_empty(
        &format!(
            "/api/invites/{}/accept",
            invite["token"].as_str().expect("token")
        ),
        &mia.access,
    )
    .await
    .expect(200);
    app.post_empty(&path(&mia.id), &admin.access)
        .await
        .expect_error(409, "conflict");
    app.post_empty(&path(&mia.id), &org.owner.access)
        .await
        .expect(201);

    // An admin of another workspace learns nothing.
    let outsider_ws = app.create_workspace(&org.owner, "Elsewhere").await;
    let outsider = app
        .add_member(&org.owner, &outsider_ws, "xavier", "admin")
        .await;
    app.post_empty(&path(&mia.id), &outsider.access)
        .await
        .expect_error(404, "not_found");

    // A deactivated account gets no link, and an earlier link stops working.
    let link = app
        .post_empty(&path(&gus.id), &org.owner.access)
        .await
        .expect_json(201);
    let token = link["token"].as_str().expect("token");
    app.post_empty(
        &format!("/api/workspaces/{}/members/{}/deactivate", org.ws, gus.id),
        &org.owner.access,
    )
    .await
    .expect(200);
    app.post_empty(&path(&gus.id), &org.owner.access)
        .await
        .expect_error(409, "conflict");
    app.post_anon(
        &format!("/api/auth/password-reset/{token}"),
        json!({ "new_password": NEW_PASSWORD }),
    )
    .await
    .expect_error(404, "not_found");

    // Garbage tokens are just unknown.
    for bad in ["x", "%00", &"a".repeat(5000)] {
        app.get_anon(&format!("/api/auth/password-reset/{bad}"))
            .await
            .expect_error(404, "not_found");
    }
}
