//! The HTTP surface: health, readiness, metrics, security headers, the HTML shell,
//! the OpenAPI document, and JSON answers for unknown paths and methods.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::Value;

use crate::harness::*;

/// Every REST route the tests exercise, as `(method, OpenAPI path)`. The OpenAPI
/// document must list exactly these; `/api/ws` (a websocket) and
/// `/api/openapi.json` (the document itself) are served but not described.
pub const ROUTES: &[(&str, &str)] = &[
    ("get", "/api/setup"),
    ("post", "/api/setup"),
    ("post", "/api/auth/login"),
    ("post", "/api/auth/refresh"),
    ("post", "/api/auth/logout"),
    ("post", "/api/auth/logout-all"),
    ("post", "/api/auth/register"),
    ("get", "/api/auth/open-workspaces"),
    ("get", "/api/me"),
    ("patch", "/api/me"),
    ("put", "/api/me/avatar"),
    ("delete", "/api/me/avatar"),
    ("get", "/api/users/{id}/avatar"),
    ("post", "/api/me/password"),
    ("get", "/api/me/sessions"),
    ("delete", "/api/me/sessions/{id}"),
    ("get", "/api/workspaces"),
    ("post", "/api/workspaces"),
    ("get", "/api/workspaces/{ws}"),
    ("patch", "/api/workspaces/{ws}"),
    ("post", "/api/workspaces/{ws}/leave"),
    ("get", "/api/workspaces/{ws}/members"),
    ("patch", "/api/workspaces/{ws}/members/{user}"),
    ("delete", "/api/workspaces/{ws}/members/{user}"),
    ("post", "/api/workspaces/{ws}/members/{user}/deactivate"),
    ("post", "/api/workspaces/{ws}/members/{user}/reactivate"),
    ("post", "/api/workspaces/{ws}/members/{user}/password-reset"),
    ("get", "/api/auth/password-reset/{token}"),
    ("post", "/api/auth/password-reset/{token}"),
    ("get", "/api/workspaces/{ws}/invites"),
    ("post", "/api/workspaces/{ws}/invites"),
    ("delete", "/api/workspaces/{ws}/invites/{id}"),
    ("get", "/api/invites/{token}"),
    ("post", "/api/invites/{token}/accept"),
    ("get", "/api/workspaces/{ws}/teams"),
    ("post", "/api/workspaces/{ws}/teams"),
    ("patch", "/api/workspaces/{ws}/teams/{team}"),
    ("delete", "/api/workspaces/{ws}/teams/{team}"),
    ("get", "/api/workspaces/{ws}/teams/{team}/members"),
    ("put", "/api/workspaces/{ws}/teams/{team}/members/{user}"),
    ("delete", "/api/workspaces/{ws}/teams/{team}/members/{user}"),
    ("get", "/api/workspaces/{ws}/audit"),
    ("get", "/api/workspaces/{ws}/audit.csv"),
    ("get", "/api/workspaces/{ws}/usage"),
    // Chat (tested in chat_*.rs).
    ("get", "/api/workspaces/{ws}/channels"),
    ("post", "/api/workspaces/{ws}/channels"),
    ("get", "/api/workspaces/{ws}/channels/browse"),
    ("post", "/api/workspaces/{ws}/dms"),
    ("post", "/api/workspaces/{ws}/read-all"),
    ("get", "/api/workspaces/{ws}/search"),
    ("get", "/api/workspaces/{ws}/presence"),
    ("put", "/api/me/status"),
    ("get", "/api/channels/{id}"),
    ("patch", "/api/channels/{id}"),
    ("post", "/api/channels/{id}/join"),
    ("post", "/api/channels/{id}/leave"),
    ("get", "/api/channels/{id}/members"),
    ("put", "/api/channels/{id}/members/{user}"),
    ("delete", "/api/channels/{id}/members/{user}"),
    ("put", "/api/channels/{id}/notify"),
    ("get", "/api/channels/{id}/messages"),
    ("post", "/api/channels/{id}/messages"),
    ("get", "/api/channels/{id}/pins"),
    ("post", "/api/channels/{id}/read"),
    ("get", "/api/channels/{id}/read-state"),
    ("post", "/api/channels/{id}/files"),
    ("get", "/api/channels/{id}/webhooks"),
    ("post", "/api/channels/{id}/webhooks"),
    ("delete", "/api/channels/{id}/webhooks/{hook}"),
    ("post", "/api/hooks/{token}"),
    ("get", "/api/messages/{id}"),
    ("patch", "/api/messages/{id}"),
    ("delete", "/api/messages/{id}"),
    ("put", "/api/messages/{id}/reactions/{emoji}"),
    ("delete", "/api/messages/{id}/reactions/{emoji}"),
    ("put", "/api/messages/{id}/pin"),
    ("delete", "/api/messages/{id}/pin"),
    ("get", "/api/messages/{id}/follow"),
    ("put", "/api/messages/{id}/follow"),
    ("get", "/api/messages/{id}/receipts"),
    ("post", "/api/messages/{id}/ack"),
    ("get", "/api/messages/{id}/acks"),
    ("get", "/api/files/{id}"),
    ("get", "/api/files/{id}/thumbnail"),
    ("post", "/api/workspaces/{id}/meetings"),
    ("get", "/api/workspaces/{id}/meetings"),
    ("get", "/api/meetings/{code}"),
    ("patch", "/api/meetings/{code}"),
    ("get", "/api/meetings/{code}/public"),
    ("post", "/api/meetings/{code}/end"),
    ("get", "/api/meetings/{code}/ics"),
    ("post", "/api/meetings/{code}/guests"),
];

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

#[tokio::test]
async fn health_and_readiness_answer() {
    let app = spawn_app().await;
    let health = app.get_anon("/healthz").await.expect(200);
    assert_eq!(health.text(), "ok");
    let ready = app.get_anon("/readyz").await.expect_json(200);
    assert_eq!(ready["ready"], true);
    assert_eq!(ready["database"], expected_backend());
    assert_eq!(app.backend, expected_backend());
}

#[tokio::test]
async fn metrics_count_requests_by_route() {
    let app = spawn_app().await;
    app.get_anon("/api/setup").await.expect(200);
    let metrics = app.get_anon("/metrics").await.expect(200);
    assert!(
        metrics
            .header("content-type")
            .is_some_and(|c| c.starts_with("text/plain")),
        "{:?}",
        metrics.header("content-type")
    );
    let text = metrics.text();
    assert!(text.contains("convene_http_requests_total"), "{text}");
    assert!(
        text.contains("route=\"/api/setup\""),
        "requests are labelled by route: {text}"
    );
    assert!(
        text.contains("convene_http_request_duration_seconds"),
        "{text}"
    );
}

#[tokio::test]
async fn metrics_show_persisted_messages_and_database_pool_use() {
    let app = spawn_app().await;
    let (org, _) = crate::chat_support::org_with(&app, &[]).await;
    let general =
        crate::chat_support::channel(&app, &org.owner.access, &org.ws, "general", "public", &[])
            .await;
    crate::chat_support::post(&app, &org.owner.access, &general, "counted").await;
    let text = app.get_anon("/metrics").await.expect(200).text();
    // The recorder is shared by every test app in this process, so only presence and
    // shape are checked, not exact values.
    let persisted = text
        .lines()
        .find(|l| l.starts_with("convene_messages_persisted_total"))
        .unwrap_or_else(|| panic!("persisted messages are counted: {text}"));
    let count: f64 = persisted
        .rsplit(' ')
        .next()
        .and_then(|v| v.parse().ok())
        .expect("a number");
    assert!(count >= 1.0, "{persisted}");
    let pools: &[&str] = if expected_backend() == "sqlite" {
        &["read", "write"]
    } else {
        &["shared"]
    };
    for pool in pools {
        for line in [
            format!("convene_db_pool_connections{{pool=\"{pool}\",state=\"busy\"}}"),
            format!("convene_db_pool_connections{{pool=\"{pool}\",state=\"idle\"}}"),
            format!("convene_db_pool_max_connections{{pool=\"{pool}\"}}"),
        ] {
            assert!(text.contains(&line), "{line} in {text}");
        }
    }
}

#[tokio::test]
async fn security_headers_are_on_api_html_and_error_responses() {
    let app = spawn_app().await;
    for path in [
        "/api/setup",
        "/",
        "/login",
        "/api/no-such-thing",
        "/healthz",
        "/api/me",
    ] {
        let reply = app.get_anon(path).await;
        let csp = reply
            .header("content-security-policy")
            .unwrap_or_else(|| panic!("{path} has a CSP"));
        let script_src = csp
            .split(';')
            .map(str::trim)
            .find(|d| d.starts_with("script-src"))
            .unwrap_or_else(|| panic!("{path}: CSP has script-src: {csp}"));
        assert!(!script_src.contains("unsafe-inline"), "{path}: {csp}");
        assert!(!script_src.contains("unsafe-eval"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(csp.contains("object-src 'none'"), "{path}: {csp}");
        assert_eq!(
            reply.header("x-content-type-options").as_deref(),
            Some("nosniff"),
            "{path}"
        );
        assert_eq!(
            reply.header("x-frame-options").as_deref(),
            Some("DENY"),
            "{path}"
        );
        assert_eq!(
            reply.header("referrer-policy").as_deref(),
            Some("no-referrer"),
            "{path}"
        );
    }
}

#[tokio::test]
async fn the_html_shell_is_served_for_client_routes() {
    let app = spawn_app().await;
    for path in ["/", "/login", "/setup", "/w/some-id/admin"] {
        let reply = app.get_anon(path).await.expect(200);
        assert!(
            reply
                .header("content-type")
                .is_some_and(|c| c.starts_with("text/html")),
            "{path}: {:?}",
            reply.header("content-type")
        );
        let html = reply.text().to_lowercase();
        assert!(html.contains("<html"), "{path} is the HTML shell");
        // The CSP forbids inline scripts, so the shell must not rely on any.
        for (i, _) in html.match_indices("<script") {
            let tag_end = html[i..].find('>').map_or(html.len(), |e| i + e);
            assert!(
                html[i..tag_end].contains("src="),
                "{path}: inline script at byte {i}"
            );
        }
    }
    // The shell revalidates cheaply with its ETag.
    let first = app.get_anon("/").await.expect(200);
    let etag = first.header("etag").expect("an ETag");
    let again = send(app.client.get(app.url("/")).header("if-none-match", &etag)).await;
    assert_eq!(again.status.as_u16(), 304);
    // A missing asset is a 404, not the shell.
    app.get_anon("/no-such-file.js").await.expect(404);
}

#[tokio::test]
async fn unknown_api_paths_and_methods_get_json_errors() {
    let app = spawn_app().await;
    let org = app.setup_owner().await;
    for path in [
        "/api/nope",
        "/api/workspaces/x/y/z/w",
        "/api/v2/me",
        "/api/setup/extra",
    ] {
        let reply = app.get(path, &org.owner.access).await;
        reply.expect_error(404, "not_found");
        let anon = app.get_anon(path).await;
        anon.expect_error(404, "not_found");
    }
    let reply = app.call(Method::DELETE, "/api/setup", None, None).await;
    assert_eq!(reply.status.as_u16(), 405, "{}", reply.text());
    assert!(
        reply.json()["error"]["code"].is_string(),
        "{}",
        reply.text()
    );
    let reply = app.call(Method::GET, "/api/auth/login", None, None).await;
    assert_eq!(reply.status.as_u16(), 405, "{}", reply.text());
    assert!(reply.json()["error"]["message"].is_string());
}

#[tokio::test]
async fn the_openapi_document_describes_every_route_once() {
    let app = spawn_app().await;
    let doc = app.get_anon("/api/openapi.json").await.expect_json(200);
    assert!(
        doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1")),
        "OpenAPI 3.1: {}",
        doc["openapi"]
    );
    let scheme = &doc["components"]["securitySchemes"]["bearer"];
    assert_eq!(scheme["type"], "http", "{scheme}");
    assert_eq!(
        scheme["scheme"].as_str().map(str::to_lowercase).as_deref(),
        Some("bearer")
    );

    let paths = doc["paths"].as_object().expect("paths");
    let mut operation_ids = BTreeSet::new();
    let mut documented = BTreeSet::new();
    for (path, item) in paths {
        for method in METHODS {
            let Some(op) = item.get(method) else { continue };
            documented.insert((method.to_owned(), path.clone()));
            let id = op["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{method} {path} has an operationId"))
                .to_owned();
            assert!(
                operation_ids.insert(id.clone()),
                "operationId {id} is used twice"
            );
            assert!(
                op["responses"].as_object().is_some_and(|r| !r.is_empty()),
                "{method} {path} has responses"
            );
        }
    }
    assert!(operation_ids.contains("login"));
    let login = &paths["/api/auth/login"]["post"];
    assert_eq!(login["operationId"], "login");
    assert!(login["requestBody"].is_object());

    let tested: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    let undocumented: Vec<_> = tested.difference(&documented).collect();
    let untested: Vec<_> = documented.difference(&tested).collect();
    assert!(
        undocumented.is_empty(),
        "served but not documented: {undocumented:?}"
    );
    assert!(
        untested.is_empty(),
        "documented but not in the tested list: {untested:?}"
    );

    // Routes that need a sign-in say so.
    for (method, path) in &documented {
        let op = &paths[path.as_str()][method.as_str()];
        let public = matches!(
            path.as_str(),
            "/api/setup"
                | "/api/auth/login"
                | "/api/auth/refresh"
                | "/api/auth/register"
                | "/api/auth/open-workspaces"
        ) || path == "/api/invites/{token}"
            // The reset link's secret is its credential.
            || path == "/api/auth/password-reset/{token}"
            // The webhook URL's secret is its credential.
            || path == "/api/hooks/{token}"
            // The meeting link is what a guest has.
            || path == "/api/meetings/{code}/public"
            || path == "/api/meetings/{code}/guests";
        let secured = op["security"].as_array().is_some_and(|s| !s.is_empty());
        assert_eq!(secured, !public, "{method} {path}: security requirement");
    }
}

/// Every documented route is really served: probing it (without credentials, with
/// placeholder ids) never gets the unknown-endpoint 404 or a 405.
#[tokio::test]
async fn every_documented_route_is_served() {
    let app = spawn_app().await;
    let unknown = app.get_anon("/api/definitely-not-a-route").await.json();
    let placeholder = uuid::Uuid::now_v7().to_string();
    for (method, path) in ROUTES {
        let concrete = ["{id}", "{ws}", "{user}", "{team}", "{token}", "{code}"]
            .iter()
            .fold((*path).to_owned(), |p, param| {
                p.replace(param, &placeholder)
            });
        let method = Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
        let body: Option<Value> = matches!(method, Method::POST | Method::PATCH | Method::PUT)
            .then(|| serde_json::json!({}));
        let reply = app
            .call(method.clone(), &concrete, None, body.as_ref())
            .await;
        assert_ne!(
            reply.status.as_u16(),
            405,
            "{method} {path}: {}",
            reply.text()
        );
        if reply.status.as_u16() == 404 {
            assert_ne!(reply.json(), unknown, "{method} {path} is not routed");
        }
    }
}

/// Contract gap: `/api/ws` without an upgrade is refused by axum's own extractor, in
/// plain text, not with the API error body every other `/api` answer uses.
#[tokio::test]
async fn a_plain_request_to_the_websocket_endpoint_gets_the_json_error_body() {
    let app = spawn_app().await;
    let reply = app.get_anon("/api/ws").await;
    let status = reply.status.as_u16();
    assert!((400..500).contains(&status), "{status}: {}", reply.text());
    reply.expect_error(status, "bad_request");
}
