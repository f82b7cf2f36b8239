//! Workspace members: list, change roles, remove, deactivate and reactivate. The last
//! owner can be neither removed nor demoted, and only owners act on owners.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::accounts::{self, model::avatar_url};
use crate::auth::CurrentUser;
use crate::error::{AppError, AppResult, ErrorBody};
use crate::http::client::ClientInfo;
use crate::http::extract::{Json, Path, Query};
use crate::orgs::access::{Role, member_role, require_admin};
use crate::orgs::audit::{self, Event};
use crate::store::ids::{UserId, WorkspaceId, rfc3339};
use crate::store::{Store, Tx, now_ms};
use crate::{AppState, db, tx};

/// A member of a workspace.
#[derive(Debug, Serialize, ToSchema)]
pub struct Member {
    pub user_id: UserId,
    pub email: String,
    pub username: String,
    pub display_name: String,
    pub avatar_url: Option<String>,
    pub role: Role,
    /// The account is deactivated: it cannot sign in.
    pub deactivated: bool,
    pub joined_at: String,
}

#[derive(sqlx::FromRow)]
struct Row {
    user_id: UserId,
    email: String,
    username: String,
    display_name: String,
    avatar_updated_at: Option<i64>,
    role: String,
    deactivated_at: Option<i64>,
    joined_at: i64,
}

impl TryFrom<Row> for Member {
    type Error = AppError;
    fn try_from(r: Row) -> AppResult<Member> {
        Ok(Member {
            avatar_url: avatar_url(r.user_id, r.avatar_updated_at),
            user_id: r.user_id,
            email: r.email,
            username: r.username,
            display_name: r.display_name,
            role: Role::parse(&r.role)?,
            deactivated: r.deactivated_at.is_some(),
            joined_at: rfc3339(r.joined_at),
        })
    }
}

const SELECT: &str =
    "SELECT u.id AS user_id, u.email, u.username, u.display_name, u.avatar_updated_at, m.role,
        u.deactivated_at, m.joined_at
    FROM memberships m JOIN users u ON u.id = m.user_id";

/// Add `user` to `ws` inside `tx`; 409 when already a member.
pub async fn add_in(tx: &mut Tx, ws: WorkspaceId, user: UserId, role: Role) -> AppResult<()> {
    let r = tx!(tx, c => sqlx::query("INSERT INTO memberships (workspace_id, user_id, role, joined_at) VALUES ($1, $2, $3, $4)")
        .bind(ws)
        .bind(user)
        .bind(role.as_str())
        .bind(now_ms())
        .execute(&mut *c)
        .await.map(|r| r.rows_affected()));
    r.map_err(|e| match AppError::from(e) {
        AppError::Conflict(_) => AppError::Conflict("already a member of this workspace".into()),
        other => other,
    })?;
    Ok(())
}

async fn load(store: &Store, ws: WorkspaceId, user: UserId) -> AppResult<Member> {
    let row: Option<Row> = db!(store.read(), c => sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT} WHERE m.workspace_id = $1 AND m.user_id = $2"
    )))
    .bind(ws)
    .bind(user)
    .fetch_optional(c)
    .await)?;
    row.ok_or_else(|| AppError::not_found("member"))?.try_into()
}

async fn owner_count(store: &Store, ws: WorkspaceId) -> AppResult<i64> {
    Ok(
        db!(store.read(), c => sqlx::query_scalar("SELECT COUNT(*) FROM memberships WHERE workspace_id = $1 AND role = 'owner'")
        .bind(ws)
        .fetch_one(c)
        .await)?,
    )
}

/// Refuse when `actor_role` may not act on a member whose role is `target_role`.
fn check_may_manage(actor_role: Role, target_role: Role) -> AppResult<()> {
    if target_role == Role::Owner && actor_role != Role::Owner {
        return Err(AppError::Forbidden(
            "only owners may change or remove an owner".into(),
        ));
    }
    Ok(())
}

/// Member search.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MemberQuery {
    /// Match name, username or email (case-insensitive substring).
    pub q: Option<String>,
}

/// List a workspace's members.
#[utoipa::path(get, path = "/api/workspaces/{ws}/members", tag = "members", operation_id = "listMembers",
    params(("ws" = String, Path, description = "workspace id"), MemberQuery), security(("bearer" = [])),
    responses((status = 200, body = Vec<Member>), (status = 404, body = ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn list(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(ws): Path<WorkspaceId>,
    Query(q): Query<MemberQuery>,
) -> AppResult<Json<Vec<Member>>> {
    member_role(&state.store, ws, me.user_id).await?;
    let needle = q.q.unwrap_or_default().trim().to_lowercase();
    if needle.chars().count() > 100 {
        return Err(AppError::Validation("search text is too long".into()));
    }
    let rows: Vec<Row> = db!(state.store.read(), c => sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT} WHERE m.workspace_id = $1 ORDER BY u.display_name, u.username"
    )))
    .bind(ws)
    .fetch_all(c)
    .await)?;
    // Matched here rather than in SQL: SQLite's LOWER() folds only ASCII, and names
    // often are not ASCII (Émile, 王小明).
    let rows = rows.into_iter().filter(|r| {
        needle.is_empty()
            || r.display_name.to_lowercase().contains(&needle)
            || r.username.contains(&needle)
            || r.email.contains(&needle)
    });
    Ok(Json(rows.map(Member::try_from).collect::<AppResult<_>>()?))
}

/// A role change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeRole {
    pub role: Role,
}

/// Change a member's role (admins; only owners grant or take away ownership).
#[utoipa::path(patch, path = "/api/workspaces/{ws}/members/{user}", tag = "members", operation_id = "changeMemberRole",
    params(("ws" = String, Path, description = "workspace id"), ("user" = String, Path, description = "user id")),
    request_body = ChangeRole, security(("bearer" = [])),
    responses((status = 200, body = Member), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn change_role(
    State(state): State<AppState>,
    me: CurrentUser,
    client: ClientInfo,
    Path((ws, user)): Path<(WorkspaceId, UserId)>,
    Json(body): Json<ChangeRole>,
) -> AppResult<Json<Member>> {
    let actor_role = require_admin(&state.store, ws, me.user_id).await?;
    let target = load(&state.store, ws, user).await?;
    check_may_manage(actor_role, target.role)?;
    if body.role == Role::Owner && actor_role != Role::Owner {
        return Err(AppError::Forbidden(
            "only owners may make someone an owner".into(),
        ));
    }
    if target.role == body.role {
        return Ok(Json(target));
    }
    // Checked and changed under the workspace lock, so two demotions cannot race past
    // the last-owner rule.
    let mut tx = state.store.begin_workspace(ws).await?;
    let owners: i64 = tx!(&mut tx, c => sqlx::query_scalar("SELECT COUNT(*) FROM memberships WHERE workspace_id = $1 AND role = 'owner'")
        .bind(ws)
        .fetch_one(&mut *c)
        .await)?;
    if target.role == Role::Owner && owners <= 1 {
        return Err(AppError::Conflict(
            "the last owner cannot be demoted; make someone else an owner first".into(),
        ));
    }
    tx!(&mut tx, c => sqlx::query("UPDATE memberships SET role = $1 WHERE workspace_id = $2 AND user_id = $3")
        .bind(body.role.as_str())
        .bind(ws)
        .bind(user)
        .execute(&mut *c)
        .await.map(|r| r.rows_affected()))?;
    audit::record_in(
        &mut tx,
        Event {
            workspace: Some(ws),
            actor: Some(me.user_id),
            action: "member.role_changed",
            target_type: Some("user"),
            target_id: Some(user.to_string()),
            detail: serde_json::json!({ "from": target.role, "to": body.role }),
            ip: client.ip_string(),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Json(load(&state.store, ws, user).await?))
}

/// Remove `user` from `ws` (its teams and channels too), keeping at least one owner.
pub async fn remove_member(
    state: &AppState,
    ws: WorkspaceId,
    user: UserId,
    role: Role,
    actor: Option<UserId>,
    ip: Option<String>,
    action: &str,
) -> AppResult<()> {
    let mut tx = state.store.begin_workspace(ws).await?;
    if role == Role::Owner {
        let owners: i64 = tx!(&mut tx, c => sqlx::query_scalar("SELECT COUNT(*) FROM memberships WHERE workspace_id = $1 AND role = 'owner'")
            .bind(ws)
            .fetch_one(&mut *c)
            .await)?;
        if owners <= 1 {
            return Err(AppError::Conflict(
                "the last owner cannot leave or be removed; make someone else an owner first"
                    .into(),
            ));
        }
    }
    tx!(&mut tx, c => {
        sqlx::query("DELETE FROM team_members WHERE user_id = $1 AND team_id IN (SELECT id FROM teams WHERE workspace_id = $2)")
            .bind(user)
            .bind(ws)
            .execute(&mut *c)
            .await?;
        sqlx::query("DELETE FROM memberships WHERE workspace_id = $1 AND user_id = $2")
            .bind(ws)
            .bind(user)
            .execute(&mut *c)
            .await?;
        Ok::<_, sqlx::Error>(())
    })?;
    audit::record_in(
        &mut tx,
        Event {
            workspace: Some(ws),
            actor,
            action,
            target_type: Some("user"),
            target_id: Some(user.to_string()),
            detail: serde_json::json!({ "role": role }),
            ip,
        },
    )
    .await?;
    tx.commit().await?;
    crate::chat::channels::remove_from_workspace(&state.chat, ws, user).await?;
    crate::chat::team_channels::sync_workspace(&state.chat, ws).await?;
    Ok(())
}

/// Remove a member from the workspace (admins; owners only by owners).
#[utoipa::path(delete, path = "/api/workspaces/{ws}/members/{user}", tag = "members", operation_id = "removeMember",
    params(("ws" = String, Path, description = "workspace id"), ("user" = String, Path, description = "user id")),
    security(("bearer" = [])),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn remove(
    State(state): State<AppState>,
    me: CurrentUser,
    client: ClientInfo,
    Path((ws, user)): Path<(WorkspaceId, UserId)>,
) -> AppResult<StatusCode> {
    let actor_role = require_admin(&state.store, ws, me.user_id).await?;
    let target = load(&state.store, ws, user).await?;
    check_may_manage(actor_role, target.role)?;
    remove_member(
        &state,
        ws,
        user,
        target.role,
        Some(me.user_id),
        client.ip_string(),
        "member.removed",
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Check that the actor may act on `user`'s account (deactivate, reactivate, reset its
/// password): the user is a member here, is not the actor, and every workspace the user
/// belongs to is one the actor administers (an account is shared by all its workspaces).
pub async fn check_may_manage_account(
    store: &Store,
    ws: WorkspaceId,
    actor: UserId,
    user: UserId,
) -> AppResult<Member> {
    let actor_role = require_admin(store, ws, actor).await?;
    let target = load(store, ws, user).await?;
    if user == actor {
        return Err(AppError::Conflict(
            "admins act on other people's accounts; change your own from your profile".into(),
        ));
    }
    check_may_manage(actor_role, target.role)?;
    // Workspaces of the target where the actor may not act on them: not an admin
    // there, or only an admin while the target is an owner there.
    let outside: i64 = db!(store.read(), c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM memberships t WHERE t.user_id = $1 AND NOT EXISTS (
            SELECT 1 FROM memberships a WHERE a.workspace_id = t.workspace_id AND a.user_id = $2
            AND (a.role = 'owner' OR (a.role = 'admin' AND t.role <> 'owner')))"
    )
    .bind(user)
    .bind(actor)
    .fetch_one(c)
    .await)?;
    if outside > 0 {
        return Err(AppError::Conflict(
            "this person also belongs to workspaces you do not administer, so their account is not yours to change; remove them from this workspace instead"
                .into(),
        ));
    }
    Ok(target)
}

/// Deactivate a member's account: they cannot sign in, and their sessions and live
/// connections end at once.
#[utoipa::path(post, path = "/api/workspaces/{ws}/members/{user}/deactivate", tag = "members", operation_id = "deactivateMember",
    params(("ws" = String, Path, description = "workspace id"), ("user" = String, Path, description = "user id")),
    security(("bearer" = [])),
    responses((status = 200, body = Member), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn deactivate(
    State(state): State<AppState>,
    me: CurrentUser,
    client: ClientInfo,
    Path((ws, user)): Path<(WorkspaceId, UserId)>,
) -> AppResult<Json<Member>> {
    set_active(&state, ws, me.user_id, user, false, client.ip_string()).await
}

/// Reactivate a deactivated member's account.
#[utoipa::path(post, path = "/api/workspaces/{ws}/members/{user}/reactivate", tag = "members", operation_id = "reactivateMember",
    params(("ws" = String, Path, description = "workspace id"), ("user" = String, Path, description = "user id")),
    security(("bearer" = [])),
    responses((status = 200, body = Member), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn reactivate(
    State(state): State<AppState>,
    me: CurrentUser,
    client: ClientInfo,
    Path((ws, user)): Path<(WorkspaceId, UserId)>,
) -> AppResult<Json<Member>> {
    set_active(&state, ws, me.user_id, user, true, client.ip_string()).await
}

/// Deactivate or reactivate `user`'s account on behalf of `actor`, an admin of `ws`.
async fn set_active(
    state: &AppState,
    ws: WorkspaceId,
    actor: UserId,
    user: UserId,
    active: bool,
    ip: Option<String>,
) -> AppResult<Json<Member>> {
    let target = check_may_manage_account(&state.store, ws, actor, user).await?;
    if !active && target.role == Role::Owner && owner_count(&state.store, ws).await? <= 1 {
        return Err(AppError::Conflict(
            "the last owner cannot be deactivated".into(),
        ));
    }
    accounts::lifecycle::set_active(state, user, active).await?;
    audit::record(
        &state.store,
        Event {
            workspace: Some(ws),
            actor: Some(actor),
            action: if active {
                "member.reactivated"
            } else {
                "member.deactivated"
            },
            target_type: Some("user"),
            target_id: Some(user.to_string()),
            detail: serde_json::json!({ "username": target.username }),
            ip,
        },
    )
    .await?;
    Ok(Json(load(&state.store, ws, user).await?))
}
