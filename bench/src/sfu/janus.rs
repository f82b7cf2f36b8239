//! The baseline: Debian's `janus` (1.1) with its videoroom plugin, driven over its
//! websocket transport. The bench writes its own configuration to a temporary directory:
//! only the videoroom plugin and the websockets transport are loaded, ICE gathers on the
//! servers' veth address alone, everything else is Janus's default.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::rc::{Rc, Weak};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};
use tokio::process::Child;

use super::netns::SERVER_IP;
use super::peer::Peer;
use super::ws::{Events, JsonWs, Key};

const WS_PORT: u16 = 8188;
const PLUGINS: &str = "/usr/lib/x86_64-linux-gnu/janus/plugins";
const TRANSPORTS: &str = "/usr/lib/x86_64-linux-gnu/janus/transports";

pub struct Janus {
    child: Child,
    pub pid: u32,
    url: String,
    /// The connection that creates and destroys rooms.
    ctl: Conn,
    ctl_handle: u64,
    next_room: u64,
}

/// Settings of the Janus under test.
#[derive(Clone, Copy)]
pub struct JanusOpts {
    /// `event_loops` in janus.jcfg: 0 = Janus's default (a thread per handle).
    pub event_loops: u32,
}

/// Where Debian's package puts the binary and the plugin.
pub fn check_installed() -> anyhow::Result<PathBuf> {
    let bin = PathBuf::from("/usr/bin/janus");
    if !bin.exists() || !Path::new(PLUGINS).join("libjanus_videoroom.so").exists() {
        bail!("Janus is not installed: apt-get install -y janus (Debian's package)");
    }
    Ok(bin)
}

fn write_config(dir: &Path, opts: JanusOpts) -> anyhow::Result<()> {
    for (sub, from, lib) in [
        ("plugins", PLUGINS, "libjanus_videoroom.so"),
        ("transports", TRANSPORTS, "libjanus_websockets.so"),
    ] {
        let d = dir.join(sub);
        std::fs::create_dir_all(&d)?;
        let link = d.join(lib);
        if !link.exists() {
            std::os::unix::fs::symlink(Path::new(from).join(lib), &link)
                .with_context(|| format!("linking {}", link.display()))?;
        }
    }
    for sub in ["events", "loggers"] {
        std::fs::create_dir_all(dir.join(sub))?;
    }
    let d = dir.display();
    let event_loops = if opts.event_loops > 0 {
        format!("\tevent_loops = {}\n", opts.event_loops)
    } else {
        String::new()
    };
    std::fs::write(
        dir.join("janus.jcfg"),
        format!(
            "general: {{\n\
             \tconfigs_folder = \"{d}\"\n\
             \tplugins_folder = \"{d}/plugins\"\n\
             \ttransports_folder = \"{d}/transports\"\n\
             \tevents_folder = \"{d}/events\"\n\
             \tloggers_folder = \"{d}/loggers\"\n\
             \tdebug_level = 4\n\
             \tinterface = \"{SERVER_IP}\"\n\
             \tserver_name = \"convene-bench\"\n\
             \tsession_timeout = 0\n\
             {event_loops}\
             }}\n\
             certificates: {{\n}}\n\
             media: {{\n\trtp_port_range = \"20000-40000\"\n}}\n\
             nat: {{\n\tnice_debug = false\n\tice_enforce_list = \"{SERVER_IP}\"\n\tignore_mdns = true\n}}\n\
             plugins: {{\n}}\n\
             transports: {{\n}}\n\
             loggers: {{\n}}\n\
             events: {{\n}}\n"
        ),
    )?;
    std::fs::write(
        dir.join("janus.transport.websockets.jcfg"),
        format!(
            "general: {{\n\tjson = \"plain\"\n\tws = true\n\tws_port = {WS_PORT}\n\tws_ip = \"{SERVER_IP}\"\n\twss = false\n}}\n\
             admin: {{\n\tadmin_ws = false\n\tadmin_wss = false\n}}\n"
        ),
    )?;
    std::fs::write(dir.join("janus.plugin.videoroom.jcfg"), "general: {\n}\n")?;
    Ok(())
}

impl Janus {
    /// `taskset -c 0 janus` with the bench's configuration in `dir`, logging to `log`.
    pub async fn start(
        dir: &Path,
        log: &Path,
        opts: JanusOpts,
        netns: &str,
    ) -> anyhow::Result<Janus> {
        let bin = check_installed()?;
        write_config(dir, opts)?;
        let out =
            std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
        let err = out.try_clone()?;
        let mut cmd = crate::servers::pinned(Some(netns));
        cmd.arg(bin)
            .arg("-C")
            .arg(dir.join("janus.jcfg"))
            .arg("-F")
            .arg(dir)
            .arg("--disable-colors")
            .env_remove(super::INNER_ENV)
            .env_remove(super::SERVER_NS_ENV)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .kill_on_drop(true);
        let mut child = cmd.spawn().context("starting janus with taskset")?;
        let pid = child.id().context("janus pid")?;
        let url = format!("ws://{SERVER_IP}:{WS_PORT}");
        let started = Instant::now();
        let ctl = loop {
            match Conn::open(&url).await {
                Ok(c) => break c,
                Err(e) => {
                    if let Ok(Some(status)) = child.try_wait() {
                        bail!(
                            "janus exited ({status}) during start; see {}",
                            log.display()
                        );
                    }
                    if started.elapsed() > Duration::from_secs(30) {
                        return Err(e.context(format!(
                            "janus did not answer within 30 s; see {}",
                            log.display()
                        )));
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        };
        let ctl_handle = ctl.attach().await?;
        Ok(Janus {
            child,
            pid,
            url,
            ctl,
            ctl_handle,
            next_room: 1000,
        })
    }

    /// A new room for up to `publishers` publishers, VP8, no bitrate cap, no periodic
    /// keyframe requests.
    pub async fn create_room(&mut self, publishers: usize) -> anyhow::Result<u64> {
        self.next_room += 1;
        let room = self.next_room;
        let (data, _) = self
            .ctl
            .message(
                self.ctl_handle,
                json!({
                    "request": "create", "room": room, "description": "bench",
                    "publishers": publishers.max(1), "bitrate": 0, "fir_freq": 0,
                    "videocodec": "vp8", "audiocodec": "opus",
                    "notify_joining": false, "permanent": false
                }),
                None,
            )
            .await?;
        if data["videoroom"] != "created" {
            bail!("creating a videoroom: {data}");
        }
        Ok(room)
    }

    pub async fn destroy_room(&self, room: u64) -> anyhow::Result<()> {
        self.ctl
            .message(
                self.ctl_handle,
                json!({"request": "destroy", "room": room, "permanent": false}),
                None,
            )
            .await
            .map(|_| ())
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// SIGTERM, then SIGKILL after 10 s.
    pub async fn stop(mut self) {
        crate::sys::terminate(self.pid);
        if tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}

/// Peers by Janus handle, for the candidates Janus trickles.
type PeerMap = Rc<RefCell<HashMap<u64, Weak<Peer>>>>;

/// One Janus API session over one websocket.
pub struct Conn {
    ws: Rc<JsonWs>,
    session: u64,
    peers: PeerMap,
    pump: tokio::task::JoinHandle<()>,
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.pump.abort();
    }
}

fn janus_key(v: &Value) -> Option<Key> {
    if v["janus"] == "ack" {
        return Some(Key::Ignore);
    }
    v["transaction"].as_str().map(|t| Key::Reply(t.to_owned()))
}

impl Conn {
    /// A websocket and a session on it.
    pub async fn open(url: &str) -> anyhow::Result<Conn> {
        let (ws, events) =
            JsonWs::connect(url, Some("janus-protocol"), "transaction", janus_key).await?;
        let ws = Rc::new(ws);
        let v = ws.request(json!({"janus": "create"})).await?;
        let session = v["data"]["id"]
            .as_u64()
            .with_context(|| format!("janus create: {v}"))?;
        let peers: PeerMap = Rc::default();
        let pump = tokio::task::spawn_local(pump(events, peers.clone()));
        Ok(Conn {
            ws,
            session,
            peers,
            pump,
        })
    }

    /// A videoroom handle.
    pub async fn attach(&self) -> anyhow::Result<u64> {
        let v = self
            .ws
            .request(json!({"janus": "attach", "session_id": self.session, "plugin": "janus.plugin.videoroom"}))
            .await?;
        v["data"]["id"]
            .as_u64()
            .with_context(|| format!("janus attach: {v}"))
    }

    /// A videoroom request; returns the plugin's data and the JSEP, if any.
    pub async fn message(
        &self,
        handle: u64,
        body: Value,
        jsep: Option<Value>,
    ) -> anyhow::Result<(Value, Option<Value>)> {
        let mut frame = json!({"janus": "message", "session_id": self.session, "handle_id": handle, "body": body});
        if let Some(j) = jsep {
            frame["jsep"] = j;
        }
        let v = self.ws.request(frame).await?;
        if v["janus"] == "error" {
            bail!("janus: {}", v["error"]);
        }
        let data = v["plugindata"]["data"].clone();
        if data.get("error").is_some() {
            bail!("videoroom: {} ({})", data["error"], data["error_code"]);
        }
        let jsep = v.get("jsep").cloned();
        Ok((data, jsep))
    }

    /// Tell Janus that our candidates (all in our SDP) are complete.
    pub fn candidates_done(&self, handle: u64) {
        let _ = self.ws.send(&json!({
            "janus": "trickle", "session_id": self.session, "handle_id": handle,
            "transaction": format!("done-{handle}"), "candidate": {"completed": true}
        }));
    }

    /// Route the candidates Janus trickles for `handle` to `peer`.
    pub fn route(&self, handle: u64, peer: &Rc<Peer>) {
        self.peers.borrow_mut().insert(handle, Rc::downgrade(peer));
    }
}

/// Janus's unsolicited frames: candidates go to their peer, the rest is dropped.
async fn pump(mut events: Events, peers: PeerMap) {
    while let Some(v) = events.recv().await {
        if v["janus"] != "trickle" {
            continue;
        }
        let Some(handle) = v["sender"].as_u64() else {
            continue;
        };
        let c = &v["candidate"];
        let Some(candidate) = c["candidate"].as_str() else {
            continue; // {"completed": true}
        };
        let peer = peers.borrow().get(&handle).and_then(Weak::upgrade);
        if let Some(peer) = peer {
            peer.add_candidate(
                candidate,
                c["sdpMid"].as_str().map(str::to_owned),
                c["sdpMLineIndex"]
                    .as_u64()
                    .and_then(|i| u16::try_from(i).ok()),
            );
        }
    }
}

/// A publisher's JSEP offer.
pub fn offer(sdp: &str) -> Value {
    json!({"type": "offer", "sdp": sdp})
}

/// A subscriber's JSEP answer.
pub fn answer(sdp: &str) -> Value {
    json!({"type": "answer", "sdp": sdp})
}

/// The SDP in a JSEP, or an error naming `what`.
pub fn sdp_of(jsep: Option<Value>, what: &str) -> anyhow::Result<String> {
    jsep.as_ref()
        .and_then(|j| j["sdp"].as_str())
        .map(str::to_owned)
        .with_context(|| format!("{what}: no SDP in Janus's answer"))
}
