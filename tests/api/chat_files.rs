//! Files in channels: upload, byte-identical download, thumbnails for images, safe
//! serving of everything else, size limits, and who may download or attach what.

use serde_json::json;

use crate::chat_support::*;
use crate::harness::*;

/// Every file under `dir`, recursively.
fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[tokio::test]
async fn an_uploaded_file_downloads_byte_identical_once_it_is_sent() {
    let app = spawn_app().await;
    let (org, people) = org_with(&app, &["bob", "carol"]).await;
    let (ann, bob, carol) = (&org.owner, &people[0], &people[1]);
    let ch = channel(&app, &ann.access, &org.ws, "docs", "private", &[bob]).await;
    let bytes: Vec<u8> = (0..70_000u32).map(|i| (i % 251) as u8).collect();
    let info = upload(
        &app,
        &ann.access,
        &ch,
        "会议 纪要.pdf",
        "application/pdf",
        bytes.clone(),
    )
    .await
    .expect_json(201);
    assert_keys(
        &info,
        &[
            "id",
            "name",
            "size",
            "content_type",
            "url",
            "thumbnail_url",
            "width",
            "height",
        ],
    );
    assert_eq!(info["name"], "会议 纪要.pdf");
    assert_eq!(info["size"], 70_000);
    assert_eq!(info["content_type"], "application/pdf");
    assert_eq!(info["thumbnail_url"], serde_json::Value::Null);
    let id = s(&info, "id");
    let url = format!("/api/files/{id}");
    assert_eq!(s(&info, "url"), url);

    // Before it is sent, only the uploader may fetch it.
    assert_eq!(app.get(&url, &ann.access).await.expect(200).bytes, bytes);
    app.get(&url, &bob.access)
        .await
        .expect_error(404, "not_found");

    let m = post_reply(
        &app,
        &ann.access,
        &ch,
        json!({ "body": "", "file_ids": [id] }),
    )
    .await
    .expect_json(201);
    assert_eq!(m["files"], json!([info]));
    let got = app.get(&url, &bob.access).await.expect(200);
    assert_eq!(got.bytes, bytes, "byte-identical");
    assert_eq!(
        got.header("content-type").as_deref(),
        Some("application/octet-stream")
    );
    assert_eq!(got.header("content-length").as_deref(), Some("70000"));
    assert_eq!(
        got.header("x-content-type-options").as_deref(),
        Some("nosniff")
    );
    let disposition = got.header("content-disposition").unwrap_or_default();
    assert!(disposition.starts_with("attachment;"), "{disposition}");
    assert!(
        disposition.contains("filename*=UTF-8''%E4%BC%9A%E8%AE%AE%20%E7%BA%AA%E8%A6%81.pdf"),
        "{disposition}"
    );
    // Carol is not in the channel.
    app.get(&url, &carol.access)
        .await
        .expect_error(404, "not_found");
    app.get(&format!("{url}/thumbnail"), &bob.access)
        .await
        .expect_error(404, "not_found");
    // A file is sent once.
    post_reply(
        &app,
        &ann.access,
        &ch,
        json!({ "body": "again", "file_ids": [id] }),
    )
    .await
    .expect_error(422, "validation");
    // An empty upload is refused.
    upload(
        &app,
        &ann.access,
        &ch,
        "empty.txt",
        "text/plain",
        Vec::new(),
    )
    .await
    .expect_error(422, "validation");
}

#[tokio::test]
async fn an_image_gets_a_thumbnail() {
    let app = spawn_app().await;
    let (org, people) = org_with(&app, &["bob"]).await;
    let (ann, bob) = (&org.owner, &people[0]);
    let ch = channel(&app, &ann.access, &org.ws, "pics", "public", &[bob]).await;
    let png = png_bytes(800, 600);
    // The bytes decide the type, not the declared one.
    let info = upload(
        &app,
        &ann.access,
        &ch,
        "chart.png",
        "text/html",
        png.clone(),
    )
    .await
    .expect_json(201);
    assert_eq!(info["content_type"], "image/png");
    assert_eq!(info["width"], 800);
    assert_eq!(info["height"], 600);
    let id = s(&info, "id");
    assert_eq!(
        s(&info, "thumbnail_url"),
        format!("/api/files/{id}/thumbnail")
    );
    post_reply(
        &app,
        &ann.access,
        &ch,
        json!({ "body": "chart", "file_ids": [id] }),
    )
    .await
    .expect(201);

    let full = app
        .get(&format!("/api/files/{id}"), &bob.access)
        .await
        .expect(200);
    assert_eq!(full.bytes, png);
    assert_eq!(full.header("content-type").as_deref(), Some("image/png"));
    assert!(
        full.header("content-disposition")
            .unwrap_or_default()
            .starts_with("inline;")
    );
    let thumb = app
        .get(&format!("/api/files/{id}/thumbnail"), &bob.access)
        .await
        .expect(200);
    assert_eq!(thumb.header("content-type").as_deref(), Some("image/png"));
    assert_eq!(
        thumb.header("x-content-type-options").as_deref(),
        Some("nosniff")
    );
    let decoded = image::load_from_memory(&thumb.bytes).expect("the thumbnail is an image");
    assert_eq!((decoded.width(), decoded.height()), (400, 300));
}

#[tokio::test]
async fn html_is_served_as_an_attachment_that_cannot_run() {
    let app = spawn_app().await;
    let (org, people) = org_with(&app, &["bob"]).await;
    let (ann, bob) = (&org.owner, &people[0]);
    let ch = channel(&app, &ann.access, &org.ws, "web", "public", &[bob]).await;
    let page = b"<html><script>alert(document.cookie)</script></html>".to_vec();
    for (name, declared) in [
        ("page.html", "text/html"),
        ("pic.svg", "image/svg+xml"),
        ("x.xhtml", "application/xhtml+xml"),
    ] {
        let info = upload(&app, &ann.access, &ch, name, declared, page.clone())
            .await
            .expect_json(201);
        assert_eq!(info["content_type"], "application/octet-stream", "{name}");
        assert_eq!(info["thumbnail_url"], serde_json::Value::Null);
        let id = s(&info, "id");
        post_reply(
            &app,
            &ann.access,
            &ch,
            json!({ "body": name, "file_ids": [id] }),
        )
        .await
        .expect(201);
        let got = app
            .get(&format!("/api/files/{id}"), &bob.access)
            .await
            .expect(200);
        assert_eq!(got.bytes, page);
        assert_eq!(
            got.header("content-type").as_deref(),
            Some("application/octet-stream")
        );
        assert_eq!(
            got.header("x-content-type-options").as_deref(),
            Some("nosniff")
        );
        assert!(
            got.header("content-disposition")
                .unwrap_or_default()
                .starts_with("attachment;"),
            "{name}"
        );
        let csp = got.header("content-security-policy").unwrap_or_default();
        assert!(csp.contains("sandbox"), "{csp}");
    }
}

#[tokio::test]
async fn an_upload_over_the_limit_is_refused_with_413_and_nothing_is_stored() {
    let app = spawn_app_with(|c| c.max_upload_bytes = 1000).await;
    let org = app.setup_owner().await;
    let ch = channel(&app, &org.owner.access, &org.ws, "docs", "public", &[]).await;
    let files_dir = app.state.config.data_dir.join("files");
    // Just over the limit (caught while streaming) and far over it (caught by the
    // body limit around the form).
    for size in [1001usize, 200_000] {
        let reply = upload(
            &app,
            &org.owner.access,
            &ch,
            "big.bin",
            "application/octet-stream",
            vec![7u8; size],
        )
        .await;
        reply.expect_error(413, "payload_too_large");
        assert_eq!(
            files_under(&files_dir),
            Vec::<std::path::PathBuf>::new(),
            "{size} bytes: nothing stored"
        );
    }
    let info = upload(
        &app,
        &org.owner.access,
        &ch,
        "ok.bin",
        "application/octet-stream",
        vec![7u8; 1000],
    )
    .await
    .expect_json(201);
    assert_eq!(info["size"], 1000);
    assert_eq!(files_under(&files_dir).len(), 1, "one blob");
}

#[tokio::test]
async fn only_my_own_unsent_uploads_in_the_same_channel_can_be_attached() {
    let app = spawn_app().await;
    let (org, people) = org_with(&app, &["bob"]).await;
    let (ann, bob) = (&org.owner, &people[0]);
    let ch = channel(&app, &ann.access, &org.ws, "docs", "public", &[bob]).await;
    let other = channel(&app, &ann.access, &org.ws, "other", "public", &[bob]).await;
    let bobs = upload(
        &app,
        &bob.access,
        &ch,
        "bob.txt",
        "text/plain",
        b"bob's".to_vec(),
    )
    .await
    .expect_json(201);
    let elsewhere = upload(
        &app,
        &ann.access,
        &other,
        "ann.txt",
        "text/plain",
        b"ann's".to_vec(),
    )
    .await
    .expect_json(201);
    let before = messages(&app, &ann.access, &ch, "").await;
    for file in [&bobs, &elsewhere] {
        post_reply(
            &app,
            &ann.access,
            &ch,
            json!({ "body": "look", "file_ids": [file["id"]] }),
        )
        .await
        .expect_error(422, "validation");
    }
    post_reply(
        &app,
        &ann.access,
        &ch,
        json!({ "body": "look", "file_ids": [uuid::Uuid::now_v7()] }),
    )
    .await
    .expect_error(422, "validation");
    assert_eq!(
        messages(&app, &ann.access, &ch, "").await,
        before,
        "nothing was posted"
    );
    // Ann still cannot download Bob's unsent upload.
    app.get(&format!("/api/files/{}", s(&bobs, "id")), &ann.access)
        .await
        .expect_error(404, "not_found");
}

#[tokio::test]
async fn deleting_a_message_makes_its_files_unavailable() {
    let app = spawn_app().await;
    let (org, people) = org_with(&app, &["bob"]).await;
    let (ann, bob) = (&org.owner, &people[0]);
    let ch = channel(&app, &ann.access, &org.ws, "pics", "public", &[bob]).await;
    let info = upload(
        &app,
        &bob.access,
        &ch,
        "p.png",
        "image/png",
        png_bytes(64, 64),
    )
    .await
    .expect_json(201);
    let id = s(&info, "id");
    let m = post_reply(
        &app,
        &bob.access,
        &ch,
        json!({ "body": "pic", "file_ids": [id] }),
    )
    .await
    .expect_json(201);
    app.get(&format!("/api/files/{id}"), &ann.access)
        .await
        .expect(200);
    let deleted = app
        .delete(&format!("/api/messages/{}", s(&m, "id")), &bob.access)
        .await
        .expect_json(200);
    assert_eq!(deleted["files"], json!([]));
    for who in [ann, bob] {
        app.get(&format!("/api/files/{id}"), &who.access)
            .await
            .expect_error(404, "not_found");
        app.get(&format!("/api/files/{id}/thumbnail"), &who.access)
            .await
            .expect_error(404, "not_found");
    }
}
