//! Custom status, presence over REST, and the thread follow state.

use serde_json::json;

use crate::chat_support::*;
use crate::harness::*;

#[tokio::test]
async fn a_custom_status_shows_in_presence_and_profile_and_long_ones_are_refused() {
    let app = spawn_app().await;
    let (org, people) = org_with(&app, &["rosa"]).await;
    let rosa = &people[0];
    let set = app
        .put(
            "/api/me/status",
            &rosa.access,
            json!({ "text": "  In meetings until 3pm " }),
        )
        .await
        .expect_json(200);
    assert_eq!(set["status_text"], "In meetings until 3pm");

    let presence = app
        .get(
            &format!("/api/workspaces/{}/presence?user_ids={}", org.ws, rosa.id),
            &org.owner.access,
        )
        .await
        .expect_json(200);
    assert_eq!(presence[0]["user_id"], rosa.id.as_str());
    assert_eq!(presence[0]["status_text"], "In meetings until 3pm");
    assert_eq!(presence[0]["status"], "offline");
    let me = app.get("/api/me", &rosa.access).await.expect_json(200);
    assert_eq!(me["user"]["status_text"], "In meetings until 3pm");

    app.put(
        "/api/me/status",
        &rosa.access,
        json!({ "text": "x".repeat(101) }),
    )
    .await
    .expect_error(422, "validation");
    let me = app.get("/api/me", &rosa.access).await.expect_json(200);
    assert_eq!(
        me["user"]["status_text"], "In meetings until 3pm",
        "a refused status changes nothing"
    );

    // Presence of someone outside my workspaces is simply not returned.
    let other = app.create_workspace(&org.owner, "Elsewhere").await;
    let stranger = app.add_member(&org.owner, &other, "sven", "member").await;
    let presence = app
        .get(
            &format!(
                "/api/workspaces/{}/presence?user_ids={}",
                org.ws, stranger.id
            ),
            &rosa.access,
        )
        .await
        .expect_json(200);
    assert_eq!(presence, json!([]));
}

#[tokio::test]
async fn repliers_follow_a_thread_and_can_stop() {
    let app = spawn_app().await;
    let (org, people) = org_with(&app, &["timo"]).await;
    let timo = &people[0];
    let ch = channel(
        &app,
        &org.owner.access,
        &org.ws,
        "threads",
        "public",
        &[timo],
    )
    .await;
    let root = post(&app, &org.owner.access, &ch, "root").await;
    let root_id = s(&root, "id");
    let follow = format!("/api/messages/{root_id}/follow");
    assert_eq!(
        app.get(&follow, &timo.access).await.expect_json(200)["following"],
        false
    );

    post_reply(
        &app,
        &timo.access,
        &ch,
        json!({ "body": "reply", "thread_root_id": root_id }),
    )
    .await
    .expect(201);
    assert_eq!(
        app.get(&follow, &timo.access).await.expect_json(200)["following"],
        true
    );
    assert_eq!(
        app.get(&follow, &org.owner.access).await.expect_json(200)["following"],
        true
    );

    app.put(&follow, &timo.access, json!({ "following": false }))
        .await
        .expect(200);
    assert_eq!(
        app.get(&follow, &timo.access).await.expect_json(200)["following"],
        false
    );
}
