//! Ending access: deactivating an account or revoking sessions ends the sessions in
//! the database and the live connections on the realtime hub, at once.

use crate::AppState;
use crate::accounts::{sessions, users};
use crate::error::{AppError, AppResult};
use crate::realtime::bus::Delivery;
use crate::store::ids::{SessionId, UserId};

/// Activate or deactivate an account. Deactivation revokes every session and closes
/// every live connection.
pub async fn set_active(state: &AppState, user: UserId, active: bool) -> AppResult<()> {
    if !users::set_deactivated(&state.store, user, !active).await? {
        return Err(AppError::not_found("user"));
    }
    if !active {
        sessions::revoke_all(&state.store, user, None).await?;
        state.bus.publish(Delivery::DisconnectUser { user }).await;
    }
    Ok(())
}

/// Revoke all of `user`'s sessions but `keep`, and close their connections.
pub async fn end_sessions(
    state: &AppState,
    user: UserId,
    keep: Option<SessionId>,
) -> AppResult<()> {
    for session in sessions::revoke_all(&state.store, user, keep).await? {
        state
            .bus
            .publish(Delivery::DisconnectSession { session })
            .await;
    }
    Ok(())
}
