//! Races: rules that must hold when requests arrive at the same time. SQLite
//! serialises writes through one connection; PostgreSQL runs these transactions
//! concurrently at READ COMMITTED, which is where a missing lock shows.

use serde_json::json;

use crate::harness::*;

/// Server bug (PostgreSQL): `sessions::rotate` reads the refresh token without a lock
/// and marks it used without checking that it was still unused, so concurrent
/// refreshes with one token each get a new, working refresh token and reuse detection
/// never fires.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_refreshes_of_one_token_yield_at_most_one_new_token() {
    let app = spawn_app().await;
    let org = app.setup_owner().await;
    for round in 0..4 {
        let session = app.sign_in(&org.owner).await;
        let attempts = (0..8).map(|_| app.refresh(&session.refresh));
        let replies = futures_util::future::join_all(attempts).await;
        let winners: Vec<String> = replies
            .iter()
            .filter(|r| r.status.as_u16() == 200)
            .map(|r| {
                r.json()["refresh_token"]
                    .as_str()
                    .expect("refresh")
                    .to_owned()
            })
            .collect();
        assert!(
            winners.len() <= 1,
            "round {round}: one refresh token was exchanged {} times; the session now has {} live refresh tokens",
            winners.len(),
            winners.len()
        );
        for r in &replies {
            assert!(matches!(r.status.as_u16(), 200 | 401), "{}", r.text());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_use_invite_admits_only_one_of_several_concurrent_registrations() {
    let app = spawn_app().await;
    let org = app.setup_owner().await;
    let invite = app
        .create_invite(&org.owner.access, &org.ws, json!({ "max_uses": 1 }))
        .await;
    let token = invite["token"].as_str().expect("token");
    let attempts = ["amy", "ben", "cat"].map(|name| {
        app.register(json!({
            "invite_token": token,
            "email": format!("{name}@example.com"),
            "username": name,
            "display_name": display_name_for(name),
            "password": PASSWORD,
        }))
    });
    let replies = futures_util::future::join_all(attempts).await;
    let created = replies.iter().filter(|r| r.status.as_u16() == 201).count();
    assert_eq!(
        created,
        1,
        "{:?}",
        replies.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    for r in replies.iter().filter(|r| r.status.as_u16() != 201) {
        r.expect_error(404, "not_found");
    }
    let members = app
        .get(
            &format!("/api/workspaces/{}/members", org.ws),
            &org.owner.access,
        )
        .await
        .expect_json(200);
    assert_eq!(members.as_array().map(Vec::len), Some(2));
}

/// Server bug (PostgreSQL): the last-owner rule counts owners in a READ COMMITTED
/// transaction without a lock, so two owners demoting each other at the same time
/// both succeed and leave the workspace without an owner. (SQLite serialises writes.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_owners_demoting_each_other_at_once_still_leave_an_owner() {
    let app = spawn_app().await;
    let org = app.setup_owner().await;
    let second = app.add_member(&org.owner, &org.ws, "second", "admin").await;
    let path = |id: &str| format!("/api/workspaces/{}/members/{id}", org.ws);
    for round in 0..15 {
        // Both are owners at the start of each round.
        for (actor, target) in [(&org.owner, &second), (&second, &org.owner)] {
            let members = app
                .get(
                    &format!("/api/workspaces/{}/members", org.ws),
                    &actor.access,
                )
                .await;
            if members.status.as_u16() != 200 {
                continue;
            }
            let is_owner = members
                .json()
                .as_array()
                .expect("members")
                .iter()
                .any(|m| m["user_id"] == target.id.as_str() && m["role"] == "owner");
            if !is_owner {
                app.patch(&path(&target.id), &actor.access, json!({ "role": "owner" }))
                    .await
                    .expect(200);
            }
        }
        let (second_path, first_path) = (path(&second.id), path(&org.owner.id));
        let demote_second = app.patch(&second_path, &org.owner.access, json!({ "role": "admin" }));
        let demote_first = app.patch(&first_path, &second.access, json!({ "role": "admin" }));
        let (a, b) = tokio::join!(demote_second, demote_first);
        let members = app
            .get(
                &format!("/api/workspaces/{}/members", org.ws),
                &org.owner.access,
            )
            .await
            .expect_json(200);
        let owners = members
            .as_array()
            .expect("members")
            .iter()
            .filter(|m| m["role"] == "owner")
            .count();
        assert!(
            owners >= 1,
            "round {round}: both demotions went through ({} and {}), the workspace has no owner",
            a.status,
            b.status
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_one_of_two_concurrent_setups_wins() {
    let app = spawn_app().await;
    let token = app.setup_token.clone().expect("setup token");
    let attempt = |name: &'static str| {
        app.post_anon(
            "/api/setup",
            json!({
                "token": token,
                "email": format!("{name}@example.com"),
                "username": name,
                "display_name": display_name_for(name),
                "password": PASSWORD,
                "workspace_name": format!("{name} corp"),
            }),
        )
    };
    let (a, b) = tokio::join!(attempt("first"), attempt("second"));
    let mut statuses = [a.status.as_u16(), b.status.as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [201, 404], "{} / {}", a.text(), b.text());
    let loser = if a.status.as_u16() == 404 { &a } else { &b };
    loser.expect_error(404, "not_found");
    let winner = if a.status.as_u16() == 201 {
        a.json()
    } else {
        b.json()
    };
    let winner = Account::from_auth(&winner, PASSWORD);
    let me = app.get("/api/me", &winner.access).await.expect_json(200);
    assert_eq!(me["workspaces"].as_array().map(Vec::len), Some(1));
    let members = app
        .get(
            &format!(
                "/api/workspaces/{}/members",
                me["workspaces"][0]["id"].as_str().expect("ws")
            ),
            &winner.access,
        )
        .await
        .expect_json(200);
    assert_eq!(
        members.as_array().map(Vec::len),
        Some(1),
        "exactly one account exists"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_registrations_of_one_username_give_one_account_and_conflicts() {
    let app = spawn_app().await;
    let org = app.setup_owner().await;
    let invite = app
        .create_invite(&org.owner.access, &org.ws, json!({}))
        .await;
    let token = invite["token"].as_str().expect("token");
    let attempts = ["a", "b", "c"].map(|suffix| {
        app.register(json!({
            "invite_token": token,
            "email": format!("dup-{suffix}@example.com"),
            "username": "duplicate",
            "display_name": "Dup",
            "password": PASSWORD,
        }))
    });
    let replies = futures_util::future::join_all(attempts).await;
    let created = replies.iter().filter(|r| r.status.as_u16() == 201).count();
    assert_eq!(
        created,
        1,
        "{:?}",
        replies.iter().map(|r| r.text()).collect::<Vec<_>>()
    );
    for r in replies.iter().filter(|r| r.status.as_u16() != 201) {
        r.expect_error(409, "conflict");
    }
    let members = app
        .get(
            &format!("/api/workspaces/{}/members", org.ws),
            &org.owner.access,
        )
        .await
        .expect_json(200);
    assert_eq!(members.as_array().map(Vec::len), Some(2));
}

/// Server bug (both backends): the cycle check of a team move reads the tree outside
/// the transaction that moves the team, so two moves at once ("A under B" and "B under
/// A") each pass the check and together make a cycle: neither team is then under any
/// top-level team (a client building the tree from `parent_id` loses both), and
/// neither can be deleted while the other is its child.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_team_moves_at_once_cannot_make_a_cycle() {
    let app = spawn_app().await;
    let org = app.setup_owner().await;
    let token = &org.owner.access;
    let a = app.create_team(token, &org.ws, "A", None).await;
    let b = app.create_team(token, &org.ws, "B", None).await;
    let path = |id: &str| format!("/api/workspaces/{}/teams/{id}", org.ws);
    let (path_a, path_b) = (path(&a), path(&b));
    for round in 0..40 {
        for p in [&path_a, &path_b] {
            app.patch(p, token, json!({ "parent_id": null }))
                .await
                .expect(200);
        }
        let (ra, rb) = tokio::join!(
            app.patch(&path_a, token, json!({ "parent_id": b })),
            app.patch(&path_b, token, json!({ "parent_id": a })),
        );
        assert!(
            !(ra.status.as_u16() == 200 && rb.status.as_u16() == 200),
            "round {round}: both moves went through; A and B are now each other's parent"
        );
    }
}
