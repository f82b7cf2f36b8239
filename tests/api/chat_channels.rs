//! Channel rules: public, private, announcement, team, DM and group DM channels;
//! create, rename, topic, archive, join, leave, members, and notification levels.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::{Value, json};

use crate::chat_support::*;
use crate::harness::*;

fn member_ids(list: &Value) -> BTreeSet<String> {
    list.as_array()
        .expect("members")
        .iter()
        .map(|m| s(&m["user"], "id"))
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

async fn channel_members(app: &TestApp, token: &str, ch: &str) -> BTreeSet<String> {
    member_ids(
        &app.get(&format!("/api/channels/{ch}/members"), token)
            .await
            .expect_json(200),
    )
}

#[tokio::test]
async fn a_public_channel_is_created_renamed_given_a_topic_archived_and_unarchived() {
    let app = spawn_app().await;
    let (org, people) = org_with(&app, &["bob", "carol"]).await;
    let (ann, bob, carol) = (&org.owner, &people[0], &people[1]);
    let created = create_channel_reply(
        &app,
        &ann.access,
        &org.ws,
        json!({ "name": " #General ", "topic": "Anything goes", "member_ids": [bob.id] }),
    )
    .await
    .expect_json(201);
    assert_keys(
        &created,
        &[
            "id",
            "workspace_id",
            "kind",
            "name",
            "topic",
            "team_id",
            "archived",
            "created_at",
            "last_seq",
            "last_message_at",
            "member_count",
            "is_member",
            "my_role",
            "notify",
            "last_read_seq",
            "unread_count",
            "mention_count",
            "peers",
            "receipts",
        ],
    );
    assert_eq!(created["kind"], "public");
    assert_eq!(created["name"], "General");
    assert_eq!(created["topic"], "Anything goes");
    assert_eq!(created["workspace_id"], org.ws.as_str());
    assert_eq!(created["member_count"], 2);
    assert_eq!(created["is_member"], true);
    assert_eq!(created["my_role"], "admin");
    assert_eq!(created["archived"], false);
    assert_eq!(created["notify"], "all");
    assert_eq!(created["receipts"], true);
    let ch = s(&created, "id");
    create_channel_reply(&app, &ann.access, &org.ws, json!({ "name": "general" }))
        .await
        .expect_error(409, "conflict");
    create_channel_reply(&app, &ann.access, &org.ws, json!({ "name": "  " }))
        .await
        .expect_error(422, "validation");
    create_channel_reply(
        &app,
        &ann.access,
        &org.ws,
        json!({ "name": "x", "member_ids": [uuid::Uuid::now_v7()] }),
    )
    .await
    .expect_error(422, "validation");

    let mut bob_ws = app.ws_connect_and_auth(&bob.access).await;
    let path = format!("/api/channels/{ch}");
    let renamed = app
        .patch(
            &path,
            &ann.access,
            json!({ "name": "town-square", "topic": "Say hi" }),
        )
        .await
        .expect_json(200);
    assert_eq!(renamed["name"], "town-square");
    assert_eq!(renamed["topic"], "Say hi");
    assert_eq!(
        frame(&mut bob_ws).await,
        json!({ "type": "channel.updated", "channel_id": ch, "workspace_id": org.ws })
    );
    app.patch(&path, &bob.access, json!({ "topic": "mine now" }))
        .await
        .expect_error(403, "forbidden");

    let archived = app
        .patch(&path, &ann.access, json!({ "archived": true }))
        .await
        .expect_json(200);
    assert_eq!(archived["archived"], true);
    expect_type(frame(&mut bob_ws).await, "channel.updated");
    let old = messages(&app, &bob.access, &ch, "").await;
    post_reply(&app, &bob.access, &ch, json!({ "body": "anyone?" }))
        .await
        .expect_error(409, "conflict");
    app.post_empty(&format!("/api/channels/{ch}/join"), &carol.access)
        .await
        .expect_error(409, "conflict");
    ws_send(
        &mut bob_ws,
        json!({ "type": "send", "id": "s", "channel_id": ch, "message": { "body": "ws?" } }),
    )
    .await;
    let refused = frame(&mut bob_ws).await;
    assert_eq!(refused["type"], "error");
    assert_eq!(refused["id"], "s");
    assert_eq!(refused["code"], "conflict");
    assert_eq!(
        messages(&app, &bob.access, &ch, "").await,
        old,
        "nothing was posted"
    );

    app.patch(&path, &ann.access, json!({ "archived": false }))
        .await
        .expect(200);
    post(&app, &bob.access, &ch, "back again").await;
}

#[tokio::test]
async fn anyone_may_browse_join_and_leave_a_public_channel() {
    let app = spawn_app().await;
    let (org, people) = org_with(&app, &["bob"]).await;
    let (ann, bob) = (&org.owner, &people[0]);
    let public = channel(&app, &ann.access, &org.ws, "lobby", "public", &[]).await;
    let news = channel(&app, &ann.access, &org.ws, "news", "announcement", &[]).await;
    channel(&app, &ann.access, &org.ws, "hidden", "private", &[]).await;
    let browse = app
        .get(
            &format!("/api/workspaces/{}/channels/browse", org.ws),
            &bob.access,
        )
        .await
        .expect_json(200);
    let mut listed_ids = ids(&browse);
    listed_ids.sort();
    let mut want = vec![public.clone(), news.clone()];
    want.sort();
    assert_eq!(listed_ids, want, "public and announcement channels only");
    assert!(
        browse
            .as_array()
            .expect("list")
            .iter()
            .all(|c| c["is_member"] == false)
    );

    let mut ann_ws = app.ws_connect_and_auth(&ann.access).await;
    let mut bob_ws = app.ws_connect_and_auth(&bob.access).await;
    let joined = app
        .post_empty(&format!("/api/channels/{public}/join"), &bob.access)
        .await
        .expect_json(200);
    assert_eq!(joined["is_member"], true);
    assert_eq!(joined["my_role"], "member");
    assert_eq!(joined["member_count"], 2);
    assert_eq!(
        frame(&mut bob_ws).await,
        json!({ "type": "channel.joined", "channel_id": public, "workspace_id": org.ws })
    );
    assert_eq!(
        frame(&mut ann_ws).await,
        json!({ "type": "channel.updated", "channel_id": public, "workspace_id": org.ws })
    );
    assert!(ids(&json!(my_channels(&app, &bob.access, &org.ws).await)).contains(&public));
    // Joining twice changes nothing.
    app.post_empty(&format!("/api/channels/{public}/join"), &bob.access)
        .await
        .expect(200);
    let m = post(&app, &bob.access, &public, "hello").await;
    assert_eq!(message_event(&mut ann_ws).await["message"], m);

    app.post_empty(&format!("/api/channels/{public}/leave"), &bob.access)
        .await
        .expect(204);
    expect_type(
        frame_where(&mut bob_ws, "channel.left", |f| f["type"] == "channel.left").await,
        "channel.left",
    );
    let seen = app
        .get(&format!("/api/channels/{public}"), &bob.access)
        .await
        .expect_json(200);
    assert_eq!(
        seen["is_member"], false,
        "still visible, no longer a member"
    );
    assert_eq!(seen["member_count"], 1);
    post_reply(&app, &bob.access, &public, json!({ "body": "still here?" }))
        .await
        .expect_error(403, "forbidden");
    app.post_empty(&format!("/api/channels/{public}/leave"), &bob.access)
        .await
        .expect_error(403, "forbidden");
    assert!(!ids(&json!(my_channels(&app, &bob.access, &org.ws).await)).contains(&public));
}

#[tokio::test]
async fn a_private_channel_is_invisible_to_non_members_everywhere() {
    let app = spawn_app().await;
    let (org, people) = org_with(&app, &["bob", "carol"]).await;
    let (ann, bob, carol) = (&org.owner, &people[0], &people[1]);
    let ch = channel(&app, &ann.access, &org.ws, "secret", "private", &[]).await;
    let file = upload(
        &app,
        &ann.access,
        &ch,
        "plan.txt",
        "text/plain",
        b"the plan".to_vec(),
    )
    .await
    .expect_json(201);
    let m = post_reply(
        &app,
        &ann.access,
        &ch,
        json!({ "body": "the secret plan", "file_ids": [file["id"]], "ack_required": true }),
    )
    .await
    .expect_json(201);
    let mid = s(&m, "id");
    let fid = s(&file, "id");

    let refused: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, format!("/api/channels/{ch}"), None),
        (
            Method::PATCH,
            format!("/api/channels/{ch}"),
            Some(json!({ "topic": "x" })),
        ),
        (Method::GET, format!("/api/channels/{ch}/messages"), None),
        (
            Method::POST,
            format!("/api/channels/{ch}/messages"),
            Some(json!({ "body": "hi" })),
        ),
        (Method::POST, format!("/api/channels/{ch}/join"), None),
        (Method::POST, format!("/api/channels/{ch}/leave"), None),
        (Method::GET, format!("/api/channels/{ch}/members"), None),
        (
            Method::PUT,
            format!("/api/channels/{ch}/members/{}", bob.id),
            None,
        ),
        (
            Method::DELETE,
            format!("/api/channels/{ch}/members/{}", ann.id),
            None,
        ),
        (
            Method::PUT,
            format!("/api/channels/{ch}/notify"),
            Some(json!({ "level": "mute" })),
        ),
        (Method::GET, format!("/api/channels/{ch}/pins"), None),
        (
            Method::POST,
            format!("/api/channels/{ch}/read"),
            Some(json!({ "seq": 1 })),
        ),
        (Method::GET, format!("/api/channels/{ch}/read-state"), None),
        (Method::GET, format!("/api/channels/{ch}/webhooks"), None),
        (
            Method::POST,
            format!("/api/channels/{ch}/webhooks"),
            Some(json!({ "name": "bot" })),
        ),
        (Method::GET, format!("/api/messages/{mid}"), None),
        (
            Method::PATCH,
            format!("/api/messages/{mid}"),
            Some(json!({ "body": "x" })),
        ),
        (Method::DELETE, format!("/api/messages/{mid}"), None),
        (
            Method::PUT,
            format!("/api/messages/{mid}/reactions/👍"),
            None,
        ),
        (Method::PUT, format!("/api/messages/{mid}/pin"), None),
        (
            Method::PUT,
            format!("/api/messages/{mid}/follow"),
            Some(json!({ "following": true })),
        ),
        (Method::GET, format!("/api/messages/{mid}/receipts"), None),
        (Method::POST, format!("/api/messages/{mid}/ack"), None),
        (Method::GET, format!("/api/messages/{mid}/acks"), None),
        (Method::GET, format!("/api/files/{fid}"), None),
        (Method::GET, format!("/api/files/{fid}/thumbnail"), None),
    ];
    for (method, path, body) in &refused {
        let reply = app
            .call(method.clone(), path, Some(&bob.access), body.as_ref())
            .await;
        assert_eq!(
            reply.status.as_u16(),
            404,
            "{method} {path}: {}",
            reply.text()
        );
        reply.expect_error(404, "not_found");
    }
    upload_refused(&app, &bob.access, &ch).await;
    let mine = my_channels(&app, &bob.access, &org.ws).await;
    assert!(!ids(&json!(mine)).contains(&ch));
    let hits = app
        .get(
            &format!("/api/workspaces/{}/search?q=secret", org.ws),
            &bob.access,
        )
        .await
        .expect_json(200);
    assert_eq!(hits["hits"], json!([]));

    // Added, Bob sees it; a member may add others; removed, it is gone again.
    let mut bob_ws = app.ws_connect_and_auth(&bob.access).await;
    app.put(
        &format!("/api/channels/{ch}/members/{}", bob.id),
        &ann.access,
        json!(null),
    )
    .await
    .expect_json(200);
    assert_eq!(
        frame(&mut bob_ws).await,
        json!({ "type": "channel.joined", "channel_id": ch, "workspace_id": org.ws })
    );
    assert_eq!(message(&app, &bob.access, &mid).await, m);
    app.put(
        &format!("/api/channels/{ch}/members/{}", carol.id),
        &bob.access,
        json!(null),
    )
    .await
    .expect_json(200);
    assert_eq!(
        channel_members(&app, &ann.access, &ch).await,
        set(&[&ann.id, &bob.id, &carol.id])
    );
    // Only channel and workspace admins remove people.
    app.delete(
        &format!("/api/channels/{ch}/members/{}", carol.id),
        &bob.access,
    )
    .await
    .expect_error(403, "forbidden");
    app.delete(
        &format!("/api/channels/{ch}/members/{}", bob.id),
        &ann.access,
    )
    .await
    .expect(204);
    frame_where(&mut bob_ws, "channel.left", |f| f["type"] == "channel.left").await;
    app.get(&format!("/api/channels/{ch}"), &bob.access)
        .await
        .expect_error(404, "not_found");
    app.delete(
        &format!("/api/channels/{ch}/members/{}", bob.id),
        &ann.access,
    )
    .await
    .expect_error(404, "not_found");
}

async fn upload_refused(app: &TestApp, token: &str, ch: &str) {
    upload(app, token, ch, "x.txt", "text/plain", b"x".to_vec())
        .await
        .expect_error(404, "not_found");
}

#[tokio::test]
async fn only_admins_post_in_announcement_channels() {
    let app = spawn_app().await;
    let (org, people) = org_with(&app, &["bob", "carol"]).await;
    let (ann, bob, carol) = (&org.owner, &people[0], &people[1]);
    create_channel_reply(
        &app,
        &bob.access,
        &org.ws,
        json!({ "name": "mine", "kind": "announcement" }),
    )
    .await
    .expect_error(403, "forbidden");
    let news = channel(&app, &ann.access, &org.ws, "news", "announcement", &[]).await;
    app.post_empty(&format!("/api/channels/{news}/join"), &bob.access)
        .await
        .expect(200);
    post_reply(&app, &bob.access, &news, json!({ "body": "me too" }))
        .await
        .expect_error(403, "forbidden");
    upload(
        &app,
        &bob.access,
        &news,
        "x.txt",
        "text/plain",
        b"x".to_vec(),
    )
    .await
    .expect_error(403, "forbidden");
    app.put(
        &format!("/api/channels/{news}/members/{}", carol.id),
        &bob.access,
        json!(null),
    )
    .await
    .expect_error(403, "forbidden");
    let m = post(&app, &ann.access, &news, "Office closed on Friday").await;
    // Members still react and read.
    app.put(
        &format!("/api/messages/{}/reactions/👍", s(&m, "id")),
        &bob.access,
        json!(null),
    )
    .await
    .expect(200);
    let history = messages(&app, &bob.access, &news, "").await;
    assert_eq!(history.len(), 1);
    // A workspace admin who is not the channel's creator may post too.
    app.patch(
        &format!("/api/workspaces/{}/members/{}", org.ws, carol.id),
        &ann.access,
        json!({ "role": "admin" }),
    )
    .await
    .expect(200);
    app.put(
        &format!("/api/channels/{news}/members/{}", carol.id),
        &ann.access,
        json!(null),
    )
    .await
    .expect(200);
    post(&app, &carol.access, &news, "And Monday").await;
}

#[tokio::test]
async fn a_team_channel_follows_its_team_and_sub_team_membership() {
    let app = spawn_app().await;
    let (org, people) = org_with(&app, &["bob", "carol"]).await;
    let (ann, bob, carol) = (&org.owner, &people[0], &people[1]);
    let token = &ann.access;
    let eng = app.create_team(token, &org.ws, "Engineering", None).await;
    let backend = app.create_team(token, &org.ws, "Backend", Some(&eng)).await;
    let team_member =
        |team: &str, user: &str| format!("/api/workspaces/{}/teams/{team}/members/{user}", org.ws);
    app.put(&team_member(&eng, &carol.id), token, json!({}))
        .await
        .expect(200);

    create_channel_reply(
        &app,
        token,
        &org.ws,
        json!({ "name": "eng", "kind": "team" }),
    )
    .await
    .expect_error(422, "validation");
    create_channel_reply(
        &app,
        token,
        &org.ws,
        json!({ "name": "eng", "kind": "team", "team_id": eng, "member_ids": [bob.id] }),
    )
    .await
    .expect_error(422, "validation");
    create_channel_reply(
        &app,
        &bob.access,
        &org.ws,
        json!({ "name": "eng", "kind": "team", "team_id": eng }),
    )
    .await
    .expect_error(403, "forbidden");
    let created = create_channel_reply(
        &app,
        token,
        &org.ws,
        json!({ "name": "eng", "kind": "team", "team_id": eng }),
    )
    .await
    .expect_json(201);
    assert_eq!(created["kind"], "team");
    assert_eq!(created["team_id"], eng.as_str());
    let ch = s(&created, "id");
    assert_eq!(
        channel_members(&app, &carol.access, &ch).await,
        set(&[&carol.id])
    );
    app.get(&format!("/api/channels/{ch}"), &bob.access)
        .await
        .expect_error(404, "not_found");

    // Joining the sub-team brings Bob into the parent team's channel.
    let mut bob_ws = app.ws_connect_and_auth(&bob.access).await;
    app.put(
        &team_member(&backend, &bob.id),
        token,
        json!({ "lead": true }),
    )
    .await
    .expect(200);
    assert_eq!(
        frame(&mut bob_ws).await,
        json!({ "type": "channel.joined", "channel_id": ch, "workspace_id": org.ws })
    );
    assert_eq!(
        channel_members(&app, &carol.access, &ch).await,
        set(&[&bob.id, &carol.id])
    );
    let m = post(&app, &carol.access, &ch, "welcome to eng").await;
    let ev = frame_where(&mut bob_ws, "the message", |f| f["type"] == "message").await;
    assert_eq!(ev["message"], m);
    // Membership is the team's business: no joining, leaving or adding by hand.
    app.post_empty(&format!("/api/channels/{ch}/leave"), &bob.access)
        .await
        .expect_error(409, "conflict");
    app.put(
        &format!("/api/channels/{ch}/members/{}", ann.id),
        &carol.access,
        json!(null),
    )
    .await
    .expect_error(409, "conflict");
    app.delete(
        &format!("/api/channels/{ch}/members/{}", bob.id),
        &carol.access,
    )
    .await
    .expect_error(409, "conflict");

    // Leaving the sub-team takes Bob out.
    app.delete(&team_member(&backend, &bob.id), token)
        .await
        .expect(204);
    assert_eq!(
        frame(&mut bob_ws).await,
        json!({ "type": "channel.left", "channel_id": ch, "workspace_id": org.ws })
    );
    assert_eq!(
        channel_members(&app, &carol.access, &ch).await,
        set(&[&carol.id])
    );
    app.get(&format!("/api/channels/{ch}/messages"), &bob.access)
        .await
        .expect_error(404, "not_found");

    // Moving the sub-team out from under the team takes its people with it.
    app.put(&team_member(&backend, &bob.id), token, json!({}))
        .await
        .expect(200);
    assert_eq!(
        channel_members(&app, &carol.access, &ch).await,
        set(&[&bob.id, &carol.id])
    );
    app.patch(
        &format!("/api/workspaces/{}/teams/{backend}", org.ws),
        token,
        json!({ "parent_id": null }),
    )
    .await
    .expect(200);
    assert_eq!(
        channel_members(&app, &carol.access, &ch).await,
        set(&[&carol.id])
    );

    // Deleting the team leaves a private channel with the people it had.
    app.delete(&format!("/api/workspaces/{}/teams/{eng}", org.ws), token)
        .await
        .expect(204);
    let after = app
        .get(&format!("/api/channels/{ch}"), &carol.access)
        .await
        .expect_json(200);
    assert_eq!(after["kind"], "private");
    assert_eq!(after["team_id"], Value::Null);
    assert_eq!(
        channel_members(&app, &carol.access, &ch).await,
        set(&[&carol.id])
    );
}

#[tokio::test]
async fn opening_the_same_dm_twice_returns_the_same_channel() {
    let app = spawn_app().await;
    let (org, people) = org_with(&app, &["bob", "carol"]).await;
    let (ann, bob, carol) = (&org.owner, &people[0], &people[1]);
    let dm = open_dm(&app, &ann.access, &org.ws, &[&bob.id]).await;
    assert_eq!(dm["kind"], "dm");
    assert_eq!(dm["name"], Value::Null);
    assert_eq!(dm["member_count"], 2);
    assert_eq!(dm["receipts"], true);
    assert_eq!(ids(&dm["peers"]), [bob.id.as_str()]);
    let id = s(&dm, "id");
    assert_eq!(
        open_dm(&app, &ann.access, &org.ws, &[&bob.id]).await["id"],
        id.as_str()
    );
    assert_eq!(
        open_dm(&app, &ann.access, &org.ws, &[&bob.id, &bob.id, &ann.id]).await["id"],
        id.as_str()
    );
    let bobs = open_dm(&app, &bob.access, &org.ws, &[&ann.id]).await;
    assert_eq!(bobs["id"], id.as_str());
    assert_eq!(ids(&bobs["peers"]), [ann.id.as_str()]);

    // Concurrent opens of a new DM agree too.
    let dms = format!("/api/workspaces/{}/dms", org.ws);
    let opens = (0..6).map(|_| app.post(&dms, &carol.access, json!({ "user_ids": [bob.id] })));
    let replies = futures_util::future::join_all(opens).await;
    let distinct: BTreeSet<String> = replies
        .into_iter()
        .map(|r| s(&r.expect_json(200), "id"))
        .collect();
    assert_eq!(distinct.len(), 1, "{distinct:?}");

    post(&app, &bob.access, &id, "psst").await;
    app.get(&format!("/api/channels/{id}"), &carol.access)
        .await
        .expect_error(404, "not_found");
    app.patch(
        &format!("/api/channels/{id}"),
        &ann.access,
        json!({ "name": "x" }),
    )
    .await
    .expect_error(403, "forbidden");
    app.put(
        &format!("/api/channels/{id}/members/{}", carol.id),
        &ann.access,
        json!(null),
    )
    .await
    .expect_error(409, "conflict");
    app.post_empty(&format!("/api/channels/{id}/leave"), &ann.access)
        .await
        .expect_error(409, "conflict");
    create_channel_reply(
        &app,
        &ann.access,
        &org.ws,
        json!({ "name": "x", "kind": "dm" }),
    )
    .await
    .expect_error(422, "validation");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_dm_holds_at_most_fifty_people() {
    let app = spawn_app().await;
    let org = app.setup_owner().await;
    let ann = &org.owner;
    let invite = app
        .create_invite(&ann.access, &org.ws, json!({ "max_uses": 60 }))
        .await;
    let token = s(&invite, "token");
    let names: Vec<String> = (0..50).map(|i| format!("user{i:02}")).collect();
    let registrations = names
        .iter()
        .map(|name| app.register_via_invite(&token, name));
    let people = futures_util::future::join_all(registrations).await;
    let others: Vec<&str> = people.iter().map(|p| p.id.as_str()).collect();

    let group = open_dm(&app, &ann.access, &org.ws, &others[..49]).await;
    assert_eq!(group["kind"], "group");
    assert_eq!(group["member_count"], 50);
    assert_eq!(group["peers"].as_array().map(Vec::len), Some(49));
    let mut reversed = others[..49].to_vec();
    reversed.reverse();
    assert_eq!(
        open_dm(&app, &ann.access, &org.ws, &reversed).await["id"],
        group["id"]
    );
    app.post(
        &format!("/api/workspaces/{}/dms", org.ws),
        &ann.access,
        json!({ "user_ids": others }),
    )
    .await
    .expect_error(422, "validation");
    let id = s(&group, "id");
    app.put(
        &format!("/api/channels/{id}/members/{}", others[49]),
        &people[0].access,
        json!(null),
    )
    .await
    .expect_error(409, "conflict");

    // A smaller group grows by its members' invitation; people leave it themselves.
    let small = open_dm(&app, &ann.access, &org.ws, &others[..2]).await;
    let small_id = s(&small, "id");
    assert_eq!(small["kind"], "group");
    let grown = app
        .put(
            &format!("/api/channels/{small_id}/members/{}", others[2]),
            &people[0].access,
            json!(null),
        )
        .await
        .expect_json(200);
    assert_eq!(grown["member_count"], 4);
    app.delete(
        &format!("/api/channels/{small_id}/members/{}", others[2]),
        &ann.access,
    )
    .await
    .expect_error(409, "conflict");
    app.post_empty(
        &format!("/api/channels/{small_id}/leave"),
        &people[2].access,
    )
    .await
    .expect(204);
    let after = app
        .get(&format!("/api/channels/{small_id}"), &ann.access)
        .await
        .expect_json(200);
    assert_eq!(after["member_count"], 3);
}

#[tokio::test]
async fn the_notify_level_is_set_per_member_and_channel() {
    let app = spawn_app().await;
    let (org, people) = org_with(&app, &["bob", "carol"]).await;
    let (ann, bob, carol) = (&org.owner, &people[0], &people[1]);
    let ch = channel(&app, &ann.access, &org.ws, "general", "public", &[bob]).await;
    let path = format!("/api/channels/{ch}/notify");
    for level in ["mute", "mentions", "all", "mute"] {
        let updated = app
            .put(&path, &bob.access, json!({ "level": level }))
            .await
            .expect_json(200);
        assert_eq!(updated["notify"], level);
    }
    let mine = my_channels(&app, &bob.access, &org.ws).await;
    assert_eq!(listed(&mine, &ch)["notify"], "mute");
    let anns = my_channels(&app, &ann.access, &org.ws).await;
    assert_eq!(
        listed(&anns, &ch)["notify"],
        "all",
        "one member's level is theirs alone"
    );
    app.put(&path, &bob.access, json!({ "level": "loud" }))
        .await
        .expect_error(400, "bad_request");
    app.put(&path, &carol.access, json!({ "level": "mute" }))
        .await
        .expect_error(403, "forbidden");
}
