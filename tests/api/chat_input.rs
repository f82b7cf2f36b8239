//! Bad input to chat: over-long and empty messages, bad emoji, malformed ids,
//! unknown and binary websocket frames; and Markdown that tries to smuggle script.

use futures_util::SinkExt;
use reqwest::Method;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::chat_support::*;
use crate::harness::*;

/// Assert that rendered HTML can run nothing: no `<img>` or `<script>` tag, and no
/// event-handler attribute or `javascript:` URL in any tag. (Typed HTML shown as
/// escaped text may still mention them.)
#[track_caller]
fn assert_inert(html: &str) {
    let lower = html.to_lowercase();
    assert!(!lower.contains("<img"), "an <img> tag survived: {html}");
    assert!(
        !lower.contains("<script"),
        "a <script> tag survived: {html}"
    );
    for tag in lower.split('<').skip(1) {
        let inside = tag.split('>').next().unwrap_or_default();
        for bad in ["onerror", "onload", "onclick", "javascript:", "src="] {
            assert!(
                !inside.contains(bad),
                "{bad} survived in <{inside}>: {html}"
            );
        }
    }
}

#[tokio::test]
async fn markdown_cannot_smuggle_script_into_the_rendered_html() {
    let app = spawn_app().await;
    let (org, people) = org_with(&app, &["bob"]).await;
    let (ann, bob) = (&org.owner, &people[0]);
    let ch = channel(&app, &ann.access, &org.ws, "general", "public", &[bob]).await;
    let plain = post(
        &app,
        &ann.access,
        &ch,
        "<img src=x onerror=alert(1)> [x](javascript:alert(1))",
    )
    .await;
    let html = s(&plain, "html");
    assert_inert(&html);
    assert!(!html.contains("javascript:"), "{html}");
    assert!(!html.to_lowercase().contains("<img"), "{html}");
    let evil = "hi <img src=x onerror=alert(1)> and [x](javascript:alert(1)) and \
                [y](JaVaScRiPt:alert(2)) <a href=\"javascript:alert(3)\" onclick=\"alert(4)\">z</a> \
                <script>alert(5)</script> ![img](https://evil.example/t.png) <svg onload=alert(6)>";
    let m = post(&app, &ann.access, &ch, evil).await;
    assert_eq!(m["body"], evil, "the source is kept as typed");
    assert_inert(&s(&m, "html"));
    assert!(
        s(&m, "html").contains("&lt;img"),
        "typed HTML shows as text: {}",
        m["html"]
    );

    // The same rules on edit and through a webhook.
    let edited = app
        .patch(
            &format!("/api/messages/{}", s(&m, "id")),
            &ann.access,
            json!({ "body": format!("{evil} (edited)") }),
        )
        .await
        .expect_json(200);
    assert_inert(&s(&edited, "html"));
    let webhook = app
        .post(
            &format!("/api/channels/{ch}/webhooks"),
            &ann.access,
            json!({ "name": "Bot" }),
        )
        .await
        .expect_json(201);
    for body in [
        json!({ "text": evil }),
        json!({ "msgtype": "markdown", "markdown": { "title": "t", "text": evil } }),
    ] {
        let posted = send(app.client.post(s(&webhook, "url")).json(&body))
            .await
            .expect_json(200);
        let stored = message(&app, &bob.access, &s(&posted, "message_id")).await;
        assert_inert(&s(&stored, "html"));
    }
    // Safe links stay links, opened safely.
    let link = post(&app, &bob.access, &ch, "see https://example.com/a?b=1").await;
    let html = s(&link, "html");
    assert!(
        html.contains("href=\"https://example.com/a?b=1\""),
        "{html}"
    );
    assert!(
        html.contains("rel=\"noopener noreferrer nofollow\""),
        "{html}"
    );
}

#[tokio::test]
async fn over_long_and_empty_messages_are_refused_and_nothing_is_stored() {
    let app = spawn_app().await;
    let (org, people) = org_with(&app, &["bob"]).await;
    let (ann, bob) = (&org.owner, &people[0]);
    let ch = channel(&app, &ann.access, &org.ws, "general", "public", &[bob]).await;
    let longest = "字".repeat(16_000);
    let ok = post(&app, &ann.access, &ch, &longest).await;
    let mut ann_ws = app.ws_connect_and_auth(&ann.access).await;
    let mut bob_ws = app.ws_connect_and_auth(&bob.access).await;
    let too_long = "字".repeat(16_001);
    for body in [too_long.as_str(), "", "   \n\t "] {
        post_reply(&app, &ann.access, &ch, json!({ "body": body }))
            .await
            .expect_error(422, "validation");
        ws_send(
            &mut ann_ws,
            json!({ "type": "send", "id": "s", "channel_id": ch, "message": { "body": body } }),
        )
        .await;
        let refused = frame(&mut ann_ws).await;
        assert_eq!(refused["type"], "error", "{refused}");
        assert_eq!(refused["id"], "s");
        assert_eq!(refused["code"], "validation");
    }
    // Edits follow the same rules.
    for body in [too_long.as_str(), " "] {
        app.patch(
            &format!("/api/messages/{}", s(&ok, "id")),
            &ann.access,
            json!({ "body": body }),
        )
        .await
        .expect_error(422, "validation");
    }
    post_reply(
        &app,
        &ann.access,
        &ch,
        json!({ "body": "x", "client_key": "k".repeat(101) }),
    )
    .await
    .expect_error(422, "validation");
    post_reply(
        &app,
        &ann.access,
        &ch,
        json!({ "body": "x", "colour": "red" }),
    )
    .await
    .expect_error(400, "bad_request");
    let stored = messages(&app, &bob.access, &ch, "").await;
    assert_eq!(
        stored,
        vec![message(&app, &bob.access, &s(&ok, "id")).await]
    );
    assert_eq!(stored[0]["body"], longest.as_str());
    Notes::open(&app, bob, &org.ws)
        .await
        .assert_quiet(&app, &mut bob_ws)
        .await;
    ws_expect_alive(&mut ann_ws).await;
}

#[tokio::test]
async fn bad_emoji_are_refused() {
    let app = spawn_app().await;
    let org = app.setup_owner().await;
    let ch = channel(&app, &org.owner.access, &org.ws, "general", "public", &[]).await;
    let m = post(&app, &org.owner.access, &ch, "react to me").await;
    let id = s(&m, "id");
    let long = "a".repeat(33);
    for emoji in [
        "a%20b",
        "%3Cscript%3E",
        "%22",
        "%26",
        "%0A",
        long.as_str(),
        "x%2Fy",
    ] {
        let reply = app
            .put(
                &format!("/api/messages/{id}/reactions/{emoji}"),
                &org.owner.access,
                json!(null),
            )
            .await;
        assert!(
            matches!(reply.status.as_u16(), 404 | 422),
            "{emoji}: {} {}",
            reply.status,
            reply.text()
        );
        if emoji != "x%2Fy" {
            reply.expect_error(422, "validation");
        }
    }
    for emoji in ["👍", ":thumbsup:", "%F0%9F%8E%89"] {
        app.put(
            &format!("/api/messages/{id}/reactions/{emoji}"),
            &org.owner.access,
            json!(null),
        )
        .await
        .expect(200);
    }
    let now = message(&app, &org.owner.access, &id).await;
    let emoji: Vec<&str> = now["reactions"]
        .as_array()
        .expect("reactions")
        .iter()
        .filter_map(|r| r["emoji"].as_str())
        .collect();
    assert_eq!(emoji.len(), 3, "{emoji:?}");
    assert!(emoji.contains(&"🎉") && emoji.contains(&"👍") && emoji.contains(&":thumbsup:"));
}

#[tokio::test]
async fn malformed_ids_are_not_found() {
    let app = spawn_app().await;
    let org = app.setup_owner().await;
    let token = &org.owner.access;
    let routes: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, "/api/channels/not-an-id".into(), None),
        (Method::GET, "/api/channels/123/messages".into(), None),
        (
            Method::POST,
            "/api/channels/123/messages".into(),
            Some(json!({ "body": "x" })),
        ),
        (Method::GET, "/api/messages/zzz".into(), None),
        (Method::PUT, "/api/messages/zzz/reactions/👍".into(), None),
        (Method::GET, "/api/messages/zzz/receipts".into(), None),
        (Method::POST, "/api/messages/zzz/ack".into(), None),
        (Method::GET, "/api/files/zzz".into(), None),
        (Method::GET, "/api/workspaces/zzz/channels".into(), None),
        (Method::GET, "/api/workspaces/zzz/search?q=x".into(), None),
        (
            Method::PUT,
            format!("/api/channels/{}/members/zzz", uuid::Uuid::now_v7()),
            None,
        ),
    ];
    for (method, path, body) in routes {
        let reply = app
            .call(method.clone(), &path, Some(token), body.as_ref())
            .await;
        assert_eq!(
            reply.status.as_u16(),
            404,
            "{method} {path}: {}",
            reply.text()
        );
        reply.expect_error(404, "not_found");
    }
    // Well-formed ids of nothing are not found either.
    let nothing = uuid::Uuid::now_v7();
    for path in [
        format!("/api/channels/{nothing}"),
        format!("/api/messages/{nothing}"),
        format!("/api/files/{nothing}"),
    ] {
        app.get(&path, token).await.expect_error(404, "not_found");
    }
}

#[tokio::test]
async fn unknown_websocket_frames_get_errors_and_binary_frames_close_1008() {
    let app = spawn_app().await;
    let org = app.setup_owner().await;
    let ch = channel(&app, &org.owner.access, &org.ws, "general", "public", &[]).await;
    let mut ws = app.ws_connect_and_auth(&org.owner.access).await;
    let frames = [
        json!({ "type": "shout", "id": "1" }),
        json!({ "type": "send", "id": "2", "channel_id": "not-an-id", "message": { "body": "x" } }),
        json!({ "type": "send", "id": "3", "channel_id": ch, "message": { "body": "x", "extra": 1 } }),
        json!({ "type": "read", "channel_id": ch, "seq": "ten" }),
        json!({ "no_type": true }),
    ];
    for f in frames {
        ws_send(&mut ws, f.clone()).await;
        let answer = frame(&mut ws).await;
        assert_eq!(answer["type"], "error", "{f} -> {answer}");
        assert_eq!(answer["code"], "bad_request", "{f} -> {answer}");
        assert!(answer["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    ws.send(Message::text("not json at all"))
        .await
        .expect("send text");
    assert_eq!(
        expect_type(frame(&mut ws).await, "error")["code"],
        "bad_request"
    );
    // A send to a channel that does not exist is answered, not fatal.
    ws_send(
        &mut ws,
        json!({ "type": "send", "id": "4", "channel_id": uuid::Uuid::now_v7(), "message": { "body": "x" } }),
    )
    .await;
    let answer = frame(&mut ws).await;
    assert_eq!(
        (answer["id"].clone(), answer["code"].clone()),
        (json!("4"), json!("not_found"))
    );
    ws_expect_alive(&mut ws).await;
    assert_eq!(
        messages(&app, &org.owner.access, &ch, "").await,
        Vec::<Value>::new()
    );

    ws.send(Message::binary(b"{\"type\":\"ping\"}".to_vec()))
        .await
        .expect("send binary");
    ws_expect_close(&mut ws, 1008).await;
}
