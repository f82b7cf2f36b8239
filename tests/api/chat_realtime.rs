//! Realtime chat over real websockets: messages, edits, deletes, reactions, pins,
//! threads, read receipts, typing and presence reach the other people in a channel.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::chat_support::*;
use crate::harness::*;

/// User ids of a list of user summaries, sorted.
fn user_ids(list: &Value) -> BTreeSet<String> {
    ids(list).into_iter().collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

#[tokio::test]
async fn two_clients_see_each_others_messages_edits_reactions_pins_and_deletes() {
    let app = spawn_app().await;
    let (org, people) = org_with(&app, &["bob"]).await;
    let (ann, bob) = (&org.owner, &people[0]);
    let ch = channel(&app, &ann.access, &org.ws, "general", "public", &[bob]).await;
    let mut ann_ws = app.ws_connect_and_auth(&ann.access).await;
    let mut bob_ws = app.ws_connect_and_auth(&bob.access).await;
    let mut bob_notes = Notes::open(&app, bob, &org.ws).await;
    let mut bob_seqs = Vec::new();

    // Ann sends over her websocket; Bob sees it.
    let ok = ws_post(
        &mut ann_ws,
        "s1",
        &ch,
        json!({ "body": "hello **bob**", "client_key": "k1" }),
    )
    .await;
    let sent = ok["message"].clone();
    assert_eq!(ok["seq"], sent["seq"]);
    assert_eq!(
        sent["version"], sent["seq"],
        "a new message's version is its seq"
    );
    assert_eq!(sent["sender"]["id"], ann.id.as_str());
    assert_eq!(sent["body"], "hello **bob**");
    assert!(s(&sent, "html").contains("<strong>bob</strong>"), "{sent}");
    let ev = message_event(&mut bob_ws).await;
    assert_eq!(ev["channel_id"], ch.as_str());
    assert_eq!(ev["seq"], sent["version"]);
    assert_eq!(ev["message"], sent, "Bob sees what Ann stored");
    bob_seqs.push(n(&ev, "seq"));
    let id = s(&sent, "id");

    // Bob answers over REST; Ann sees it (and so does Bob's own socket).
    let answer = post(&app, &bob.access, &ch, "hi ann").await;
    assert_eq!(message_event(&mut ann_ws).await["message"], answer);
    let ev = message_event(&mut bob_ws).await;
    assert_eq!(ev["message"], answer);
    bob_seqs.push(n(&ev, "seq"));

    // Ann edits: same message, same place, new version.
    let edited = app
        .patch(
            &format!("/api/messages/{id}"),
            &ann.access,
            json!({ "body": "hello again" }),
        )
        .await
        .expect_json(200);
    assert_eq!(edited["id"], id.as_str());
    assert_eq!(edited["seq"], sent["seq"]);
    assert!(n(&edited, "version") > n(&answer, "version"));
    assert!(edited["edited_at"].is_string());
    assert!(
        s(&edited, "html").contains("<p>hello again</p>"),
        "{edited}"
    );
    let ev = message_event(&mut bob_ws).await;
    assert_eq!(ev["message"], edited);
    assert_eq!(ev["seq"], edited["version"]);
    bob_seqs.push(n(&ev, "seq"));
    assert_eq!(message_event(&mut ann_ws).await["message"], edited);
    // Only the sender edits.
    app.patch(
        &format!("/api/messages/{id}"),
        &bob.access,
        json!({ "body": "hijacked" }),
    )
    .await
    .expect_error(403, "forbidden");

    // Bob reacts; a second identical reaction changes nothing and sends nothing.
    let reacted = app
        .put(
            &format!("/api/messages/{id}/reactions/👍"),
            &bob.access,
            json!(null),
        )
        .await
        .expect_json(200);
    assert_eq!(
        reacted["reactions"],
        json!([{ "emoji": "👍", "count": 1, "user_ids": [bob.id] }])
    );
    assert_eq!(message_event(&mut ann_ws).await["message"], reacted);
    let ev = message_event(&mut bob_ws).await;
    assert_eq!(ev["message"], reacted);
    bob_seqs.push(n(&ev, "seq"));
    let again = app
        .put(
            &format!("/api/messages/{id}/reactions/👍"),
            &bob.access,
            json!(null),
        )
        .await
        .expect_json(200);
    assert_eq!(again, reacted, "a repeated reaction is a no-op");
    let ann_too = app
        .put(
            &format!("/api/messages/{id}/reactions/👍"),
            &ann.access,
            json!(null),
        )
        .await
        .expect_json(200);
    assert_eq!(ann_too["reactions"][0]["count"], 2);
    let ev = message_event(&mut bob_ws).await;
    assert_eq!(ev["message"], ann_too);
    bob_seqs.push(n(&ev, "seq"));
    let unreacted = app
        .delete(&format!("/api/messages/{id}/reactions/👍"), &ann.access)
        .await
        .expect_json(200);
    assert_eq!(unreacted["reactions"], reacted["reactions"]);
    let ev = message_event(&mut bob_ws).await;
    assert_eq!(ev["message"], unreacted);
    bob_seqs.push(n(&ev, "seq"));

    // Pins.
    let pinned = app
        .put(&format!("/api/messages/{id}/pin"), &bob.access, json!(null))
        .await
        .expect_json(200);
    assert_eq!(pinned["pinned"], true);
    let ev = message_event(&mut bob_ws).await;
    assert_eq!(ev["message"], pinned);
    bob_seqs.push(n(&ev, "seq"));
    let pins = app
        .get(&format!("/api/channels/{ch}/pins"), &ann.access)
        .await
        .expect_json(200);
    assert_eq!(ids(&pins), [id.as_str()]);

    // Bob may not delete Ann's message; Ann may. A tombstone stays.
    app.delete(&format!("/api/messages/{id}"), &bob.access)
        .await
        .expect_error(403, "forbidden");
    let deleted = app
        .delete(&format!("/api/messages/{id}"), &ann.access)
        .await
        .expect_json(200);
    assert_eq!(deleted["deleted"], true);
    assert_eq!(deleted["body"], "");
    assert_eq!(deleted["html"], "");
    assert_eq!(deleted["reactions"], json!([]));
    assert_eq!(deleted["pinned"], false);
    let ev = message_event(&mut bob_ws).await;
    assert_eq!(ev["message"], deleted);
    bob_seqs.push(n(&ev, "seq"));
    let tombstone = message(&app, &bob.access, &id).await;
    assert_eq!(tombstone, deleted);
    let listed = messages(&app, &bob.access, &ch, "").await;
    assert_eq!(listed.len(), 2, "the tombstone keeps its place");
    assert_eq!(listed[0], deleted);
    let pins = app
        .get(&format!("/api/channels/{ch}/pins"), &ann.access)
        .await
        .expect_json(200);
    assert_eq!(pins, json!([]), "a deleted message is unpinned");
    // A tombstone takes no edits or reactions.
    app.patch(
        &format!("/api/messages/{id}"),
        &ann.access,
        json!({ "body": "back" }),
    )
    .await
    .expect_error(409, "conflict");
    app.put(
        &format!("/api/messages/{id}/reactions/🎉"),
        &bob.access,
        json!(null),
    )
    .await
    .expect_error(409, "conflict");

    assert!(
        bob_seqs.windows(2).all(|w| w[0] < w[1]),
        "event seqs rise: {bob_seqs:?}"
    );
    bob_notes.assert_quiet(&app, &mut bob_ws).await;
}

#[tokio::test]
async fn a_thread_reply_arrives_followed_by_its_root_with_the_new_reply_count() {
    let app = spawn_app().await;
    let (org, people) = org_with(&app, &["bob"]).await;
    let (ann, bob) = (&org.owner, &people[0]);
    let ch = channel(&app, &ann.access, &org.ws, "general", "public", &[bob]).await;
    let other = channel(&app, &ann.access, &org.ws, "random", "public", &[bob]).await;
    let root = post(&app, &ann.access, &ch, "plans for friday?").await;
    let root_id = s(&root, "id");
    let mut ann_ws = app.ws_connect_and_auth(&ann.access).await;

    let reply = post_reply(
        &app,
        &bob.access,
        &ch,
        json!({ "body": "pizza", "thread_root_id": root_id }),
    )
    .await
    .expect_json(201);
    assert_eq!(reply["thread_root_id"], root_id.as_str());
    let ev = message_event(&mut ann_ws).await;
    assert_eq!(ev["message"], reply);
    let ev = message_event(&mut ann_ws).await;
    let updated = &ev["message"];
    assert_eq!(updated["id"], root_id.as_str());
    assert_eq!(updated["reply_count"], 1);
    assert!(updated["last_reply_at"].is_string());
    assert!(n(updated, "version") > n(&reply, "version"));
    assert_eq!(updated["seq"], root["seq"], "the root keeps its place");
    assert_eq!(*updated, message(&app, &ann.access, &root_id).await);

    // The channel's top level shows the root only; the thread shows the reply.
    let top = messages(&app, &ann.access, &ch, "").await;
    assert_eq!(top.len(), 1);
    assert_eq!(top[0]["reply_count"], 1);
    let thread = messages(&app, &ann.access, &ch, &format!("thread={root_id}")).await;
    assert_eq!(thread, vec![reply.clone()]);
    // Thread replies are not unread top-level messages.
    let mine = my_channels(&app, &ann.access, &org.ws).await;
    assert_eq!(listed(&mine, &ch)["unread_count"], 0);

    // Replies go to the thread's first message, in the same channel.
    post_reply(
        &app,
        &bob.access,
        &ch,
        json!({ "body": "nested", "thread_root_id": reply["id"] }),
    )
    .await
    .expect_error(422, "validation");
    post_reply(
        &app,
        &bob.access,
        &other,
        json!({ "body": "elsewhere", "thread_root_id": root_id }),
    )
    .await
    .expect_error(422, "validation");
    let second = post_reply(
        &app,
        &ann.access,
        &ch,
        json!({ "body": "deal", "thread_root_id": root_id }),
    )
    .await
    .expect_json(201);
    assert_eq!(message_event(&mut ann_ws).await["message"], second);
    assert_eq!(
        message_event(&mut ann_ws).await["message"]["reply_count"],
        2
    );
}

#[tokio::test]
async fn read_receipts_reach_the_sender_and_list_who_has_and_has_not_read() {
    let app = spawn_app().await;
    let (org, people) = org_with(&app, &["bob", "carol"]).await;
    let (ann, bob, carol) = (&org.owner, &people[0], &people[1]);
    let ch = channel(
        &app,
        &ann.access,
        &org.ws,
        "small",
        "private",
        &[bob, carol],
    )
    .await;
    let first = post(&app, &ann.access, &ch, "did everyone see this?").await;
    let mut ann_ws = app.ws_connect_and_auth(&ann.access).await;
    let mut bob_ws = app.ws_connect_and_auth(&bob.access).await;
    let seq = n(&first, "seq");

    // Bob reads over the websocket: an answer to him, a `read` event to everyone.
    ws_send(
        &mut bob_ws,
        json!({ "type": "read", "id": "r1", "channel_id": ch, "seq": seq }),
    )
    .await;
    let mut got = vec![frame(&mut bob_ws).await, frame(&mut bob_ws).await];
    got.sort_by_key(|f| f["type"].as_str().map(str::to_owned));
    let read_event = json!({ "type": "read", "channel_id": ch, "user_id": bob.id, "seq": seq });
    assert_eq!(
        got,
        vec![
            json!({ "type": "ok", "id": "r1", "seq": seq }),
            read_event.clone()
        ]
    );
    assert_eq!(frame(&mut ann_ws).await, read_event);

    let receipts_of = |id: String| {
        let app = &app;
        let token = ann.access.clone();
        async move {
            app.get(&format!("/api/messages/{id}/receipts"), &token)
                .await
                .expect_json(200)
        }
    };
    let receipts = receipts_of(s(&first, "id")).await;
    assert_keys(&receipts, &["message_id", "read", "unread"]);
    assert_eq!(user_ids(&receipts["read"]), set(&[&bob.id]));
    assert_eq!(user_ids(&receipts["unread"]), set(&[&carol.id]));
    assert_keys(
        &receipts["read"][0],
        &["id", "username", "display_name", "avatar_url"],
    );

    // Carol reads over REST.
    let pos = app
        .post(
            &format!("/api/channels/{ch}/read"),
            &carol.access,
            json!({ "seq": seq }),
        )
        .await
        .expect_json(200);
    assert_eq!(pos, json!({ "channel_id": ch, "last_read_seq": seq }));
    assert_eq!(
        frame(&mut ann_ws).await,
        json!({ "type": "read", "channel_id": ch, "user_id": carol.id, "seq": seq })
    );
    let receipts = receipts_of(s(&first, "id")).await;
    assert_eq!(user_ids(&receipts["read"]), set(&[&bob.id, &carol.id]));
    assert_eq!(receipts["unread"], json!([]));

    // A newer message is unread by both; the older one stays read.
    let second = post(&app, &ann.access, &ch, "one more thing").await;
    message_event(&mut ann_ws).await;
    let receipts = receipts_of(s(&second, "id")).await;
    assert_eq!(receipts["read"], json!([]));
    assert_eq!(user_ids(&receipts["unread"]), set(&[&bob.id, &carol.id]));
    let state = app
        .get(&format!("/api/channels/{ch}/read-state"), &ann.access)
        .await
        .expect_json(200);
    assert_eq!(state["receipts"], true);
    let positions: BTreeSet<(String, i64)> = state["members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|m| (s(m, "user_id"), n(m, "last_read_seq")))
        .collect();
    assert!(positions.contains(&(bob.id.clone(), seq)), "{state}");
    assert!(positions.contains(&(carol.id.clone(), seq)), "{state}");
    assert_eq!(positions.len(), 3, "{state}");
}

#[tokio::test]
async fn typing_reaches_channel_members_and_nowhere_from_outsiders() {
    let app = spawn_app().await;
    let (org, people) = org_with(&app, &["bob", "carol"]).await;
    let (ann, bob, carol) = (&org.owner, &people[0], &people[1]);
    let secret = channel(&app, &ann.access, &org.ws, "secret", "private", &[bob]).await;
    let open = channel(&app, &ann.access, &org.ws, "open", "public", &[bob]).await;
    let root = post(&app, &ann.access, &secret, "thread").await;
    let mut ann_ws = app.ws_connect_and_auth(&ann.access).await;
    let mut bob_ws = app.ws_connect_and_auth(&bob.access).await;
    let mut carol_ws = app.ws_connect_and_auth(&carol.access).await;
    let mut ann_notes = Notes::open(&app, ann, &org.ws).await;

    ws_send(
        &mut bob_ws,
        json!({ "type": "typing", "channel_id": secret, "thread_root_id": root["id"] }),
    )
    .await;
    assert_eq!(
        frame(&mut ann_ws).await,
        json!({ "type": "typing", "channel_id": secret, "user_id": bob.id,
                "thread_root_id": root["id"], "expires_in_ms": 6000 })
    );
    // At most one every two seconds per channel is forwarded.
    ws_send(
        &mut bob_ws,
        json!({ "type": "typing", "channel_id": secret, "thread_root_id": null }),
    )
    .await;
    // Carol is not in either channel: her typing goes nowhere.
    for ch in [&secret, &open] {
        ws_send(
            &mut carol_ws,
            json!({ "type": "typing", "channel_id": ch, "thread_root_id": null }),
        )
        .await;
    }
    // Once both sockets have answered a ping, their typing frames were handled.
    ws_expect_alive(&mut carol_ws).await;
    let bob_frames = ws_sync(&mut bob_ws).await;
    assert_eq!(
        bob_frames.iter().filter(|f| f["type"] == "typing").count(),
        bob_frames.len(),
        "{bob_frames:?}"
    );
    ann_notes.assert_quiet(&app, &mut ann_ws).await;
    // No error frames either: typing has no answer.
    ws_expect_alive(&mut carol_ws).await;
}

#[tokio::test]
async fn presence_follows_connections_and_away_flags_of_subscribed_people() {
    let app = spawn_app().await;
    let (org, people) = org_with(&app, &["bob", "carol"]).await;
    let (ann, bob, carol) = (&org.owner, &people[0], &people[1]);
    let mut ann_ws = app.ws_connect_and_auth(&ann.access).await;
    let mut bob_ws = app.ws_connect_and_auth(&bob.access).await;

    ws_send(
        &mut ann_ws,
        json!({ "type": "presence.subscribe", "id": "p", "user_ids": [bob.id, carol.id] }),
    )
    .await;
    let ok = expect_type(frame(&mut ann_ws).await, "ok");
    assert_eq!(ok["id"], "p");
    let states: BTreeSet<(String, String)> = ok["presence"]
        .as_array()
        .expect("presence list")
        .iter()
        .map(|p| (s(p, "user_id"), s(p, "status")))
        .collect();
    assert_eq!(
        states,
        BTreeSet::from([
            (bob.id.clone(), "online".to_owned()),
            (carol.id.clone(), "offline".to_owned())
        ])
    );

    ws_send(&mut bob_ws, json!({ "type": "away", "away": true })).await;
    assert_eq!(frame(&mut ann_ws).await, presence(&bob.id, "away"));
    // A second connection of Bob's is not away: Bob is online again.
    let _bob_phone = app.ws_connect_and_auth(&bob.access).await;
    assert_eq!(frame(&mut ann_ws).await, presence(&bob.id, "online"));
    ws_send(&mut bob_ws, json!({ "type": "away", "away": false })).await;
    ws_expect_alive(&mut bob_ws).await;
    let carol_ws = app.ws_connect_and_auth(&carol.access).await;
    assert_eq!(
        frame(&mut ann_ws).await,
        presence(&carol.id, "online"),
        "Bob's second tab coming back changed nothing"
    );
    let rest = app
        .get(
            &format!(
                "/api/workspaces/{}/presence?user_ids={},{}",
                org.ws, bob.id, carol.id
            ),
            &ann.access,
        )
        .await
        .expect_json(200);
    assert_eq!(rest.as_array().map(Vec::len), Some(2), "{rest}");
    assert!(
        rest.as_array()
            .expect("list")
            .iter()
            .all(|p| p["status"] == "online" && p["last_seen_at"].is_null()),
        "{rest}"
    );

    drop(carol_ws);
    assert_eq!(frame(&mut ann_ws).await, presence(&carol.id, "offline"));
    // The last-seen time is stored as the connection ends.
    let mut seen = Value::Null;
    for _ in 0..50 {
        let rest = app
            .get(
                &format!("/api/workspaces/{}/presence?user_ids={}", org.ws, carol.id),
                &ann.access,
            )
            .await
            .expect_json(200);
        assert_eq!(rest[0]["status"], "offline");
        seen = rest[0]["last_seen_at"].clone();
        if seen.is_string() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(seen.is_string(), "last_seen_at is set once Carol is gone");

    // An empty subscription stops the updates.
    ws_send(
        &mut ann_ws,
        json!({ "type": "presence.subscribe", "id": "none", "user_ids": [] }),
    )
    .await;
    let mut ann_notes = Notes::open(&app, ann, &org.ws).await;
    let before = ann_notes.drain(&app, &mut ann_ws).await;
    assert!(
        before.iter().all(|f| *f == presence(&carol.id, "offline")
            || *f == json!({ "type": "ok", "id": "none", "presence": [] })),
        "{before:?}"
    );
    ws_send(&mut bob_ws, json!({ "type": "away", "away": true })).await;
    let carol_again = app.ws_connect_and_auth(&carol.access).await;
    ws_expect_alive(&mut bob_ws).await;
    ann_notes.assert_quiet(&app, &mut ann_ws).await;
    drop(carol_again);
}

fn presence(user: &str, status: &str) -> Value {
    json!({ "type": "presence", "user_id": user, "status": status })
}

/// Server bug: `Hub::unregister` (server/src/realtime/hub.rs) notifies watchers only
/// when a person's last connection goes (`if gone`), and the gateway's end of
/// connection publishes presence only when the person is offline; so closing the last
/// active tab while another tab is away changes the person to "away" without telling
/// anyone, and watchers keep showing "online". Fix: compare presence before and after
/// removing the connection and notify whenever it changed.
#[tokio::test]
async fn closing_the_last_active_tab_shows_the_person_as_away() {
    let app = spawn_app().await;
    let (org, people) = org_with(&app, &["bob"]).await;
    let (ann, bob) = (&org.owner, &people[0]);
    let mut ann_ws = app.ws_connect_and_auth(&ann.access).await;
    let mut bob_hidden = app.ws_connect_and_auth(&bob.access).await;
    let bob_active = app.ws_connect_and_auth(&bob.access).await;
    ws_send(
        &mut ann_ws,
        json!({ "type": "presence.subscribe", "id": "p", "user_ids": [bob.id] }),
    )
    .await;
    assert_eq!(
        frame(&mut ann_ws).await["presence"],
        json!([{ "user_id": bob.id, "status": "online" }])
    );
    ws_send(&mut bob_hidden, json!({ "type": "away", "away": true })).await;
    ws_expect_alive(&mut bob_hidden).await;
    drop(bob_active);
    match next_within(&mut ann_ws, FRAME_WAIT).await {
        Some(WsEvent::Frame(f)) => assert_eq!(f, presence(&bob.id, "away")),
        other => panic!("watchers were not told that Bob is now away (got {other:?})"),
    }
    let rest = app
        .get(
            &format!("/api/workspaces/{}/presence?user_ids={}", org.ws, bob.id),
            &ann.access,
        )
        .await
        .expect_json(200);
    assert_eq!(rest[0]["status"], "away");
}
