//! The `CurrentUser` extractor: a valid bearer access token whose session is still
//! live and whose account is active. The session is checked on every request, so a
//! revoked session or a deactivated account is refused at once, not at token expiry.

use axum::extract::FromRequestParts;
use axum::http::{header, request::Parts};

use crate::AppState;
use crate::db;
use crate::error::{AppError, AppResult};
use crate::store::ids::{SessionId, UserId};
use crate::store::{Store, now_ms};

/// The authenticated caller.
#[derive(Debug, Clone, Copy)]
pub struct CurrentUser {
    pub user_id: UserId,
    pub session_id: SessionId,
}

/// How often `last_seen_at` is written at most, per session.
const LAST_SEEN_RESOLUTION_MS: i64 = 60_000;

#[derive(sqlx::FromRow)]
struct SessionState {
    user_id: UserId,
    revoked_at: Option<i64>,
    expires_at: i64,
    deactivated_at: Option<i64>,
    last_seen_at: i64,
}

/// Check an access token and the session it names.
pub async fn authenticate(state: &AppState, token: &str) -> AppResult<CurrentUser> {
    let invalid = || AppError::Unauthorized("invalid or expired access token".into());
    let claims = state.tokens.verify(token).ok_or_else(invalid)?;
    let current = check_session(&state.store, claims.sid).await?;
    if current.user_id != claims.sub {
        return Err(invalid());
    }
    Ok(current)
}

/// Is this session live and its account active? Touches `last_seen_at`.
pub async fn check_session(store: &Store, session_id: SessionId) -> AppResult<CurrentUser> {
    let row: Option<SessionState> = db!(store.read(), c => sqlx::query_as(
        "SELECT s.user_id, s.revoked_at, s.expires_at, u.deactivated_at, s.last_seen_at
         FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = $1",
    )
    .bind(session_id)
    .fetch_optional(c)
    .await)?;
    let now = now_ms();
    let row = row.ok_or_else(|| AppError::Unauthorized("session has ended".into()))?;
    if row.revoked_at.is_some() || row.expires_at <= now {
        return Err(AppError::Unauthorized("session has ended".into()));
    }
    if row.deactivated_at.is_some() {
        return Err(AppError::Unauthorized("account is deactivated".into()));
    }
    if now - row.last_seen_at > LAST_SEEN_RESOLUTION_MS {
        db!(store.write(), c => sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id = $2")
            .bind(now)
            .bind(session_id)
            .execute(c)
            .await.map(|r| r.rows_affected()))?;
    }
    Ok(CurrentUser {
        user_id: row.user_id,
        session_id,
    })
}

/// The token of an `Authorization: Bearer <token>` header.
pub fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token =
            bearer(parts).ok_or_else(|| AppError::Unauthorized("missing bearer token".into()))?;
        authenticate(state, token).await
    }
}
