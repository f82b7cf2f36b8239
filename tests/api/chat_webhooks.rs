//! Incoming webhooks: created by channel or workspace admins, posting plain and
//! DingTalk-style JSON as a named bot, revoked, and refused in archived channels.

use serde_json::{Value, json};

use crate::chat_support::*;
use crate::harness::*;

/// POST JSON to a webhook's absolute URL, without authentication.
async fn hook(app: &TestApp, url: &str, body: Value) -> Reply {
    send(app.client.post(url).json(&body)).await
}

#[tokio::test]
async fn a_webhook_posts_plain_and_dingtalk_messages_as_its_bot() {
    let app = spawn_app().await;
    let (org, people) = org_with(&app, &["bob"]).await;
    let (ann, bob) = (&org.owner, &people[0]);
    let ch = channel(&app, &ann.access, &org.ws, "builds", "public", &[bob]).await;
    let hooks = format!("/api/channels/{ch}/webhooks");
    app.post(&hooks, &bob.access, json!({ "name": "Sneaky" }))
        .await
        .expect_error(403, "forbidden");
    app.get(&hooks, &bob.access)
        .await
        .expect_error(403, "forbidden");
    app.post(&hooks, &ann.access, json!({ "name": " " }))
        .await
        .expect_error(422, "validation");
    let created = app
        .post(&hooks, &ann.access, json!({ "name": "CI Bot" }))
        .await
        .expect_json(201);
    assert_keys(&created, &["id", "channel_id", "name", "url", "created_at"]);
    assert_eq!(created["name"], "CI Bot");
    let url = s(&created, "url");
    assert!(
        url.starts_with(&format!("{}/api/hooks/", app.base)),
        "{url}"
    );
    let listed = app.get(&hooks, &ann.access).await.expect_json(200);
    assert_eq!(listed.as_array().map(Vec::len), Some(1));
    assert_eq!(
        listed[0]["url"],
        Value::Null,
        "the secret URL is shown once"
    );

    let mut bob_ws = app.ws_connect_and_auth(&bob.access).await;
    let posted = hook(&app, &url, json!({ "text": "build #42 passed" }))
        .await
        .expect_json(200);
    assert_eq!(posted["ok"], true);
    let ev = message_event(&mut bob_ws).await;
    let m = &ev["message"];
    assert_eq!(m["id"], posted["message_id"]);
    assert_eq!(m["sender"], Value::Null);
    assert_eq!(m["bot_name"], "CI Bot");
    assert_eq!(m["body"], "build #42 passed");

    hook(
        &app,
        &url,
        json!({ "msgtype": "text", "text": { "content": "部署完成" } }),
    )
    .await
    .expect(200);
    assert_eq!(
        message_event(&mut bob_ws).await["message"]["body"],
        "部署完成"
    );
    hook(
        &app,
        &url,
        json!({ "msgtype": "markdown", "markdown": { "title": "t", "text": "**green**" }, "username": "Deployer" }),
    )
    .await
    .expect(200);
    let m = message_event(&mut bob_ws).await["message"].clone();
    assert_eq!(m["bot_name"], "Deployer");
    assert!(s(&m, "html").contains("<strong>green</strong>"), "{m}");

    for bad in [
        json!({}),
        json!({ "text": "   " }),
        json!({ "text": { "nope": 1 } }),
    ] {
        hook(&app, &url, bad).await.expect_error(422, "validation");
    }
    assert_eq!(messages(&app, &bob.access, &ch, "").await.len(), 3);

    // A channel admin who is not a workspace admin may create webhooks too.
    let bobs = channel(&app, &bob.access, &org.ws, "bobs-corner", "public", &[]).await;
    app.post(
        &format!("/api/channels/{bobs}/webhooks"),
        &bob.access,
        json!({ "name": "Bob Bot" }),
    )
    .await
    .expect(201);
}

#[tokio::test]
async fn a_revoked_webhook_is_gone_and_an_archived_channel_refuses_posts() {
    let app = spawn_app().await;
    let org = app.setup_owner().await;
    let ann = &org.owner;
    let ch = channel(&app, &ann.access, &org.ws, "builds", "public", &[]).await;
    let hooks = format!("/api/channels/{ch}/webhooks");
    let first = app
        .post(&hooks, &ann.access, json!({ "name": "One" }))
        .await
        .expect_json(201);
    let second = app
        .post(&hooks, &ann.access, json!({ "name": "Two" }))
        .await
        .expect_json(201);

    app.delete(&format!("{hooks}/{}", s(&first, "id")), &ann.access)
        .await
        .expect(204);
    hook(&app, &s(&first, "url"), json!({ "text": "hello?" }))
        .await
        .expect_error(404, "not_found");
    app.delete(&format!("{hooks}/{}", s(&first, "id")), &ann.access)
        .await
        .expect_error(404, "not_found");
    let listed = app.get(&hooks, &ann.access).await.expect_json(200);
    assert_eq!(ids(&listed), [s(&second, "id")]);
    hook(
        &app,
        &format!("{}/api/hooks/not-a-real-token", app.base),
        json!({ "text": "x" }),
    )
    .await
    .expect_error(404, "not_found");

    app.patch(
        &format!("/api/channels/{ch}"),
        &ann.access,
        json!({ "archived": true }),
    )
    .await
    .expect(200);
    hook(&app, &s(&second, "url"), json!({ "text": "still there?" }))
        .await
        .expect_error(409, "conflict");
    assert_eq!(messages(&app, &ann.access, &ch, "").await.len(), 0);
    let audit = app.audit(&ann.access, &org.ws, "&action=webhook.").await;
    let actions: Vec<&str> = audit.iter().filter_map(|e| e["action"].as_str()).collect();
    assert_eq!(
        actions,
        ["webhook.revoked", "webhook.created", "webhook.created"]
    );
}
