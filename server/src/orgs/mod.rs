//! Workspaces, their members and roles, teams (the department tree), invitations,
//! and the audit log of everything admins do.

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;

pub mod access;
pub mod audit;
pub mod invites;
pub mod members;
pub mod teams;
pub mod usage;
pub mod workspaces;

pub use access::Role;

/// Routes of this module, described for OpenAPI.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(workspaces::list_mine, workspaces::create))
        .routes(routes!(workspaces::get_one, workspaces::update))
        .routes(routes!(workspaces::leave))
        .routes(routes!(members::list))
        .routes(routes!(members::change_role, members::remove))
        .routes(routes!(members::deactivate))
        .routes(routes!(members::reactivate))
        .routes(routes!(invites::list, invites::create))
        .routes(routes!(invites::revoke))
        .routes(routes!(invites::preview))
        .routes(routes!(invites::accept))
        .routes(routes!(teams::list, teams::create))
        .routes(routes!(teams::update, teams::delete))
        .routes(routes!(teams::list_members))
        .routes(routes!(teams::put_member, teams::remove_member))
        .routes(routes!(audit::list))
        .routes(routes!(audit::export_csv))
        .routes(routes!(usage::get_usage))
}
