//! Preparing Convene for the bench through its public API: the owner account from the
//! setup link, one invitation, real accounts registered concurrently (each hashes its
//! password with Argon2id, as a person's would), and the channels.

use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Instant;

use anyhow::Context;
use futures_util::future::join_all;
use serde_json::{Value, json};

use crate::http::Http;

/// Strong enough for the server's strength check, and unrelated to the names.
const PASSWORD: &str = "Quartz-Lamp-Orbit-9173-Velvet";

pub struct User {
    pub id: String,
    pub token: Rc<str>,
}

pub struct Accounts {
    pub owner_token: String,
    pub workspace: String,
    pub users: Vec<User>,
}

fn token_of(v: &Value) -> anyhow::Result<String> {
    v["access_token"]
        .as_str()
        .map(str::to_owned)
        .context("no access_token in the answer")
}

/// Run `job(i)` for every `i` in `0..n` on `workers` keep-alive connections.
async fn parallel<T, F>(
    addr: SocketAddr,
    n: usize,
    workers: usize,
    what: &str,
    job: F,
) -> anyhow::Result<Vec<T>>
where
    F: AsyncFn(usize, &mut Http) -> anyhow::Result<T>,
{
    let next = Cell::new(0usize);
    let results: RefCell<Vec<Option<T>>> = RefCell::new((0..n).map(|_| None).collect());
    let started = Instant::now();
    let step = (n / 8).max(1);
    let worker = || async {
        let mut http = Http::new(addr);
        loop {
            let i = next.get();
            if i >= n {
                return Ok::<(), anyhow::Error>(());
            }
            next.set(i + 1);
            let r = job(i, &mut http)
                .await
                .with_context(|| format!("{what} #{i}"))?;
            results.borrow_mut()[i] = Some(r);
            if (i + 1).is_multiple_of(step) && n >= 200 {
                eprintln!(
                    "bench:   {what}: {} of {n} ({:.0} s)",
                    i + 1,
                    started.elapsed().as_secs_f64()
                );
            }
        }
    };
    for r in join_all((0..workers).map(|_| worker())).await {
        r?;
    }
    results
        .into_inner()
        .into_iter()
        .map(|r| r.context("a job did not run"))
        .collect()
}

/// The owner, the workspace and `n` registered members.
pub async fn prepare(addr: SocketAddr, setup_token: &str, n: usize) -> anyhow::Result<Accounts> {
    let mut http = Http::new(addr);
    let owner = http
        .call(
            "POST",
            "/api/setup",
            None,
            Some(&json!({
                "token": setup_token, "email": "owner@example.com", "username": "owner",
                "display_name": "Bench Owner", "password": PASSWORD, "workspace_name": "Bench"
            })),
        )
        .await?
        .ok("setup")?;
    let owner_token = token_of(&owner)?;
    let workspaces = http
        .call("GET", "/api/workspaces", Some(&owner_token), None)
        .await?
        .ok("list workspaces")?;
    let workspace = workspaces[0]["id"]
        .as_str()
        .context("no workspace after setup")?
        .to_owned();
    let invite = http
        .call(
            "POST",
            &format!("/api/workspaces/{workspace}/invites"),
            Some(&owner_token),
            Some(&json!({ "max_uses": n.max(1), "expires_in_hours": 24 })),
        )
        .await?
        .ok("create invite")?;
    let invite = invite["token"]
        .as_str()
        .context("no invite token")?
        .to_owned();
    let invite = &invite;
    // Argon2 runs on the server's one core; a few requests in flight keep it busy.
    let users = parallel(addr, n, 6, "registered", async |i, http: &mut Http| {
        let body = json!({
            "invite_token": invite, "email": format!("member{i}@example.com"),
            "username": format!("member{i}"), "display_name": format!("Member {i}"), "password": PASSWORD
        });
        let v = http.call("POST", "/api/auth/register", None, Some(&body)).await?.ok("register")?;
        Ok(User {
            id: v["user"]["id"].as_str().context("no user id")?.to_owned(),
            token: token_of(&v)?.into(),
        })
    })
    .await?;
    Ok(Accounts {
        owner_token,
        workspace,
        users,
    })
}

/// A public channel holding every user (the owner creates it with the first 1,000;
/// the rest join it themselves). Returns its id.
pub async fn fanout_channel(
    addr: SocketAddr,
    acc: &Accounts,
    name: &str,
) -> anyhow::Result<String> {
    let mut http = Http::new(addr);
    let first: Vec<&str> = acc.users.iter().take(1000).map(|u| u.id.as_str()).collect();
    let channel = http
        .call(
            "POST",
            &format!("/api/workspaces/{}/channels", acc.workspace),
            Some(&acc.owner_token),
            Some(&json!({ "name": name, "member_ids": first })),
        )
        .await?
        .ok("create channel")?;
    let id = channel["id"].as_str().context("no channel id")?.to_owned();
    let rest = &acc.users[first.len()..];
    let id_ref = &id;
    parallel(addr, rest.len(), 4, "joined", async |i, http: &mut Http| {
        http.call(
            "POST",
            &format!("/api/channels/{id_ref}/join"),
            Some(&rest[i].token),
            None,
        )
        .await?
        .ok("join channel")
        .map(|_| ())
    })
    .await?;
    Ok(id)
}

/// One private channel per user in `users`, with that user and the owner as members.
pub async fn own_channels(
    addr: SocketAddr,
    acc: &Accounts,
    users: &[User],
) -> anyhow::Result<Vec<String>> {
    parallel(addr, users.len(), 4, "channels created", async |i, http: &mut Http| {
        let body = json!({ "name": format!("persist-{i}"), "kind": "private", "member_ids": [users[i].id] });
        let v = http
            .call("POST", &format!("/api/workspaces/{}/channels", acc.workspace), Some(&acc.owner_token), Some(&body))
            .await?
            .ok("create channel")?;
        Ok(v["id"].as_str().context("no channel id")?.to_owned())
    })
    .await
}

/// Sum of `last_seq` over these channels: how many messages they hold.
pub async fn stored_messages(
    addr: SocketAddr,
    acc: &Accounts,
    channels: &[String],
) -> anyhow::Result<u64> {
    let counts = parallel(
        addr,
        channels.len(),
        4,
        "channels read",
        async |i, http: &mut Http| {
            let v = http
                .call(
                    "GET",
                    &format!("/api/channels/{}", channels[i]),
                    Some(&acc.owner_token),
                    None,
                )
                .await?
                .ok("get channel")?;
            v["last_seq"].as_u64().context("no last_seq")
        },
    )
    .await?;
    Ok(counts.iter().sum())
}
