//! Meetings: REST (create, schedule, calendar, guests, permissions), signalling on the
//! websocket, and media through the SFU with real WebRTC clients on loopback.

use std::time::Duration;

use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use serde_json::{Value, json};

use crate::chat_support::{channel, frame_where, message_event, next_within, org_with, s};
use crate::harness::{Account, TestApp, Ws, WsEvent, spawn_app};
use crate::meeting_support::{Client, payload_type, request};

const VIDEO_SSRC: u32 = 0x1111_2222;
const AUDIO_SSRC: u32 = 0x3333_4444;

async fn create(app: &TestApp, who: &Account, ws: &str, body: Value) -> Value {
    app.post(&format!("/api/workspaces/{ws}/meetings"), &who.access, body)
        .await
        .expect_json(201)
}

async fn join(app: &TestApp, token: &str, code: &str) -> (Ws, Value) {
    let mut ws = app.ws_connect_and_auth(token).await;
    let answer = request(
        &mut ws,
        "join",
        json!({"type": "meeting.join", "code": code}),
    )
    .await;
    (ws, answer)
}

async fn guest_token(app: &TestApp, code: &str, name: &str) -> String {
    let body = app
        .post_anon(
            &format!("/api/meetings/{code}/guests"),
            json!({ "name": name }),
        )
        .await
        .expect_json(201);
    s(&body, "token")
}

/// A publisher with a VP8 camera and an Opus microphone, connected to the SFU.
async fn publisher(ws: &mut Ws) -> Client {
    let mut client = Client::new().await;
    client.add_track(RtpCodecKind::Video, VIDEO_SSRC);
    client.add_track(RtpCodecKind::Audio, AUDIO_SSRC);
    let offer = client.offer();
    let answer = request(
        ws,
        "pub",
        json!({"type": "meeting.publish", "sdp": offer,
               "tracks": [{"mid": "0", "source": "camera"}, {"mid": "1", "source": "mic"}]}),
    )
    .await;
    assert_eq!(answer["type"], "ok", "publish: {answer}");
    client.apply_answer(answer["sdp"].as_str().expect("answer sdp"));
    assert!(
        client
            .step_until(Duration::from_secs(10), |s| s.connected)
            .await,
        "the publish connection connects"
    );
    // The SFU learns a track from its first packets.
    for _ in 0..5 {
        client.send_rtp(0);
        client.step(Duration::from_millis(10)).await;
    }
    client
}

/// Answer the next subscribe offer; returns the client, the offer event.
async fn subscriber(ws: &mut Ws, client: Option<Client>) -> (Client, Value) {
    let offer = frame_where(ws, "meeting.offer", |f| f["type"] == "meeting.offer").await;
    let mut client = match client {
        Some(c) => c,
        None => Client::new().await,
    };
    let answer = client.answer(offer["sdp"].as_str().expect("offer sdp"));
    let ok = request(ws, "ans", json!({"type": "meeting.answer", "sdp": answer})).await;
    assert_eq!(ok["type"], "ok", "answer: {ok}");
    (client, offer)
}

/// Publisher sends while the subscriber listens, until it has `n` packets.
async fn flow(publisher: &mut Client, subscriber: &mut Client, n: usize) -> bool {
    for _ in 0..300 {
        publisher.send_rtp(0x5A);
        publisher.step(Duration::from_millis(5)).await;
        subscriber.step(Duration::from_millis(10)).await;
        if subscriber.seen.rtp.len() >= n {
            return true;
        }
    }
    false
}

#[tokio::test]
async fn media_flows_publisher_to_subscriber_with_rewritten_ssrc_and_payload_type() {
    let app = spawn_app().await;
    let (org, people) = org_with(&app, &["bobby"]).await;
    let bo = &people[0];
    let meeting = create(&app, &org.owner, &org.ws, json!({"title": "Sync"})).await;
    let code = s(&meeting, "code");

    let (mut host_ws, joined) = join(&app, &org.owner.access, &code).await;
    assert_eq!(joined["status"], "joined", "{joined}");
    assert_eq!(joined["self"]["role"], "host");
    let host_id = s(&joined["self"], "id");
    let mut publisher = publisher(&mut host_ws).await;

    let (mut bo_ws, joined) = join(&app, &bo.access, &code).await;
    assert_eq!(joined["self"]["role"], "member");
    assert_eq!(joined["participants"][0]["id"], host_id.as_str());
    let (mut sub, offer) = subscriber(&mut bo_ws, None).await;
    let tracks = offer["tracks"].as_array().expect("tracks");
    assert_eq!(tracks.len(), 2, "{offer}");
    assert!(
        tracks
            .iter()
            .all(|t| t["participant_id"] == host_id.as_str())
    );
    let mut sources: Vec<&str> = tracks.iter().filter_map(|t| t["source"].as_str()).collect();
    sources.sort_unstable();
    assert_eq!(sources, ["camera", "mic"]);

    assert!(
        flow(&mut publisher, &mut sub, 20).await,
        "media reaches the subscriber"
    );
    let sdp = offer["sdp"].as_str().expect("sdp");
    let vp8 = payload_type(sdp, "VP8/90000").expect("VP8 offered");
    let opus = payload_type(sdp, "opus/48000/2").expect("Opus offered");
    let video: Vec<_> = sub.seen.rtp.iter().filter(|p| p.1 == vp8).collect();
    let audio: Vec<_> = sub.seen.rtp.iter().filter(|p| p.1 == opus).collect();
    assert!(!video.is_empty() && !audio.is_empty(), "both tracks arrive");
    for (ssrc, _, payload) in &sub.seen.rtp {
        assert!(
            *ssrc != VIDEO_SSRC && *ssrc != AUDIO_SSRC,
            "SSRC is rewritten per leg"
        );
        assert_eq!(payload.len(), 200, "payload intact");
        assert_eq!(payload[0], 0x5A);
        assert!(
            payload[3..].iter().all(|b| *b == 0xAB),
            "payload bytes intact"
        );
    }
    assert_ne!(
        video[0].0, audio[0].0,
        "each forwarded track has its own SSRC"
    );
    // The subscriber joining asked the publisher for a keyframe.
    assert!(
        publisher.seen.plis.contains(&VIDEO_SSRC),
        "PLI reached the publisher"
    );
    // The publisher's audio level makes it the active speaker: someone joining now is
    // told so.
    for _ in 0..40 {
        publisher.send_rtp(0x5A);
        publisher.step(Duration::from_millis(10)).await;
    }
    let token = guest_token(&app, &code, "Listener").await;
    let (_listener_ws, joined) = join(&app, &token, &code).await;
    assert_eq!(joined["speaker"], host_id.as_str(), "{joined}");

    // Publishing again (an ICE restart after a network change) keeps the tracks where
    // they are: no new offer to the subscriber, and media keeps flowing.
    publisher.pc.restart_ice();
    let offer = publisher.offer();
    let again = request(
        &mut host_ws,
        "pub2",
        json!({"type": "meeting.publish", "sdp": offer,
               "tracks": [{"mid": "0", "source": "camera"}, {"mid": "1", "source": "mic"}]}),
    )
    .await;
    assert_eq!(again["type"], "ok", "{again}");
    publisher.apply_answer(again["sdp"].as_str().expect("sdp"));
    sub.seen.rtp.clear();
    assert!(
        flow(&mut publisher, &mut sub, 20).await,
        "media flows after the restart"
    );
    while let Some(event) = next_within(&mut bo_ws, Duration::from_millis(700)).await {
        assert!(
            !matches!(&event, WsEvent::Frame(f) if f["type"] == "meeting.offer"),
            "no renegotiation at the subscriber: {event:?}"
        );
    }
}

#[tokio::test]
async fn a_late_joiner_gets_a_keyframe_request_and_leaving_tears_tracks_down() {
    let app = spawn_app().await;
    let (org, people) = org_with(&app, &["bobby"]).await;
    let meeting = create(&app, &org.owner, &org.ws, json!({})).await;
    let code = s(&meeting, "code");
    let (mut host_ws, joined) = join(&app, &org.owner.access, &code).await;
    let host_id = s(&joined["self"], "id");
    let mut publisher = publisher(&mut host_ws).await;
    let (mut bo_ws, _) = join(&app, &people[0].access, &code).await;
    let (mut bo, _) = subscriber(&mut bo_ws, None).await;
    assert!(flow(&mut publisher, &mut bo, 10).await);

    // Long after the first request (the throttle is well below a second).
    publisher.step(Duration::from_millis(600)).await;
    publisher.seen.plis.clear();
    let token = guest_token(&app, &code, "Late Guest").await;
    let (mut guest_ws, joined) = join(&app, &token, &code).await;
    assert_eq!(joined["self"]["role"], "guest", "{joined}");
    let (mut guest, _) = subscriber(&mut guest_ws, None).await;
    assert!(
        flow(&mut publisher, &mut guest, 10).await,
        "the late joiner receives media"
    );
    assert!(
        publisher.seen.plis.contains(&VIDEO_SSRC),
        "a keyframe was asked for the late joiner"
    );

    // The host leaves: the others hear it and get an offer without the host's tracks.
    let ok = request(&mut host_ws, "bye", json!({"type": "meeting.leave"})).await;
    assert_eq!(ok["type"], "ok");
    let left = frame_where(&mut bo_ws, "participant_left", |f| {
        f["type"] == "meeting.participant_left"
    })
    .await;
    assert_eq!(left["participant_id"], host_id.as_str());
    let offer = frame_where(&mut bo_ws, "offer", |f| f["type"] == "meeting.offer").await;
    assert_eq!(offer["tracks"], json!([]), "no tracks left: {offer}");
    let sdp = offer["sdp"].as_str().expect("sdp");
    assert!(
        !sdp.contains("a=sendonly"),
        "nothing is sent any more:\n{sdp}"
    );
}

#[tokio::test]
async fn host_mute_stops_forwarding_and_tells_the_participant() {
    let app = spawn_app().await;
    let (org, people) = org_with(&app, &["bobby"]).await;
    let meeting = create(&app, &org.owner, &org.ws, json!({})).await;
    let code = s(&meeting, "code");
    let (mut host_ws, _) = join(&app, &org.owner.access, &code).await;
    let (mut bo_ws, joined) = join(&app, &people[0].access, &code).await;
    let bo_id = s(&joined["self"], "id");
    let mut bo_pub = publisher(&mut bo_ws).await;
    let (mut host_sub, _) = subscriber(&mut host_ws, None).await;
    assert!(flow(&mut bo_pub, &mut host_sub, 10).await);

    // A member may not use host actions.
    let refused = request(
        &mut bo_ws,
        "m0",
        json!({"type": "meeting.host", "action": "mute_all"}),
    )
    .await;
    assert_eq!(refused["code"], "forbidden", "{refused}");

    let ok = request(
        &mut host_ws,
        "m1",
        json!({"type": "meeting.host", "action": "mute", "participant_id": bo_id}),
    )
    .await;
    assert_eq!(ok["type"], "ok", "{ok}");
    let muted = frame_where(&mut bo_ws, "muted", |f| f["type"] == "meeting.muted").await;
    assert_eq!(muted["source"], "mic");
    let update = frame_where(&mut host_ws, "participant", |f| {
        f["type"] == "meeting.participant" && f["participant"]["id"] == bo_id.as_str()
    })
    .await;
    assert_eq!(update["participant"]["mic"], false);

    // Audio stops; video still flows.
    host_sub.seen.rtp.clear();
    for _ in 0..30 {
        bo_pub.send_rtp(1);
        bo_pub.step(Duration::from_millis(5)).await;
        host_sub.step(Duration::from_millis(10)).await;
    }
    let pts: std::collections::HashSet<u8> = host_sub.seen.rtp.iter().map(|p| p.1).collect();
    assert_eq!(
        pts.len(),
        1,
        "only one track (video) still arrives: {pts:?}"
    );
}

#[tokio::test]
async fn instant_meeting_from_a_channel_posts_a_card_with_the_link() {
    let app = spawn_app().await;
    let (org, people) = org_with(&app, &["bobby"]).await;
    let ch = channel(
        &app,
        &org.owner.access,
        &org.ws,
        "general",
        "public",
        &[&people[0]],
    )
    .await;
    let mut bo_ws = app.ws_connect_and_auth(&people[0].access).await;
    let meeting = create(
        &app,
        &org.owner,
        &org.ws,
        json!({"title": "Standup", "channel_id": ch}),
    )
    .await;
    let code = s(&meeting, "code");
    assert_eq!(meeting["url"], format!("/m/{code}"));
    assert_eq!(meeting["host_id"], org.owner.id.as_str());
    let event = message_event(&mut bo_ws).await;
    let body = event["message"]["body"].as_str().expect("body");
    assert!(
        body.contains(&format!("/m/{code}")) && body.contains("Standup"),
        "{body}"
    );
}

#[tokio::test]
async fn scheduled_meeting_has_invitees_and_a_calendar_file() {
    let app = spawn_app().await;
    let (org, people) = org_with(&app, &["bobby", "cyrus"]).await;
    let meeting = create(
        &app,
        &org.owner,
        &org.ws,
        json!({"title": "Quarterly review", "starts_at": "2026-12-01T09:00:00Z",
               "duration_min": 45, "invitee_ids": [people[0].id]}),
    )
    .await;
    let code = s(&meeting, "code");
    assert_eq!(meeting["starts_at"], "2026-12-01T09:00:00Z");
    // The invitee sees it in their list; someone not invited does not.
    let list = app
        .get(
            &format!("/api/workspaces/{}/meetings", org.ws),
            &people[0].access,
        )
        .await
        .expect_json(200);
    assert_eq!(list["meetings"][0]["code"], code.as_str());
    let list = app
        .get(
            &format!("/api/workspaces/{}/meetings", org.ws),
            &people[1].access,
        )
        .await
        .expect_json(200);
    assert_eq!(list["meetings"], json!([]));
    // A meeting whose planned end has passed is no longer upcoming.
    create(
        &app,
        &org.owner,
        &org.ws,
        json!({"title": "Long gone", "starts_at": "2020-01-01T09:00:00Z", "duration_min": 30}),
    )
    .await;
    let list = app
        .get(
            &format!("/api/workspaces/{}/meetings", org.ws),
            &org.owner.access,
        )
        .await
        .expect_json(200);
    let titles: Vec<&str> = list["meetings"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|m| m["title"].as_str())
        .collect();
    assert_eq!(titles, ["Quarterly review"]);

    let ics = app
        .get(&format!("/api/meetings/{code}/ics"), &people[0].access)
        .await
        .expect(200);
    assert!(
        ics.header("content-type")
            .unwrap_or_default()
            .starts_with("text/calendar")
    );
    let text = ics.text();
    assert!(text.contains("DTSTART:20261201T090000Z"), "{text}");
    assert!(text.contains("DTEND:20261201T094500Z"));
    assert!(text.contains("SUMMARY:Quarterly review"));
    assert!(text.contains(&format!("/m/{code}")));
}

#[tokio::test]
async fn bad_meeting_input_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let (org, people) = org_with(&app, &["bobby"]).await;
    let path = format!("/api/workspaces/{}/meetings", org.ws);
    for body in [
        json!({"title": "x".repeat(201)}),
        json!({"starts_at": "tomorrow"}),
        json!({"duration_min": 0}),
        json!({"max_participants": 1}),
        json!({"invitee_ids": ["00000000-0000-0000-0000-000000000000"]}),
    ] {
        app.post(&path, &org.owner.access, body)
            .await
            .expect_error(422, "validation");
    }
    let list = app.get(&path, &org.owner.access).await.expect_json(200);
    assert_eq!(list["meetings"], json!([]));
    let meeting = create(&app, &org.owner, &org.ws, json!({})).await;
    let code = s(&meeting, "code");
    // Only hosts change or end a meeting.
    app.patch(
        &format!("/api/meetings/{code}"),
        &people[0].access,
        json!({"title": "mine"}),
    )
    .await
    .expect_error(403, "forbidden");
    app.post_empty(&format!("/api/meetings/{code}/end"), &people[0].access)
        .await
        .expect_error(403, "forbidden");
    app.get("/api/meetings/not-a-code", &org.owner.access)
        .await
        .expect_error(404, "not_found");
    app.post_anon(
        &format!("/api/meetings/{code}/guests"),
        json!({"name": "  "}),
    )
    .await
    .expect_error(422, "validation");
    // A malformed offer is a clear error; the participant stays usable.
    let (mut ws, _) = join(&app, &org.owner.access, &code).await;
    let bad = request(
        &mut ws,
        "p",
        json!({"type": "meeting.publish", "sdp": "garbage", "tracks": []}),
    )
    .await;
    assert_eq!(bad["code"], "validation", "{bad}");
    let dup = request(
        &mut ws,
        "p2",
        json!({"type": "meeting.publish", "sdp": "v=0", "tracks": [{"mid": "0", "source": "mic"}, {"mid": "1", "source": "mic"}]}),
    )
    .await;
    assert_eq!(dup["code"], "validation", "{dup}");
    let chat = request(&mut ws, "c", json!({"type": "meeting.chat", "text": ""})).await;
    assert_eq!(chat["code"], "validation");
    let ok = request(
        &mut ws,
        "c2",
        json!({"type": "meeting.chat", "text": "hello"}),
    )
    .await;
    assert_eq!(ok["type"], "ok");
}

#[tokio::test]
async fn who_may_join_outsiders_removed_locked_and_foreign_guest_tokens_are_refused() {
    let app = spawn_app().await;
    let (org, people) = org_with(&app, &["bobby", "cyrus"]).await;
    let meeting = create(&app, &org.owner, &org.ws, json!({})).await;
    let code = s(&meeting, "code");
    let other = create(&app, &org.owner, &org.ws, json!({})).await;

    // Someone of another workspace: the meeting does not exist for them.
    let outsider = app
        .add_member(
            &people[1],
            &app.create_workspace(&people[1], "Elsewhere").await,
            "zedd",
            "member",
        )
        .await;
    let (_ws, refused) = join(&app, &outsider.access, &code).await;
    assert_eq!(refused["code"], "not_found", "{refused}");
    app.get(&format!("/api/meetings/{code}"), &outsider.access)
        .await
        .expect_error(404, "not_found");

    // A guest token for another meeting.
    let token = guest_token(&app, &s(&other, "code"), "Visitor").await;
    let (mut guest_ws, refused) = join(&app, &token, &code).await;
    assert_eq!(refused["code"], "forbidden", "{refused}");
    // Guests speak only meeting frames.
    let chat = request(
        &mut guest_ws,
        "x",
        json!({"type": "send", "channel_id": "x", "message": {"body": "hi"}}),
    )
    .await;
    assert_eq!(chat["type"], "error");

    // Removed by the host: cannot come back.
    let (mut host_ws, _) = join(&app, &org.owner.access, &code).await;
    let (mut bo_ws, joined) = join(&app, &people[0].access, &code).await;
    let bo_id = s(&joined["self"], "id");
    let ok = request(
        &mut host_ws,
        "rm",
        json!({"type": "meeting.host", "action": "remove", "participant_id": bo_id}),
    )
    .await;
    assert_eq!(ok["type"], "ok", "{ok}");
    let ended = frame_where(&mut bo_ws, "ended", |f| f["type"] == "meeting.ended").await;
    assert_eq!(ended["reason"], "removed");
    let again = request(
        &mut bo_ws,
        "j2",
        json!({"type": "meeting.join", "code": code}),
    )
    .await;
    assert_eq!(again["code"], "forbidden", "{again}");

    // Locked: nobody new; hosts still may.
    let ok = request(
        &mut host_ws,
        "lk",
        json!({"type": "meeting.host", "action": "lock"}),
    )
    .await;
    assert_eq!(ok["locked"], true);
    let (_cy_ws, refused) = join(&app, &people[1].access, &code).await;
    assert_eq!(refused["code"], "conflict", "{refused}");
    let stored = app
        .get(&format!("/api/meetings/{code}"), &org.owner.access)
        .await
        .expect_json(200);
    assert_eq!(stored["locked"], true, "the lock is stored");

    // Ended: the link stops working, for guests too.
    app.post_empty(&format!("/api/meetings/{code}/end"), &org.owner.access)
        .await
        .expect(204);
    let ended = frame_where(&mut host_ws, "ended", |f| f["type"] == "meeting.ended").await;
    assert_eq!(ended["reason"], "ended");
    app.post_anon(
        &format!("/api/meetings/{code}/guests"),
        json!({"name": "Late"}),
    )
    .await
    .expect_error(409, "conflict");
}

#[tokio::test]
async fn lobby_holds_people_until_a_host_admits_or_refuses_them() {
    let app = spawn_app().await;
    let (org, people) = org_with(&app, &["bobby"]).await;
    let meeting = create(&app, &org.owner, &org.ws, json!({"lobby": true})).await;
    let code = s(&meeting, "code");
    let (mut host_ws, joined) = join(&app, &org.owner.access, &code).await;
    assert_eq!(joined["status"], "joined", "hosts skip the lobby");

    let (mut bo_ws, waiting) = join(&app, &people[0].access, &code).await;
    assert_eq!(waiting["status"], "waiting", "{waiting}");
    let lobby = frame_where(&mut host_ws, "lobby", |f| f["type"] == "meeting.lobby").await;
    assert_eq!(lobby["waiting"][0]["name"], people[0].display_name.as_str());
    let entry = s(&lobby["waiting"][0], "id");
    let early = request(
        &mut bo_ws,
        "u",
        json!({"type": "meeting.update", "hand": true}),
    )
    .await;
    assert_eq!(
        early["code"], "conflict",
        "nothing but leaving from the lobby"
    );

    let ok = request(
        &mut host_ws,
        "ad",
        json!({"type": "meeting.host", "action": "admit", "participant_id": entry}),
    )
    .await;
    assert_eq!(ok["type"], "ok", "{ok}");
    let admitted = frame_where(&mut bo_ws, "joined", |f| f["type"] == "meeting.joined").await;
    assert_eq!(admitted["status"], "joined");
    assert_eq!(admitted["self"]["role"], "member");

    let token = guest_token(&app, &code, "Walk-in").await;
    let (mut guest_ws, waiting) = join(&app, &token, &code).await;
    assert_eq!(waiting["status"], "waiting");
    let lobby = frame_where(&mut host_ws, "lobby", |f| {
        f["type"] == "meeting.lobby" && f["waiting"] != json!([])
    })
    .await;
    let entry = s(&lobby["waiting"][0], "id");
    request(
        &mut host_ws,
        "rf",
        json!({"type": "meeting.host", "action": "refuse", "participant_id": entry}),
    )
    .await;
    let ended = frame_where(&mut guest_ws, "ended", |f| f["type"] == "meeting.ended").await;
    assert_eq!(ended["reason"], "refused");
}

#[tokio::test]
async fn a_dropped_websocket_rejoins_its_place_with_the_rejoin_key() {
    let app = spawn_app().await;
    let (org, people) = org_with(&app, &["bobby"]).await;
    let meeting = create(&app, &org.owner, &org.ws, json!({})).await;
    let code = s(&meeting, "code");
    let (mut host_ws, _) = join(&app, &org.owner.access, &code).await;
    let (bo_ws, joined) = join(&app, &people[0].access, &code).await;
    let bo_id = s(&joined["self"], "id");
    let key = s(&joined, "rejoin_key");
    drop(bo_ws);
    let mut bo_ws = app.ws_connect_and_auth(&people[0].access).await;
    let back = request(
        &mut bo_ws,
        "rj",
        json!({"type": "meeting.join", "code": code, "rejoin_key": key}),
    )
    .await;
    assert_eq!(back["self"]["id"], bo_id.as_str(), "same place: {back}");
    // Nobody saw them leave; chat reaches them on the new socket.
    request(
        &mut host_ws,
        "c",
        json!({"type": "meeting.chat", "text": "welcome back"}),
    )
    .await;
    let line = frame_where(&mut bo_ws, "chat", |f| f["type"] == "meeting.chat").await;
    assert_eq!(line["text"], "welcome back");
    // A key is not a pass for someone else.
    let (mut other_ws, _) = (app.ws_connect_and_auth(&org.owner.access).await, ());
    let stolen = request(
        &mut other_ws,
        "st",
        json!({"type": "meeting.join", "code": code, "rejoin_key": key}),
    )
    .await;
    assert_eq!(stolen["code"], "conflict", "{stolen}");
}
