//! Workspaces: create, list mine, read, settings, leave.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::CurrentUser;
use crate::error::{AppError, AppResult, ErrorBody};
use crate::http::client::ClientInfo;
use crate::http::extract::{Json, Path};
use crate::orgs::access::{Role, member_role, require_admin};
use crate::orgs::audit::{self, Event};
use crate::orgs::members;
use crate::store::ids::{UserId, WorkspaceId, rfc3339};
use crate::store::{Store, Tx, now_ms};
use crate::{AppState, db, tx};

/// A workspace the caller belongs to, with their role.
#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct WorkspaceSummary {
    pub id: WorkspaceId,
    pub name: String,
    pub slug: String,
    /// My role: owner, admin, member or guest.
    #[schema(value_type = Role)]
    pub role: String,
}

/// A workspace with its settings.
#[derive(Debug, Serialize, ToSchema)]
pub struct Workspace {
    pub id: WorkspaceId,
    pub name: String,
    pub slug: String,
    /// Anyone may register an account and join without an invitation.
    pub open_registration: bool,
    /// Read receipts: `on` for everyone, `off`, or `user` (each person chooses).
    pub receipts_policy: String,
    /// Messages older than this many days are deleted; `null` keeps them forever.
    pub retention_days: Option<i64>,
    /// Who may start meetings: `everyone` (members and admins) or `admins`.
    pub meeting_creators: String,
    /// People without an account may join this workspace's meetings by link.
    pub meeting_guests_allowed: bool,
    pub created_at: String,
    /// The caller's role.
    pub role: Role,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: WorkspaceId,
    name: String,
    slug: String,
    open_registration: bool,
    receipts_policy: String,
    retention_days: Option<i64>,
    meeting_creators: String,
    meeting_guests_allowed: bool,
    created_at: i64,
}

impl Row {
    fn with_role(self, role: Role) -> Workspace {
        Workspace {
            id: self.id,
            name: self.name,
            slug: self.slug,
            open_registration: self.open_registration,
            receipts_policy: self.receipts_policy,
            retention_days: self.retention_days,
            meeting_creators: self.meeting_creators,
            meeting_guests_allowed: self.meeting_guests_allowed,
            created_at: rfc3339(self.created_at),
            role,
        }
    }
}

/// A workspace name: 1–80 characters after trimming.
pub fn parse_name(raw: &str) -> AppResult<String> {
    let n = raw.trim();
    let len = n.chars().count();
    if len == 0 || len > 80 || n.chars().any(char::is_control) {
        return Err(AppError::Validation(
            "workspace name must be 1-80 characters".into(),
        ));
    }
    Ok(n.to_owned())
}

/// URL-friendly slug from a name; names without ASCII letters get a random one.
fn slug_for(name: &str) -> String {
    let mut slug = String::new();
    for c in name.to_lowercase().chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
        if slug.len() >= 40 {
            break;
        }
    }
    let slug = slug.trim_matches('-').to_owned();
    let suffix = &uuid::Uuid::now_v7().simple().to_string()[26..];
    if slug.is_empty() {
        format!("ws-{suffix}")
    } else {
        format!("{slug}-{suffix}")
    }
}

/// Create a workspace owned by `owner` inside `tx`.
pub async fn create_in(tx: &mut Tx, name: &str, owner: UserId) -> AppResult<Workspace> {
    let id = WorkspaceId::new();
    let now = now_ms();
    let slug = slug_for(name);
    tx!(tx, c => sqlx::query("INSERT INTO workspaces (id, name, slug, open_registration, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(id)
        .bind(name)
        .bind(&slug)
        .bind(false)
        .bind(now)
        .execute(&mut *c)
        .await.map(|r| r.rows_affected()))?;
    members::add_in(tx, id, owner, Role::Owner).await?;
    Ok(Workspace {
        id,
        name: name.to_owned(),
        slug,
        open_registration: false,
        receipts_policy: "on".into(),
        retention_days: None,
        meeting_creators: "everyone".into(),
        meeting_guests_allowed: true,
        created_at: rfc3339(now),
        role: Role::Owner,
    })
}

/// The workspaces `user` belongs to.
pub async fn summaries_for(store: &Store, user: UserId) -> AppResult<Vec<WorkspaceSummary>> {
    Ok(db!(store.read(), c => sqlx::query_as(
        "SELECT w.id, w.name, w.slug, m.role FROM workspaces w JOIN memberships m ON m.workspace_id = w.id
         WHERE m.user_id = $1 ORDER BY m.joined_at"
    )
    .bind(user)
    .fetch_all(c)
    .await)?)
}

/// A workspace's name (for invite previews).
pub async fn name_of(store: &Store, ws: WorkspaceId) -> AppResult<String> {
    db!(store.read(), c => sqlx::query_scalar("SELECT name FROM workspaces WHERE id = $1")
        .bind(ws)
        .fetch_optional(c)
        .await)?
    .ok_or_else(|| AppError::not_found("workspace"))
}

/// Is open registration on for this workspace? 404 when it is not.
pub async fn require_open_registration(store: &Store, ws: WorkspaceId) -> AppResult<()> {
    let open: Option<bool> = db!(store.read(), c => sqlx::query_scalar("SELECT open_registration FROM workspaces WHERE id = $1")
        .bind(ws)
        .fetch_optional(c)
        .await)?;
    match open {
        Some(true) => Ok(()),
        _ => Err(AppError::not_found("workspace")),
    }
}

/// A workspace anyone may join by registering.
#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct OpenWorkspace {
    pub id: WorkspaceId,
    pub name: String,
    pub slug: String,
}

pub async fn open_workspaces(store: &Store) -> AppResult<Vec<OpenWorkspace>> {
    Ok(db!(store.read(), c => sqlx::query_as(
        "SELECT id, name, slug FROM workspaces WHERE open_registration = $1 ORDER BY name"
    )
    .bind(true)
    .fetch_all(c)
    .await)?)
}

async fn load(store: &Store, ws: WorkspaceId) -> AppResult<Row> {
    db!(store.read(), c => sqlx::query_as("SELECT id, name, slug, open_registration, receipts_policy, retention_days, meeting_creators, meeting_guests_allowed, created_at FROM workspaces WHERE id = $1")
        .bind(ws)
        .fetch_optional(c)
        .await)?
    .ok_or_else(|| AppError::not_found("workspace"))
}

/// List the workspaces I belong to.
#[utoipa::path(get, path = "/api/workspaces", tag = "workspaces", operation_id = "listMyWorkspaces",
    security(("bearer" = [])), responses((status = 200, body = Vec<WorkspaceSummary>), (status = 401, body = ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn list_mine(
    State(state): State<AppState>,
    me: CurrentUser,
) -> AppResult<Json<Vec<WorkspaceSummary>>> {
    Ok(Json(summaries_for(&state.store, me.user_id).await?))
}

/// A new workspace.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWorkspace {
    pub name: String,
}

/// Create a workspace; I become its owner.
#[utoipa::path(post, path = "/api/workspaces", tag = "workspaces", operation_id = "createWorkspace",
    request_body = CreateWorkspace, security(("bearer" = [])),
    responses((status = 201, body = Workspace), (status = 400, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn create(
    State(state): State<AppState>,
    me: CurrentUser,
    client: ClientInfo,
    Json(body): Json<CreateWorkspace>,
) -> AppResult<(StatusCode, Json<Workspace>)> {
    let name = parse_name(&body.name)?;
    let mut tx = state.store.begin().await?;
    let ws = create_in(&mut tx, &name, me.user_id).await?;
    audit::record_in(
        &mut tx,
        Event {
            workspace: Some(ws.id),
            actor: Some(me.user_id),
            action: "workspace.created",
            target_type: Some("workspace"),
            target_id: Some(ws.id.to_string()),
            detail: serde_json::json!({ "name": name }),
            ip: client.ip_string(),
        },
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(ws)))
}

/// Read a workspace I belong to.
#[utoipa::path(get, path = "/api/workspaces/{ws}", tag = "workspaces", operation_id = "getWorkspace",
    params(("ws" = String, Path, description = "workspace id")), security(("bearer" = [])),
    responses((status = 200, body = Workspace), (status = 404, body = ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn get_one(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(ws): Path<WorkspaceId>,
) -> AppResult<Json<Workspace>> {
    let role = member_role(&state.store, ws, me.user_id).await?;
    Ok(Json(load(&state.store, ws).await?.with_role(role)))
}

/// Settings to change; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateWorkspace {
    pub name: Option<String>,
    pub open_registration: Option<bool>,
    /// `on`, `off` or `user`.
    pub receipts_policy: Option<String>,
    /// Delete messages older than this many days (1–3650); `null` keeps them forever.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 3650)]
    pub retention_days: Option<Option<i64>>,
    /// Who may start meetings: `everyone` or `admins`.
    pub meeting_creators: Option<String>,
    /// Let people without an account join meetings by link.
    pub meeting_guests_allowed: Option<bool>,
}

/// A field that may be absent (leave it) or `null` (clear it).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<i64>>, D::Error> {
    Option::<i64>::deserialize(d).map(Some)
}

/// Change a workspace's settings (admins and owners).
#[utoipa::path(patch, path = "/api/workspaces/{ws}", tag = "workspaces", operation_id = "updateWorkspace",
    params(("ws" = String, Path, description = "workspace id")), request_body = UpdateWorkspace, security(("bearer" = [])),
    responses((status = 200, body = Workspace), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn update(
    State(state): State<AppState>,
    me: CurrentUser,
    client: ClientInfo,
    Path(ws): Path<WorkspaceId>,
    Json(body): Json<UpdateWorkspace>,
) -> AppResult<Json<Workspace>> {
    let role = require_admin(&state.store, ws, me.user_id).await?;
    let name = body.name.as_deref().map(parse_name).transpose()?;
    if let Some(p) = &body.receipts_policy
        && !matches!(p.as_str(), "on" | "off" | "user")
    {
        return Err(AppError::Validation(
            "receipts_policy must be on, off or user".into(),
        ));
    }
    if let Some(Some(days)) = body.retention_days
        && !(1..=3650).contains(&days)
    {
        return Err(AppError::Validation(
            "retention_days must be between 1 and 3650, or null to keep messages forever".into(),
        ));
    }
    if let Some(m) = &body.meeting_creators
        && !matches!(m.as_str(), "everyone" | "admins")
    {
        return Err(AppError::Validation(
            "meeting_creators must be everyone or admins".into(),
        ));
    }
    let mut tx = state.store.begin().await?;
    tx!(&mut tx, c => sqlx::query(
        "UPDATE workspaces SET name = COALESCE($1, name), open_registration = COALESCE($2, open_registration),
         receipts_policy = COALESCE($3, receipts_policy),
         retention_days = CASE WHEN $5 THEN $6 ELSE retention_days END,
         meeting_creators = COALESCE($7, meeting_creators),
         meeting_guests_allowed = COALESCE($8, meeting_guests_allowed) WHERE id = $4"
    )
    .bind(&name)
    .bind(body.open_registration)
    .bind(&body.receipts_policy)
    .bind(ws)
    .bind(body.retention_days.is_some())
    .bind(body.retention_days.flatten())
    .bind(&body.meeting_creators)
    .bind(body.meeting_guests_allowed)
    .execute(&mut *c)
    .await.map(|r| r.rows_affected()))?;
    audit::record_in(
        &mut tx,
        Event {
            workspace: Some(ws),
            actor: Some(me.user_id),
            action: "workspace.updated",
            target_type: Some("workspace"),
            target_id: Some(ws.to_string()),
            detail: {
                let mut d = serde_json::json!({ "name": name, "open_registration": body.open_registration, "receipts_policy": body.receipts_policy,
                    "meeting_creators": body.meeting_creators, "meeting_guests_allowed": body.meeting_guests_allowed });
                if let Some(days) = body.retention_days {
                    d["retention_days"] = days.into();
                }
                d
            },
            ip: client.ip_string(),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Json(load(&state.store, ws).await?.with_role(role)))
}

/// Leave a workspace. The last owner cannot leave.
#[utoipa::path(post, path = "/api/workspaces/{ws}/leave", tag = "workspaces", operation_id = "leaveWorkspace",
    params(("ws" = String, Path, description = "workspace id")), security(("bearer" = [])),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn leave(
    State(state): State<AppState>,
    me: CurrentUser,
    client: ClientInfo,
    Path(ws): Path<WorkspaceId>,
) -> AppResult<StatusCode> {
    let role = member_role(&state.store, ws, me.user_id).await?;
    members::remove_member(
        &state,
        ws,
        me.user_id,
        role,
        Some(me.user_id),
        client.ip_string(),
        "member.left",
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
