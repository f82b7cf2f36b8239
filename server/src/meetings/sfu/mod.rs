//! The media router: every meeting's peer connections driven from one UDP socket by one
//! task. Datagrams are routed to a connection by ICE username, then by remote address
//! ([`demux`]). RTP from a publisher is rewritten per subscriber leg and handed straight
//! to that leg's connection: nothing waits on a slow subscriber (a full socket buffer
//! drops the datagram, as the network would).
//!
//! The same task owns the rooms (who is in which meeting, lobby, lock, host actions), so
//! room and media state change together without locks. Signalling talks to it through
//! [`Command`]s and receives events on each participant's channel.

mod demux;
mod media;
mod negotiate;
mod peer;
mod rooms;
mod speaker;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, UdpSocket as StdUdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::extract::ws::Utf8Bytes;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};

use crate::error::{AppError, AppResult};
use crate::store::ids::UserId;

pub use rooms::{
    HostAction, JoinOutcome, Request, Role as ParticipantRole, RoomInfo, Source, TrackSpec,
};

/// Commands queued to the router before senders wait.
const COMMAND_QUEUE: usize = 1024;
/// How often rooms are looked after (speakers, reconnect grace).
const TICK: Duration = Duration::from_millis(250);
/// Socket buffers: bursts of keyframes to many subscribers must not overflow them.
const SOCKET_BUFFER: usize = 4 * 1024 * 1024;

/// Who a participant is, as signalling established it.
#[derive(Debug, Clone)]
pub struct Identity {
    /// The account, or `None` for a guest.
    pub user_id: Option<UserId>,
    /// Stable key for "removed from this meeting": the user id or the guest id.
    pub key: String,
    pub name: String,
    pub role: rooms::Role,
}

/// A request to the router.
pub enum Command {
    Join {
        room: RoomInfo,
        who: Identity,
        rejoin_key: Option<String>,
        ice_servers: serde_json::Value,
        events: mpsc::Sender<Utf8Bytes>,
        reply: oneshot::Sender<AppResult<JoinOutcome>>,
    },
    /// A signalling request from a participant already in a room.
    Request {
        participant: String,
        request: rooms::Request,
        reply: oneshot::Sender<AppResult<serde_json::Value>>,
    },
    /// The participant's websocket closed without leaving: keep its place a while.
    Disconnected { participant: String },
    /// Room settings changed over REST.
    Settings {
        meeting: crate::store::ids::MeetingId,
        locked: bool,
        lobby: bool,
        max_participants: u32,
    },
    /// The meeting was ended over REST.
    End {
        meeting: crate::store::ids::MeetingId,
    },
}

/// Handle to the router task.
#[derive(Clone)]
pub struct Sfu {
    commands: mpsc::Sender<Command>,
    /// The address put in candidates (the media port as browsers reach it).
    pub advertised: SocketAddr,
}

impl Sfu {
    /// Bind the media socket and start the router.
    pub fn start(bind_ip: IpAddr, port: u16, public_ip: Option<IpAddr>) -> anyhow::Result<Sfu> {
        let socket = bind(SocketAddr::new(bind_ip, port))
            .with_context(|| format!("binding the UDP media port {bind_ip}:{port}"))?;
        let bound = socket.local_addr()?;
        let ip = public_ip.unwrap_or_else(|| {
            if bind_ip.is_unspecified() {
                default_route_ip().unwrap_or(IpAddr::from([127, 0, 0, 1]))
            } else {
                bind_ip
            }
        });
        let advertised = SocketAddr::new(ip, bound.port());
        let (commands, rx) = mpsc::channel(COMMAND_QUEUE);
        let router = Router::new(Arc::new(socket), advertised);
        tokio::spawn(router.run(rx));
        tracing::info!(%bound, %advertised, "media port ready");
        Ok(Sfu {
            commands,
            advertised,
        })
    }

    /// Queue a command; fails only when the router has stopped.
    pub async fn send(&self, command: Command) -> AppResult<()> {
        self.commands
            .send(command)
            .await
            .map_err(|_| AppError::Internal(anyhow::anyhow!("media router stopped")))
    }

    /// Send a request for a participant and wait for its answer.
    pub async fn request(
        &self,
        participant: &str,
        request: rooms::Request,
    ) -> AppResult<serde_json::Value> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Request {
            participant: participant.to_owned(),
            request,
            reply,
        })
        .await?;
        answer
            .await
            .map_err(|_| AppError::Internal(anyhow::anyhow!("media router dropped a request")))?
    }
}

fn bind(addr: SocketAddr) -> anyhow::Result<UdpSocket> {
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::DGRAM,
        Some(socket2::Protocol::UDP),
    )?;
    // Best effort: the kernel caps these at net.core.{r,w}mem_max.
    let _ = socket.set_recv_buffer_size(SOCKET_BUFFER);
    let _ = socket.set_send_buffer_size(SOCKET_BUFFER);
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    let std: StdUdpSocket = socket.into();
    Ok(UdpSocket::from_std(std)?)
}

/// The local address of the interface on the default route (no packet is sent).
fn default_route_ip() -> Option<IpAddr> {
    let probe = StdUdpSocket::bind("0.0.0.0:0").ok()?;
    probe.connect("192.0.2.1:9").ok()?;
    probe.local_addr().ok().map(|a| a.ip())
}

type PeerKey = u64;
type TrackKey = u64;

/// The router's state: rooms, participants, peer connections, published tracks.
struct Router {
    socket: Arc<UdpSocket>,
    advertised: SocketAddr,
    next_key: u64,
    rooms: HashMap<crate::store::ids::MeetingId, rooms::Room>,
    participants: HashMap<String, rooms::Participant>,
    peers: HashMap<PeerKey, media::Peer>,
    tracks: HashMap<TrackKey, media::Track>,
    /// Server ICE ufrag → connection.
    by_ufrag: HashMap<String, PeerKey>,
    /// Remote address → connection, learnt from STUN.
    by_addr: HashMap<SocketAddr, PeerKey>,
    /// Subscribe connections that may need a new offer.
    renegotiate: Vec<PeerKey>,
}

impl Router {
    fn new(socket: Arc<UdpSocket>, advertised: SocketAddr) -> Router {
        Router {
            socket,
            advertised,
            next_key: 1,
            rooms: HashMap::new(),
            participants: HashMap::new(),
            peers: HashMap::new(),
            tracks: HashMap::new(),
            by_ufrag: HashMap::new(),
            by_addr: HashMap::new(),
            renegotiate: Vec::new(),
        }
    }

    fn key(&mut self) -> u64 {
        self.next_key += 1;
        self.next_key
    }

    async fn run(mut self, mut commands: mpsc::Receiver<Command>) {
        let socket = self.socket.clone();
        let mut buf = vec![0u8; 2048];
        let mut tick = tokio::time::interval(TICK);
        loop {
            let deadline = self.next_deadline();
            // Commands and timers first: a busy socket must not starve joins, DTLS
            // retransmits or RTCP reports.
            tokio::select! {
                biased;
                command = commands.recv() => {
                    let Some(command) = command else { break };
                    self.command(command);
                }
                _ = tokio::time::sleep_until(deadline.into()) => {
                    self.timeouts(Instant::now());
                }
                _ = tick.tick() => {
                    self.tick(Instant::now());
                }
                received = socket.recv_from(&mut buf) => {
                    match received {
                        Ok((n, from)) => {
                            self.datagram(&buf[..n], from, Instant::now());
                            // Drain what else is waiting, then look at the timers again.
                            for _ in 0..64 {
                                match socket.try_recv_from(&mut buf) {
                                    Ok((n, from)) => self.datagram(&buf[..n], from, Instant::now()),
                                    Err(_) => break,
                                }
                            }
                        }
                        Err(e) => tracing::debug!(error = %e, "media socket receive failed"),
                    }
                }
            }
            self.offer_where_needed();
        }
    }
}
