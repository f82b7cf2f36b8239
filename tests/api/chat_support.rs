//! Helpers shared by the chat tests: people, channels and messages over REST, and
//! websocket readers that tell chat events apart.
//!
//! Proving that an event did *not* arrive: a connection's events leave in the order
//! they were queued, so [`Notes::assert_quiet`] posts a marker to the person's notes
//! channel (a DM with only themselves) and requires it to be the very next frame.

use std::time::Duration;

use futures_util::StreamExt;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::harness::*;

/// How long a test waits for an expected websocket frame.
pub const FRAME_WAIT: Duration = Duration::from_secs(10);

/// A string field of a JSON value.
#[track_caller]
pub fn s(v: &Value, key: &str) -> String {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("expected a string `{key}` in {v}"))
        .to_owned()
}

/// An integer field of a JSON value.
#[track_caller]
pub fn n(v: &Value, key: &str) -> i64 {
    v[key]
        .as_i64()
        .unwrap_or_else(|| panic!("expected an integer `{key}` in {v}"))
}

/// The ids of a list of objects (messages, users, channels).
#[track_caller]
pub fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("expected an array: {list}"))
        .iter()
        .map(|v| s(v, "id"))
        .collect()
}

/// The owner and `names` as members of the owner's workspace.
pub async fn org_with(app: &TestApp, names: &[&str]) -> (Org, Vec<Account>) {
    let org = app.setup_owner().await;
    let mut people = Vec::new();
    for name in names {
        people.push(app.add_member(&org.owner, &org.ws, name, "member").await);
    }
    (org, people)
}

/// POST /api/workspaces/{ws}/channels with `body`.
pub async fn create_channel_reply(app: &TestApp, token: &str, ws: &str, body: Value) -> Reply {
    app.post(&format!("/api/workspaces/{ws}/channels"), token, body)
        .await
}

/// Create a channel of `kind` with these other members; returns its id.
pub async fn channel(
    app: &TestApp,
    token: &str,
    ws: &str,
    name: &str,
    kind: &str,
    members: &[&Account],
) -> String {
    let member_ids: Vec<&str> = members.iter().map(|a| a.id.as_str()).collect();
    let body = create_channel_reply(
        app,
        token,
        ws,
        json!({ "name": name, "kind": kind, "member_ids": member_ids }),
    )
    .await
    .expect_json(201);
    s(&body, "id")
}

/// Open the DM or group DM with these people; returns the channel.
pub async fn open_dm(app: &TestApp, token: &str, ws: &str, with: &[&str]) -> Value {
    app.post(
        &format!("/api/workspaces/{ws}/dms"),
        token,
        json!({ "user_ids": with }),
    )
    .await
    .expect_json(200)
}

/// POST a message with these fields.
pub async fn post_reply(app: &TestApp, token: &str, channel: &str, message: Value) -> Reply {
    app.post(&format!("/api/channels/{channel}/messages"), token, message)
        .await
}

/// Post a plain message (asserting 201); returns it.
pub async fn post(app: &TestApp, token: &str, channel: &str, body: &str) -> Value {
    post_reply(app, token, channel, json!({ "body": body }))
        .await
        .expect_json(201)
}

/// GET /api/channels/{id}/messages with a query string (without `?`).
pub async fn history(app: &TestApp, token: &str, channel: &str, query: &str) -> Value {
    app.get(&format!("/api/channels/{channel}/messages?{query}"), token)
        .await
        .expect_json(200)
}

/// The messages of a history page.
pub async fn messages(app: &TestApp, token: &str, channel: &str, query: &str) -> Vec<Value> {
    history(app, token, channel, query).await["messages"]
        .as_array()
        .expect("messages")
        .clone()
}

/// My channels in a workspace.
pub async fn my_channels(app: &TestApp, token: &str, ws: &str) -> Vec<Value> {
    app.get(&format!("/api/workspaces/{ws}/channels"), token)
        .await
        .expect_json(200)
        .as_array()
        .expect("channels")
        .clone()
}

/// One of my channels, as listed with its counts.
#[track_caller]
pub fn listed<'a>(channels: &'a [Value], id: &str) -> &'a Value {
    channels
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("channel {id} is not listed: {channels:?}"))
}

/// GET /api/messages/{id}.
pub async fn message(app: &TestApp, token: &str, id: &str) -> Value {
    app.get(&format!("/api/messages/{id}"), token)
        .await
        .expect_json(200)
}

/// Upload `bytes` as `name` with a declared content type.
pub async fn upload(
    app: &TestApp,
    token: &str,
    channel: &str,
    name: &str,
    mime: &str,
    bytes: Vec<u8>,
) -> Reply {
    let part = Part::bytes(bytes)
        .file_name(name.to_owned())
        .mime_str(mime)
        .expect("a valid MIME type");
    let form = Form::new().part("file", part);
    send(
        app.client
            .post(app.url(&format!("/api/channels/{channel}/files")))
            .bearer_auth(token)
            .multipart(form),
    )
    .await
}

/// Open `/api/ws` and authenticate with `resume` positions; asserts the `ok`.
pub async fn ws_resume(app: &TestApp, token: &str, resume: Value) -> Ws {
    let mut ws = app.ws_connect().await;
    ws_send(
        &mut ws,
        json!({ "type": "auth", "id": "auth", "token": token, "resume": resume }),
    )
    .await;
    let ok = frame(&mut ws).await;
    assert_eq!(ok, json!({ "type": "ok", "id": "auth" }), "auth answer");
    ws
}

/// The next websocket event within `wait` (server pings skipped), or `None`.
pub async fn next_within(ws: &mut Ws, wait: Duration) -> Option<WsEvent> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let next = tokio::time::timeout_at(deadline, ws.next()).await.ok()?;
        return Some(match next {
            Some(Ok(Message::Text(t))) => {
                let v: Value = serde_json::from_str(t.as_str()).expect("server frames are JSON");
                if v["type"] == "ping" {
                    continue;
                }
                WsEvent::Frame(v)
            }
            Some(Ok(Message::Close(frame))) => WsEvent::Closed(frame.map(|f| u16::from(f.code))),
            Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => continue,
            Some(Ok(Message::Binary(_))) => panic!("the server sent a binary frame"),
            Some(Err(_)) | None => WsEvent::Ended,
        });
    }
}

/// The next JSON frame (server pings skipped); panics on a close, the end, or
/// silence for [`FRAME_WAIT`].
pub async fn frame(ws: &mut Ws) -> Value {
    match next_within(ws, FRAME_WAIT).await {
        Some(WsEvent::Frame(f)) => f,
        Some(other) => panic!("expected a frame, got {other:?}"),
        None => panic!("no frame within {FRAME_WAIT:?}"),
    }
}

/// The next frame, which must be of this type.
#[track_caller]
pub fn expect_type(frame: Value, ty: &str) -> Value {
    assert_eq!(frame["type"], ty, "expected a {ty} frame, got {frame}");
    frame
}

/// The next frame, which must be a `message` event; returns the event.
pub async fn message_event(ws: &mut Ws) -> Value {
    expect_type(frame(ws).await, "message")
}

/// Skip frames until one satisfies `want`; returns it.
pub async fn frame_where(ws: &mut Ws, what: &str, want: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + FRAME_WAIT;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match next_within(ws, left).await {
            Some(WsEvent::Frame(f)) if want(&f) => return f,
            Some(WsEvent::Frame(_)) => continue,
            Some(other) => panic!("waiting for {what}, got {other:?}"),
            None => panic!("no {what} within {FRAME_WAIT:?}"),
        }
    }
}

/// Send a websocket `send` request and wait for both its `ok` answer and the
/// sender's own `message` event (they travel separately, in either order).
/// Returns the `ok` answer.
pub async fn ws_post(ws: &mut Ws, id: &str, channel: &str, message: Value) -> Value {
    ws_send(
        ws,
        json!({ "type": "send", "id": id, "channel_id": channel, "message": message }),
    )
    .await;
    let (mut ok, mut event) = (None, None);
    while ok.is_none() || event.is_none() {
        let f = frame(ws).await;
        match f["type"].as_str() {
            Some("ok") if f["id"] == id => ok = Some(f),
            Some("message") if event.is_none() => event = Some(f),
            _ => panic!("unexpected frame while sending {id}: {f}"),
        }
    }
    let (ok, event) = (ok.expect("ok"), event.expect("event"));
    assert_eq!(
        ok["message"]["id"], event["message"]["id"],
        "{ok} / {event}"
    );
    ok
}

/// A person's notes channel (a DM with only themselves), used as a marker that
/// reaches only their own connections.
pub struct Notes {
    pub token: String,
    pub channel: String,
    count: u32,
}

impl Notes {
    pub async fn open(app: &TestApp, account: &Account, ws: &str) -> Notes {
        let channel = open_dm(app, &account.access, ws, &[]).await;
        Notes {
            token: account.access.clone(),
            channel: s(&channel, "id"),
            count: 0,
        }
    }

    /// Assert that nothing is queued on `ws` before a marker posted now.
    pub async fn assert_quiet(&mut self, app: &TestApp, ws: &mut Ws) {
        let got = self.drain(app, ws).await;
        assert!(got.is_empty(), "expected no frames, got {got:?}");
    }

    /// Every frame queued on `ws` before a marker posted now.
    pub async fn drain(&mut self, app: &TestApp, ws: &mut Ws) -> Vec<Value> {
        self.count += 1;
        let marker = format!("marker-{}", self.count);
        post(app, &self.token, &self.channel, &marker).await;
        let mut got = Vec::new();
        loop {
            let f = frame(ws).await;
            if f["type"] == "message" && f["message"]["body"] == marker.as_str() {
                return got;
            }
            got.push(f);
        }
    }
}

/// Ping the server on `ws` and collect every frame that arrives before the pong:
/// once the pong is back, every frame sent before the ping has been handled.
pub async fn ws_sync(ws: &mut Ws) -> Vec<Value> {
    ws_send(ws, json!({ "type": "ping", "id": "sync" })).await;
    let mut got = Vec::new();
    loop {
        let f = frame(ws).await;
        if f == json!({ "type": "pong", "id": "sync" }) {
            return got;
        }
        got.push(f);
    }
}
