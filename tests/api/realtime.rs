//! The realtime websocket: first-frame auth, ping/pong, protocol errors, and closing
//! live sockets when access ends.

use futures_util::SinkExt;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

use crate::harness::*;

#[tokio::test]
async fn the_first_frame_authenticates_the_socket() {
    let app = spawn_app().await;
    let org = app.setup_owner().await;
    let mut ws = app.ws_connect().await;
    ws_send(
        &mut ws,
        json!({ "type": "auth", "id": "abc-1", "token": org.owner.access }),
    )
    .await;
    match ws_next(&mut ws).await {
        WsEvent::Frame(f) => assert_eq!(f, json!({ "type": "ok", "id": "abc-1" })),
        other => panic!("expected ok, got {other:?}"),
    }
    ws_expect_alive(&mut ws).await;
}

#[tokio::test]
async fn a_bad_token_gets_an_error_frame_and_close_4003() {
    let app = spawn_app().await;
    let org = app.setup_owner().await;
    let expired = app.forge_token(
        jsonwebtoken::Algorithm::HS256,
        app.jwt_secret.as_bytes(),
        &org.owner.id,
        &org.owner.session,
        -120,
    );
    for token in ["garbage".to_owned(), expired, String::new()] {
        let mut ws = app.ws_connect().await;
        ws_send(
            &mut ws,
            json!({ "type": "auth", "id": "1", "token": token }),
        )
        .await;
        match ws_next(&mut ws).await {
            WsEvent::Frame(f) => {
                assert_eq!(f["type"], "error", "{f}");
                assert_eq!(f["id"], "1");
                assert_eq!(f["code"], "unauthorized");
                assert!(f["message"].is_string());
            }
            other => panic!("expected an error frame, got {other:?}"),
        }
        ws_expect_close(&mut ws, 4003).await;
    }
}

#[tokio::test]
async fn a_first_frame_that_is_not_auth_closes_with_4003() {
    let app = spawn_app().await;
    let org = app.setup_owner().await;
    let firsts = [
        Message::text(json!({ "type": "ping", "id": "1" }).to_string()),
        Message::text("not json"),
        Message::text(json!({ "type": "auth", "id": "1" }).to_string()),
        Message::binary(org.owner.access.clone().into_bytes()),
    ];
    for first in firsts {
        let mut ws = app.ws_connect().await;
        ws.send(first.clone()).await.expect("send the first frame");
        ws_expect_close(&mut ws, 4003).await;
    }
}

#[tokio::test]
async fn pings_get_pongs_and_bad_frames_get_errors() {
    let app = spawn_app().await;
    let org = app.setup_owner().await;
    let mut ws = app.ws_connect_and_auth(&org.owner.access).await;
    ws_send(&mut ws, json!({ "type": "ping", "id": "7" })).await;
    match ws_next(&mut ws).await {
        WsEvent::Frame(f) => assert_eq!(f, json!({ "type": "pong", "id": "7" })),
        other => panic!("expected pong, got {other:?}"),
    }
    // Answering a server ping needs no reply.
    ws_send(&mut ws, json!({ "type": "pong" })).await;
    // A second auth frame is an error, not a re-authentication.
    ws_send(
        &mut ws,
        json!({ "type": "auth", "id": "2", "token": org.owner.access }),
    )
    .await;
    match ws_next(&mut ws).await {
        WsEvent::Frame(f) => {
            assert_eq!(f["type"], "error");
            assert_eq!(f["id"], "2");
            assert_eq!(f["code"], "bad_request");
        }
        other => panic!("expected an error, got {other:?}"),
    }
    ws_send(&mut ws, json!({ "type": "subscribe", "channel": "x" })).await;
    match ws_next(&mut ws).await {
        WsEvent::Frame(f) => {
            assert_eq!(f["type"], "error");
            assert_eq!(f["code"], "bad_request");
        }
        other => panic!("expected an error, got {other:?}"),
    }
    // Still open after all that: the pong to "pong" was nothing, then the next ping.
    ws_expect_alive(&mut ws).await;
}

#[tokio::test]
async fn binary_frames_after_auth_close_the_socket_with_1008() {
    let app = spawn_app().await;
    let org = app.setup_owner().await;
    let mut ws = app.ws_connect_and_auth(&org.owner.access).await;
    ws.send(Message::binary(vec![1u8, 2, 3]))
        .await
        .expect("send binary");
    ws_expect_close(&mut ws, 1008).await;
}

#[tokio::test]
async fn revoking_a_session_closes_its_sockets_with_4001_and_only_those() {
    let app = spawn_app().await;
    let org = app.setup_owner().await;
    let laptop = app.sign_in(&org.owner).await;
    let mut laptop_ws = app.ws_connect_and_auth(&laptop.access).await;
    let mut laptop_ws2 = app.ws_connect_and_auth(&laptop.access).await;
    let mut desk_ws = app.ws_connect_and_auth(&org.owner.access).await;

    app.delete(
        &format!("/api/me/sessions/{}", laptop.session),
        &org.owner.access,
    )
    .await
    .expect(204);
    ws_expect_close(&mut laptop_ws, 4001).await;
    ws_expect_close(&mut laptop_ws2, 4001).await;
    ws_expect_alive(&mut desk_ws).await;
}

#[tokio::test]
async fn logout_closes_the_sessions_socket() {
    let app = spawn_app().await;
    let org = app.setup_owner().await;
    let laptop = app.sign_in(&org.owner).await;
    let mut laptop_ws = app.ws_connect_and_auth(&laptop.access).await;
    let mut desk_ws = app.ws_connect_and_auth(&org.owner.access).await;
    app.post_empty("/api/auth/logout", &laptop.access)
        .await
        .expect(204);
    ws_expect_close(&mut laptop_ws, 4001).await;
    ws_expect_alive(&mut desk_ws).await;

    app.post_empty("/api/auth/logout-all", &org.owner.access)
        .await
        .expect(204);
    ws_expect_close(&mut desk_ws, 4001).await;
}

#[tokio::test]
async fn a_password_change_closes_the_other_sessions_sockets() {
    let app = spawn_app().await;
    let org = app.setup_owner().await;
    let laptop = app.sign_in(&org.owner).await;
    let mut laptop_ws = app.ws_connect_and_auth(&laptop.access).await;
    let mut desk_ws = app.ws_connect_and_auth(&org.owner.access).await;
    app.post(
        "/api/me/password",
        &org.owner.access,
        json!({ "current_password": PASSWORD, "new_password": NEW_PASSWORD }),
    )
    .await
    .expect(204);
    ws_expect_close(&mut laptop_ws, 4001).await;
    ws_expect_alive(&mut desk_ws).await;
}

#[tokio::test]
async fn a_reused_refresh_token_closes_the_sessions_socket() {
    let app = spawn_app().await;
    let org = app.setup_owner().await;
    let mut ws = app.ws_connect_and_auth(&org.owner.access).await;
    app.refresh(&org.owner.refresh).await.expect(200);
    app.refresh(&org.owner.refresh).await.expect(401);
    ws_expect_close(&mut ws, 4001).await;
}

#[tokio::test]
async fn a_revoked_sessions_token_cannot_open_a_socket() {
    let app = spawn_app().await;
    let org = app.setup_owner().await;
    let laptop = app.sign_in(&org.owner).await;
    app.post_empty("/api/auth/logout", &laptop.access)
        .await
        .expect(204);
    let mut ws = app.ws_connect().await;
    ws_send(
        &mut ws,
        json!({ "type": "auth", "id": "9", "token": laptop.access }),
    )
    .await;
    match ws_next(&mut ws).await {
        WsEvent::Frame(f) => {
            assert_eq!(f["type"], "error");
            assert_eq!(f["id"], "9");
            assert_eq!(f["code"], "unauthorized");
        }
        other => panic!("expected an error frame, got {other:?}"),
    }
    ws_expect_close(&mut ws, 4003).await;
}

#[tokio::test]
async fn shutting_down_closes_live_sockets_with_1001() {
    let mut app = spawn_app().await;
    let org = app.setup_owner().await;
    let mut ws = app.ws_connect_and_auth(&org.owner.access).await;
    app.stop().await;
    ws_expect_close(&mut ws, 1001).await;
}
