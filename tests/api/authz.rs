//! The authorization matrix: every protected route against missing, garbage, revoked
//! and deactivated credentials, plain members on admin routes, and members of another
//! workspace (who must learn nothing, not even that the workspace exists).

use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::*;

/// One request of the matrix.
struct Route {
    method: Method,
    path: String,
    body: Option<Value>,
    /// Only admins and owners may call it.
    admin: bool,
}

fn route(method: Method, path: String, body: Option<Value>, admin: bool) -> Route {
    Route {
        method,
        path,
        body,
        admin,
    }
}

/// The victim workspace and the people around it.
struct World {
    app: TestApp,
    org: Org,
    /// A plain member of the victim workspace.
    member: Account,
    /// Owner of another workspace, not a member of the victim one.
    outsider: Account,
    outsider_ws: String,
    /// A signed-out session of the owner.
    revoked: Account,
    /// A deactivated member of the victim workspace.
    deactivated: Account,
    team: String,
    invite_id: String,
    invite_token: String,
    /// Strings of the victim workspace no outsider may see.
    secrets: Vec<String>,
}

async fn world() -> World {
    let app = spawn_app().await;
    let org = app.setup_owner().await;
    let token = &org.owner.access;
    let member = app
        .add_member(&org.owner, &org.ws, "mia.secret", "member")
        .await;
    let deactivated = app
        .add_member(&org.owner, &org.ws, "dora.secret", "member")
        .await;
    app.post_empty(
        &format!(
            "/api/workspaces/{}/members/{}/deactivate",
            org.ws, deactivated.id
        ),
        token,
    )
    .await
    .expect(200);
    let team = app
        .create_team(token, &org.ws, "Skunkworks Secret", None)
        .await;
    app.put(
        &format!(
            "/api/workspaces/{}/teams/{team}/members/{}",
            org.ws, member.id
        ),
        token,
        json!({ "lead": false }),
    )
    .await
    .expect(200);
    let invite = app
        .create_invite(
            token,
            &org.ws,
            json!({ "email": "invited.secret@example.com" }),
        )
        .await;
    let revoked = app.sign_in(&org.owner).await;
    app.post_empty("/api/auth/logout", &revoked.access)
        .await
        .expect(204);

    // The outsider runs their own workspace and shares nothing with the victim one.
    let outsider_ws = app.create_workspace(&org.owner, "Outsider Co").await;
    let outsider = app
        .add_member(&org.owner, &outsider_ws, "xavier", "admin")
        .await;
    app.patch(
        &format!("/api/workspaces/{outsider_ws}/members/{}", outsider.id),
        token,
        json!({ "role": "owner" }),
    )
    .await
    .expect(200);
    app.post_empty(&format!("/api/workspaces/{outsider_ws}/leave"), token)
        .await
        .expect(204);
    let shared = app
        .get("/api/workspaces", &outsider.access)
        .await
        .expect_json(200);
    assert_eq!(
        shared.as_array().map(Vec::len),
        Some(1),
        "the outsider is only in their own workspace"
    );

    let ws_slug = app
        .get(&format!("/api/workspaces/{}", org.ws), token)
        .await
        .expect_json(200)["slug"]
        .as_str()
        .expect("slug")
        .to_owned();
    let secrets = vec![
        WORKSPACE_NAME.to_owned(),
        ws_slug,
        OWNER_EMAIL.to_owned(),
        OWNER_NAME.to_owned(),
        member.email.clone(),
        member.username.clone(),
        deactivated.email.clone(),
        "Skunkworks Secret".to_owned(),
        "invited.secret@example.com".to_owned(),
        "setup.completed".to_owned(),
    ];
    World {
        invite_id: invite["id"].as_str().expect("invite id").to_owned(),
        invite_token: invite["token"].as_str().expect("invite token").to_owned(),
        app,
        org,
        member,
        outsider,
        outsider_ws,
        revoked,
        deactivated,
        team,
        secrets,
    }
}

/// Every route scoped to a workspace, with a valid body.
fn workspace_routes(ws: &str, team: &str, invite: &str, user: &str) -> Vec<Route> {
    let w = format!("/api/workspaces/{ws}");
    vec![
        route(Method::GET, w.clone(), None, false),
        route(
            Method::PATCH,
            w.clone(),
            Some(json!({ "name": "Renamed" })),
            true,
        ),
        route(Method::POST, format!("{w}/leave"), None, false),
        route(Method::GET, format!("{w}/members"), None, false),
        route(Method::GET, format!("{w}/members?q=secret"), None, false),
        route(
            Method::PATCH,
            format!("{w}/members/{user}"),
            Some(json!({ "role": "admin" })),
            true,
        ),
        route(Method::DELETE, format!("{w}/members/{user}"), None, true),
        route(
            Method::POST,
            format!("{w}/members/{user}/deactivate"),
            None,
            true,
        ),
        route(
            Method::POST,
            format!("{w}/members/{user}/reactivate"),
            None,
            true,
        ),
        route(
            Method::POST,
            format!("{w}/members/{user}/password-reset"),
            None,
            true,
        ),
        route(Method::GET, format!("{w}/invites"), None, true),
        route(
            Method::POST,
            format!("{w}/invites"),
            Some(json!({ "role": "member" })),
            true,
        ),
        route(Method::DELETE, format!("{w}/invites/{invite}"), None, true),
        route(Method::GET, format!("{w}/teams"), None, false),
        route(
            Method::POST,
            format!("{w}/teams"),
            Some(json!({ "name": "Planted" })),
            true,
        ),
        route(
            Method::PATCH,
            format!("{w}/teams/{team}"),
            Some(json!({ "name": "Renamed" })),
            true,
        ),
        route(Method::DELETE, format!("{w}/teams/{team}"), None, true),
        route(
            Method::GET,
            format!("{w}/teams/{team}/members"),
            None,
            false,
        ),
        route(
            Method::PUT,
            format!("{w}/teams/{team}/members/{user}"),
            Some(json!({ "lead": true })),
            true,
        ),
        route(
            Method::DELETE,
            format!("{w}/teams/{team}/members/{user}"),
            None,
            true,
        ),
        route(Method::GET, format!("{w}/audit"), None, true),
    ]
}

/// Every other route that needs a signed-in caller.
fn account_routes(world: &World) -> Vec<Route> {
    vec![
        route(Method::GET, "/api/me".into(), None, false),
        route(
            Method::PATCH,
            "/api/me".into(),
            Some(json!({ "display_name": "Hacked" })),
            false,
        ),
        route(Method::DELETE, "/api/me/avatar".into(), None, false),
        route(
            Method::GET,
            format!("/api/users/{}/avatar", world.org.owner.id),
            None,
            false,
        ),
        route(
            Method::POST,
            "/api/me/password".into(),
            Some(json!({ "current_password": PASSWORD, "new_password": NEW_PASSWORD })),
            false,
        ),
        route(Method::GET, "/api/me/sessions".into(), None, false),
        route(
            Method::DELETE,
            format!("/api/me/sessions/{}", world.org.owner.session),
            None,
            false,
        ),
        route(Method::GET, "/api/workspaces".into(), None, false),
        route(
            Method::POST,
            "/api/workspaces".into(),
            Some(json!({ "name": "Planted" })),
            false,
        ),
        route(
            Method::POST,
            format!("/api/invites/{}/accept", world.invite_token),
            None,
            false,
        ),
        route(Method::POST, "/api/auth/logout".into(), None, false),
        route(Method::POST, "/api/auth/logout-all".into(), None, false),
    ]
}

/// Call without the app client's cookies: the refresh cookie of an earlier sign-in
/// would itself be a credential (logout accepts it).
async fn call(app: &TestApp, r: &Route, token: Option<&str>) -> Reply {
    let mut rb = crate::harness::new_client().request(r.method.clone(), app.url(&r.path));
    if let Some(token) = token {
        rb = rb.bearer_auth(token);
    }
    if let Some(body) = &r.body {
        rb = rb.json(body);
    }
    crate::harness::send(rb).await
}

#[tokio::test]
async fn every_protected_route_refuses_missing_garbage_revoked_and_deactivated_credentials() {
    let w = world().await;
    let app = &w.app;
    let before = app.snapshot(&w.org.owner.access, &w.org.ws).await;
    let mut routes = workspace_routes(&w.org.ws, &w.team, &w.invite_id, &w.member.id);
    routes.extend(account_routes(&w));
    let forged = app.forge_token(
        jsonwebtoken::Algorithm::HS256,
        b"not-the-server-key-not-the-server-key",
        &w.org.owner.id,
        &w.org.owner.session,
        600,
    );
    let credentials: [(&str, Option<&str>); 5] = [
        ("no token", None),
        ("garbage token", Some("garbage")),
        ("token signed with another key", Some(&forged)),
        ("revoked session", Some(&w.revoked.access)),
        ("deactivated user", Some(&w.deactivated.access)),
    ];
    for r in &routes {
        for (what, token) in credentials {
            let reply = call(app, r, token).await;
            assert_eq!(
                reply.status.as_u16(),
                401,
                "{} {} with {what}: {}",
                r.method,
                r.path,
                reply.text()
            );
            reply.expect_error(401, "unauthorized");
            let secrets: Vec<&str> = w.secrets.iter().map(String::as_str).collect();
            assert_leaks_none(
                &reply.text(),
                &secrets,
                &format!("{} {} with {what}", r.method, r.path),
            );
        }
    }
    let after = app.snapshot(&w.org.owner.access, &w.org.ws).await;
    assert_eq!(before, after, "refused requests changed nothing");
    // The raw upload route too (it reads no JSON).
    app.raw(
        Method::PUT,
        "/api/me/avatar",
        None,
        Some("image/png"),
        png_bytes(8, 8),
    )
    .await
    .expect_error(401, "unauthorized");
    app.raw(
        Method::PUT,
        "/api/me/avatar",
        Some(&w.revoked.access),
        Some("image/png"),
        png_bytes(8, 8),
    )
    .await
    .expect_error(401, "unauthorized");
}

#[tokio::test]
async fn a_plain_member_gets_403_on_admin_routes_and_reads_the_rest() {
    let w = world().await;
    let app = &w.app;
    let before = app.snapshot(&w.org.owner.access, &w.org.ws).await;
    // Aim member-management routes at the owner, so a wrongly allowed call would show.
    for r in workspace_routes(&w.org.ws, &w.team, &w.invite_id, &w.org.owner.id) {
        if r.method == Method::POST && r.path.ends_with("/leave") {
            continue;
        }
        let reply = call(app, &r, Some(&w.member.access)).await;
        if r.admin {
            assert_eq!(
                reply.status.as_u16(),
                403,
                "{} {}: {}",
                r.method,
                r.path,
                reply.text()
            );
            reply.expect_error(403, "forbidden");
        } else {
            assert_eq!(
                reply.status.as_u16(),
                200,
                "{} {}: {}",
                r.method,
                r.path,
                reply.text()
            );
        }
    }
    let after = app.snapshot(&w.org.owner.access, &w.org.ws).await;
    assert_eq!(before, after, "refused requests changed nothing");
}

#[tokio::test]
async fn a_member_of_another_workspace_gets_404_and_learns_nothing() {
    let w = world().await;
    let app = &w.app;
    let before = app.snapshot(&w.org.owner.access, &w.org.ws).await;
    let secrets: Vec<&str> = w.secrets.iter().map(String::as_str).collect();
    for r in workspace_routes(&w.org.ws, &w.team, &w.invite_id, &w.member.id) {
        let reply = call(app, &r, Some(&w.outsider.access)).await;
        assert_eq!(
            reply.status.as_u16(),
            404,
            "{} {}: {}",
            r.method,
            r.path,
            reply.text()
        );
        reply.expect_error(404, "not_found");
        assert_leaks_none(&reply.text(), &secrets, &format!("{} {}", r.method, r.path));
    }
    // The same answer as for a workspace that does not exist at all.
    let nowhere = uuid::Uuid::now_v7().to_string();
    let real = app
        .get(
            &format!("/api/workspaces/{}/members", w.org.ws),
            &w.outsider.access,
        )
        .await;
    let fake = app
        .get(
            &format!("/api/workspaces/{nowhere}/members"),
            &w.outsider.access,
        )
        .await;
    assert_eq!(real.json(), fake.json(), "existence is not revealed");
    // Profiles of people with no shared workspace are not served either.
    app.get(
        &format!("/api/users/{}/avatar", w.member.id),
        &w.outsider.access,
    )
    .await
    .expect_error(404, "not_found");
    // Nothing of the victim appears in what the outsider can list.
    for path in [
        "/api/me".to_owned(),
        "/api/workspaces".to_owned(),
        format!("/api/workspaces/{}/members", w.outsider_ws),
        format!("/api/workspaces/{}/audit", w.outsider_ws),
        format!("/api/workspaces/{}/teams", w.outsider_ws),
        "/api/me/sessions".to_owned(),
    ] {
        let reply = app.get(&path, &w.outsider.access).await.expect(200);
        let victim_only: Vec<&str> = secrets
            .iter()
            .copied()
            .filter(|s| *s != OWNER_EMAIL && *s != OWNER_NAME && *s != "setup.completed")
            .collect();
        assert_leaks_none(&reply.text(), &victim_only, &path);
    }
    let after = app.snapshot(&w.org.owner.access, &w.org.ws).await;
    assert_eq!(before, after, "refused requests changed nothing");
}

#[tokio::test]
async fn ids_from_another_workspace_are_not_found_even_for_the_admin_of_the_one_in_the_path() {
    let w = world().await;
    let app = &w.app;
    let before = app.snapshot(&w.org.owner.access, &w.org.ws).await;
    let mine = &w.outsider_ws;
    let token = &w.outsider.access;
    let victim = &w.member.id;
    let their_team = &w.team;
    let cases = [
        (
            Method::PATCH,
            format!("/api/workspaces/{mine}/members/{victim}"),
            Some(json!({ "role": "guest" })),
        ),
        (
            Method::DELETE,
            format!("/api/workspaces/{mine}/members/{victim}"),
            None,
        ),
        (
            Method::POST,
            format!("/api/workspaces/{mine}/members/{victim}/deactivate"),
            None,
        ),
        (
            Method::POST,
            format!("/api/workspaces/{mine}/members/{victim}/reactivate"),
            None,
        ),
        (
            Method::DELETE,
            format!("/api/workspaces/{mine}/invites/{}", w.invite_id),
            None,
        ),
        (
            Method::PATCH,
            format!("/api/workspaces/{mine}/teams/{their_team}"),
            Some(json!({ "name": "Stolen" })),
        ),
        (
            Method::DELETE,
            format!("/api/workspaces/{mine}/teams/{their_team}"),
            None,
        ),
        (
            Method::GET,
            format!("/api/workspaces/{mine}/teams/{their_team}/members"),
            None,
        ),
        (
            Method::PUT,
            format!(
                "/api/workspaces/{mine}/teams/{their_team}/members/{}",
                w.outsider.id
            ),
            Some(json!({ "lead": true })),
        ),
        (
            Method::DELETE,
            format!("/api/workspaces/{mine}/teams/{their_team}/members/{victim}"),
            None,
        ),
        (
            Method::DELETE,
            format!("/api/me/sessions/{}", w.member.session),
            None,
        ),
    ];
    let secrets: Vec<&str> = w.secrets.iter().map(String::as_str).collect();
    for (method, path, body) in cases {
        let reply = app
            .call(method.clone(), &path, Some(token), body.as_ref())
            .await;
        assert_eq!(
            reply.status.as_u16(),
            404,
            "{method} {path}: {}",
            reply.text()
        );
        reply.expect_error(404, "not_found");
        assert_leaks_none(&reply.text(), &secrets, &format!("{method} {path}"));
    }
    // Nor can the outsider hang a team of theirs under the victim's team.
    let reply = app
        .post(
            &format!("/api/workspaces/{mine}/teams"),
            token,
            json!({ "name": "Mole", "parent_id": their_team }),
        )
        .await;
    reply.expect_error(422, "validation");
    assert_leaks_none(&reply.text(), &secrets, "team under a foreign parent");
    // Adding the victim to the outsider's own team fails: they are not a member there.
    let own_team = app.create_team(token, mine, "Own", None).await;
    app.put(
        &format!("/api/workspaces/{mine}/teams/{own_team}/members/{victim}"),
        token,
        json!({ "lead": false }),
    )
    .await
    .expect_error(422, "validation");

    let after = app.snapshot(&w.org.owner.access, &w.org.ws).await;
    assert_eq!(before, after, "refused requests changed nothing");
    app.get("/api/me", &w.member.access).await.expect(200);
}
