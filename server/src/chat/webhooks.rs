//! Incoming webhooks (DingTalk-style robots): a channel admin creates a secret URL;
//! a POST of JSON text to it posts a message as the named bot.

use std::num::NonZeroU32;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::CurrentUser;
use crate::auth::tokens::{hash_token, random_token};
use crate::chat::access::ChannelAccess;
use crate::chat::events;
use crate::chat::load;
use crate::chat::markdown::{self, MAX_MESSAGE_CHARS};
use crate::chat::writer::NewMessage;
use crate::error::{AppError, AppResult, ErrorBody};
use crate::http::client::ClientInfo;
use crate::http::extract::{Json, Path};
use crate::orgs::audit::{self, Event as AuditEvent};
use crate::store::ids::{ChannelId, MessageId, WebhookId, rfc3339};
use crate::store::now_ms;
use crate::{AppState, db};

/// Posts per webhook per minute.
const POSTS_PER_MINUTE: u32 = 60;

/// Per-webhook rate limiter (a leaked URL cannot flood a channel).
pub fn limiter() -> Arc<DefaultKeyedRateLimiter<WebhookId>> {
    Arc::new(RateLimiter::keyed(Quota::per_minute(
        NonZeroU32::new(POSTS_PER_MINUTE).unwrap_or(NonZeroU32::MIN),
    )))
}

/// An incoming webhook.
#[derive(Debug, Serialize, ToSchema)]
pub struct Webhook {
    pub id: WebhookId,
    pub channel_id: ChannelId,
    /// The bot name shown on its messages.
    pub name: String,
    /// The secret URL to POST to; only in the response that created it.
    pub url: Option<String>,
    pub created_at: String,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: WebhookId,
    channel_id: ChannelId,
    name: String,
    created_at: i64,
}

fn parse_bot_name(raw: &str) -> AppResult<String> {
    let n = raw.trim();
    let len = n.chars().count();
    if len == 0 || len > 64 || n.chars().any(char::is_control) {
        return Err(AppError::Validation(
            "bot name must be 1-64 characters".into(),
        ));
    }
    Ok(n.to_owned())
}

/// A new webhook.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhook {
    /// Bot name shown on its messages.
    pub name: String,
}

/// Create an incoming webhook for a channel (channel or workspace admins).
#[utoipa::path(post, path = "/api/channels/{id}/webhooks", tag = "webhooks", operation_id = "createWebhook",
    params(("id" = String, Path, description = "channel id")), request_body = CreateWebhook, security(("bearer" = [])),
    responses((status = 201, body = Webhook), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn create(
    State(state): State<AppState>,
    me: CurrentUser,
    client: ClientInfo,
    Path(id): Path<ChannelId>,
    Json(body): Json<CreateWebhook>,
) -> AppResult<(StatusCode, Json<Webhook>)> {
    let access = ChannelAccess::load(&state.store, id, me.user_id).await?;
    access.require_manage()?;
    let name = parse_bot_name(&body.name)?;
    let hook = WebhookId::new();
    let token = random_token();
    let now = now_ms();
    let mut tx = state.store.begin().await?;
    crate::tx!(&mut tx, c => sqlx::query("INSERT INTO webhooks (id, channel_id, name, token_hash, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(hook)
        .bind(id)
        .bind(&name)
        .bind(hash_token(&token))
        .bind(me.user_id)
        .bind(now)
        .execute(&mut *c)
        .await.map(|r| r.rows_affected()))?;
    audit::record_in(
        &mut tx,
        AuditEvent {
            workspace: Some(access.channel.workspace_id),
            actor: Some(me.user_id),
            action: "webhook.created",
            target_type: Some("channel"),
            target_id: Some(id.to_string()),
            detail: serde_json::json!({ "webhook_id": hook, "name": name }),
            ip: client.ip_string(),
        },
    )
    .await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(Webhook {
            id: hook,
            channel_id: id,
            name,
            url: Some(format!("{}/api/hooks/{token}", state.public_url())),
            created_at: rfc3339(now),
        }),
    ))
}

/// A channel's webhooks (channel or workspace admins).
#[utoipa::path(get, path = "/api/channels/{id}/webhooks", tag = "webhooks", operation_id = "listWebhooks",
    params(("id" = String, Path, description = "channel id")), security(("bearer" = [])),
    responses((status = 200, body = Vec<Webhook>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn list(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(id): Path<ChannelId>,
) -> AppResult<Json<Vec<Webhook>>> {
    let access = ChannelAccess::load(&state.store, id, me.user_id).await?;
    access.require_manage()?;
    let rows: Vec<Row> = db!(state.store.read(), c => sqlx::query_as(
        "SELECT id, channel_id, name, created_at FROM webhooks WHERE channel_id = $1 AND revoked_at IS NULL ORDER BY created_at"
    )
    .bind(id)
    .fetch_all(c)
    .await)?;
    Ok(Json(
        rows.into_iter()
            .map(|r| Webhook {
                id: r.id,
                channel_id: r.channel_id,
                name: r.name,
                url: None,
                created_at: rfc3339(r.created_at),
            })
            .collect(),
    ))
}

/// Revoke a webhook; its URL stops working.
#[utoipa::path(delete, path = "/api/channels/{id}/webhooks/{hook}", tag = "webhooks", operation_id = "revokeWebhook",
    params(("id" = String, Path, description = "channel id"), ("hook" = String, Path, description = "webhook id")), security(("bearer" = [])),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn revoke(
    State(state): State<AppState>,
    me: CurrentUser,
    client: ClientInfo,
    Path((id, hook)): Path<(ChannelId, WebhookId)>,
) -> AppResult<StatusCode> {
    let access = ChannelAccess::load(&state.store, id, me.user_id).await?;
    access.require_manage()?;
    let mut tx = state.store.begin().await?;
    let n = crate::tx!(&mut tx, c => sqlx::query("UPDATE webhooks SET revoked_at = $1 WHERE id = $2 AND channel_id = $3 AND revoked_at IS NULL")
        .bind(now_ms())
        .bind(hook)
        .bind(id)
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected()))?;
    if n == 0 {
        return Err(AppError::not_found("webhook"));
    }
    audit::record_in(
        &mut tx,
        AuditEvent {
            workspace: Some(access.channel.workspace_id),
            actor: Some(me.user_id),
            action: "webhook.revoked",
            target_type: Some("channel"),
            target_id: Some(id.to_string()),
            detail: serde_json::json!({ "webhook_id": hook }),
            ip: client.ip_string(),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `{"text": "..."}`, or DingTalk's `{"msgtype": "text", "text": {"content": "..."}}`
/// and `{"msgtype": "markdown", "markdown": {"title": "...", "text": "..."}}`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct HookPost {
    pub msgtype: Option<String>,
    /// Plain form: a string. DingTalk form: `{"content": "..."}`.
    #[schema(value_type = Object)]
    pub text: Option<serde_json::Value>,
    #[schema(value_type = Object)]
    pub markdown: Option<serde_json::Value>,
    /// Override the bot name for this post.
    pub username: Option<String>,
}

impl HookPost {
    fn body(&self) -> Option<String> {
        match (self.msgtype.as_deref(), &self.text, &self.markdown) {
            (Some("markdown"), _, Some(md)) => {
                md.get("text").and_then(|t| t.as_str()).map(str::to_owned)
            }
            (_, Some(serde_json::Value::String(s)), _) => Some(s.clone()),
            (_, Some(obj), _) => obj
                .get("content")
                .and_then(|t| t.as_str())
                .map(str::to_owned),
            _ => None,
        }
    }
}

/// Result of a webhook post.
#[derive(Debug, Serialize, ToSchema)]
pub struct HookResult {
    pub ok: bool,
    pub message_id: MessageId,
}

/// Post to a channel through its webhook URL (no other authentication).
#[utoipa::path(post, path = "/api/hooks/{token}", tag = "webhooks", operation_id = "postWebhook",
    params(("token" = String, Path, description = "webhook secret")), request_body = HookPost,
    responses((status = 200, body = HookResult), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn post(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Json(body): Json<HookPost>,
) -> AppResult<Json<HookResult>> {
    let chat = &state.chat;
    let found: Option<(WebhookId, ChannelId, String)> = db!(state.store.read(), c => sqlx::query_as(
        "SELECT w.id, w.channel_id, w.name FROM webhooks w WHERE w.token_hash = $1 AND w.revoked_at IS NULL"
    )
    .bind(hash_token(&token))
    .fetch_optional(c)
    .await)?;
    let (hook, channel, name) = found.ok_or_else(|| AppError::not_found("webhook"))?;
    chat.webhook_limits
        .check_key(&hook)
        .map_err(|_| AppError::RateLimited(60 / POSTS_PER_MINUTE as u64 + 1))?;
    let archived: Option<i64> = db!(state.store.read(), c => sqlx::query_scalar("SELECT archived_at FROM channels WHERE id = $1")
        .bind(channel)
        .fetch_one(c)
        .await)?;
    if archived.is_some() {
        return Err(AppError::Conflict("the channel is archived".into()));
    }
    let text = body.body().ok_or_else(|| {
        AppError::Validation("post {\"text\": \"...\"} or a DingTalk text/markdown message".into())
    })?;
    if text.trim().is_empty() || text.chars().count() > MAX_MESSAGE_CHARS {
        return Err(AppError::Validation(format!(
            "text must be 1-{MAX_MESSAGE_CHARS} characters"
        )));
    }
    let bot_name = match &body.username {
        Some(u) => parse_bot_name(u)?,
        None => name,
    };
    let html = markdown::render(&text);
    let written = chat
        .writer
        .write(NewMessage {
            channel,
            sender: None,
            bot_name: Some(bot_name),
            body: text,
            html,
            thread_root: None,
            quote: None,
            mentions: vec![],
            mention_all: false,
            ack_required: false,
            files: vec![],
            client_key: None,
        })
        .await?;
    if let Some(message) = load::one(&state.store, written.id).await? {
        events::message(&chat.bus, &message).await;
    }
    Ok(Json(HookResult {
        ok: true,
        message_id: written.id,
    }))
}
