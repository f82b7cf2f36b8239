//! The signed-in person's own account: profile, avatar, password, devices.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::AppState;
use crate::accounts::lifecycle;
use crate::accounts::model::{User, display_name, locale, time_zone};
use crate::accounts::sessions::{self, Session};
use crate::accounts::users::{self, ProfileChange};
use crate::auth::CurrentUser;
use crate::auth::password::check_new_password;
use crate::error::{AppError, AppResult, ErrorBody};
use crate::http::client::ClientInfo;
use crate::http::extract::{Json, Path, RawBody};
use crate::orgs::audit::{self, Event};
use crate::orgs::workspaces::{self, WorkspaceSummary};
use crate::store::ids::{SessionId, UserId};

/// Me and my workspaces.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeResponse {
    pub user: User,
    pub workspaces: Vec<WorkspaceSummary>,
}

/// Who am I, and which workspaces do I belong to?
#[utoipa::path(get, path = "/api/me", tag = "me", operation_id = "getMe", security(("bearer" = [])),
    responses((status = 200, body = MeResponse), (status = 401, body = ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn me(State(state): State<AppState>, me: CurrentUser) -> AppResult<Json<MeResponse>> {
    Ok(Json(MeResponse {
        user: users::get(&state.store, me.user_id).await?.into(),
        workspaces: workspaces::summaries_for(&state.store, me.user_id).await?,
    }))
}

/// Profile fields to change; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateProfile {
    pub display_name: Option<String>,
    /// `en` or `zh-CN`.
    pub locale: Option<String>,
    /// IANA time zone, e.g. `Asia/Shanghai`.
    pub time_zone: Option<String>,
    /// Let others see when I have read their messages (if the workspace lets me choose).
    pub share_read_receipts: Option<bool>,
}

/// Change my display name, language or time zone.
#[utoipa::path(patch, path = "/api/me", tag = "me", operation_id = "updateMe", request_body = UpdateProfile,
    security(("bearer" = [])), responses((status = 200, body = User), (status = 400, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn update_profile(
    State(state): State<AppState>,
    me: CurrentUser,
    Json(body): Json<UpdateProfile>,
) -> AppResult<Json<User>> {
    let change = ProfileChange {
        display_name: body.display_name.as_deref().map(display_name).transpose()?,
        locale: body.locale.as_deref().map(locale).transpose()?,
        time_zone: body.time_zone.as_deref().map(time_zone).transpose()?,
        share_read_receipts: body.share_read_receipts,
    };
    Ok(Json(
        users::update_profile(&state.store, me.user_id, change)
            .await?
            .into(),
    ))
}

/// Decode an uploaded image and turn it into a 256×256 PNG, on the blocking pool.
async fn avatar_png(bytes: Bytes, format: image::ImageFormat) -> AppResult<Vec<u8>> {
    tokio::task::spawn_blocking(move || {
        let mut reader = image::ImageReader::with_format(std::io::Cursor::new(bytes), format);
        let mut limits = image::Limits::default();
        limits.max_image_width = Some(8192);
        limits.max_image_height = Some(8192);
        limits.max_alloc = Some(256 * 1024 * 1024);
        reader.limits(limits);
        let img = reader
            .decode()
            .map_err(|_| AppError::Validation("the file is not a readable image".into()))?;
        let thumb = img.resize_to_fill(256, 256, image::imageops::FilterType::Lanczos3);
        let mut out = std::io::Cursor::new(Vec::new());
        thumb
            .write_to(&mut out, image::ImageFormat::Png)
            .map_err(|e| AppError::Internal(e.into()))?;
        Ok(out.into_inner())
    })
    .await
    .map_err(|e| AppError::Internal(e.into()))?
}

/// Upload my avatar: the raw image as the body (PNG, JPEG, WebP or GIF).
#[utoipa::path(put, path = "/api/me/avatar", tag = "me", operation_id = "putAvatar",
    request_body(content = Vec<u8>, content_type = "image/png", description = "PNG, JPEG, WebP or GIF image"),
    security(("bearer" = [])),
    responses((status = 200, body = User), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn put_avatar(
    State(state): State<AppState>,
    me: CurrentUser,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> AppResult<Json<User>> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let format = match content_type.split(';').next().unwrap_or_default().trim() {
        "image/png" => image::ImageFormat::Png,
        "image/jpeg" => image::ImageFormat::Jpeg,
        "image/webp" => image::ImageFormat::WebP,
        "image/gif" => image::ImageFormat::Gif,
        _ => {
            return Err(AppError::UnsupportedMediaType(
                "avatar must be image/png, image/jpeg, image/webp or image/gif".into(),
            ));
        }
    };
    if body.is_empty() {
        return Err(AppError::Validation("the image is empty".into()));
    }
    let png = avatar_png(body, format).await?;
    Ok(Json(
        users::set_avatar(&state.store, me.user_id, Some(png))
            .await?
            .into(),
    ))
}

/// Remove my avatar.
#[utoipa::path(delete, path = "/api/me/avatar", tag = "me", operation_id = "deleteAvatar", security(("bearer" = [])),
    responses((status = 200, body = User), (status = 401, body = ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn delete_avatar(
    State(state): State<AppState>,
    me: CurrentUser,
) -> AppResult<Json<User>> {
    Ok(Json(
        users::set_avatar(&state.store, me.user_id, None)
            .await?
            .into(),
    ))
}

/// A person's avatar (for people who share a workspace with them).
#[utoipa::path(get, path = "/api/users/{id}/avatar", tag = "me", operation_id = "getAvatar",
    params(("id" = String, Path, description = "user id")), security(("bearer" = [])),
    responses((status = 200, content_type = "image/png", body = Vec<u8>), (status = 404, body = ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn get_avatar(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(id): Path<UserId>,
) -> AppResult<Response> {
    if !users::share_a_workspace(&state.store, me.user_id, id).await? {
        return Err(AppError::not_found("avatar"));
    }
    let png = users::avatar(&state.store, id).await?;
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("image/png")),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("private, max-age=86400"),
            ),
        ],
        png,
    )
        .into_response())
}

/// A password change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePassword {
    pub current_password: String,
    pub new_password: String,
}

/// Change my password; every other session ends.
#[utoipa::path(post, path = "/api/me/password", tag = "me", operation_id = "changePassword", request_body = ChangePassword,
    security(("bearer" = [])),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn change_password(
    State(state): State<AppState>,
    me: CurrentUser,
    client: ClientInfo,
    Json(body): Json<ChangePassword>,
) -> AppResult<StatusCode> {
    let user = users::get(&state.store, me.user_id).await?;
    check_new_password(
        &body.new_password,
        &[&user.email, &user.username, &user.display_name],
    )?;
    if body.current_password.chars().count() > crate::auth::password::MAX_LEN {
        return Err(AppError::Forbidden("current password is wrong".into()));
    }
    // Guessing the current password is limited like signing in.
    state.limits.password_attempt(me.user_id, client.ip)?;
    let hash = users::password_hash(&state.store, me.user_id).await?;
    if !state
        .passwords
        .verify(body.current_password, Some(hash))
        .await
    {
        return Err(AppError::Forbidden("current password is wrong".into()));
    }
    let new_hash = state.passwords.hash(body.new_password).await?;
    users::set_password_hash(&state.store, me.user_id, &new_hash).await?;
    lifecycle::end_sessions(&state, me.user_id, Some(me.session_id)).await?;
    audit::record_for_user_workspaces(
        &state.store,
        me.user_id,
        Event {
            workspace: None,
            actor: Some(me.user_id),
            action: "auth.password_changed",
            target_type: Some("user"),
            target_id: Some(me.user_id.to_string()),
            detail: serde_json::json!({}),
            ip: client.ip_string(),
        },
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// My signed-in devices.
#[utoipa::path(get, path = "/api/me/sessions", tag = "me", operation_id = "listSessions", security(("bearer" = [])),
    responses((status = 200, body = Vec<Session>), (status = 401, body = ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn list_sessions(
    State(state): State<AppState>,
    me: CurrentUser,
) -> AppResult<Json<Vec<Session>>> {
    Ok(Json(
        sessions::list(&state.store, me.user_id, me.session_id).await?,
    ))
}

/// Sign out one of my devices.
#[utoipa::path(delete, path = "/api/me/sessions/{id}", tag = "me", operation_id = "revokeSession",
    params(("id" = String, Path, description = "session id")), security(("bearer" = [])),
    responses((status = 204), (status = 404, body = ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn revoke_session(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(id): Path<SessionId>,
) -> AppResult<StatusCode> {
    if !sessions::revoke(&state.store, me.user_id, id).await? {
        return Err(AppError::not_found("session"));
    }
    state
        .bus
        .publish(crate::realtime::bus::Delivery::DisconnectSession { session: id })
        .await;
    Ok(StatusCode::NO_CONTENT)
}
