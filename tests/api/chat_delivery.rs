//! Delivery guarantees of chat events: resume after a disconnect (alone and racing
//! live traffic), catching up over REST, idempotent sends, and slow consumers cut off
//! without holding up anyone else.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::net::TcpSocket;
use tokio::sync::watch;
use tokio_tungstenite::MaybeTlsStream;

use crate::chat_support::*;
use crate::harness::*;

/// Assert that `events` are message events with rising `seq`, each equal to its
/// message's version, and no `(message, version)` twice.
#[track_caller]
fn assert_in_order_without_duplicates(events: &[Value]) {
    let mut seen = HashSet::new();
    let mut last = i64::MIN;
    for e in events {
        assert_eq!(e["type"], "message", "{e}");
        let seq = n(e, "seq");
        assert_eq!(
            seq,
            n(&e["message"], "version"),
            "event seq is the version: {e}"
        );
        assert!(seq > last, "seq {seq} after {last}: not in order");
        last = seq;
        assert!(
            seen.insert((s(&e["message"], "id"), seq)),
            "delivered twice: {e}"
        );
    }
}

/// Everything changed in `channel` after `after`, over REST, all pages.
async fn changed_after(app: &TestApp, token: &str, channel: &str, after: i64) -> Vec<Value> {
    let mut out = Vec::new();
    let mut position = after;
    loop {
        let page = history(
            app,
            token,
            channel,
            &format!("changed_after={position}&limit=200"),
        )
        .await;
        let batch = page["messages"].as_array().expect("messages").clone();
        if let Some(last) = batch.last() {
            position = n(last, "version");
        }
        out.extend(batch);
        if page["has_more_after"] != true {
            return out;
        }
    }
}

#[tokio::test]
async fn a_reconnecting_client_gets_exactly_what_changed_while_it_was_away() {
    let app = spawn_app().await;
    let (org, people) = org_with(&app, &["bob"]).await;
    let (ann, bob) = (&org.owner, &people[0]);
    let ch = channel(&app, &ann.access, &org.ws, "general", "public", &[bob]).await;
    let quiet = channel(&app, &ann.access, &org.ws, "quiet", "public", &[bob]).await;
    let mut bob_notes = Notes::open(&app, bob, &org.ws).await;
    let mut bob_ws = app.ws_connect_and_auth(&bob.access).await;
    let m1 = post(&app, &ann.access, &ch, "one").await;
    let untouched = post(&app, &ann.access, &quiet, "nothing new here").await;
    let ev = message_event(&mut bob_ws).await;
    assert_eq!(ev["message"], m1);
    message_event(&mut bob_ws).await;
    let position = n(&ev, "seq");
    drop(bob_ws);

    // While Bob is away: new messages, an edit, a reaction, a pin, a delete, a reply.
    let m2 = post(&app, &ann.access, &ch, "two").await;
    let m3 = post(&app, &ann.access, &ch, "three").await;
    let m4 = post(&app, &ann.access, &ch, "four").await;
    let path = |m: &Value, tail: &str| format!("/api/messages/{}{tail}", s(m, "id"));
    app.patch(
        &path(&m1, ""),
        &ann.access,
        json!({ "body": "one, edited" }),
    )
    .await
    .expect(200);
    app.put(&path(&m2, "/reactions/🎉"), &ann.access, json!(null))
        .await
        .expect(200);
    app.delete(&path(&m3, ""), &ann.access).await.expect(200);
    let reply = post_reply(
        &app,
        &ann.access,
        &ch,
        json!({ "body": "a reply", "thread_root_id": m4["id"] }),
    )
    .await
    .expect_json(201);
    app.put(&path(&m2, "/pin"), &ann.access, json!(null))
        .await
        .expect(200);

    let expected = changed_after(&app, &bob.access, &ch, position).await;
    let expected_ids: Vec<String> = expected.iter().map(|m| s(m, "id")).collect();
    let [id1, id2, id3, id4] = [&m1, &m2, &m3, &m4].map(|m| s(m, "id"));
    assert_eq!(
        expected_ids,
        [id1, id3, s(&reply, "id"), id4, id2],
        "each changed message once, in the order of its last change"
    );

    let mut bob_ws = ws_resume(
        &app,
        &bob.access,
        json!({ ch.clone(): position, quiet.clone(): n(&untouched, "version") }),
    )
    .await;
    let mut replayed = Vec::new();
    for _ in 0..expected.len() {
        replayed.push(message_event(&mut bob_ws).await);
    }
    assert_in_order_without_duplicates(&replayed);
    let replayed_messages: Vec<Value> = replayed.iter().map(|e| e["message"].clone()).collect();
    assert_eq!(
        replayed_messages, expected,
        "the replay is the REST catch-up"
    );
    assert!(replayed.iter().all(|e| e["channel_id"] == ch.as_str()));
    bob_notes.assert_quiet(&app, &mut bob_ws).await;

    // Live events continue after the replay, once each.
    let m5 = post(&app, &ann.access, &ch, "five").await;
    assert_eq!(message_event(&mut bob_ws).await["message"], m5);
    bob_notes.assert_quiet(&app, &mut bob_ws).await;

    // A resume frame on an open socket replays too, then answers.
    ws_send(
        &mut bob_ws,
        json!({ "type": "resume", "id": "again", "positions": { ch.clone(): n(&m5, "seq") - 1 } }),
    )
    .await;
    assert_eq!(message_event(&mut bob_ws).await["message"], m5);
    assert_eq!(
        frame(&mut bob_ws).await,
        json!({ "type": "ok", "id": "again" })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn resuming_while_others_post_covers_every_change_exactly_once() {
    let app = spawn_app().await;
    let (org, people) = org_with(&app, &["bob"]).await;
    let (ann, bob) = (&org.owner, &people[0]);
    let ch = channel(&app, &ann.access, &org.ws, "busy", "public", &[bob]).await;
    let mut bob_notes = Notes::open(&app, bob, &org.ws).await;
    let mut position = n(&post(&app, &ann.access, &ch, "start").await, "seq");

    // Each round: Ann posts (and now and then edits) continuously; Bob reconnects
    // with his position partway through and reads until Ann's last post.
    for (round, reconnect_after) in [2usize, 10, 25].into_iter().enumerate() {
        const POSTS: usize = 40;
        let last_body = format!("round {round} post {}", POSTS - 1);
        let (progress_tx, mut progress) = watch::channel(0usize);
        let poster = async {
            let mut ids = Vec::new();
            for i in 0..POSTS {
                let m = post(&app, &ann.access, &ch, &format!("round {round} post {i}")).await;
                ids.push(s(&m, "id"));
                if i % 3 == 2 && i + 1 < POSTS {
                    let target = &ids[i - 2];
                    app.patch(
                        &format!("/api/messages/{target}"),
                        &ann.access,
                        json!({ "body": format!("round {round} post {} edited", i - 2) }),
                    )
                    .await
                    .expect(200);
                }
                let _ = progress_tx.send(i + 1);
            }
        };
        let reader = async {
            progress
                .wait_for(|posted| *posted >= reconnect_after)
                .await
                .expect("the poster is running");
            let mut ws = ws_resume(&app, &bob.access, json!({ ch.clone(): position })).await;
            let mut events = Vec::new();
            loop {
                let e = message_event(&mut ws).await;
                let done = e["message"]["body"] == last_body.as_str();
                events.push(e);
                if done {
                    return (ws, events);
                }
            }
        };
        let ((), (mut ws, events)) = tokio::join!(poster, reader);
        bob_notes.assert_quiet(&app, &mut ws).await;

        assert_in_order_without_duplicates(&events);
        let expected = changed_after(&app, &bob.access, &ch, position).await;
        let mut latest: HashMap<String, Value> = HashMap::new();
        for e in &events {
            latest.insert(s(&e["message"], "id"), e["message"].clone());
        }
        assert_eq!(
            latest.len(),
            expected.len(),
            "round {round}: every changed message arrived"
        );
        for m in &expected {
            assert_eq!(
                latest.get(&s(m, "id")),
                Some(m),
                "round {round}: the latest version arrived"
            );
        }
        position = events.iter().map(|e| n(e, "seq")).max().expect("events");
    }
}

#[tokio::test]
async fn changed_after_fills_a_gap_page_by_page() {
    let app = spawn_app().await;
    let (org, people) = org_with(&app, &["bob"]).await;
    let (ann, bob) = (&org.owner, &people[0]);
    let ch = channel(&app, &ann.access, &org.ws, "general", "public", &[bob]).await;
    let first = post(&app, &ann.access, &ch, "seen").await;
    let gap_start = n(&first, "seq");
    let mut posted = Vec::new();
    for i in 0..5 {
        posted.push(post(&app, &bob.access, &ch, &format!("missed {i}")).await);
    }
    let reply = post_reply(
        &app,
        &ann.access,
        &ch,
        json!({ "body": "reply", "thread_root_id": posted[0]["id"] }),
    )
    .await
    .expect_json(201);

    let page = history(
        &app,
        &bob.access,
        &ch,
        &format!("changed_after={gap_start}&limit=3"),
    )
    .await;
    assert_eq!(page["has_more_after"], true);
    assert_eq!(page["has_more_before"], false);
    let batch = page["messages"].as_array().expect("messages");
    assert_eq!(batch.len(), 3);
    let all = changed_after(&app, &bob.access, &ch, gap_start).await;
    let versions: Vec<i64> = all.iter().map(|m| n(m, "version")).collect();
    assert!(versions.windows(2).all(|w| w[0] < w[1]), "{versions:?}");
    let got: Vec<String> = all.iter().map(|m| s(m, "id")).collect();
    // Messages 1-4, the reply, then the root with its new reply count.
    let mut want: Vec<String> = posted[1..].iter().map(|m| s(m, "id")).collect();
    want.push(s(&reply, "id"));
    want.push(s(&posted[0], "id"));
    assert_eq!(got, want);
    assert_eq!(all.last().expect("root")["reply_count"], 1);
    let rest = history(
        &app,
        &bob.access,
        &ch,
        &format!("changed_after={}", versions[5]),
    )
    .await;
    assert_eq!(rest["messages"], json!([]));
    assert_eq!(rest["has_more_after"], false);
    // One way of paging at a time.
    app.get(
        &format!("/api/channels/{ch}/messages?changed_after=1&after=1"),
        &bob.access,
    )
    .await
    .expect_error(422, "validation");
}

#[tokio::test]
async fn a_repeated_client_key_stores_one_message_over_rest_and_websocket() {
    let app = spawn_app().await;
    let (org, people) = org_with(&app, &["bob"]).await;
    let (ann, bob) = (&org.owner, &people[0]);
    let ch = channel(&app, &ann.access, &org.ws, "general", "public", &[bob]).await;
    let mut bob_ws = app.ws_connect_and_auth(&bob.access).await;
    let mut bob_notes = Notes::open(&app, bob, &org.ws).await;
    let mut ann_ws = app.ws_connect_and_auth(&ann.access).await;

    let first = post_reply(
        &app,
        &ann.access,
        &ch,
        json!({ "body": "once", "client_key": "rest-1" }),
    )
    .await
    .expect_json(201);
    let retry = post_reply(
        &app,
        &ann.access,
        &ch,
        json!({ "body": "once (retried)", "client_key": "rest-1" }),
    )
    .await
    .expect_json(201);
    assert_eq!(retry, first, "the retry returns the stored message");
    assert_eq!(message_event(&mut ann_ws).await["message"], first);

    let ok = ws_post(
        &mut ann_ws,
        "a",
        &ch,
        json!({ "body": "twice", "client_key": "ws-1" }),
    )
    .await;
    ws_send(
        &mut ann_ws,
        json!({ "type": "send", "id": "b", "channel_id": ch, "message": { "body": "twice", "client_key": "ws-1" } }),
    )
    .await;
    let again = frame(&mut ann_ws).await;
    assert_eq!(again["type"], "ok", "{again}");
    assert_eq!(again["id"], "b");
    assert_eq!(again["message"], ok["message"]);
    let over_rest = post_reply(
        &app,
        &ann.access,
        &ch,
        json!({ "body": "twice", "client_key": "ws-1" }),
    )
    .await
    .expect_json(201);
    assert_eq!(over_rest, ok["message"]);

    // Bob saw each message once.
    assert_eq!(message_event(&mut bob_ws).await["message"], first);
    assert_eq!(message_event(&mut bob_ws).await["message"], ok["message"]);
    bob_notes.assert_quiet(&app, &mut bob_ws).await;
    let stored = messages(&app, &bob.access, &ch, "").await;
    assert_eq!(stored.len(), 2);

    // The key is the sender's: Bob may use the same one for his own message.
    let bobs = post_reply(
        &app,
        &bob.access,
        &ch,
        json!({ "body": "mine", "client_key": "rest-1" }),
    )
    .await
    .expect_json(201);
    assert_ne!(bobs["id"], first["id"]);
}

/// Server bug: the writer's idempotency lookup (server/src/chat/writer.rs,
/// `write_batch`: `SELECT id, seq, created_at FROM messages WHERE sender_id = $1 AND
/// client_key = $2`, and the in-batch `keys` map) ignores the channel, so a send whose
/// key was used before in another channel answers 201 with that other channel's
/// message and posts nothing where it was sent; it even hands back the current state
/// of a message in a channel the sender has since left. Fix: match the channel too
/// and answer 409 when the key belongs to a message of another channel (the unique
/// index is on `(sender_id, client_key)`).
#[tokio::test]
async fn a_client_key_used_in_another_channel_does_not_return_that_channels_message() {
    let app = spawn_app().await;
    let (org, people) = org_with(&app, &["bob"]).await;
    let (ann, bob) = (&org.owner, &people[0]);
    let first = channel(&app, &ann.access, &org.ws, "first", "private", &[bob]).await;
    let second = channel(&app, &ann.access, &org.ws, "second", "public", &[bob]).await;
    let original = post_reply(
        &app,
        &bob.access,
        &first,
        json!({ "body": "in first", "client_key": "k" }),
    )
    .await
    .expect_json(201);
    app.post_empty(&format!("/api/channels/{first}/leave"), &bob.access)
        .await
        .expect(204);
    let reply = post_reply(
        &app,
        &bob.access,
        &second,
        json!({ "body": "in second", "client_key": "k" }),
    )
    .await;
    match reply.status.as_u16() {
        201 => {
            let stored = reply.json();
            assert_ne!(
                stored["id"], original["id"],
                "answered with a message of a channel Bob left: {stored}"
            );
            assert_eq!(stored["channel_id"], second.as_str());
        }
        _ => reply.expect_error(409, "conflict"),
    }
}

#[tokio::test]
async fn sends_on_one_connection_are_stored_in_the_order_they_were_sent() {
    let app = spawn_app().await;
    let (org, people) = org_with(&app, &["bob"]).await;
    let (ann, bob) = (&org.owner, &people[0]);
    let ch = channel(&app, &ann.access, &org.ws, "general", "public", &[bob]).await;
    let mut ws = app.ws_connect_and_auth(&ann.access).await;
    const SENDS: usize = 30;
    for i in 0..SENDS {
        ws_send(
            &mut ws,
            json!({ "type": "send", "id": format!("s{i}"), "channel_id": ch,
                    "message": { "body": format!("message {i}"), "client_key": format!("order-{i}") } }),
        )
        .await;
    }
    let mut answers = Vec::new();
    while answers.len() < SENDS {
        let f = frame(&mut ws).await;
        match f["type"].as_str() {
            Some("ok") => answers.push(f),
            Some("message") => {}
            _ => panic!("unexpected frame {f}"),
        }
    }
    let ids: Vec<String> = answers.iter().map(|a| s(a, "id")).collect();
    let want: Vec<String> = (0..SENDS).map(|i| format!("s{i}")).collect();
    assert_eq!(ids, want, "answers come in order");
    let seqs: Vec<i64> = answers.iter().map(|a| n(a, "seq")).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    let stored: Vec<String> = messages(&app, &bob.access, &ch, "limit=100")
        .await
        .iter()
        .map(|m| s(m, "body"))
        .collect();
    let bodies: Vec<String> = (0..SENDS).map(|i| format!("message {i}")).collect();
    assert_eq!(stored, bodies);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn more_than_500_missed_changes_ask_for_a_resync_instead_of_a_replay() {
    let app = spawn_app().await;
    let (org, people) = org_with(&app, &["bob"]).await;
    let (ann, bob) = (&org.owner, &people[0]);
    let ch = channel(&app, &ann.access, &org.ws, "busy", "public", &[bob]).await;
    let small = channel(&app, &ann.access, &org.ws, "small", "public", &[bob]).await;
    let start = n(&post(&app, &ann.access, &ch, "start").await, "seq");
    let small_start = n(&post(&app, &ann.access, &small, "start").await, "seq");
    for _ in 0..17 {
        let posts = (0..30).map(|_| post(&app, &ann.access, &ch, "x"));
        futures_util::future::join_all(posts).await;
    }
    let late = post(&app, &ann.access, &small, "late").await;
    let mut ws = ws_resume(
        &app,
        &bob.access,
        json!({ ch.clone(): start, small.clone(): small_start }),
    )
    .await;
    let mut got = [frame(&mut ws).await, frame(&mut ws).await];
    got.sort_by_key(|f| f["type"].as_str().map(str::to_owned));
    assert_eq!(got[0]["message"], late);
    assert_eq!(got[1], json!({ "type": "resync", "channel_id": ch }));
    // Live events still flow for the channel being reloaded.
    let live = post(&app, &ann.access, &ch, "live").await;
    assert_eq!(message_event(&mut ws).await["message"], live);
    // Exactly 500 changes still replay.
    let last = n(&live, "seq");
    let mut again = ws_resume(&app, &bob.access, json!({ ch.clone(): last - 500 })).await;
    for _ in 0..500 {
        message_event(&mut again).await;
    }
    Notes::open(&app, bob, &org.ws)
        .await
        .assert_quiet(&app, &mut again)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_sends_with_one_client_key_store_one_message() {
    let app = spawn_app().await;
    let (org, people) = org_with(&app, &["bob"]).await;
    let (ann, bob) = (&org.owner, &people[0]);
    let ch = channel(&app, &ann.access, &org.ws, "general", "public", &[bob]).await;

    for round in 0..3 {
        let key = format!("same-{round}");
        let rest = (0..8).map(|_| {
            post_reply(
                &app,
                &ann.access,
                &ch,
                json!({ "body": "dup", "client_key": key }),
            )
        });
        let mut sockets = Vec::new();
        for _ in 0..3 {
            sockets.push(app.ws_connect_and_auth(&ann.access).await);
        }
        let ws_sends = sockets.iter_mut().enumerate().map(|(i, ws)| {
            let key = key.clone();
            let ch = ch.clone();
            async move {
                ws_send(
                    ws,
                    json!({ "type": "send", "id": format!("w{i}"), "channel_id": ch,
                            "message": { "body": "dup", "client_key": key } }),
                )
                .await;
                let answer = frame_where(ws, "the send's answer", |f| {
                    f["type"] == "ok" || f["type"] == "error"
                })
                .await;
                expect_type(answer, "ok")
            }
        });
        let (rest, oks) = tokio::join!(
            futures_util::future::join_all(rest),
            futures_util::future::join_all(ws_sends)
        );
        let mut ids = HashSet::new();
        for r in rest {
            ids.insert(s(&r.expect_json(201), "id"));
        }
        for ok in oks {
            ids.insert(s(&ok["message"], "id"));
        }
        assert_eq!(
            ids.len(),
            1,
            "round {round}: one message for one key: {ids:?}"
        );
    }
    let stored = messages(&app, &bob.access, &ch, "").await;
    assert_eq!(stored.len(), 3, "{stored:?}");
}

/// A websocket whose receive buffer is tiny, so a client that does not read it
/// pushes back on the server after a few frames.
async fn tight_socket(app: &TestApp, token: &str) -> Ws {
    let socket = TcpSocket::new_v4().expect("a TCP socket");
    socket.set_recv_buffer_size(4096).expect("set SO_RCVBUF");
    let stream = socket.connect(app.addr).await.expect("connect");
    let url = format!("ws://{}/api/ws", app.addr);
    let (mut ws, _) = tokio_tungstenite::client_async(url, MaybeTlsStream::Plain(stream))
        .await
        .expect("websocket handshake");
    ws_send(
        &mut ws,
        json!({ "type": "auth", "id": "1", "token": token }),
    )
    .await;
    assert_eq!(frame(&mut ws).await, json!({ "type": "ok", "id": "1" }));
    ws
}

/// Post `count` large messages (each event carries ~90 KB of body and HTML, so
/// socket buffers fill after a few dozen).
async fn flood(app: &TestApp, token: &str, channel: &str, count: usize) {
    let filler = "字".repeat(15_000);
    for i in 0..count {
        post(app, token, channel, &format!("flood {i} {filler}")).await;
    }
}

/// Messages posted by a flood in these tests.
const FLOOD: usize = 120;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_client_that_stops_reading_is_closed_with_4009_while_a_fast_one_gets_everything() {
    let app = spawn_app_with(|c| c.ws_queue_len = 16).await;
    let (org, people) = org_with(&app, &["bob", "carol"]).await;
    let (ann, bob, carol) = (&org.owner, &people[0], &people[1]);
    let ch = channel(
        &app,
        &ann.access,
        &org.ws,
        "firehose",
        "public",
        &[bob, carol],
    )
    .await;
    let start = n(&post(&app, &ann.access, &ch, "start").await, "seq");
    let mut slow = tight_socket(&app, &carol.access).await;
    let mut fast = app.ws_connect_and_auth(&bob.access).await;

    let reader = async {
        let mut bodies = Vec::new();
        while bodies.len() < FLOOD {
            let e = message_event(&mut fast).await;
            bodies.push(s(&e["message"], "body"));
        }
        bodies
    };
    let (bodies, ()) = tokio::time::timeout(Duration::from_secs(120), async {
        tokio::join!(reader, flood(&app, &ann.access, &ch, FLOOD))
    })
    .await
    .expect("the fast client keeps up with the flood");
    for (i, body) in bodies.iter().enumerate() {
        assert!(
            body.starts_with(&format!("flood {i} ")),
            "message {i} in order"
        );
    }

    // Carol now reads what reached her socket: some messages, then 4009.
    let mut got = Vec::new();
    let code = loop {
        match next_within(&mut slow, Duration::from_secs(30)).await {
            Some(WsEvent::Frame(f)) => got.push(expect_type(f, "message")),
            Some(WsEvent::Closed(code)) => break code,
            other => panic!("expected messages then a close, got {other:?}"),
        }
    };
    assert_eq!(code, Some(4009));
    assert!(got.len() < FLOOD, "the slow client was cut off early");
    assert_in_order_without_duplicates(&got);

    // Reconnecting with resume brings the rest, each once.
    let position = got.last().map_or(start, |e| n(e, "seq"));
    let mut again = ws_resume(&app, &carol.access, json!({ ch.clone(): position })).await;
    let mut rest = Vec::new();
    for _ in got.len()..FLOOD {
        rest.push(message_event(&mut again).await);
    }
    got.extend(rest);
    assert_in_order_without_duplicates(&got);
    let mut notes = Notes::open(&app, carol, &org.ws).await;
    notes.assert_quiet(&app, &mut again).await;
}

/// Server bug: the connection task (server/src/realtime/gateway.rs, the `events` arm
/// of the main `select!`) awaits `socket.feed`/`socket.flush` with no time limit, so
/// once a client stops reading, the task blocks in `flush` for good: the 4009 close
/// the hub queued on the control channel is never acted on, the connection stays
/// registered (presence "online", its queue and socket buffers held), and pings and
/// the idle check stop too. Fix: bound each write (e.g. `timeout(10 s, flush)` and
/// break on expiry), or race the flush against `control.recv()`; on `Close`, send the
/// close frame with a short timeout and drop the socket either way.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_client_that_never_reads_again_is_dropped_by_the_server() {
    let app = spawn_app_with(|c| c.ws_queue_len = 16).await;
    let (org, people) = org_with(&app, &["carol"]).await;
    let (ann, carol) = (&org.owner, &people[0]);
    let ch = channel(&app, &ann.access, &org.ws, "firehose", "public", &[carol]).await;
    let _slow = tight_socket(&app, &carol.access).await;
    flood(&app, &ann.access, &ch, FLOOD).await;
    let presence = format!("/api/workspaces/{}/presence?user_ids={}", org.ws, carol.id);
    let mut status = Value::Null;
    for _ in 0..150 {
        status = app.get(&presence, &ann.access).await.expect_json(200)[0]["status"].clone();
        if status == "offline" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        status, "offline",
        "15 s after overflowing its queue, the unread connection is still registered"
    );
}
