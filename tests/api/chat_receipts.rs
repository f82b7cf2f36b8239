//! Read positions, unread and mention counts, read receipts under each workspace
//! policy, and DING messages that must be acknowledged (with their reminders).

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::chat_support::*;
use crate::harness::*;

fn user_ids(list: &Value) -> BTreeSet<String> {
    ids(list).into_iter().collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// `(unread_count, mention_count)` of a channel in my list.
async fn counts(app: &TestApp, token: &str, ws: &str, ch: &str) -> (i64, i64) {
    let mine = my_channels(app, token, ws).await;
    let c = listed(&mine, ch);
    (n(c, "unread_count"), n(c, "mention_count"))
}

async fn read(app: &TestApp, token: &str, ch: &str, seq: i64) -> i64 {
    let pos = app
        .post(
            &format!("/api/channels/{ch}/read"),
            token,
            json!({ "seq": seq }),
        )
        .await
        .expect_json(200);
    n(&pos, "last_read_seq")
}

#[tokio::test]
async fn unread_and_mention_counts_follow_reads_across_tabs() {
    let app = spawn_app().await;
    let (org, people) = org_with(&app, &["bob"]).await;
    let (ann, bob) = (&org.owner, &people[0]);
    let general = channel(&app, &ann.access, &org.ws, "general", "public", &[bob]).await;
    let random = channel(&app, &ann.access, &org.ws, "random", "public", &[bob]).await;
    let one = post(&app, &ann.access, &general, "one").await;
    let two = post(&app, &ann.access, &general, "two, right @bob?").await;
    let three = post(&app, &ann.access, &general, "three for @all").await;
    assert_eq!(two["mentions"], json!([bob.id]));
    assert_eq!(three["mention_all"], true);
    // A thread reply mentions but is not an unread top-level message; a deleted
    // message and my own messages count for nothing.
    post_reply(
        &app,
        &ann.access,
        &general,
        json!({ "body": "@bob see above", "thread_root_id": one["id"] }),
    )
    .await
    .expect(201);
    let gone = post(&app, &ann.access, &general, "four @bob").await;
    app.delete(&format!("/api/messages/{}", s(&gone, "id")), &ann.access)
        .await
        .expect(200);
    post(&app, &bob.access, &general, "mine").await;
    post(&app, &ann.access, &random, "r1").await;
    let r2 = post(&app, &ann.access, &random, "r2").await;

    assert_eq!(counts(&app, &bob.access, &org.ws, &general).await, (3, 3));
    assert_eq!(counts(&app, &bob.access, &org.ws, &random).await, (2, 0));
    assert_eq!(
        counts(&app, &ann.access, &org.ws, &general).await.0,
        1,
        "Bob's message"
    );

    // Two tabs of Bob's: a read in one reaches the other.
    let mut tab1 = app.ws_connect_and_auth(&bob.access).await;
    let mut tab2 = app.ws_connect_and_auth(&bob.access).await;
    let seq = n(&two, "seq");
    ws_send(
        &mut tab1,
        json!({ "type": "read", "id": "r", "channel_id": general, "seq": seq }),
    )
    .await;
    let answer = frame_where(&mut tab1, "the read answer", |f| f["type"] == "ok").await;
    assert_eq!(answer, json!({ "type": "ok", "id": "r", "seq": seq }));
    let read_event =
        json!({ "type": "read", "channel_id": general, "user_id": bob.id, "seq": seq });
    assert_eq!(frame(&mut tab2).await, read_event);
    // "three" and the reply (posted after "two") still mention Bob.
    assert_eq!(counts(&app, &bob.access, &org.ws, &general).await, (1, 2));

    // Reads never move backwards, and stop at the channel's end.
    assert_eq!(read(&app, &bob.access, &general, n(&one, "seq")).await, seq);
    let end = n(
        &listed(&my_channels(&app, &bob.access, &org.ws).await, &general).clone(),
        "last_seq",
    );
    assert_eq!(read(&app, &bob.access, &general, end + 1000).await, end);
    assert_eq!(
        frame(&mut tab2).await,
        json!({ "type": "read", "channel_id": general, "user_id": bob.id, "seq": end })
    );
    assert_eq!(counts(&app, &bob.access, &org.ws, &general).await, (0, 0));
    app.post(
        &format!("/api/channels/{general}/read"),
        &bob.access,
        json!({ "seq": -1 }),
    )
    .await
    .expect_error(422, "validation");

    // Read-all clears the rest and tells the other tab.
    app.post_empty(&format!("/api/workspaces/{}/read-all", org.ws), &bob.access)
        .await
        .expect(204);
    assert_eq!(
        frame(&mut tab2).await,
        json!({ "type": "read", "channel_id": random, "user_id": bob.id, "seq": r2["seq"] })
    );
    for c in my_channels(&app, &bob.access, &org.ws).await {
        assert_eq!(
            (c["unread_count"].clone(), c["mention_count"].clone()),
            (json!(0), json!(0)),
            "{c}"
        );
        assert_eq!(c["last_read_seq"], c["last_seq"], "{c}");
    }
    let mut notes = Notes::open(&app, bob, &org.ws).await;
    notes.assert_quiet(&app, &mut tab2).await;
}

#[tokio::test]
async fn with_receipts_off_no_read_positions_are_shared() {
    let app = spawn_app().await;
    let (org, people) = org_with(&app, &["bob"]).await;
    let (ann, bob) = (&org.owner, &people[0]);
    app.patch(
        &format!("/api/workspaces/{}", org.ws),
        &ann.access,
        json!({ "receipts_policy": "off" }),
    )
    .await
    .expect(200);
    let ch = channel(&app, &ann.access, &org.ws, "general", "public", &[bob]).await;
    let dm = s(&open_dm(&app, &ann.access, &org.ws, &[&bob.id]).await, "id");
    let m = post(&app, &ann.access, &ch, "hello").await;
    for id in [&ch, &dm] {
        let info = app
            .get(&format!("/api/channels/{id}"), &bob.access)
            .await
            .expect_json(200);
        assert_eq!(info["receipts"], false);
        let state = app
            .get(&format!("/api/channels/{id}/read-state"), &ann.access)
            .await
            .expect_json(200);
        assert_eq!(state, json!({ "receipts": false, "members": [] }));
    }
    let mut ann_ws = app.ws_connect_and_auth(&ann.access).await;
    let mut bob_tab = app.ws_connect_and_auth(&bob.access).await;
    read(&app, &bob.access, &ch, n(&m, "seq")).await;
    // Bob's own tabs stay in step; Ann hears nothing.
    assert_eq!(frame(&mut bob_tab).await["type"], "read");
    Notes::open(&app, ann, &org.ws)
        .await
        .assert_quiet(&app, &mut ann_ws)
        .await;
    app.get(
        &format!("/api/messages/{}/receipts", s(&m, "id")),
        &ann.access,
    )
    .await
    .expect_error(409, "conflict");
    // Unread counts still work.
    assert_eq!(counts(&app, &bob.access, &org.ws, &ch).await, (0, 0));
}

#[tokio::test]
async fn under_the_user_policy_people_who_do_not_share_receipts_are_hidden() {
    let app = spawn_app().await;
    let (org, people) = org_with(&app, &["bob", "carol"]).await;
    let (ann, bob, carol) = (&org.owner, &people[0], &people[1]);
    let ch = channel(
        &app,
        &ann.access,
        &org.ws,
        "general",
        "public",
        &[bob, carol],
    )
    .await;
    app.patch(
        "/api/me",
        &bob.access,
        json!({ "share_read_receipts": false }),
    )
    .await
    .expect(200);
    let m = post(&app, &ann.access, &ch, "who reads this?").await;
    let receipts_path = format!("/api/messages/{}/receipts", s(&m, "id"));
    read(&app, &bob.access, &ch, n(&m, "seq")).await;

    // Under the default policy the choice does not matter: everyone is shown.
    let receipts = app.get(&receipts_path, &ann.access).await.expect_json(200);
    assert_eq!(user_ids(&receipts["read"]), set(&[&bob.id]));

    app.patch(
        &format!("/api/workspaces/{}", org.ws),
        &ann.access,
        json!({ "receipts_policy": "user" }),
    )
    .await
    .expect(200);
    let receipts = app.get(&receipts_path, &ann.access).await.expect_json(200);
    assert_eq!(receipts["read"], json!([]));
    assert_eq!(
        user_ids(&receipts["unread"]),
        set(&[&carol.id]),
        "Bob is hidden"
    );
    let state = app
        .get(&format!("/api/channels/{ch}/read-state"), &carol.access)
        .await
        .expect_json(200);
    assert_eq!(state["receipts"], true);
    let shown: BTreeSet<String> = state["members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|m| s(m, "user_id"))
        .collect();
    assert_eq!(shown, set(&[&ann.id, &carol.id]));

    // Bob's reads reach his own tabs only; Carol's reach everyone.
    let mut ann_ws = app.ws_connect_and_auth(&ann.access).await;
    let mut bob_tab = app.ws_connect_and_auth(&bob.access).await;
    let m2 = post(&app, &ann.access, &ch, "and this?").await;
    message_event(&mut ann_ws).await;
    message_event(&mut bob_tab).await;
    read(&app, &bob.access, &ch, n(&m2, "seq")).await;
    assert_eq!(
        frame(&mut bob_tab).await,
        json!({ "type": "read", "channel_id": ch, "user_id": bob.id, "seq": m2["seq"] })
    );
    read(&app, &carol.access, &ch, n(&m2, "seq")).await;
    assert_eq!(
        frame(&mut ann_ws).await,
        json!({ "type": "read", "channel_id": ch, "user_id": carol.id, "seq": m2["seq"] }),
        "Bob's read did not reach Ann"
    );
}

#[tokio::test]
async fn channels_larger_than_the_receipts_limit_have_no_receipts() {
    let app = spawn_app_with(|c| c.receipts_max_channel_members = 2).await;
    let (org, people) = org_with(&app, &["bob", "carol"]).await;
    let (ann, bob, carol) = (&org.owner, &people[0], &people[1]);
    let pair = channel(&app, &ann.access, &org.ws, "pair", "private", &[bob]).await;
    let trio = channel(&app, &ann.access, &org.ws, "trio", "private", &[bob, carol]).await;
    let group = s(
        &open_dm(&app, &ann.access, &org.ws, &[&bob.id, &carol.id]).await,
        "id",
    );
    let mine = my_channels(&app, &ann.access, &org.ws).await;
    assert_eq!(listed(&mine, &pair)["receipts"], true);
    assert_eq!(listed(&mine, &trio)["receipts"], false);
    assert_eq!(
        listed(&mine, &group)["receipts"],
        true,
        "direct messages always have receipts"
    );
    let state = app
        .get(&format!("/api/channels/{trio}/read-state"), &bob.access)
        .await
        .expect_json(200);
    assert_eq!(state, json!({ "receipts": false, "members": [] }));
    let m = post(&app, &ann.access, &trio, "big room").await;
    app.get(
        &format!("/api/messages/{}/receipts", s(&m, "id")),
        &ann.access,
    )
    .await
    .expect_error(409, "conflict");
    let m = post(&app, &ann.access, &group, "small room").await;
    app.get(
        &format!("/api/messages/{}/receipts", s(&m, "id")),
        &ann.access,
    )
    .await
    .expect(200);

    // Growing past the limit turns receipts off.
    app.put(
        &format!("/api/channels/{pair}/members/{}", carol.id),
        &ann.access,
        json!(null),
    )
    .await
    .expect(200);
    let info = app
        .get(&format!("/api/channels/{pair}"), &ann.access)
        .await
        .expect_json(200);
    assert_eq!(info["receipts"], false);
}

#[tokio::test]
async fn acknowledging_a_ding_moves_the_person_from_pending_to_acked() {
    let app = spawn_app().await;
    let (org, people) = org_with(&app, &["bob", "carol"]).await;
    let (ann, bob, carol) = (&org.owner, &people[0], &people[1]);
    let ch = channel(&app, &ann.access, &org.ws, "ops", "private", &[bob, carol]).await;
    let ding = post_reply(
        &app,
        &ann.access,
        &ch,
        json!({ "body": "Deploy at 5", "ack_required": true }),
    )
    .await
    .expect_json(201);
    assert_eq!(ding["ack_required"], true);
    let id = s(&ding, "id");
    let acks_path = format!("/api/messages/{id}/acks");
    let acks = app.get(&acks_path, &ann.access).await.expect_json(200);
    assert_keys(&acks, &["message_id", "acked", "pending"]);
    assert_eq!(acks["acked"], json!([]));
    assert_eq!(user_ids(&acks["pending"]), set(&[&bob.id, &carol.id]));

    app.post_empty(&format!("/api/messages/{id}/ack"), &bob.access)
        .await
        .expect(204);
    app.post_empty(&format!("/api/messages/{id}/ack"), &bob.access)
        .await
        .expect(204);
    let acks = app.get(&acks_path, &carol.access).await.expect_json(200);
    let acked = acks["acked"].as_array().expect("acked");
    assert_eq!(acked.len(), 1, "{acks}");
    assert_eq!(acked[0]["user"]["id"], bob.id.as_str());
    assert!(acked[0]["acked_at"].is_string());
    assert_eq!(user_ids(&acks["pending"]), set(&[&carol.id]));
    // Acknowledging implies having read it.
    assert_eq!(counts(&app, &bob.access, &org.ws, &ch).await, (0, 0));
    assert_eq!(counts(&app, &carol.access, &org.ws, &ch).await.0, 1);

    // Plain messages and thread replies ask for nothing.
    let plain = post(&app, &ann.access, &ch, "fyi").await;
    app.post_empty(
        &format!("/api/messages/{}/ack", s(&plain, "id")),
        &bob.access,
    )
    .await
    .expect_error(409, "conflict");
    app.get(
        &format!("/api/messages/{}/acks", s(&plain, "id")),
        &ann.access,
    )
    .await
    .expect_error(409, "conflict");
    let reply = post_reply(
        &app,
        &ann.access,
        &ch,
        json!({ "body": "in thread", "thread_root_id": id, "ack_required": true }),
    )
    .await
    .expect_json(201);
    assert_eq!(reply["ack_required"], false);
}

/// Wait until `ws` has received `count` `ding` events for `message`, skipping other
/// frames.
async fn dings(ws: &mut Ws, message: &str, count: usize) {
    for _ in 0..count {
        let f = frame_where(ws, "a ding", |f| f["type"] == "ding").await;
        assert_eq!(f["message"]["id"], message, "{f}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reminders_repeat_for_people_who_have_not_acknowledged_only() {
    let app = spawn_app_with(|c| c.ding_reminder_interval_secs = 1).await;
    let (org, people) = org_with(&app, &["bob", "carol"]).await;
    let (ann, bob, carol) = (&org.owner, &people[0], &people[1]);
    let ch = channel(&app, &ann.access, &org.ws, "ops", "private", &[bob, carol]).await;
    let mut bob_ws = app.ws_connect_and_auth(&bob.access).await;
    let mut carol_ws = app.ws_connect_and_auth(&carol.access).await;
    let mut ann_ws = app.ws_connect_and_auth(&ann.access).await;
    let ding = post_reply(
        &app,
        &ann.access,
        &ch,
        json!({ "body": "Sign the form", "ack_required": true }),
    )
    .await
    .expect_json(201);
    let id = s(&ding, "id");
    app.post_empty(&format!("/api/messages/{id}/ack"), &bob.access)
        .await
        .expect(204);
    // At most one reminder round can have been under way while Bob acknowledged;
    // Carol's third reminder after that comes from rounds that began afterwards.
    dings(&mut carol_ws, &id, 3).await;
    let bobs = Notes::open(&app, bob, &org.ws)
        .await
        .drain(&app, &mut bob_ws)
        .await;
    let bob_dings = bobs.iter().filter(|f| f["type"] == "ding").count();
    assert!(
        bob_dings <= 1,
        "Bob acknowledged, yet was reminded {bob_dings} times"
    );
    let ding_event = bobs.iter().find(|f| f["type"] == "ding");
    if let Some(ev) = ding_event {
        assert_eq!(ev["message"]["id"], id.as_str());
    }
    // The sender is never reminded of her own message.
    let anns = Notes::open(&app, ann, &org.ws)
        .await
        .drain(&app, &mut ann_ws)
        .await;
    assert!(anns.iter().all(|f| f["type"] != "ding"), "{anns:?}");
}

#[tokio::test]
async fn a_reminder_round_reaches_exactly_the_people_still_pending() {
    let app = spawn_app_with(|c| c.ding_reminder_interval_secs = 3600).await;
    let (org, people) = org_with(&app, &["bob", "carol"]).await;
    let (ann, bob, carol) = (&org.owner, &people[0], &people[1]);
    let ch = channel(&app, &ann.access, &org.ws, "ops", "private", &[bob, carol]).await;
    let ding = post_reply(
        &app,
        &ann.access,
        &ch,
        json!({ "body": "Sign the form", "ack_required": true }),
    )
    .await
    .expect_json(201);
    let deleted = post_reply(
        &app,
        &ann.access,
        &ch,
        json!({ "body": "never mind", "ack_required": true }),
    )
    .await
    .expect_json(201);
    app.delete(&format!("/api/messages/{}", s(&deleted, "id")), &ann.access)
        .await
        .expect(200);
    app.post_empty(
        &format!("/api/messages/{}/ack", s(&ding, "id")),
        &bob.access,
    )
    .await
    .expect(204);
    let mut bob_ws = app.ws_connect_and_auth(&bob.access).await;
    let mut carol_ws = app.ws_connect_and_auth(&carol.access).await;
    convene::chat::receipts::remind_once(&app.state.chat)
        .await
        .expect("a reminder round");
    let ev = expect_type(frame(&mut carol_ws).await, "ding");
    assert_eq!(
        ev["message"],
        message(&app, &carol.access, &s(&ding, "id")).await
    );
    Notes::open(&app, carol, &org.ws)
        .await
        .assert_quiet(&app, &mut carol_ws)
        .await;
    Notes::open(&app, bob, &org.ws)
        .await
        .assert_quiet(&app, &mut bob_ws)
        .await;
}
