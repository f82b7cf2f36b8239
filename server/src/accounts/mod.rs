//! Accounts: first-run setup, registration, sign-in, refresh and sign-out, profile,
//! avatar, password changes and admin-issued reset links, and the list of signed-in
//! devices.

use axum::extract::DefaultBodyLimit;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;

pub mod auth_routes;
pub mod lifecycle;
pub mod me_routes;
pub mod model;
pub mod password_resets;
pub mod sessions;
pub mod setup;
pub mod users;

/// Routes of this module, described for OpenAPI. Avatar uploads get their own body limit.
pub fn router(max_avatar_bytes: usize) -> OpenApiRouter<AppState> {
    let (schemas, paths, avatar) = routes!(me_routes::put_avatar, me_routes::delete_avatar);
    OpenApiRouter::new()
        .routes(routes!(setup::status, setup::complete))
        .routes(routes!(auth_routes::login))
        .routes(routes!(auth_routes::refresh))
        .routes(routes!(auth_routes::logout))
        .routes(routes!(auth_routes::logout_all))
        .routes(routes!(auth_routes::register))
        .routes(routes!(auth_routes::open_workspaces))
        .routes(routes!(me_routes::me, me_routes::update_profile))
        .routes((
            schemas,
            paths,
            avatar.layer(DefaultBodyLimit::max(max_avatar_bytes)),
        ))
        .routes(routes!(me_routes::get_avatar))
        .routes(routes!(me_routes::change_password))
        .routes(routes!(password_resets::create))
        .routes(routes!(password_resets::preview, password_resets::complete))
        .routes(routes!(me_routes::list_sessions))
        .routes(routes!(me_routes::revoke_session))
}
