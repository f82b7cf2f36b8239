//! Message search: substrings of Chinese text (short and long), filters by channel,
//! person and date, paging, and never a message the searcher may not read.

use std::time::Duration;

use serde_json::{Value, json};

use crate::chat_support::*;
use crate::harness::*;

/// The bodies of the hits of a search, newest first.
async fn search(app: &TestApp, token: &str, ws: &str, query: &[(&str, &str)]) -> Vec<String> {
    search_page(app, token, ws, query).await["hits"]
        .as_array()
        .expect("hits")
        .iter()
        .map(|h| s(&h["message"], "body"))
        .collect()
}

async fn search_page(app: &TestApp, token: &str, ws: &str, query: &[(&str, &str)]) -> Value {
    send(
        app.client
            .get(app.url(&format!("/api/workspaces/{ws}/search")))
            .bearer_auth(token)
            .query(query),
    )
    .await
    .expect_json(200)
}

/// Posts in order, a few milliseconds apart so their times differ.
async fn post_spaced(app: &TestApp, token: &str, ch: &str, body: &str) -> Value {
    tokio::time::sleep(Duration::from_millis(5)).await;
    post(app, token, ch, body).await
}

#[tokio::test]
async fn search_finds_chinese_substrings_and_filters_by_channel_person_and_date() {
    let app = spawn_app().await;
    let (org, people) = org_with(&app, &["bob"]).await;
    let (ann, bob) = (&org.owner, &people[0]);
    let general = channel(&app, &ann.access, &org.ws, "general", "public", &[bob]).await;
    let dm = s(&open_dm(&app, &ann.access, &org.ws, &[&bob.id]).await, "id");
    let m1 = post_spaced(&app, &ann.access, &general, "今天的会议纪要已上传").await;
    post_spaced(&app, &bob.access, &general, "明天开会").await;
    post_spaced(&app, &ann.access, &general, "unrelated").await;
    let m4 = post_spaced(&app, &bob.access, &dm, "会议纪要我看过了").await;
    let ws = &org.ws;

    assert_eq!(
        search(&app, &bob.access, ws, &[("q", "会议纪要")]).await,
        ["会议纪要我看过了", "今天的会议纪要已上传"]
    );
    assert_eq!(
        search(&app, &bob.access, ws, &[("q", "开会")]).await,
        ["明天开会"]
    );
    assert_eq!(
        search(&app, &bob.access, ws, &[("q", "会议")]).await,
        ["会议纪要我看过了", "今天的会议纪要已上传"]
    );
    assert_eq!(
        search(&app, &bob.access, ws, &[("q", "UNRELATED")])
            .await
            .len(),
        1,
        "case-insensitive"
    );
    let page = search_page(
        &app,
        &bob.access,
        ws,
        &[("q", "会议纪要"), ("channel_id", &general)],
    )
    .await;
    assert_eq!(page["hits"].as_array().map(Vec::len), Some(1));
    assert_eq!(page["hits"][0]["channel_name"], "general");
    assert_eq!(page["hits"][0]["message"], m1);
    assert_eq!(
        search(
            &app,
            &bob.access,
            ws,
            &[("q", "会议纪要"), ("channel_id", &dm)]
        )
        .await,
        ["会议纪要我看过了"]
    );
    assert_eq!(
        search(&app, &bob.access, ws, &[("q", "会议"), ("from", &bob.id)]).await,
        ["会议纪要我看过了"]
    );
    assert_eq!(
        search(&app, &bob.access, ws, &[("q", "会议"), ("from", &ann.id)]).await,
        ["今天的会议纪要已上传"]
    );

    // Dates: whole days, or exact times (from inclusive, to exclusive).
    let today = time::OffsetDateTime::now_utc().date();
    let tomorrow = today.next_day().expect("a tomorrow").to_string();
    let yesterday = today.previous_day().expect("a yesterday").to_string();
    let q = ("q", "会议");
    assert_eq!(
        search(&app, &bob.access, ws, &[q, ("after", &yesterday)])
            .await
            .len(),
        2
    );
    assert_eq!(
        search(&app, &bob.access, ws, &[q, ("after", &tomorrow)])
            .await
            .len(),
        0
    );
    assert_eq!(
        search(&app, &bob.access, ws, &[q, ("before", &yesterday)])
            .await
            .len(),
        0
    );
    let at = s(&m4, "created_at");
    assert_eq!(
        search(&app, &bob.access, ws, &[q, ("after", &at)]).await,
        ["会议纪要我看过了"]
    );
    assert_eq!(
        search(&app, &bob.access, ws, &[q, ("before", &at)]).await,
        ["今天的会议纪要已上传"]
    );

    // Paging, newest first.
    let first = search_page(&app, &bob.access, ws, &[q, ("limit", "1")]).await;
    assert_eq!(first["hits"][0]["message"]["body"], "会议纪要我看过了");
    let cursor = s(&first, "next_cursor");
    let second = search_page(
        &app,
        &bob.access,
        ws,
        &[q, ("limit", "1"), ("cursor", &cursor)],
    )
    .await;
    assert_eq!(second["hits"][0]["message"]["body"], "今天的会议纪要已上传");
    assert_eq!(second["next_cursor"], Value::Null);

    // Edits and deletes are searched as they are now.
    app.patch(
        &format!("/api/messages/{}", s(&m1, "id")),
        &ann.access,
        json!({ "body": "今天的记录已上传" }),
    )
    .await
    .expect(200);
    app.delete(&format!("/api/messages/{}", s(&m4, "id")), &bob.access)
        .await
        .expect(200);
    assert_eq!(
        search(&app, &bob.access, ws, &[("q", "会议纪要")]).await,
        Vec::<String>::new()
    );
    assert_eq!(
        search(&app, &bob.access, ws, &[("q", "记录已上")]).await,
        ["今天的记录已上传"]
    );

    // Bad searches.
    let bad = |query: &'static [(&'static str, &'static str)]| {
        let app = &app;
        let token = bob.access.clone();
        let path = format!("/api/workspaces/{ws}/search");
        async move {
            send(
                app.client
                    .get(app.url(&path))
                    .bearer_auth(token)
                    .query(query),
            )
            .await
        }
    };
    bad(&[("q", "  ")]).await.expect_error(422, "validation");
    bad(&[("q", "x"), ("limit", "0")])
        .await
        .expect_error(422, "validation");
    bad(&[("q", "x"), ("after", "yesterday")])
        .await
        .expect_error(422, "validation");
    bad(&[]).await.expect_error(400, "bad_request");
}

#[tokio::test]
async fn search_never_shows_private_channels_i_am_not_in_or_other_workspaces() {
    let app = spawn_app().await;
    let (org, people) = org_with(&app, &["bob", "carol"]).await;
    let (ann, bob, carol) = (&org.owner, &people[0], &people[1]);
    let general = channel(&app, &ann.access, &org.ws, "general", "public", &[bob]).await;
    let secret = channel(&app, &ann.access, &org.ws, "secret", "private", &[bob]).await;
    let bobs_dm = s(&open_dm(&app, &ann.access, &org.ws, &[&bob.id]).await, "id");
    post(&app, &ann.access, &general, "会议纪要 public").await;
    post(&app, &ann.access, &secret, "会议纪要 private").await;
    post(&app, &ann.access, &bobs_dm, "会议纪要 direct").await;
    let other_ws = app.create_workspace(ann, "Other Co").await;
    let elsewhere = channel(&app, &ann.access, &other_ws, "general", "public", &[]).await;
    post(&app, &ann.access, &elsewhere, "会议纪要 other workspace").await;

    let mut for_ann = search(&app, &ann.access, &org.ws, &[("q", "会议纪要")]).await;
    for_ann.sort();
    assert_eq!(
        for_ann,
        ["会议纪要 direct", "会议纪要 private", "会议纪要 public"]
    );
    // Carol is in neither the private channel nor the DM; public channels she has not
    // joined are searchable, as they are readable.
    assert_eq!(
        search(&app, &carol.access, &org.ws, &[("q", "会议纪要")]).await,
        ["会议纪要 public"]
    );
    assert_eq!(
        search(
            &app,
            &carol.access,
            &org.ws,
            &[("q", "会议"), ("channel_id", &secret)]
        )
        .await,
        Vec::<String>::new()
    );
    assert_eq!(
        search(&app, &ann.access, &other_ws, &[("q", "会议纪要")]).await,
        ["会议纪要 other workspace"]
    );
    // Naming a channel of another workspace finds nothing there either.
    assert_eq!(
        search(
            &app,
            &ann.access,
            &org.ws,
            &[("q", "会议纪要"), ("channel_id", &elsewhere)]
        )
        .await,
        Vec::<String>::new()
    );
    app.get(
        &format!("/api/workspaces/{other_ws}/search?q=x"),
        &carol.access,
    )
    .await
    .expect_error(404, "not_found");
    // Leaving the private channel hides it again.
    app.post_empty(&format!("/api/channels/{secret}/leave"), &bob.access)
        .await
        .expect(204);
    let mut for_bob = search(&app, &bob.access, &org.ws, &[("q", "会议纪要")]).await;
    for_bob.sort();
    assert_eq!(for_bob, ["会议纪要 direct", "会议纪要 public"]);
}
