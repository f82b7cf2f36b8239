//! Workspaces are walls: a member of another workspace (or someone removed from this
//! one) sees none of its channels, messages, files, receipts, search results, typing
//! or presence, over REST or the websocket.

use reqwest::Method;
use serde_json::{Value, json};

use crate::chat_support::*;
use crate::harness::*;

/// Workspace A (Ann owns it, Bob is a member) with a public channel, a message with a
/// file and a DM; workspace B (Ann owns it too) with Zed, who is not in A.
struct TwoWorkspaces {
    app: TestApp,
    org: Org,
    bob: Account,
    zed: Account,
    ws_b: String,
    channel: String,
    dm: String,
    message: String,
    file: String,
}

async fn two_workspaces() -> TwoWorkspaces {
    let app = spawn_app().await;
    let (org, people) = org_with(&app, &["bob"]).await;
    let bob = people[0].clone();
    let ann = &org.owner;
    let ws_b = app.create_workspace(ann, "Other Co").await;
    let zed = app.add_member(ann, &ws_b, "zed", "member").await;
    let channel = channel(&app, &ann.access, &org.ws, "general", "public", &[&bob]).await;
    let file = upload(
        &app,
        &ann.access,
        &channel,
        "a.txt",
        "text/plain",
        b"A only".to_vec(),
    )
    .await
    .expect_json(201);
    let m = post_reply(
        &app,
        &ann.access,
        &channel,
        json!({ "body": "会议纪要 for A", "file_ids": [file["id"]], "ack_required": true }),
    )
    .await
    .expect_json(201);
    let dm = s(&open_dm(&app, &ann.access, &org.ws, &[&bob.id]).await, "id");
    post(&app, &bob.access, &dm, "会议纪要 in a DM").await;
    TwoWorkspaces {
        message: s(&m, "id"),
        file: s(&file, "id"),
        app,
        org,
        bob,
        zed,
        ws_b,
        channel,
        dm,
    }
}

#[tokio::test]
async fn a_member_of_another_workspace_gets_404_for_everything_in_this_one() {
    let t = two_workspaces().await;
    let (app, zed) = (&t.app, &t.zed);
    let (ws, ch, mid, fid, dm) = (&t.org.ws, &t.channel, &t.message, &t.file, &t.dm);
    let routes: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, format!("/api/workspaces/{ws}/channels"), None),
        (
            Method::GET,
            format!("/api/workspaces/{ws}/channels/browse"),
            None,
        ),
        (
            Method::POST,
            format!("/api/workspaces/{ws}/channels"),
            Some(json!({ "name": "mine" })),
        ),
        (
            Method::POST,
            format!("/api/workspaces/{ws}/dms"),
            Some(json!({ "user_ids": [t.bob.id] })),
        ),
        (Method::POST, format!("/api/workspaces/{ws}/read-all"), None),
        (
            Method::GET,
            format!("/api/workspaces/{ws}/search?q=会议"),
            None,
        ),
        (
            Method::GET,
            format!("/api/workspaces/{ws}/presence?user_ids={}", t.bob.id),
            None,
        ),
        (Method::GET, format!("/api/channels/{ch}"), None),
        (Method::POST, format!("/api/channels/{ch}/join"), None),
        (Method::GET, format!("/api/channels/{ch}/messages"), None),
        (
            Method::GET,
            format!("/api/channels/{ch}/messages?changed_after=0"),
            None,
        ),
        (
            Method::POST,
            format!("/api/channels/{ch}/messages"),
            Some(json!({ "body": "hi" })),
        ),
        (Method::GET, format!("/api/channels/{ch}/members"), None),
        (Method::GET, format!("/api/channels/{ch}/pins"), None),
        (Method::GET, format!("/api/channels/{ch}/read-state"), None),
        (
            Method::POST,
            format!("/api/channels/{ch}/read"),
            Some(json!({ "seq": 1 })),
        ),
        (Method::GET, format!("/api/channels/{dm}"), None),
        (Method::GET, format!("/api/channels/{dm}/messages"), None),
        (Method::GET, format!("/api/messages/{mid}"), None),
        (
            Method::PUT,
            format!("/api/messages/{mid}/reactions/👍"),
            None,
        ),
        (Method::GET, format!("/api/messages/{mid}/receipts"), None),
        (Method::GET, format!("/api/messages/{mid}/acks"), None),
        (Method::POST, format!("/api/messages/{mid}/ack"), None),
        (Method::GET, format!("/api/files/{fid}"), None),
        (Method::GET, format!("/api/files/{fid}/thumbnail"), None),
    ];
    for (method, path, body) in &routes {
        let reply = app
            .call(method.clone(), path, Some(&zed.access), body.as_ref())
            .await;
        assert_eq!(
            reply.status.as_u16(),
            404,
            "{method} {path}: {}",
            reply.text()
        );
        reply.expect_error(404, "not_found");
    }
    let uploaded = upload(app, &zed.access, ch, "z.txt", "text/plain", b"z".to_vec()).await;
    uploaded.expect_error(404, "not_found");
    // Zed's own workspace: nothing of A shows, and A's people are not his to message.
    let hits = app
        .get(
            &format!("/api/workspaces/{}/search?q=会议纪要", t.ws_b),
            &zed.access,
        )
        .await
        .expect_json(200);
    assert_eq!(hits["hits"], json!([]));
    app.post(
        &format!("/api/workspaces/{}/dms", t.ws_b),
        &zed.access,
        json!({ "user_ids": [t.bob.id] }),
    )
    .await
    .expect_error(422, "validation");
    let presence = app
        .get(
            &format!("/api/workspaces/{}/presence?user_ids={}", t.ws_b, t.bob.id),
            &zed.access,
        )
        .await
        .expect_json(200);
    assert_eq!(presence, json!([]), "Bob is not in Zed's workspace");
    // Ann, in both, adding Bob to a B channel is refused: he is not a member there.
    let b_channel = channel(
        app,
        &t.org.owner.access,
        &t.ws_b,
        "b-general",
        "public",
        &[],
    )
    .await;
    app.put(
        &format!("/api/channels/{b_channel}/members/{}", t.bob.id),
        &t.org.owner.access,
        json!(null),
    )
    .await
    .expect_error(422, "validation");
}

#[tokio::test]
async fn a_foreign_socket_gets_no_replay_typing_or_presence_from_this_workspace() {
    let t = two_workspaces().await;
    let (app, zed, bob) = (&t.app, &t.zed, &t.bob);
    // Resuming a foreign channel replays nothing.
    let mut zed_ws = ws_resume(
        app,
        &zed.access,
        json!({ t.channel.clone(): 0, t.dm.clone(): 0 }),
    )
    .await;
    let mut zed_notes = Notes::open(app, zed, &t.ws_b).await;
    zed_notes.assert_quiet(app, &mut zed_ws).await;
    ws_send(
        &mut zed_ws,
        json!({ "type": "resume", "id": "r", "positions": { t.channel.clone(): 0 } }),
    )
    .await;
    assert_eq!(frame(&mut zed_ws).await, json!({ "type": "ok", "id": "r" }));

    // Presence of someone who shares no workspace is not given, now or later.
    ws_send(
        &mut zed_ws,
        json!({ "type": "presence.subscribe", "id": "p", "user_ids": [bob.id, t.org.owner.id] }),
    )
    .await;
    let ok = frame(&mut zed_ws).await;
    assert_eq!(
        ok,
        json!({ "type": "ok", "id": "p", "presence": [{ "user_id": t.org.owner.id, "status": "offline" }] })
    );
    let mut bob_ws = app.ws_connect_and_auth(&bob.access).await;

    // Zed's typing into A's channel goes nowhere; A's messages do not reach him.
    ws_send(
        &mut zed_ws,
        json!({ "type": "typing", "channel_id": t.channel, "thread_root_id": null }),
    )
    .await;
    ws_send(
        &mut zed_ws,
        json!({ "type": "read", "id": "rd", "channel_id": t.channel, "seq": 1 }),
    )
    .await;
    let refused = frame(&mut zed_ws).await;
    assert_eq!(
        (refused["id"].clone(), refused["code"].clone()),
        (json!("rd"), json!("not_found"))
    );
    ws_send(
        &mut zed_ws,
        json!({ "type": "send", "id": "s", "channel_id": t.channel, "message": { "body": "let me in" } }),
    )
    .await;
    let refused = frame(&mut zed_ws).await;
    assert_eq!(
        (refused["id"].clone(), refused["code"].clone()),
        (json!("s"), json!("not_found"))
    );
    post(app, &t.org.owner.access, &t.channel, "A only, live").await;
    assert_eq!(
        message_event(&mut bob_ws).await["message"]["body"],
        "A only, live"
    );
    ws_send(&mut bob_ws, json!({ "type": "away", "away": true })).await;
    Notes::open(app, bob, &t.org.ws)
        .await
        .assert_quiet(app, &mut bob_ws)
        .await;
    zed_notes.assert_quiet(app, &mut zed_ws).await;
}

/// Server bug: removing someone from a workspace (`members::remove_member` in
/// server/src/orgs/members.rs, used by DELETE /api/workspaces/{ws}/members/{user} and
/// POST /api/workspaces/{ws}/leave) deletes the membership and team memberships but
/// never calls `chat::channels::remove_from_workspace` (which exists and is unused)
/// nor `team_channels::sync_workspace`. The `channel_members` rows stay, so the
/// realtime fan-out (`Bus::members`) keeps sending the removed person every message,
/// read and typing event of those channels (typing by them also still passes the
/// membership check), and channel member lists still show them. Fix: after the
/// transaction commits, call `remove_from_workspace(&state.chat, ws, user)` (it also
/// invalidates the member cache and sends `channel.left`) in both callers.
#[tokio::test]
async fn someone_removed_from_the_workspace_stops_receiving_its_channels() {
    let t = two_workspaces().await;
    let (app, bob) = (&t.app, &t.bob);
    let ann = &t.org.owner;
    let mut bob_ws = app.ws_connect_and_auth(&bob.access).await;
    app.delete(
        &format!("/api/workspaces/{}/members/{}", t.org.ws, bob.id),
        &ann.access,
    )
    .await
    .expect(204);
    app.get(&format!("/api/channels/{}", t.channel), &bob.access)
        .await
        .expect_error(404, "not_found");
    post(app, &ann.access, &t.channel, "after Bob left").await;
    post(app, &ann.access, &t.dm, "are you there?").await;
    // Bob is only in workspace A, so his notes channel must live in a new one.
    let bobs_ws = app.create_workspace(bob, "Bob's place").await;
    let leaked = Notes::open(app, bob, &bobs_ws)
        .await
        .drain(app, &mut bob_ws)
        .await;
    let messages: Vec<&Value> = leaked.iter().filter(|f| f["type"] == "message").collect();
    assert!(
        messages.is_empty(),
        "Bob still receives the workspace's messages: {messages:?}"
    );
    let members = app
        .get(&format!("/api/channels/{}/members", t.channel), &ann.access)
        .await
        .expect_json(200);
    let still: Vec<String> = members
        .as_array()
        .expect("members")
        .iter()
        .map(|m| s(&m["user"], "id"))
        .collect();
    assert!(
        !still.contains(&bob.id),
        "Bob is still listed as a channel member: {still:?}"
    );
}
