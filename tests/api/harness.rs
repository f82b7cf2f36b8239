//! The test harness, zero-to-production style: every test starts the real app on
//! `127.0.0.1:0` with its own data directory and database, and talks to it over HTTP
//! and websockets.
//!
//! Backend: a SQLite file in a fresh temporary directory by default. When
//! `CONVENE_TEST_POSTGRES_URL` is set (e.g. `postgres://postgres@127.0.0.1:5432/test`),
//! each app gets a fresh database `convene_test_<uuid>` created through that URL and
//! dropped when the test ends (leftovers after a crash share the prefix:
//! `SELECT datname FROM pg_database WHERE datname LIKE 'convene_test_%'`).

use std::net::SocketAddr;
use std::time::Duration;

use convene::config::Config;
use convene::{App, AppState};
use futures_util::{SinkExt, StreamExt};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::header::{CONTENT_TYPE, HeaderMap};
use reqwest::{Client, Method, RequestBuilder, StatusCode};
use serde_json::{Value, json};
use sqlx::Connection;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// A password the strength rules accept; every test account uses it.
pub const PASSWORD: &str = "violet-harbor-tangerine-42";
/// A second strong password (for password changes).
pub const NEW_PASSWORD: &str = "copper-meadow-lantern-97";
pub const OWNER_EMAIL: &str = "olivia@example.com";
pub const OWNER_USERNAME: &str = "olivia";
pub const OWNER_NAME: &str = "Olivia Owner";
pub const WORKSPACE_NAME: &str = "Acme Robotics";

/// How long a test waits for a websocket frame before failing.
const WS_WAIT: Duration = Duration::from_secs(5);

/// The environment variable that switches the tests to PostgreSQL.
pub const POSTGRES_ENV: &str = "CONVENE_TEST_POSTGRES_URL";

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A running app and what a test needs to talk to it.
pub struct TestApp {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    pub addr: SocketAddr,
    /// The one-time setup token the app issued on start.
    pub setup_token: Option<String>,
    /// A client with a cookie store (holds the refresh cookie of its last sign-in).
    pub client: Client,
    /// The app's state: the store, for the few tests that set up what the API cannot
    /// (an expired invitation).
    pub state: AppState,
    /// The HMAC key access tokens are signed with (set explicitly so tests can forge).
    pub jwt_secret: String,
    /// `sqlite` or `postgres`.
    pub backend: &'static str,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<anyhow::Result<()>>>,
    pg: Option<PgDatabase>,
    _dir: tempfile::TempDir,
}

/// A PostgreSQL database created for one test.
struct PgDatabase {
    maintenance_url: String,
    name: String,
}

/// Start the app with limits high enough that no test trips them by accident.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Start the app after `tweak` adjusted the config (e.g. low rate limits).
pub async fn spawn_app_with(tweak: impl FnOnce(&mut Config)) -> TestApp {
    let dir = tempfile::tempdir().expect("create a temporary data directory");
    let jwt_secret = format!("test-{}", convene::auth::tokens::random_token());
    let mut config = Config {
        data_dir: dir.path().to_path_buf(),
        jwt_secret: jwt_secret.clone(),
        login_attempts_per_account_per_minute: 100_000,
        login_attempts_per_ip_per_minute: 100_000,
        registrations_per_ip_per_hour: 100_000,
        shutdown_grace_secs: 1,
        database_max_connections: 5,
        // Media on loopback, on a free port: tests run side by side.
        media_ip: "127.0.0.1".into(),
        media_port: 0,
        ..Config::default()
    };
    let pg = match std::env::var(POSTGRES_ENV) {
        Ok(url) if !url.trim().is_empty() => Some(create_pg_database(url.trim()).await),
        _ => None,
    };
    if let Some(pg) = &pg {
        config.database_url = with_database(&pg.maintenance_url, &pg.name);
    }
    tweak(&mut config);

    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local address");
    let base = format!("http://{addr}");
    let app = App::build(config, &base).await.expect("build the app");
    let setup_token = app.setup_token.clone();
    let state = app.state.clone();
    let backend = state.store.backend();
    let (tx, rx) = oneshot::channel::<()>();
    let server = tokio::spawn(app.serve(listener, async move {
        let _ = rx.await;
    }));
    TestApp {
        base,
        addr,
        setup_token,
        client: new_client(),
        state,
        jwt_secret,
        backend,
        shutdown: Some(tx),
        server: Some(server),
        pg,
        _dir: dir,
    }
}

/// A fresh HTTP client with its own cookie store.
pub fn new_client() -> Client {
    Client::builder()
        .cookie_store(true)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("build an HTTP client")
}

/// The backend the tests run on, from the environment.
pub fn expected_backend() -> &'static str {
    match std::env::var(POSTGRES_ENV) {
        Ok(url) if !url.trim().is_empty() => "postgres",
        _ => "sqlite",
    }
}

async fn create_pg_database(maintenance_url: &str) -> PgDatabase {
    let name = format!("convene_test_{}", uuid::Uuid::now_v7().simple());
    let mut conn = sqlx::PgConnection::connect(maintenance_url)
        .await
        .expect("connect to the PostgreSQL maintenance database");
    // A lost test database after a crash is harmless; not waiting for the WAL flush
    // saves about a third of the (dominant) CREATE DATABASE time.
    sqlx::query("SET synchronous_commit = off")
        .execute(&mut conn)
        .await
        .expect("relax commit durability for test setup");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .expect("create a test database");
    let _ = conn.close().await;
    PgDatabase {
        maintenance_url: maintenance_url.to_owned(),
        name,
    }
}

/// `url` with its database name replaced by `db`.
fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let (scheme, rest) = base
        .split_once("://")
        .expect("the PostgreSQL URL has a scheme");
    let host = rest.split_once('/').map_or(rest, |(h, _)| h);
    match query {
        Some(q) => format!("{scheme}://{host}/{db}?{q}"),
        None => format!("{scheme}://{host}/{db}"),
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        // Drop the test database, best effort, on a thread of its own: Drop cannot await,
        // and the test's runtime may be single-threaded. FORCE ends the app's connections.
        if let Some(pg) = self.pg.take() {
            let _ = std::thread::spawn(move || {
                let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                else {
                    return;
                };
                rt.block_on(async {
                    if let Ok(mut conn) = sqlx::PgConnection::connect(&pg.maintenance_url).await {
                        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", pg.name);
                        let _ = sqlx::query(sqlx::AssertSqlSafe(sql))
                            .execute(&mut conn)
                            .await;
                        let _ = conn.close().await;
                    }
                });
            })
            .join();
        }
    }
}

/// An HTTP response, read in full.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub bytes: Vec<u8>,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }

    /// The body as JSON; panics with the body when it is not JSON.
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.bytes).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}); status {}: {}",
                self.status,
                self.text()
            )
        })
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    /// Assert the status, showing the body when it differs.
    #[track_caller]
    pub fn expect(self, status: u16) -> Reply {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected status; body: {}",
            self.text()
        );
        self
    }

    /// Assert the status and return the JSON body.
    #[track_caller]
    pub fn expect_json(self, status: u16) -> Value {
        self.expect(status).json()
    }

    /// Assert an API error: this status, a JSON body of exactly
    /// `{"error": {"code": <code>, "message": <non-empty>}}`.
    #[track_caller]
    pub fn expect_error(&self, status: u16, code: &str) {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected status; body: {}",
            self.text()
        );
        let ct = self.header("content-type").unwrap_or_default();
        assert!(
            ct.starts_with("application/json"),
            "error content type is {ct:?}, body: {}",
            self.text()
        );
        let body = self.json();
        let object = body.as_object().expect("error body is an object");
        assert_eq!(object.len(), 1, "error body has only `error`: {body}");
        let error = body["error"].as_object().expect("`error` is an object");
        assert_eq!(error.len(), 2, "`error` has only code and message: {body}");
        assert_eq!(body["error"]["code"], code, "error code; body: {body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "error message is a non-empty string: {body}"
        );
    }
}

/// Send a request and read the whole response.
pub async fn send(rb: RequestBuilder) -> Reply {
    let response = rb.send().await.expect("send the request");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response
        .bytes()
        .await
        .expect("read the response body")
        .to_vec();
    Reply {
        status,
        headers,
        bytes,
    }
}

/// A signed-in person.
#[derive(Debug, Clone)]
pub struct Account {
    pub id: String,
    pub email: String,
    pub username: String,
    pub display_name: String,
    pub password: String,
    pub access: String,
    pub refresh: String,
    pub session: String,
}

impl Account {
    /// From an `AuthResponse` body.
    #[track_caller]
    pub fn from_auth(body: &Value, password: &str) -> Account {
        let s = |v: &Value| {
            v.as_str()
                .unwrap_or_else(|| panic!("expected a string in the auth response: {body}"))
                .to_owned()
        };
        assert_eq!(body["token_type"], "Bearer", "token type: {body}");
        Account {
            id: s(&body["user"]["id"]),
            email: s(&body["user"]["email"]),
            username: s(&body["user"]["username"]),
            display_name: s(&body["user"]["display_name"]),
            password: password.to_owned(),
            access: s(&body["access_token"]),
            refresh: s(&body["refresh_token"]),
            session: s(&body["session_id"]),
        }
    }
}

/// The owner account and the first workspace, made by setup.
#[derive(Debug, Clone)]
pub struct Org {
    pub owner: Account,
    pub ws: String,
}

/// An event seen on a websocket.
#[derive(Debug)]
pub enum WsEvent {
    /// A JSON text frame (server pings are skipped).
    Frame(Value),
    /// A close frame with its code.
    Closed(Option<u16>),
    /// The stream ended without a close frame (or with an error).
    Ended,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Any request; `body` is sent as JSON when present.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Reply {
        let mut rb = self.client.request(method, self.url(path));
        if let Some(token) = token {
            rb = rb.bearer_auth(token);
        }
        if let Some(body) = body {
            rb = rb.json(body);
        }
        send(rb).await
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub async fn get_anon(&self, path: &str) -> Reply {
        self.call(Method::GET, path, None, None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Reply {
        self.call(Method::POST, path, Some(token), Some(&body))
            .await
    }

    /// POST without a body (leave, logout, deactivate, accept, ...).
    pub async fn post_empty(&self, path: &str, token: &str) -> Reply {
        self.call(Method::POST, path, Some(token), None).await
    }

    pub async fn post_anon(&self, path: &str, body: Value) -> Reply {
        self.call(Method::POST, path, None, Some(&body)).await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Reply {
        self.call(Method::PATCH, path, Some(token), Some(&body))
            .await
    }

    pub async fn put(&self, path: &str, token: &str, body: Value) -> Reply {
        self.call(Method::PUT, path, Some(token), Some(&body)).await
    }

    pub async fn delete(&self, path: &str, token: &str) -> Reply {
        self.call(Method::DELETE, path, Some(token), None).await
    }

    /// A raw body with an optional content type.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> Reply {
        let mut rb = self.client.request(method, self.url(path)).body(body);
        if let Some(token) = token {
            rb = rb.bearer_auth(token);
        }
        if let Some(ct) = content_type {
            rb = rb.header(CONTENT_TYPE, ct);
        }
        send(rb).await
    }

    /// Complete first-run setup with the standard owner and workspace.
    pub async fn setup_owner(&self) -> Org {
        let token = self
            .setup_token
            .clone()
            .expect("a fresh app has a setup token");
        let body = self
            .post_anon(
                "/api/setup",
                json!({
                    "token": token,
                    "email": OWNER_EMAIL,
                    "username": OWNER_USERNAME,
                    "display_name": OWNER_NAME,
                    "password": PASSWORD,
                    "workspace_name": WORKSPACE_NAME,
                }),
            )
            .await
            .expect_json(201);
        let owner = Account::from_auth(&body, PASSWORD);
        let me = self.get("/api/me", &owner.access).await.expect_json(200);
        let ws = me["workspaces"][0]["id"]
            .as_str()
            .expect("the owner has a workspace")
            .to_owned();
        Org { owner, ws }
    }

    /// Create an invitation (asserting 201) and return it.
    pub async fn create_invite(&self, token: &str, ws: &str, body: Value) -> Value {
        self.post(&format!("/api/workspaces/{ws}/invites"), token, body)
            .await
            .expect_json(201)
    }

    /// POST /api/auth/register.
    pub async fn register(&self, body: Value) -> Reply {
        self.post_anon("/api/auth/register", body).await
    }

    /// Register `<username>@example.com` through an invitation (asserting 201).
    pub async fn register_via_invite(&self, invite_token: &str, username: &str) -> Account {
        let body = self
            .register(json!({
                "invite_token": invite_token,
                "email": format!("{username}@example.com"),
                "username": username,
                "display_name": display_name_for(username),
                "password": PASSWORD,
            }))
            .await
            .expect_json(201);
        Account::from_auth(&body, PASSWORD)
    }

    /// Invite and register a new person with `role` in `ws`.
    pub async fn add_member(
        &self,
        admin: &Account,
        ws: &str,
        username: &str,
        role: &str,
    ) -> Account {
        let invite = self
            .create_invite(&admin.access, ws, json!({ "role": role, "max_uses": 1 }))
            .await;
        let token = invite["token"]
            .as_str()
            .expect("a new invite has its token");
        self.register_via_invite(token, username).await
    }

    /// Create another workspace owned by `owner`; returns its id.
    pub async fn create_workspace(&self, owner: &Account, name: &str) -> String {
        let ws = self
            .post("/api/workspaces", &owner.access, json!({ "name": name }))
            .await
            .expect_json(201);
        ws["id"].as_str().expect("workspace id").to_owned()
    }

    /// POST /api/auth/login.
    pub async fn login(&self, login: &str, password: &str) -> Reply {
        self.post_anon(
            "/api/auth/login",
            json!({ "login": login, "password": password }),
        )
        .await
    }

    /// Sign in again (a new session), asserting success.
    pub async fn sign_in(&self, account: &Account) -> Account {
        let body = self
            .login(&account.username, &account.password)
            .await
            .expect_json(200);
        Account::from_auth(&body, &account.password)
    }

    /// POST /api/auth/refresh with the token in the body.
    pub async fn refresh(&self, refresh_token: &str) -> Reply {
        self.post_anon(
            "/api/auth/refresh",
            json!({ "refresh_token": refresh_token }),
        )
        .await
    }

    /// Create a team (asserting 201); returns its id.
    pub async fn create_team(
        &self,
        token: &str,
        ws: &str,
        name: &str,
        parent: Option<&str>,
    ) -> String {
        let team = self
            .post(
                &format!("/api/workspaces/{ws}/teams"),
                token,
                json!({ "name": name, "parent_id": parent }),
            )
            .await
            .expect_json(201);
        team["id"].as_str().expect("team id").to_owned()
    }

    /// Everything an admin can see of a workspace, to check that refused requests
    /// changed nothing.
    pub async fn snapshot(&self, token: &str, ws: &str) -> Value {
        let get = |path: String| async move { self.get(&path, token).await.expect_json(200) };
        json!({
            "me": get("/api/me".into()).await,
            "workspace": get(format!("/api/workspaces/{ws}")).await,
            "members": get(format!("/api/workspaces/{ws}/members")).await,
            "teams": get(format!("/api/workspaces/{ws}/teams")).await,
            "invites": get(format!("/api/workspaces/{ws}/invites")).await,
            "audit_size": get(format!("/api/workspaces/{ws}/audit?limit=200")).await.as_array().map(Vec::len),
        })
    }

    /// Audit entries of `ws` (newest first), optionally filtered by a query string.
    pub async fn audit(&self, token: &str, ws: &str, query: &str) -> Vec<Value> {
        self.get(
            &format!("/api/workspaces/{ws}/audit?limit=200{query}"),
            token,
        )
        .await
        .expect_json(200)
        .as_array()
        .expect("audit entries")
        .clone()
    }

    /// Make every invitation of this app expired (the API cannot create one).
    pub async fn expire_all_invites(&self) {
        let done = convene::db!(self.state.store.write(), c => sqlx::query(
            "UPDATE invites SET expires_at = 1000"
        )
        .execute(c)
        .await
        .map(|r| r.rows_affected()))
        .expect("expire invites");
        assert!(done > 0, "there were invites to expire");
    }

    /// An HS256 token with these claims, signed with the app's key or another one.
    pub fn forge_token(
        &self,
        alg: Algorithm,
        secret: &[u8],
        sub: &str,
        sid: &str,
        exp_offset_secs: i64,
    ) -> String {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let claims = json!({ "sub": sub, "sid": sid, "iat": now, "exp": now + exp_offset_secs });
        jsonwebtoken::encode(
            &Header::new(alg),
            &claims,
            &EncodingKey::from_secret(secret),
        )
        .expect("sign a test token")
    }

    /// Open `/api/ws` without authenticating.
    pub async fn ws_connect(&self) -> Ws {
        let url = format!("ws://{}/api/ws", self.addr);
        let (ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("open the websocket");
        ws
    }

    /// Open `/api/ws` and authenticate; asserts the `ok` answer.
    pub async fn ws_connect_and_auth(&self, token: &str) -> Ws {
        let mut ws = self.ws_connect().await;
        ws_send(
            &mut ws,
            json!({ "type": "auth", "id": "1", "token": token }),
        )
        .await;
        match ws_next(&mut ws).await {
            WsEvent::Frame(f) => assert_eq!(f, json!({ "type": "ok", "id": "1" }), "auth answer"),
            other => panic!("expected ok after auth, got {other:?}"),
        }
        ws
    }

    /// Stop the server (as on SIGTERM) and wait until it has finished.
    pub async fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            let result = tokio::time::timeout(Duration::from_secs(10), server)
                .await
                .expect("the server stops within 10 s")
                .expect("the server task did not panic");
            result.expect("the server stopped cleanly");
        }
    }
}

/// "Bob Builder"-style display name for a username.
pub fn display_name_for(username: &str) -> String {
    let mut chars = username.chars();
    match chars.next() {
        Some(first) => format!("{}{} Tester", first.to_ascii_uppercase(), chars.as_str()),
        None => "Tester".into(),
    }
}

pub async fn ws_send(ws: &mut Ws, frame: Value) {
    ws.send(Message::text(frame.to_string()))
        .await
        .expect("send a websocket frame");
}

/// The next meaningful event: a JSON frame (server pings skipped), a close, or the end.
pub async fn ws_next(ws: &mut Ws) -> WsEvent {
    loop {
        let next = tokio::time::timeout(WS_WAIT, ws.next())
            .await
            .expect("a websocket event within the wait time");
        match next {
            Some(Ok(Message::Text(t))) => {
                let v: Value = serde_json::from_str(t.as_str()).expect("server frames are JSON");
                if v["type"] == "ping" {
                    continue;
                }
                return WsEvent::Frame(v);
            }
            Some(Ok(Message::Close(frame))) => {
                return WsEvent::Closed(frame.map(|f| u16::from(f.code)));
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => continue,
            Some(Ok(Message::Binary(_))) => panic!("the server sent a binary frame"),
            Some(Err(_)) | None => return WsEvent::Ended,
        }
    }
}

/// Assert that the next event is a close frame with `code`.
pub async fn ws_expect_close(ws: &mut Ws, code: u16) {
    match ws_next(ws).await {
        WsEvent::Closed(Some(c)) => assert_eq!(c, code, "close code"),
        other => panic!("expected close {code}, got {other:?}"),
    }
}

/// Assert that the socket is still open and answering: a ping gets its pong.
pub async fn ws_expect_alive(ws: &mut Ws) {
    ws_send(ws, json!({ "type": "ping", "id": "alive" })).await;
    match ws_next(ws).await {
        WsEvent::Frame(f) => assert_eq!(f, json!({ "type": "pong", "id": "alive" })),
        other => panic!("expected pong, got {other:?}"),
    }
}

/// A small PNG for avatar tests.
pub fn png_bytes(width: u32, height: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x * 4) as u8, (y * 4) as u8, 128])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)
        .expect("encode a PNG");
    out.into_inner()
}

/// A small JPEG for avatar tests.
pub fn jpeg_bytes(width: u32, height: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([200, (x * 3) as u8, (y * 3) as u8])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Jpeg)
        .expect("encode a JPEG");
    out.into_inner()
}

/// Assert that none of `secrets` appears in `text` (case-insensitively).
#[track_caller]
pub fn assert_leaks_none(text: &str, secrets: &[&str], context: &str) {
    let lower = text.to_lowercase();
    for secret in secrets {
        assert!(
            !lower.contains(&secret.to_lowercase()),
            "{context}: response leaks {secret:?}: {text}"
        );
    }
}

/// Assert that a JSON object has exactly these keys (the contract's fields, no more).
#[track_caller]
pub fn assert_keys(value: &Value, expected: &[&str]) {
    let object = value
        .as_object()
        .unwrap_or_else(|| panic!("expected an object: {value}"));
    let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
    keys.sort_unstable();
    let mut expected = expected.to_vec();
    expected.sort_unstable();
    assert_eq!(keys, expected, "fields of {value}");
}
