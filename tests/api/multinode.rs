//! Several nodes on one PostgreSQL database and one Redis: people connected to
//! different nodes see each other's messages and reads, and ending access on one node
//! closes connections on the others. Runs when both `CONVENE_TEST_POSTGRES_URL` and
//! `CONVENE_TEST_REDIS_URL` are set.

use serde_json::json;

use crate::harness::{TestApp, WsEvent, spawn_app_with, ws_expect_close, ws_next, ws_send};

const REDIS_ENV: &str = "CONVENE_TEST_REDIS_URL";

/// Two nodes sharing the first node's database, signing key and Redis; `None` when the
/// environment does not provide PostgreSQL and Redis.
async fn two_nodes() -> Option<(TestApp, TestApp)> {
    let redis = std::env::var(REDIS_ENV)
        .ok()
        .filter(|u| !u.trim().is_empty())?;
    if crate::harness::expected_backend() != "postgres" {
        return None;
    }
    let first = {
        let redis = redis.clone();
        spawn_app_with(move |c| c.redis_url = redis).await
    };
    let database_url = first.state.config.database_url.clone();
    let secret = first.jwt_secret.clone();
    let second = spawn_app_with(move |c| {
        c.redis_url = redis;
        c.database_url = database_url;
        c.jwt_secret = secret;
    })
    .await;
    Some((first, second))
}

/// The next frame of `type`, skipping others (presence, channel updates, ...).
async fn next_of_type(ws: &mut crate::harness::Ws, kind: &str) -> serde_json::Value {
    loop {
        match ws_next(ws).await {
            WsEvent::Frame(f) if f["type"] == kind => return f,
            WsEvent::Frame(_) => continue,
            other => panic!("expected a {kind} frame, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn people_on_different_nodes_chat_and_read_in_real_time() {
    let Some((a, b)) = two_nodes().await else {
        return;
    };
    let org = a.setup_owner().await;
    let member = a.add_member(&org.owner, &org.ws, "nadia", "member").await;
    let channel = a
        .post(
            &format!("/api/workspaces/{}/channels", org.ws),
            &org.owner.access,
            json!({ "name": "across-nodes", "member_ids": [member.id] }),
        )
        .await
        .expect_json(201);
    let channel_id = channel["id"].as_str().expect("channel id").to_owned();

    let mut on_a = a.ws_connect_and_auth(&org.owner.access).await;
    let mut on_b = b.ws_connect_and_auth(&member.access).await;

    ws_send(
        &mut on_a,
        json!({ "type": "send", "id": "s1", "channel_id": channel_id,
                "message": { "body": "hello from node A", "client_key": "mn-1" } }),
    )
    .await;
    let seen = next_of_type(&mut on_b, "message").await;
    assert_eq!(seen["message"]["body"], "hello from node A");
    let seq = seen["seq"].as_i64().expect("seq");

    ws_send(
        &mut on_b,
        json!({ "type": "read", "id": "r1", "channel_id": channel_id, "seq": seq }),
    )
    .await;
    let read = next_of_type(&mut on_a, "read").await;
    assert_eq!(read["user_id"], member.id.as_str());
    assert_eq!(read["seq"], seq);
}

#[tokio::test]
async fn deactivating_on_one_node_closes_connections_on_another() {
    let Some((a, b)) = two_nodes().await else {
        return;
    };
    let org = a.setup_owner().await;
    let member = a.add_member(&org.owner, &org.ws, "oskar", "member").await;
    let mut on_b = b.ws_connect_and_auth(&member.access).await;

    a.post_empty(
        &format!(
            "/api/workspaces/{}/members/{}/deactivate",
            org.ws, member.id
        ),
        &org.owner.access,
    )
    .await
    .expect(200);
    ws_expect_close(&mut on_b, 4001).await;
    // And the other node refuses the token at once, too.
    b.get("/api/me", &member.access).await.expect(401);
}
