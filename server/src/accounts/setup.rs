//! First run: while no account exists, `serve` prints a one-time setup link. Whoever
//! opens it creates the first account, which owns the first workspace. The token is
//! stored hashed and deleted on use, so the link stops working.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::accounts::auth_routes::{AuthResponse, SignUp, auth_response};
use crate::accounts::{sessions, users};
use crate::auth::tokens::{hash_token, random_token};
use crate::error::{AppError, AppResult, ErrorBody};
use crate::http::client::ClientInfo;
use crate::http::extract::Json;
use crate::orgs::audit::{self, Event};
use crate::orgs::workspaces;
use crate::store::{Store, now_ms};
use crate::{AppState, db, tx};

async fn user_count(store: &Store) -> AppResult<i64> {
    Ok(db!(store.read(), c => sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(c).await)?)
}

/// When no account exists yet, replace any earlier setup token with a new one and
/// return it; `None` once setup is done.
pub async fn issue_token(store: &Store) -> anyhow::Result<Option<String>> {
    if user_count(store)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?
        > 0
    {
        return Ok(None);
    }
    let token = random_token();
    let hash = hash_token(&token);
    // Earlier links stay valid (another node, or an earlier start, may have printed
    // them) for a day; whichever is used first ends them all.
    db!(store.write(), c => {
        sqlx::query("DELETE FROM setup_tokens WHERE created_at < $1")
            .bind(now_ms() - 86_400_000)
            .execute(c)
            .await?;
        sqlx::query("INSERT INTO setup_tokens (token_hash, created_at) VALUES ($1, $2)")
            .bind(&hash)
            .bind(now_ms())
            .execute(c)
            .await.map(|r| r.rows_affected())
    })?;
    Ok(Some(token))
}

/// Whether first-run setup is still open.
#[derive(Debug, Serialize, ToSchema)]
pub struct SetupStatus {
    pub required: bool,
}

/// Is first-run setup still needed?
#[utoipa::path(get, path = "/api/setup", tag = "setup", operation_id = "setupStatus",
    responses((status = 200, body = SetupStatus)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn status(State(state): State<AppState>) -> AppResult<Json<SetupStatus>> {
    Ok(Json(SetupStatus {
        required: user_count(&state.store).await? == 0,
    }))
}

/// The first account and workspace.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompleteSetup {
    /// The token from the setup link printed by `convene serve`.
    pub token: String,
    pub email: String,
    pub username: String,
    pub display_name: String,
    pub password: String,
    pub workspace_name: String,
    /// `en` or `zh-CN`.
    pub locale: Option<String>,
    /// IANA time zone, e.g. `Asia/Shanghai` (default UTC).
    pub time_zone: Option<String>,
}

/// Create the first account (the owner) and the first workspace.
#[utoipa::path(post, path = "/api/setup", tag = "setup", operation_id = "completeSetup",
    request_body = CompleteSetup,
    responses((status = 201, body = AuthResponse), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn complete(
    State(state): State<AppState>,
    client: ClientInfo,
    Json(body): Json<CompleteSetup>,
) -> AppResult<Response> {
    state.limits.register(client.ip)?;
    let sign_up = SignUp::parse(
        &body.email,
        &body.username,
        &body.display_name,
        &body.password,
        body.locale.as_deref(),
        body.time_zone.as_deref(),
    )?;
    let ws_name = workspaces::parse_name(&body.workspace_name)?;
    let hash = hash_token(&body.token);
    let invalid = || AppError::NotFound("this setup link is invalid or was already used".into());
    let known: Option<i64> = db!(state.store.read(), c => sqlx::query_scalar("SELECT created_at FROM setup_tokens WHERE token_hash = $1")
        .bind(&hash)
        .fetch_optional(c)
        .await)?;
    known.ok_or_else(invalid)?;
    let password_hash = state.passwords.hash(body.password.clone()).await?;
    let mut tx = state.store.begin().await?;
    // Consuming every link in the same transaction makes setup happen once even when
    // two people submit at once (with the same link or links from different nodes).
    let consumed: Vec<Vec<u8>> = tx!(&mut tx, c => sqlx::query_scalar("DELETE FROM setup_tokens RETURNING token_hash")
        .fetch_all(&mut *c)
        .await)?;
    if !consumed.contains(&hash) {
        return Err(invalid());
    }
    let user = users::create(&mut tx, sign_up.into_new_user(password_hash)).await?;
    let ws = workspaces::create_in(&mut tx, &ws_name, user.id).await?;
    let origin = sessions::Origin {
        device: sessions::device_name(client.user_agent.as_deref()),
        user_agent: client.user_agent.clone(),
        ip: client.ip_string(),
    };
    let (session, refresh) =
        sessions::create_in(&mut tx, user.id, &origin, state.session_ttl_ms()).await?;
    audit::record_in(
        &mut tx,
        Event {
            workspace: Some(ws.id),
            actor: Some(user.id),
            action: "setup.completed",
            target_type: Some("workspace"),
            target_id: Some(ws.id.to_string()),
            detail: serde_json::json!({ "workspace": ws_name, "owner": user.username }),
            ip: client.ip_string(),
        },
    )
    .await?;
    tx.commit().await?;
    auth_response(&state, user, session, refresh, StatusCode::CREATED)
}
