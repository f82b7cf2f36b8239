//! Invitations: links with an expiry and a use limit, optionally for one email
//! address, revocable. Only a hash of the token is stored, so the link is shown once.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::accounts::model::Email;
use crate::auth::CurrentUser;
use crate::auth::tokens::{hash_token, random_token};
use crate::error::{AppError, AppResult, ErrorBody};
use crate::http::client::ClientInfo;
use crate::http::extract::{Json, Path};
use crate::orgs::access::{Role, require_admin};
use crate::orgs::audit::{self, Event};
use crate::orgs::members;
use crate::orgs::workspaces::{self, WorkspaceSummary};
use crate::store::ids::{InviteId, UserId, WorkspaceId, rfc3339};
use crate::store::{Tx, now_ms};
use crate::{AppState, db, tx};

/// An invitation as admins see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Invite {
    pub id: InviteId,
    /// The secret token; only in the response that created it.
    pub token: Option<String>,
    /// The link to share; only in the response that created it.
    pub url: Option<String>,
    /// When set, only this address may use the invitation.
    pub email: Option<String>,
    pub role: Role,
    pub expires_at: String,
    /// Null means unlimited.
    pub max_uses: Option<i64>,
    pub uses: i64,
    pub revoked: bool,
    pub created_at: String,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: InviteId,
    email: Option<String>,
    role: String,
    expires_at: i64,
    max_uses: Option<i64>,
    uses: i64,
    revoked_at: Option<i64>,
    created_at: i64,
}

impl TryFrom<Row> for Invite {
    type Error = AppError;
    fn try_from(r: Row) -> AppResult<Invite> {
        Ok(Invite {
            id: r.id,
            token: None,
            url: None,
            email: r.email,
            role: Role::parse(&r.role)?,
            expires_at: rfc3339(r.expires_at),
            max_uses: r.max_uses,
            uses: r.uses,
            revoked: r.revoked_at.is_some(),
            created_at: rfc3339(r.created_at),
        })
    }
}

/// List a workspace's invitations, newest first (admins).
#[utoipa::path(get, path = "/api/workspaces/{ws}/invites", tag = "invites", operation_id = "listInvites",
    params(("ws" = String, Path, description = "workspace id")), security(("bearer" = [])),
    responses((status = 200, body = Vec<Invite>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn list(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(ws): Path<WorkspaceId>,
) -> AppResult<Json<Vec<Invite>>> {
    require_admin(&state.store, ws, me.user_id).await?;
    let rows: Vec<Row> = db!(state.store.read(), c => sqlx::query_as(
        "SELECT id, email, role, expires_at, max_uses, uses, revoked_at, created_at FROM invites
         WHERE workspace_id = $1 ORDER BY id DESC LIMIT 500"
    )
    .bind(ws)
    .fetch_all(c)
    .await)?;
    Ok(Json(
        rows.into_iter()
            .map(Invite::try_from)
            .collect::<AppResult<_>>()?,
    ))
}

/// A new invitation.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateInvite {
    /// Restrict the invitation to this address (it then works once).
    pub email: Option<String>,
    /// Role given on joining: admin, member (default) or guest.
    pub role: Option<Role>,
    /// Hours until it expires (1–8760, default 168 = one week).
    pub expires_in_hours: Option<i64>,
    /// How many people may use it (1–10000); absent means unlimited.
    pub max_uses: Option<i64>,
}

/// Create an invitation link (admins).
#[utoipa::path(post, path = "/api/workspaces/{ws}/invites", tag = "invites", operation_id = "createInvite",
    params(("ws" = String, Path, description = "workspace id")), request_body = CreateInvite, security(("bearer" = [])),
    responses((status = 201, body = Invite), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn create(
    State(state): State<AppState>,
    me: CurrentUser,
    client: ClientInfo,
    Path(ws): Path<WorkspaceId>,
    Json(body): Json<CreateInvite>,
) -> AppResult<(StatusCode, Json<Invite>)> {
    require_admin(&state.store, ws, me.user_id).await?;
    let role = body.role.unwrap_or(Role::Member);
    if role == Role::Owner {
        return Err(AppError::Validation(
            "invitations may grant admin, member or guest; promote owners afterwards".into(),
        ));
    }
    let hours = body.expires_in_hours.unwrap_or(168);
    if !(1..=8760).contains(&hours) {
        return Err(AppError::Validation(
            "expires_in_hours must be between 1 and 8760".into(),
        ));
    }
    let email = body.email.as_deref().map(Email::parse).transpose()?;
    let max_uses = match (&email, body.max_uses) {
        (Some(_), _) => Some(1),
        (None, Some(n)) if !(1..=10_000).contains(&n) => {
            return Err(AppError::Validation(
                "max_uses must be between 1 and 10000".into(),
            ));
        }
        (None, n) => n,
    };
    let id = InviteId::new();
    let token = random_token();
    let now = now_ms();
    let expires_at = now + hours * 3_600_000;
    let mut tx = state.store.begin().await?;
    tx!(&mut tx, c => sqlx::query(
        "INSERT INTO invites (id, workspace_id, token_hash, email, role, expires_at, max_uses, uses, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8, $9)"
    )
    .bind(id)
    .bind(ws)
    .bind(hash_token(&token))
    .bind(email.as_ref().map(|e| e.0.clone()))
    .bind(role.as_str())
    .bind(expires_at)
    .bind(max_uses)
    .bind(me.user_id)
    .bind(now)
    .execute(&mut *c)
    .await.map(|r| r.rows_affected()))?;
    audit::record_in(
        &mut tx,
        Event {
            workspace: Some(ws),
            actor: Some(me.user_id),
            action: "invite.created",
            target_type: Some("invite"),
            target_id: Some(id.to_string()),
            detail: serde_json::json!({ "email": email.as_ref().map(|e| &e.0), "role": role, "max_uses": max_uses, "expires_in_hours": hours }),
            ip: client.ip_string(),
        },
    )
    .await?;
    tx.commit().await?;
    let url = format!("{}/invite#{token}", state.public_url());
    Ok((
        StatusCode::CREATED,
        Json(Invite {
            id,
            token: Some(token),
            url: Some(url),
            email: email.map(|e| e.0),
            role,
            expires_at: rfc3339(expires_at),
            max_uses,
            uses: 0,
            revoked: false,
            created_at: rfc3339(now),
        }),
    ))
}

/// Revoke an invitation (admins).
#[utoipa::path(delete, path = "/api/workspaces/{ws}/invites/{id}", tag = "invites", operation_id = "revokeInvite",
    params(("ws" = String, Path, description = "workspace id"), ("id" = String, Path, description = "invite id")),
    security(("bearer" = [])),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn revoke(
    State(state): State<AppState>,
    me: CurrentUser,
    client: ClientInfo,
    Path((ws, id)): Path<(WorkspaceId, InviteId)>,
) -> AppResult<StatusCode> {
    require_admin(&state.store, ws, me.user_id).await?;
    let mut tx = state.store.begin().await?;
    let done = tx!(&mut tx, c => sqlx::query("UPDATE invites SET revoked_at = $1 WHERE id = $2 AND workspace_id = $3 AND revoked_at IS NULL")
        .bind(now_ms())
        .bind(id)
        .bind(ws)
        .execute(&mut *c)
        .await.map(|r| r.rows_affected()))?;
    if done == 0 {
        return Err(AppError::not_found("invite"));
    }
    audit::record_in(
        &mut tx,
        Event {
            workspace: Some(ws),
            actor: Some(me.user_id),
            action: "invite.revoked",
            target_type: Some("invite"),
            target_id: Some(id.to_string()),
            detail: serde_json::json!({}),
            ip: client.ip_string(),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What an invitation link offers, shown before joining.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvitePreview {
    pub workspace_id: WorkspaceId,
    pub workspace_name: String,
    pub email: Option<String>,
    pub role: Role,
}

#[derive(sqlx::FromRow)]
struct Live {
    workspace_id: WorkspaceId,
    email: Option<String>,
    role: String,
}

const LIVE: &str =
    "revoked_at IS NULL AND expires_at > $2 AND (max_uses IS NULL OR uses < max_uses)";

/// See what a (valid) invitation link offers. 404 when it is unknown, expired, used up or revoked.
#[utoipa::path(get, path = "/api/invites/{token}", tag = "invites", operation_id = "previewInvite",
    params(("token" = String, Path, description = "invitation token")),
    responses((status = 200, body = InvitePreview), (status = 404, body = ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn preview(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> AppResult<Json<InvitePreview>> {
    let live: Option<Live> = db!(state.store.read(), c => sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT workspace_id, email, role FROM invites WHERE token_hash = $1 AND {LIVE}"
    )))
    .bind(hash_token(&token))
    .bind(now_ms())
    .fetch_optional(c)
    .await)?;
    let live = live.ok_or_else(invalid)?;
    Ok(Json(InvitePreview {
        workspace_name: workspaces::name_of(&state.store, live.workspace_id).await?,
        workspace_id: live.workspace_id,
        email: live.email,
        role: Role::parse(&live.role)?,
    }))
}

fn invalid() -> AppError {
    AppError::NotFound("this invitation is invalid, expired, used up or revoked".into())
}

/// Use one of an invitation's uses for `email` and add `user` to its workspace, in `tx`.
pub async fn redeem_in(
    tx: &mut Tx,
    token: &str,
    user: UserId,
    email: &str,
) -> AppResult<(WorkspaceId, Role)> {
    let hash = hash_token(token);
    let live: Option<Live> = tx!(tx, c => sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE invites SET uses = uses + 1 WHERE token_hash = $1 AND {LIVE} RETURNING workspace_id, email, role"
    )))
    .bind(&hash)
    .bind(now_ms())
    .fetch_optional(&mut *c)
    .await)?;
    let live = live.ok_or_else(invalid)?;
    if live.email.as_deref().is_some_and(|e| e != email) {
        return Err(AppError::Forbidden(
            "this invitation is for a different email address".into(),
        ));
    }
    let role = Role::parse(&live.role)?;
    members::add_in(tx, live.workspace_id, user, role).await?;
    Ok((live.workspace_id, role))
}

/// Join a workspace through an invitation, as a signed-in user.
#[utoipa::path(post, path = "/api/invites/{token}/accept", tag = "invites", operation_id = "acceptInvite",
    params(("token" = String, Path, description = "invitation token")), security(("bearer" = [])),
    responses((status = 200, body = WorkspaceSummary), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn accept(
    State(state): State<AppState>,
    me: CurrentUser,
    client: ClientInfo,
    Path(token): Path<String>,
) -> AppResult<Json<WorkspaceSummary>> {
    let user = crate::accounts::users::get(&state.store, me.user_id).await?;
    let mut tx = state.store.begin().await?;
    let (ws, role) = redeem_in(&mut tx, &token, me.user_id, &user.email).await?;
    audit::record_in(
        &mut tx,
        Event {
            workspace: Some(ws),
            actor: Some(me.user_id),
            action: "member.joined",
            target_type: Some("user"),
            target_id: Some(me.user_id.to_string()),
            detail: serde_json::json!({ "role": role, "via": "invite" }),
            ip: client.ip_string(),
        },
    )
    .await?;
    tx.commit().await?;
    let summary = workspaces::summaries_for(&state.store, me.user_id)
        .await?
        .into_iter()
        .find(|s| s.id == ws)
        .ok_or_else(|| AppError::not_found("workspace"))?;
    Ok(Json(summary))
}
