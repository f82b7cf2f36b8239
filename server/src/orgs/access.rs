//! Who may do what in a workspace. A non-member is told the workspace does not exist
//! (404), so workspaces cannot be guessed; a member without the role gets 403.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db;
use crate::error::{AppError, AppResult};
use crate::store::Store;
use crate::store::ids::{UserId, WorkspaceId};

/// A member's role in a workspace, most powerful first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Owner,
    Admin,
    Member,
    Guest,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Member => "member",
            Role::Guest => "guest",
        }
    }

    pub fn parse(s: &str) -> AppResult<Role> {
        match s {
            "owner" => Ok(Role::Owner),
            "admin" => Ok(Role::Admin),
            "member" => Ok(Role::Member),
            "guest" => Ok(Role::Guest),
            _ => Err(AppError::Validation(
                "role must be one of owner, admin, member, guest".into(),
            )),
        }
    }

    /// Owners and admins manage the workspace.
    pub fn is_admin(self) -> bool {
        matches!(self, Role::Owner | Role::Admin)
    }
}

/// The caller's role in `ws`, or 404 when they are not a member.
pub async fn member_role(store: &Store, ws: WorkspaceId, user: UserId) -> AppResult<Role> {
    let role: Option<String> = db!(store.read(), c => sqlx::query_scalar(
        "SELECT role FROM memberships WHERE workspace_id = $1 AND user_id = $2"
    )
    .bind(ws)
    .bind(user)
    .fetch_optional(c)
    .await)?;
    match role {
        Some(r) => {
            Role::parse(&r).map_err(|_| AppError::Internal(anyhow::anyhow!("bad stored role {r}")))
        }
        None => Err(AppError::not_found("workspace")),
    }
}

/// The caller's role in `ws` when it is owner or admin; 404 for non-members, 403 otherwise.
pub async fn require_admin(store: &Store, ws: WorkspaceId, user: UserId) -> AppResult<Role> {
    let role = member_role(store, ws, user).await?;
    if role.is_admin() {
        Ok(role)
    } else {
        Err(AppError::Forbidden(
            "only workspace admins and owners may do this".into(),
        ))
    }
}
