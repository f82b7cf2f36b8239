//! Team chat: channels, DMs and group DMs, messages with threads, reactions, pins
//! and quotes, DingTalk-style read receipts and DING acknowledgements, presence and
//! typing, files, search, and incoming webhooks.

use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use governor::DefaultKeyedRateLimiter;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::realtime::bus::Bus;
use crate::store::Store;
use crate::store::ids::WebhookId;

pub mod access;
pub mod channels;
pub mod events;
pub mod files;
pub mod load;
pub mod markdown;
pub mod messages;
pub mod model;
pub mod presence;
pub mod receipts;
pub mod retention;
pub mod search;
pub mod team_channels;
pub mod webhooks;
pub mod writer;

/// Settings chat needs from the config.
#[derive(Debug, Clone)]
pub struct ChatSettings {
    /// Channels with more members than this have no read receipts.
    pub receipts_max_members: i64,
    /// Largest upload in bytes.
    pub max_upload_bytes: u64,
    /// Where file blobs live.
    pub files_dir: PathBuf,
}

/// What chat's domain functions share. Cheap to clone.
#[derive(Clone)]
pub struct Chat {
    pub store: Store,
    pub bus: Bus,
    pub writer: writer::Writer,
    pub settings: Arc<ChatSettings>,
    pub webhook_limits: Arc<DefaultKeyedRateLimiter<WebhookId>>,
}

impl Chat {
    pub fn new(store: Store, bus: Bus, settings: ChatSettings) -> Chat {
        Chat {
            writer: writer::Writer::start(store.clone()),
            store,
            bus,
            settings: Arc::new(settings),
            webhook_limits: webhooks::limiter(),
        }
    }
}

/// Routes of this module, described for OpenAPI. Uploads get their own body limit.
pub fn router(max_upload_bytes: u64) -> OpenApiRouter<AppState> {
    let (schemas, paths, upload) = routes!(files::upload);
    // Room for the multipart framing around the largest allowed file.
    let upload_limit = usize::try_from(max_upload_bytes)
        .unwrap_or(usize::MAX)
        .saturating_add(64 * 1024);
    OpenApiRouter::new()
        .routes(routes!(channels::list_mine, channels::create))
        .routes(routes!(channels::browse))
        .routes(routes!(channels::open_dm))
        .routes(routes!(channels::get_one, channels::update))
        .routes(routes!(channels::join))
        .routes(routes!(channels::leave))
        .routes(routes!(channels::members))
        .routes(routes!(channels::add_member, channels::remove_member))
        .routes(routes!(channels::set_notify))
        .routes(routes!(messages::history, messages::post))
        .routes(routes!(messages::get_one, messages::edit, messages::delete))
        .routes(routes!(messages::add_reaction, messages::remove_reaction))
        .routes(routes!(messages::pin, messages::unpin))
        .routes(routes!(messages::pins))
        .routes(routes!(messages::get_follow, messages::follow))
        .routes(routes!(receipts::read))
        .routes(routes!(receipts::read_all))
        .routes(routes!(receipts::read_state))
        .routes(routes!(receipts::receipts))
        .routes(routes!(receipts::ack))
        .routes(routes!(receipts::acks))
        .routes((
            schemas,
            paths,
            upload.layer(DefaultBodyLimit::max(upload_limit)),
        ))
        .routes(routes!(files::download))
        .routes(routes!(files::thumbnail))
        .routes(routes!(search::search))
        .routes(routes!(webhooks::list, webhooks::create))
        .routes(routes!(webhooks::revoke))
        .routes(routes!(webhooks::post))
        .routes(routes!(presence::set_status))
        .routes(routes!(presence::get_presence))
}
