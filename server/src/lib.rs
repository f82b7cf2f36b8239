//! Convene: self-hosted team chat and video meetings in one binary.
//!
//! Map of the crate:
//! - [`config`]: settings from defaults, a TOML file, `CONVENE_*` variables and flags.
//! - [`error`]: the one API error type and its JSON body.
//! - [`store`]: database pools (SQLite or PostgreSQL), migrations, the `db!`/`tx!` dispatch.
//! - [`auth`]: passwords, tokens, the `CurrentUser` extractor, rate limits.
//! - [`accounts`]: setup, registration, sign-in, profile, sessions.
//! - [`orgs`]: workspaces, members, roles, teams, invitations, audit log.
//! - [`chat`]: channels, DMs, messages, threads, receipts, files, search, webhooks.
//! - [`meetings`]: meetings, guests, signalling and the SFU on one UDP port.
//! - [`realtime`]: the websocket gateway, the hub of live connections, the bus.
//! - [`http`]: cross-cutting HTTP pieces (extractors, health, middleware).
//! - [`web`]: the embedded web client and the OpenAPI document.
//! - [`cli`]: the `admin` subcommands.
//! - [`doctor`]: `convene doctor`, checks of a configuration against what it points at.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use tokio::net::TcpListener;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

pub mod accounts;
pub mod auth;
pub mod chat;
pub mod cli;
pub mod config;
pub mod doctor;
pub mod error;
pub mod http;
pub mod meetings;
pub mod ops;
pub mod orgs;
pub mod realtime;
pub mod store;
pub mod web;

use auth::password::Passwords;
use auth::rate_limit::RateLimits;
use auth::tokens::TokenKeys;
use chat::{Chat, ChatSettings};
use config::Config;
use meetings::Meetings;
use realtime::Hub;
use realtime::bus::Bus;
use store::Store;

/// Everything handlers share. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// Effective settings.
    pub config: Arc<Config>,
    /// The database.
    pub store: Store,
    /// Access-token keys.
    pub tokens: Arc<TokenKeys>,
    /// Password hashing (with the dummy hash for unknown accounts).
    pub passwords: Passwords,
    /// Sign-in and registration limits.
    pub limits: Arc<RateLimits>,
    /// Delivery of realtime events to live connections (on every node).
    pub bus: Bus,
    /// Chat's shared handles.
    pub chat: Chat,
    /// Meetings' shared handles (the media router).
    pub meetings: Meetings,
    /// Base URL for links, without a trailing slash.
    public_url: Arc<str>,
}

impl AppState {
    /// Base URL for links (invites, setup), without a trailing slash.
    pub fn public_url(&self) -> &str {
        &self.public_url
    }

    /// Session lifetime in milliseconds (extended by each refresh).
    pub fn session_ttl_ms(&self) -> i64 {
        self.config.session_ttl_days as i64 * 86_400_000
    }
}

/// A built application, ready to serve.
pub struct App {
    pub state: AppState,
    pub router: Router,
    /// The one-time setup token while no account exists.
    pub setup_token: Option<String>,
}

impl App {
    /// Connect to the database, apply migrations, load secrets and build the router.
    /// `public_url` is used when the config does not set one.
    pub async fn build(config: Config, public_url: &str) -> anyhow::Result<App> {
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("creating data directory {}", config.data_dir.display()))?;
        let store = Store::connect(&config.database_url(), config.database_max_connections).await?;
        store.migrate().await?;
        let tokens = TokenKeys::load(
            &config.jwt_secret,
            &config.data_dir,
            config.access_token_ttl_secs,
        )?;
        let public_url: Arc<str> = if config.public_url.is_empty() {
            public_url.trim_end_matches('/').into()
        } else {
            config.public_url.trim_end_matches('/').into()
        };
        let setup_token = accounts::setup::issue_token(&store).await?;
        let hub = Hub::new(config.ws_queue_len);
        let bus = if config.redis_url.is_empty() {
            Bus::local(hub, store.clone())
        } else {
            Bus::redis(hub, store.clone(), &config.redis_url)
                .await
                .context("connecting to Redis (redis_url)")?
        };
        let chat = Chat::new(
            store.clone(),
            bus.clone(),
            ChatSettings {
                receipts_max_members: config.receipts_max_channel_members,
                max_upload_bytes: config.max_upload_bytes,
                files_dir: config.data_dir.join("files"),
            },
        );
        let media_ip: std::net::IpAddr = config.media_ip.parse().context("media_ip")?;
        let public_ip = if config.media_public_ip.is_empty() {
            None
        } else {
            Some(config.media_public_ip.parse().context("media_public_ip")?)
        };
        let sfu = meetings::sfu::Sfu::start(media_ip, config.media_port, public_ip)?;
        let state = AppState {
            meetings: Meetings { sfu },
            limits: Arc::new(RateLimits::new(&config)),
            config: Arc::new(config),
            store,
            tokens: Arc::new(tokens),
            passwords: Passwords::new().await?,
            bus,
            chat,
            public_url,
        };
        http::health::prometheus();
        let router = router(state.clone());
        Ok(App {
            state,
            router,
            setup_token,
        })
    }

    /// The setup link to print on first start.
    pub fn setup_link(&self) -> Option<String> {
        self.setup_token
            .as_ref()
            .map(|t| format!("{}/setup#token={t}", self.state.public_url()))
    }

    /// Serve on `listener` until `shutdown` resolves, then drain for the grace period.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let state = self.state.clone();
        let limits = state.limits.clone();
        let sweeper = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(60));
            loop {
                tick.tick().await;
                limits.retain_recent();
            }
        });
        let reminders = tokio::spawn(chat::receipts::remind_loop(
            state.chat.clone(),
            Duration::from_secs(state.config.ding_reminder_interval_secs),
        ));
        let retention = tokio::spawn(chat::retention::sweep_loop(
            state.store.clone(),
            state.chat.settings.files_dir.clone(),
            Duration::from_secs(300),
            Duration::from_secs(24 * 3600),
        ));
        let hub = state.bus.hub().clone();
        let grace = Duration::from_secs(state.config.shutdown_grace_secs);
        let (stopped_tx, stopped_rx) = tokio::sync::oneshot::channel::<()>();
        let signal = async move {
            shutdown.await;
            // Tell live sockets to go, so graceful shutdown is not held open by them.
            hub.disconnect_all();
            let _ = stopped_tx.send(());
        };
        let server = axum::serve(
            listener,
            self.router
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(signal);
        let result = tokio::select! {
            r = server => r.context("HTTP server failed"),
            _ = async { let _ = stopped_rx.await; tokio::time::sleep(grace).await } => {
                tracing::warn!("shutdown grace period over; closing remaining connections");
                Ok(())
            }
        };
        sweeper.abort();
        reminders.abort();
        retention.abort();
        state.store.close().await;
        result
    }
}

/// All routes with their middleware.
fn router(state: AppState) -> Router {
    let (api, openapi) = OpenApiRouter::with_openapi(web::ApiDoc::openapi())
        .merge(accounts::router(state.config.max_avatar_bytes))
        .merge(orgs::router())
        .merge(chat::router(state.config.max_upload_bytes))
        .merge(meetings::router())
        .split_for_parts();
    let mut openapi = openapi;
    utoipa::Modify::modify(&web::CommonErrors, &mut openapi);
    let openapi = Arc::new(openapi);
    let api = api
        .route_layer(DefaultBodyLimit::max(state.config.max_body_bytes))
        .route(
            "/api/openapi.json",
            get(move || {
                let doc = openapi.clone();
                async move { axum::Json(doc.as_ref().clone()) }
            }),
        )
        .route("/api/ws", get(realtime::gateway::upgrade))
        .route("/api/{*rest}", axum::routing::any(web::api_not_found))
        .method_not_allowed_fallback(web::method_not_allowed)
        .with_state(state.clone());
    let app = Router::new()
        .merge(api)
        .route("/healthz", get(http::health::healthz))
        .route(
            "/readyz",
            get(http::health::readyz).with_state(state.clone()),
        )
        .route(
            "/metrics",
            get(http::health::metrics).with_state(state.clone()),
        )
        .merge(web::client(state.config.web_dir.as_deref()));
    http::layers::apply(app)
}
