//! Presence as the REST API shows it: online / away / offline with last seen, and
//! custom status text. Live changes arrive on the websocket after `presence.subscribe`.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::CurrentUser;
use crate::chat::load::placeholders;
use crate::error::{AppError, AppResult, ErrorBody};
use crate::http::extract::{Json, Path, Query};
use crate::orgs::access::member_role;
use crate::realtime::bus::Delivery;
use crate::realtime::hub::Presence;
use crate::store::ids::{UserId, WorkspaceId, rfc3339};
use crate::{AppState, db};

/// Someone's presence.
#[derive(Debug, Serialize, ToSchema)]
pub struct PresenceInfo {
    pub user_id: UserId,
    pub status: Presence,
    /// When they were last connected (null if never, or connected now).
    pub last_seen_at: Option<String>,
    pub status_text: String,
}

/// My custom status.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetStatus {
    /// Up to 100 characters; empty clears it.
    pub text: String,
}

/// Set my custom status text (e.g. "In meetings until 3pm").
#[utoipa::path(put, path = "/api/me/status", tag = "presence", operation_id = "setStatus",
    request_body = SetStatus, security(("bearer" = [])),
    responses((status = 200, body = PresenceInfo), (status = 422, body = ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn set_status(
    State(state): State<AppState>,
    me: CurrentUser,
    Json(body): Json<SetStatus>,
) -> AppResult<Json<PresenceInfo>> {
    let text = body.text.trim().to_owned();
    if text.chars().count() > 100 || text.chars().any(char::is_control) {
        return Err(AppError::Validation(
            "status text must be at most 100 characters".into(),
        ));
    }
    db!(state.store.write(), c => sqlx::query("UPDATE users SET status_text = $1 WHERE id = $2")
        .bind(&text)
        .bind(me.user_id)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    state
        .bus
        .publish(Delivery::Presence { user: me.user_id })
        .await;
    Ok(Json(PresenceInfo {
        user_id: me.user_id,
        status: state.bus.hub().presence(me.user_id),
        last_seen_at: None,
        status_text: text,
    }))
}

/// Whose presence to read.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PresenceQuery {
    /// Comma-separated user ids (at most 500).
    pub user_ids: String,
}

/// Presence of people in a workspace.
#[utoipa::path(get, path = "/api/workspaces/{ws}/presence", tag = "presence", operation_id = "getPresence",
    params(("ws" = String, Path, description = "workspace id"), PresenceQuery), security(("bearer" = [])),
    responses((status = 200, body = Vec<PresenceInfo>), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn get_presence(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(ws): Path<WorkspaceId>,
    Query(q): Query<PresenceQuery>,
) -> AppResult<Json<Vec<PresenceInfo>>> {
    member_role(&state.store, ws, me.user_id).await?;
    let ids: Vec<UserId> = q
        .user_ids
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| {
            s.trim()
                .parse::<UserId>()
                .map_err(|_| AppError::Validation("user_ids must be comma-separated ids".into()))
        })
        .collect::<AppResult<_>>()?;
    if ids.is_empty() || ids.len() > 500 {
        return Err(AppError::Validation("give 1-500 user ids".into()));
    }
    let sql = format!(
        "SELECT u.id, u.last_seen_at, u.status_text FROM users u JOIN memberships m ON m.user_id = u.id AND m.workspace_id = $1
         WHERE u.id IN ({})",
        placeholders(2, ids.len())
    );
    let rows: Vec<(UserId, Option<i64>, String)> = db!(state.store.read(), c => {
        let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(ws);
        for id in &ids {
            q = q.bind(*id);
        }
        q.fetch_all(c).await
    })?;
    let hub = state.bus.hub();
    Ok(Json(
        rows.into_iter()
            .map(|(user_id, seen, status_text)| {
                let status = hub.presence(user_id);
                PresenceInfo {
                    user_id,
                    status,
                    last_seen_at: if status == Presence::Offline {
                        seen.map(rfc3339)
                    } else {
                        None
                    },
                    status_text,
                }
            })
            .collect(),
    ))
}
