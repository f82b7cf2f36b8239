//! Teams are departments: a tree inside a workspace (a team may have a parent), with
//! members and team leads. Admins create, rename, move and delete them.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::CurrentUser;
use crate::error::{AppError, AppResult, ErrorBody};
use crate::http::client::ClientInfo;
use crate::http::extract::{Json, Path};
use crate::orgs::access::{member_role, require_admin};
use crate::orgs::audit::{self, Event};
use crate::store::ids::{TeamId, UserId, WorkspaceId, rfc3339};
use crate::store::{Store, Tx, now_ms};
use crate::{AppState, db, tx};

/// A team (department).
#[derive(Debug, Serialize, ToSchema, Clone)]
pub struct Team {
    pub id: TeamId,
    pub name: String,
    /// The parent team, or null for a top-level team.
    pub parent_id: Option<TeamId>,
    pub member_count: i64,
    pub created_at: String,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: TeamId,
    name: String,
    parent_id: Option<TeamId>,
    member_count: i64,
    created_at: i64,
}

impl From<Row> for Team {
    fn from(r: Row) -> Team {
        Team {
            id: r.id,
            name: r.name,
            parent_id: r.parent_id,
            member_count: r.member_count,
            created_at: rfc3339(r.created_at),
        }
    }
}

const SELECT: &str = "SELECT t.id, t.name, t.parent_id, t.created_at,
    (SELECT COUNT(*) FROM team_members tm WHERE tm.team_id = t.id) AS member_count FROM teams t";

fn parse_name(raw: &str) -> AppResult<String> {
    let n = raw.trim();
    let len = n.chars().count();
    if len == 0 || len > 64 || n.chars().any(char::is_control) {
        return Err(AppError::Validation(
            "team name must be 1-64 characters".into(),
        ));
    }
    Ok(n.to_owned())
}

async fn load(store: &Store, ws: WorkspaceId, team: TeamId) -> AppResult<Team> {
    let row: Option<Row> = db!(store.read(), c => sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT} WHERE t.id = $1 AND t.workspace_id = $2")))
        .bind(team)
        .bind(ws)
        .fetch_optional(c)
        .await)?;
    Ok(row.ok_or_else(|| AppError::not_found("team"))?.into())
}

/// All teams of a workspace as `(id, parent)` pairs, read inside `tx` (which holds the
/// workspace lock, so the tree cannot change between the check and the write).
async fn parents_in(tx: &mut Tx, ws: WorkspaceId) -> AppResult<Vec<(TeamId, Option<TeamId>)>> {
    Ok(
        tx!(tx, c => sqlx::query_as("SELECT id, parent_id FROM teams WHERE workspace_id = $1")
        .bind(ws)
        .fetch_all(&mut *c)
        .await)?,
    )
}

/// Check that `parent` is a team of the workspace and, when moving `team`, is not the
/// team itself or one of its descendants (the tree must stay a tree).
fn check_parent(
    all: &[(TeamId, Option<TeamId>)],
    team: Option<TeamId>,
    parent: TeamId,
) -> AppResult<()> {
    if !all.iter().any(|(id, _)| *id == parent) {
        return Err(AppError::Validation(
            "parent team not found in this workspace".into(),
        ));
    }
    let Some(team) = team else { return Ok(()) };
    let mut cursor = Some(parent);
    let mut steps = 0;
    while let Some(current) = cursor {
        if current == team {
            return Err(AppError::Conflict(
                "a team cannot be moved under itself or its own sub-team".into(),
            ));
        }
        steps += 1;
        if steps > all.len() {
            break;
        }
        cursor = all
            .iter()
            .find(|(id, _)| *id == current)
            .and_then(|(_, p)| *p);
    }
    Ok(())
}

/// List a workspace's teams (flat; build the tree from `parent_id`).
#[utoipa::path(get, path = "/api/workspaces/{ws}/teams", tag = "teams", operation_id = "listTeams",
    params(("ws" = String, Path, description = "workspace id")), security(("bearer" = [])),
    responses((status = 200, body = Vec<Team>), (status = 404, body = ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn list(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(ws): Path<WorkspaceId>,
) -> AppResult<Json<Vec<Team>>> {
    member_role(&state.store, ws, me.user_id).await?;
    let rows: Vec<Row> = db!(state.store.read(), c => sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT} WHERE t.workspace_id = $1 ORDER BY t.name")))
        .bind(ws)
        .fetch_all(c)
        .await)?;
    Ok(Json(rows.into_iter().map(Team::from).collect()))
}

/// A new team.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTeam {
    pub name: String,
    pub parent_id: Option<TeamId>,
}

/// Create a team (admins).
#[utoipa::path(post, path = "/api/workspaces/{ws}/teams", tag = "teams", operation_id = "createTeam",
    params(("ws" = String, Path, description = "workspace id")), request_body = CreateTeam, security(("bearer" = [])),
    responses((status = 201, body = Team), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn create(
    State(state): State<AppState>,
    me: CurrentUser,
    client: ClientInfo,
    Path(ws): Path<WorkspaceId>,
    Json(body): Json<CreateTeam>,
) -> AppResult<(StatusCode, Json<Team>)> {
    require_admin(&state.store, ws, me.user_id).await?;
    let name = parse_name(&body.name)?;
    let id = TeamId::new();
    let mut tx = state.store.begin_workspace(ws).await?;
    if let Some(parent) = body.parent_id {
        check_parent(&parents_in(&mut tx, ws).await?, None, parent)?;
    }
    tx!(&mut tx, c => sqlx::query("INSERT INTO teams (id, workspace_id, parent_id, name, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(id)
        .bind(ws)
        .bind(body.parent_id)
        .bind(&name)
        .bind(now_ms())
        .execute(&mut *c)
        .await.map(|r| r.rows_affected()))?;
    audit::record_in(
        &mut tx,
        Event {
            workspace: Some(ws),
            actor: Some(me.user_id),
            action: "team.created",
            target_type: Some("team"),
            target_id: Some(id.to_string()),
            detail: serde_json::json!({ "name": name, "parent_id": body.parent_id }),
            ip: client.ip_string(),
        },
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(load(&state.store, ws, id).await?)))
}

/// Rename or move a team. `parent_id: null` moves it to the top level; an absent
/// `parent_id` leaves it where it is.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTeam {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub parent_id: Option<Option<TeamId>>,
}

/// Distinguish `"parent_id": null` (present, null) from an absent field.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<TeamId>>, D::Error> {
    Option::<TeamId>::deserialize(d).map(Some)
}

/// Rename or move a team (admins).
#[utoipa::path(patch, path = "/api/workspaces/{ws}/teams/{team}", tag = "teams", operation_id = "updateTeam",
    params(("ws" = String, Path, description = "workspace id"), ("team" = String, Path, description = "team id")),
    request_body = UpdateTeam, security(("bearer" = [])),
    responses((status = 200, body = Team), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn update(
    State(state): State<AppState>,
    me: CurrentUser,
    client: ClientInfo,
    Path((ws, team)): Path<(WorkspaceId, TeamId)>,
    Json(body): Json<UpdateTeam>,
) -> AppResult<Json<Team>> {
    require_admin(&state.store, ws, me.user_id).await?;
    let before = load(&state.store, ws, team).await?;
    let name = body.name.as_deref().map(parse_name).transpose()?;
    let mut tx = state.store.begin_workspace(ws).await?;
    if let Some(Some(parent)) = body.parent_id {
        check_parent(&parents_in(&mut tx, ws).await?, Some(team), parent)?;
    }
    let new_parent = body.parent_id.unwrap_or(before.parent_id);
    tx!(&mut tx, c => sqlx::query("UPDATE teams SET name = COALESCE($1, name), parent_id = $2 WHERE id = $3 AND workspace_id = $4")
        .bind(&name)
        .bind(new_parent)
        .bind(team)
        .bind(ws)
        .execute(&mut *c)
        .await.map(|r| r.rows_affected()))?;
    let action = if body.parent_id.is_some() && new_parent != before.parent_id {
        "team.moved"
    } else {
        "team.renamed"
    };
    audit::record_in(&mut tx, Event {
        workspace: Some(ws),
        actor: Some(me.user_id),
        action,
        target_type: Some("team"),
        target_id: Some(team.to_string()),
        detail: serde_json::json!({ "from": { "name": before.name, "parent_id": before.parent_id }, "to": { "name": name, "parent_id": new_parent } }),
        ip: client.ip_string(),
    })
    .await?;
    tx.commit().await?;
    crate::chat::team_channels::sync_workspace(&state.chat, ws).await?;
    Ok(Json(load(&state.store, ws, team).await?))
}

/// Delete a team (admins). A team with sub-teams must be emptied of them first.
#[utoipa::path(delete, path = "/api/workspaces/{ws}/teams/{team}", tag = "teams", operation_id = "deleteTeam",
    params(("ws" = String, Path, description = "workspace id"), ("team" = String, Path, description = "team id")),
    security(("bearer" = [])),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn delete(
    State(state): State<AppState>,
    me: CurrentUser,
    client: ClientInfo,
    Path((ws, team)): Path<(WorkspaceId, TeamId)>,
) -> AppResult<StatusCode> {
    require_admin(&state.store, ws, me.user_id).await?;
    let before = load(&state.store, ws, team).await?;
    let mut tx = state.store.begin_workspace(ws).await?;
    if parents_in(&mut tx, ws)
        .await?
        .iter()
        .any(|(_, p)| *p == Some(team))
    {
        return Err(AppError::Conflict(
            "this team has sub-teams; move or delete them first".into(),
        ));
    }
    tx!(&mut tx, c => sqlx::query("DELETE FROM teams WHERE id = $1 AND workspace_id = $2")
        .bind(team)
        .bind(ws)
        .execute(&mut *c)
        .await.map(|r| r.rows_affected()))?;
    audit::record_in(
        &mut tx,
        Event {
            workspace: Some(ws),
            actor: Some(me.user_id),
            action: "team.deleted",
            target_type: Some("team"),
            target_id: Some(team.to_string()),
            detail: serde_json::json!({ "name": before.name }),
            ip: client.ip_string(),
        },
    )
    .await?;
    tx.commit().await?;
    crate::chat::team_channels::sync_workspace(&state.chat, ws).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A member of a team.
#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct TeamMember {
    pub user_id: UserId,
    pub username: String,
    pub display_name: String,
    /// Team lead.
    pub lead: bool,
}

/// List a team's members, leads first.
#[utoipa::path(get, path = "/api/workspaces/{ws}/teams/{team}/members", tag = "teams", operation_id = "listTeamMembers",
    params(("ws" = String, Path, description = "workspace id"), ("team" = String, Path, description = "team id")),
    security(("bearer" = [])),
    responses((status = 200, body = Vec<TeamMember>), (status = 404, body = ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn list_members(
    State(state): State<AppState>,
    me: CurrentUser,
    Path((ws, team)): Path<(WorkspaceId, TeamId)>,
) -> AppResult<Json<Vec<TeamMember>>> {
    member_role(&state.store, ws, me.user_id).await?;
    load(&state.store, ws, team).await?;
    Ok(Json(db!(state.store.read(), c => sqlx::query_as(
        "SELECT u.id AS user_id, u.username, u.display_name, tm.lead FROM team_members tm JOIN users u ON u.id = tm.user_id
         WHERE tm.team_id = $1 ORDER BY tm.lead DESC, LOWER(u.display_name)"
    )
    .bind(team)
    .fetch_all(c)
    .await)?))
}

/// Add a member to a team or change whether they lead it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutTeamMember {
    #[serde(default)]
    pub lead: bool,
}

/// Add a workspace member to a team, or set whether they lead it (admins).
#[utoipa::path(put, path = "/api/workspaces/{ws}/teams/{team}/members/{user}", tag = "teams", operation_id = "putTeamMember",
    params(("ws" = String, Path, description = "workspace id"), ("team" = String, Path, description = "team id"), ("user" = String, Path, description = "user id")),
    request_body = PutTeamMember, security(("bearer" = [])),
    responses((status = 200, body = TeamMember), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn put_member(
    State(state): State<AppState>,
    me: CurrentUser,
    client: ClientInfo,
    Path((ws, team, user)): Path<(WorkspaceId, TeamId, UserId)>,
    Json(body): Json<PutTeamMember>,
) -> AppResult<Json<TeamMember>> {
    require_admin(&state.store, ws, me.user_id).await?;
    load(&state.store, ws, team).await?;
    member_role(&state.store, ws, user).await.map_err(|_| {
        AppError::Validation("that person is not a member of this workspace".into())
    })?;
    let mut tx = state.store.begin().await?;
    tx!(&mut tx, c => sqlx::query(
        "INSERT INTO team_members (team_id, user_id, lead, added_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (team_id, user_id) DO UPDATE SET lead = excluded.lead"
    )
    .bind(team)
    .bind(user)
    .bind(body.lead)
    .bind(now_ms())
    .execute(&mut *c)
    .await.map(|r| r.rows_affected()))?;
    audit::record_in(
        &mut tx,
        Event {
            workspace: Some(ws),
            actor: Some(me.user_id),
            action: "team.member_set",
            target_type: Some("user"),
            target_id: Some(user.to_string()),
            detail: serde_json::json!({ "team_id": team, "lead": body.lead }),
            ip: client.ip_string(),
        },
    )
    .await?;
    tx.commit().await?;
    crate::chat::team_channels::sync_workspace(&state.chat, ws).await?;
    let member: TeamMember = db!(state.store.read(), c => sqlx::query_as(
        "SELECT u.id AS user_id, u.username, u.display_name, tm.lead FROM team_members tm JOIN users u ON u.id = tm.user_id
         WHERE tm.team_id = $1 AND tm.user_id = $2"
    )
    .bind(team)
    .bind(user)
    .fetch_one(c)
    .await)?;
    Ok(Json(member))
}

/// Remove a member from a team (admins).
#[utoipa::path(delete, path = "/api/workspaces/{ws}/teams/{team}/members/{user}", tag = "teams", operation_id = "removeTeamMember",
    params(("ws" = String, Path, description = "workspace id"), ("team" = String, Path, description = "team id"), ("user" = String, Path, description = "user id")),
    security(("bearer" = [])),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn remove_member(
    State(state): State<AppState>,
    me: CurrentUser,
    client: ClientInfo,
    Path((ws, team, user)): Path<(WorkspaceId, TeamId, UserId)>,
) -> AppResult<StatusCode> {
    require_admin(&state.store, ws, me.user_id).await?;
    load(&state.store, ws, team).await?;
    let mut tx = state.store.begin().await?;
    let done = tx!(&mut tx, c => sqlx::query("DELETE FROM team_members WHERE team_id = $1 AND user_id = $2")
        .bind(team)
        .bind(user)
        .execute(&mut *c)
        .await.map(|r| r.rows_affected()))?;
    if done == 0 {
        return Err(AppError::not_found("team member"));
    }
    audit::record_in(
        &mut tx,
        Event {
            workspace: Some(ws),
            actor: Some(me.user_id),
            action: "team.member_removed",
            target_type: Some("user"),
            target_id: Some(user.to_string()),
            detail: serde_json::json!({ "team_id": team }),
            ip: client.ip_string(),
        },
    )
    .await?;
    tx.commit().await?;
    crate::chat::team_channels::sync_workspace(&state.chat, ws).await?;
    Ok(StatusCode::NO_CONTENT)
}
