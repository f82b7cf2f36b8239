//! Password-reset links. Convene sends no email, so an admin creates a link for a member
//! who forgot their password and hands it over (chat, phone, in person). The link works
//! once, for 24 hours; a newer link for the same person replaces older ones. Using it
//! sets the password and ends every session of the account. Only a hash of the token is
//! stored.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::AppState;
use crate::accounts::{lifecycle, users};
use crate::auth::CurrentUser;
use crate::auth::password::check_new_password;
use crate::auth::tokens::{hash_token, random_token};
use crate::error::{AppError, AppResult, ErrorBody};
use crate::http::client::ClientInfo;
use crate::http::extract::{Json, Path};
use crate::orgs::audit::{self, Event};
use crate::orgs::members::check_may_manage_account;
use crate::store::ids::{UserId, WorkspaceId, rfc3339};
use crate::store::now_ms;
use crate::{db, tx};

/// How long a link works.
const TTL_MS: i64 = 24 * 3_600_000;

/// A new reset link, shown once to the admin who made it.
#[derive(Debug, Serialize, ToSchema)]
pub struct PasswordResetLink {
    /// The link to give the person; it holds the secret token.
    pub url: String,
    pub token: String,
    pub expires_at: String,
}

/// Create a password-reset link for a member (admins; owners only by owners; not for
/// yourself, nor for someone who also belongs to a workspace you do not administer).
#[utoipa::path(post, path = "/api/workspaces/{ws}/members/{user}/password-reset", tag = "members", operation_id = "createPasswordReset",
    params(("ws" = String, Path, description = "workspace id"), ("user" = String, Path, description = "user id")),
    security(("bearer" = [])),
    responses((status = 201, body = PasswordResetLink), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn create(
    State(state): State<AppState>,
    me: CurrentUser,
    client: ClientInfo,
    Path((ws, user)): Path<(WorkspaceId, UserId)>,
) -> AppResult<(StatusCode, Json<PasswordResetLink>)> {
    let target = check_may_manage_account(&state.store, ws, me.user_id, user).await?;
    if target.deactivated {
        return Err(AppError::Conflict(
            "this account is deactivated; reactivate it first".into(),
        ));
    }
    let token = random_token();
    let now = now_ms();
    let expires_at = now + TTL_MS;
    let mut tx = state.store.begin().await?;
    tx!(&mut tx, c => {
        sqlx::query("DELETE FROM password_resets WHERE user_id = $1")
            .bind(user)
            .execute(&mut *c)
            .await?;
        sqlx::query(
            "INSERT INTO password_resets (token_hash, user_id, workspace_id, created_by, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(hash_token(&token))
        .bind(user)
        .bind(ws)
        .bind(me.user_id)
        .bind(now)
        .bind(expires_at)
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected())
    })?;
    audit::record_in(
        &mut tx,
        Event {
            workspace: Some(ws),
            actor: Some(me.user_id),
            action: "member.password_reset_link",
            target_type: Some("user"),
            target_id: Some(user.to_string()),
            detail: serde_json::json!({ "username": target.username }),
            ip: client.ip_string(),
        },
    )
    .await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(PasswordResetLink {
            url: format!("{}/reset-password#{token}", state.public_url()),
            token,
            expires_at: rfc3339(expires_at),
        }),
    ))
}

/// Whose password a (valid) link resets, shown on the page before choosing a new one.
#[derive(Debug, Serialize, ToSchema)]
pub struct PasswordResetPreview {
    pub username: String,
    pub display_name: String,
    pub email: String,
    pub expires_at: String,
}

#[derive(sqlx::FromRow)]
struct Live {
    user_id: UserId,
    expires_at: i64,
}

async fn live(state: &AppState, token: &str) -> AppResult<Live> {
    let found: Option<Live> = db!(state.store.read(), c => sqlx::query_as(
        "SELECT r.user_id, r.expires_at FROM password_resets r JOIN users u ON u.id = r.user_id
         WHERE r.token_hash = $1 AND r.expires_at > $2 AND u.deactivated_at IS NULL"
    )
    .bind(hash_token(token))
    .bind(now_ms())
    .fetch_optional(c)
    .await)?;
    found.ok_or_else(invalid)
}

fn invalid() -> AppError {
    AppError::NotFound(
        "this password-reset link is invalid, expired or already used; ask an admin for a new one"
            .into(),
    )
}

/// See whose password a reset link is for. 404 when it is unknown, expired or used.
#[utoipa::path(get, path = "/api/auth/password-reset/{token}", tag = "auth", operation_id = "previewPasswordReset",
    params(("token" = String, Path, description = "reset token")),
    responses((status = 200, body = PasswordResetPreview), (status = 404, body = ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn preview(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> AppResult<Json<PasswordResetPreview>> {
    let live = live(&state, &token).await?;
    let user = users::get(&state.store, live.user_id).await?;
    Ok(Json(PasswordResetPreview {
        username: user.username,
        display_name: user.display_name,
        email: user.email,
        expires_at: rfc3339(live.expires_at),
    }))
}

/// A new password chosen through a reset link.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompletePasswordReset {
    pub new_password: String,
}

/// Set a new password through a reset link; the link is used up and every session of
/// the account ends. Sign in afterwards.
#[utoipa::path(post, path = "/api/auth/password-reset/{token}", tag = "auth", operation_id = "completePasswordReset",
    params(("token" = String, Path, description = "reset token")), request_body = CompletePasswordReset,
    responses((status = 204), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn complete(
    State(state): State<AppState>,
    client: ClientInfo,
    Path(token): Path<String>,
    Json(body): Json<CompletePasswordReset>,
) -> AppResult<StatusCode> {
    let user = users::get(&state.store, live(&state, &token).await?.user_id).await?;
    check_new_password(
        &body.new_password,
        &[&user.email, &user.username, &user.display_name],
    )?;
    let hash = state.passwords.hash(body.new_password).await?;
    // Claim the link and set the password together: of two concurrent uses one wins.
    let mut tx = state.store.begin().await?;
    let claimed = tx!(&mut tx, c => {
        let claimed = sqlx::query(
            "DELETE FROM password_resets WHERE token_hash = $1 AND user_id = $2 AND expires_at > $3",
        )
        .bind(hash_token(&token))
        .bind(user.id)
        .bind(now_ms())
        .execute(&mut *c)
        .await?
        .rows_affected();
        sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2 AND deactivated_at IS NULL")
            .bind(&hash)
            .bind(user.id)
            .execute(&mut *c)
            .await
            .map(|r| claimed.min(r.rows_affected()))
    })?;
    if claimed == 0 {
        return Err(invalid());
    }
    tx.commit().await?;
    lifecycle::end_sessions(&state, user.id, None).await?;
    audit::record_for_user_workspaces(
        &state.store,
        user.id,
        Event {
            workspace: None,
            actor: Some(user.id),
            action: "auth.password_reset",
            target_type: Some("user"),
            target_id: Some(user.id.to_string()),
            detail: serde_json::json!({}),
            ip: client.ip_string(),
        },
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
