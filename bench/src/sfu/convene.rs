//! Convene under test: `convene serve` on a fresh data directory, media on the servers'
//! veth address, one owner account that creates the meetings; every participant is a guest
//! (`POST /api/meetings/{code}/guests`) on its own websocket, speaking `docs/PROTOCOL.md`.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};

use super::netns::SERVER_IP;
use super::peer::{Peer, PeerOpts, first_mid};
use super::ws::{Events, JsonWs, Key, short};
use crate::http::Http;
use crate::servers::Server;

/// The one UDP port of all meeting media.
pub const MEDIA_PORT: &str = "7882";
/// The most participants Convene allows in one meeting (`meeting_max_participants`).
pub const MAX_PARTICIPANTS: usize = 500;

pub struct Convene {
    server: Server,
    http: Http,
    owner_token: String,
    workspace: String,
}

impl Convene {
    /// Start on a fresh data directory and complete the first-run setup.
    pub async fn start(
        bin: &Path,
        data: &Path,
        log: PathBuf,
        netns: &str,
    ) -> anyhow::Result<Convene> {
        let max = MAX_PARTICIPANTS.to_string();
        let server = Server::start_convene_with(
            bin,
            data,
            log,
            true,
            &[
                ("CONVENE_MEDIA_IP", SERVER_IP),
                ("CONVENE_MEDIA_PORT", MEDIA_PORT),
                ("CONVENE_MEETING_MAX_PARTICIPANTS", max.as_str()),
            ],
            SERVER_IP,
            Some(netns),
        )
        .await?;
        let token = server
            .setup_token
            .clone()
            .context("no setup token printed")?;
        let acc = crate::convene::prepare(server.addr, &token, 0).await?;
        Ok(Convene {
            http: Http::new(server.addr),
            owner_token: acc.owner_token,
            workspace: acc.workspace,
            server,
        })
    }

    pub fn pid(&self) -> u32 {
        self.server.pid
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.addr
    }

    /// A meeting that guests join at once (no lobby); returns its code.
    pub async fn create_meeting(&mut self) -> anyhow::Result<String> {
        let v = self
            .http
            .call(
                "POST",
                &format!("/api/workspaces/{}/meetings", self.workspace),
                Some(&self.owner_token),
                Some(&json!({
                    "title": "bench", "allow_guests": true, "lobby": false,
                    "max_participants": MAX_PARTICIPANTS
                })),
            )
            .await?
            .ok("create meeting")?;
        Ok(v["code"].as_str().context("no meeting code")?.to_owned())
    }

    /// A guest token for `code`.
    pub async fn guest(&mut self, code: &str, name: &str) -> anyhow::Result<String> {
        let v = self
            .http
            .call(
                "POST",
                &format!("/api/meetings/{code}/guests"),
                None,
                Some(&json!({ "name": name })),
            )
            .await?
            .ok("guest token")?;
        Ok(v["token"].as_str().context("no guest token")?.to_owned())
    }

    pub async fn stop(self) {
        self.server.stop(Duration::from_secs(15)).await;
    }
}

fn convene_key(v: &Value) -> Option<Key> {
    match v["type"].as_str() {
        Some("ok" | "error" | "pong") => v["id"].as_str().map(|id| Key::Reply(id.to_owned())),
        _ => None,
    }
}

/// The answer to a request, or an error naming it.
fn ok(v: Value, what: &str) -> anyhow::Result<Value> {
    if v["type"] == "ok" {
        Ok(v)
    } else {
        bail!("{what}: {}", short(&v))
    }
}

/// One participant's websocket.
pub struct Client {
    ws: Rc<JsonWs>,
    pub subscriber: Rc<RefCell<Option<Rc<Peer>>>>,
    pub publisher: Option<Rc<Peer>>,
    /// Offers that could not be answered, and the last reason.
    pub offer_errors: Rc<RefCell<(u64, Option<String>)>>,
    pump: tokio::task::JoinHandle<()>,
}

impl Drop for Client {
    fn drop(&mut self) {
        self.pump.abort();
    }
}

impl Client {
    /// Connect and authenticate with `token`.
    pub async fn connect(addr: SocketAddr, token: &str, opts: PeerOpts) -> anyhow::Result<Client> {
        let (ws, events) =
            JsonWs::connect(&format!("ws://{addr}/api/ws"), None, "id", convene_key).await?;
        let ws = Rc::new(ws);
        ok(
            ws.request(json!({"type": "auth", "token": token})).await?,
            "auth",
        )?;
        let subscriber: Rc<RefCell<Option<Rc<Peer>>>> = Rc::default();
        let offer_errors = Rc::default();
        let pump = tokio::task::spawn_local(pump(
            events,
            ws.clone(),
            subscriber.clone(),
            Rc::clone(&offer_errors),
            opts,
        ));
        Ok(Client {
            ws,
            subscriber,
            publisher: None,
            offer_errors,
            pump,
        })
    }

    /// `meeting.join`; returns when the server has let us in. The time the request went
    /// out is returned too.
    pub async fn join(&self, code: &str) -> anyhow::Result<Instant> {
        let at = Instant::now();
        let v = ok(
            self.ws
                .request(json!({"type": "meeting.join", "code": code}))
                .await?,
            "meeting.join",
        )?;
        if v["status"] != "joined" {
            bail!("meeting.join: status {} (expected joined)", v["status"]);
        }
        Ok(at)
    }

    /// Publish a camera track.
    pub async fn publish(&mut self, opts: PeerOpts, ssrc: u32) -> anyhow::Result<()> {
        let (peer, offer) = Peer::publisher(opts, ssrc).await?;
        let mid = first_mid(&offer).context("no mid in our offer")?;
        let v = ok(
            self.ws
                .request(json!({
                    "type": "meeting.publish", "sdp": offer,
                    "tracks": [{"mid": mid, "source": "camera"}]
                }))
                .await?,
            "meeting.publish",
        )?;
        peer.set_answer(v["sdp"].as_str().context("meeting.publish: no sdp")?)?;
        self.publisher = Some(Rc::new(peer));
        Ok(())
    }

    /// `meeting.leave` (best effort: the bench is tearing down).
    pub async fn leave(&self) {
        if self.ws.is_open() {
            let _ = tokio::time::timeout(
                Duration::from_secs(5),
                self.ws.request(json!({"type": "meeting.leave"})),
            )
            .await;
        }
    }
}

/// Server frames: subscribe offers are answered, pings ponged, the rest dropped.
async fn pump(
    mut events: Events,
    ws: Rc<JsonWs>,
    subscriber: Rc<RefCell<Option<Rc<Peer>>>>,
    errors: Rc<RefCell<(u64, Option<String>)>>,
    opts: PeerOpts,
) {
    while let Some(v) = events.recv().await {
        match v["type"].as_str() {
            Some("ping") => {
                let _ = ws.send(&json!({"type": "pong"}));
            }
            Some("meeting.offer") => {
                let r = answer_offer(&v, &ws, &subscriber, opts).await;
                if let Err(e) = r {
                    let mut errs = errors.borrow_mut();
                    errs.0 += 1;
                    errs.1 = Some(format!("{e:#}"));
                }
            }
            _ => {}
        }
    }
}

async fn answer_offer(
    v: &Value,
    ws: &JsonWs,
    subscriber: &RefCell<Option<Rc<Peer>>>,
    opts: PeerOpts,
) -> anyhow::Result<()> {
    let offer = v["sdp"].as_str().context("meeting.offer without sdp")?;
    let existing = subscriber.borrow().clone();
    let answer = match existing {
        Some(peer) => peer.renegotiate(offer)?,
        None => {
            let (peer, answer) = Peer::subscriber(opts, offer).await?;
            *subscriber.borrow_mut() = Some(Rc::new(peer));
            answer
        }
    };
    ok(
        ws.request(json!({"type": "meeting.answer", "sdp": answer}))
            .await?,
        "meeting.answer",
    )?;
    Ok(())
}
