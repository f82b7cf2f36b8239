//! Sessions (one per signed-in device) and their refresh tokens. Each session is a
//! refresh-token family: every refresh rotates the token, and presenting a token that
//! was already used revokes the whole session (a stolen token is then useless).

use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::tokens::{hash_token, random_token};
use crate::error::{AppError, AppResult};
use crate::store::ids::{SessionId, UserId, rfc3339};
use crate::store::{Store, Tx, now_ms};
use crate::{db, tx};

/// A signed-in device as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Session {
    pub id: SessionId,
    /// A readable device name, e.g. "Chrome on Windows".
    pub device: String,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    pub created_at: String,
    pub last_seen_at: String,
    /// True for the session making this request.
    pub current: bool,
}

#[derive(sqlx::FromRow)]
struct SessionRow {
    id: SessionId,
    device: String,
    user_agent: Option<String>,
    ip: Option<String>,
    created_at: i64,
    last_seen_at: i64,
}

/// Where a sign-in came from.
pub struct Origin {
    pub device: String,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
}

/// "Chrome on Windows" from a User-Agent; good enough to tell devices apart.
pub fn device_name(user_agent: Option<&str>) -> String {
    let Some(ua) = user_agent else {
        return "API client".into();
    };
    let browser = [
        ("Edg/", "Edge"),
        ("Firefox/", "Firefox"),
        ("Chrome/", "Chrome"),
        ("Chromium/", "Chromium"),
        ("Safari/", "Safari"),
    ]
    .iter()
    .find(|(needle, _)| ua.contains(needle))
    .map(|(_, name)| *name);
    let os = [
        ("Windows", "Windows"),
        ("iPhone", "iPhone"),
        ("iPad", "iPad"),
        ("Android", "Android"),
        ("Mac OS X", "macOS"),
        ("Linux", "Linux"),
    ]
    .iter()
    .find(|(needle, _)| ua.contains(needle))
    .map(|(_, name)| *name);
    match (browser, os) {
        (Some(b), Some(o)) => format!("{b} on {o}"),
        (Some(b), None) => b.to_owned(),
        (None, Some(o)) => o.to_owned(),
        (None, None) => ua.chars().take(40).collect(),
    }
}

/// Start a session for `user` inside `tx`; returns its id and first refresh token.
pub async fn create_in(
    tx: &mut Tx,
    user: UserId,
    origin: &Origin,
    ttl_ms: i64,
) -> AppResult<(SessionId, String)> {
    let id = SessionId::new();
    let now = now_ms();
    let refresh = random_token();
    let device: String = origin.device.chars().take(80).collect();
    tx!(tx, c => {
        sqlx::query(
            "INSERT INTO sessions (id, user_id, device, user_agent, ip, created_at, last_seen_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $6, $7)",
        )
        .bind(id)
        .bind(user)
        .bind(&device)
        .bind(&origin.user_agent)
        .bind(&origin.ip)
        .bind(now)
        .bind(now + ttl_ms)
        .execute(&mut *c)
        .await?;
        sqlx::query("INSERT INTO refresh_tokens (token_hash, session_id, created_at) VALUES ($1, $2, $3)")
            .bind(hash_token(&refresh))
            .bind(id)
            .bind(now)
            .execute(&mut *c)
            .await?;
        Ok::<_, sqlx::Error>(())
    })?;
    Ok((id, refresh))
}

pub async fn create(
    store: &Store,
    user: UserId,
    origin: &Origin,
    ttl_ms: i64,
) -> AppResult<(SessionId, String)> {
    let mut tx = store.begin().await?;
    let out = create_in(&mut tx, user, origin, ttl_ms).await?;
    tx.commit().await?;
    Ok(out)
}

/// What a refresh produced.
pub enum Rotation {
    /// A new refresh token for the same session.
    Rotated {
        user: UserId,
        session: SessionId,
        refresh: String,
    },
    /// The token had been used before: the session is now revoked.
    ReuseDetected { session: SessionId },
}

#[derive(sqlx::FromRow)]
struct RefreshState {
    session_id: SessionId,
    user_id: UserId,
    used_at: Option<i64>,
    revoked_at: Option<i64>,
    expires_at: i64,
    deactivated_at: Option<i64>,
}

/// Exchange a refresh token for a new one, extending the session by `ttl_ms`.
pub async fn rotate(store: &Store, refresh: &str, ttl_ms: i64) -> AppResult<Rotation> {
    let ended = || AppError::Unauthorized("session has ended; sign in again".into());
    let hash = hash_token(refresh);
    let now = now_ms();
    let mut tx = store.begin().await?;
    let state: Option<RefreshState> = tx!(&mut tx, c => sqlx::query_as(
        "SELECT rt.session_id, s.user_id, rt.used_at, s.revoked_at, s.expires_at, u.deactivated_at
         FROM refresh_tokens rt JOIN sessions s ON s.id = rt.session_id JOIN users u ON u.id = s.user_id
         WHERE rt.token_hash = $1",
    )
    .bind(&hash)
    .fetch_optional(&mut *c)
    .await)?;
    let state = state.ok_or_else(ended)?;
    if state.revoked_at.is_some() || state.expires_at <= now || state.deactivated_at.is_some() {
        return Err(ended());
    }
    // Claim the token; a concurrent refresh that claimed it first makes this a reuse.
    let claimed = tx!(&mut tx, c => sqlx::query("UPDATE refresh_tokens SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL")
        .bind(now)
        .bind(&hash)
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected()))?;
    if state.used_at.is_some() || claimed == 0 {
        tx!(&mut tx, c => sqlx::query("UPDATE sessions SET revoked_at = $1 WHERE id = $2")
            .bind(now)
            .bind(state.session_id)
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected()))?;
        tx.commit().await?;
        return Ok(Rotation::ReuseDetected {
            session: state.session_id,
        });
    }
    let next = random_token();
    tx!(&mut tx, c => {
        sqlx::query("INSERT INTO refresh_tokens (token_hash, session_id, created_at) VALUES ($1, $2, $3)")
            .bind(hash_token(&next))
            .bind(state.session_id)
            .bind(now)
            .execute(&mut *c)
            .await?;
        sqlx::query("UPDATE sessions SET last_seen_at = $1, expires_at = $2 WHERE id = $3")
            .bind(now)
            .bind(now + ttl_ms)
            .bind(state.session_id)
            .execute(&mut *c)
            .await?;
        // Keep only recent used tokens: enough to detect reuse, bounded in size.
        sqlx::query("DELETE FROM refresh_tokens WHERE session_id = $1 AND used_at IS NOT NULL AND used_at < $2")
            .bind(state.session_id)
            .bind(now - ttl_ms)
            .execute(&mut *c)
            .await?;
        Ok::<_, sqlx::Error>(())
    })?;
    tx.commit().await?;
    Ok(Rotation::Rotated {
        user: state.user_id,
        session: state.session_id,
        refresh: next,
    })
}

/// The user and live session a refresh token belongs to.
pub async fn of_refresh_token(
    store: &Store,
    refresh: &str,
) -> AppResult<Option<(UserId, SessionId)>> {
    Ok(db!(store.read(), c => sqlx::query_as(
        "SELECT s.user_id, s.id FROM refresh_tokens rt JOIN sessions s ON s.id = rt.session_id
         WHERE rt.token_hash = $1 AND s.revoked_at IS NULL"
    )
    .bind(hash_token(refresh))
    .fetch_optional(c)
    .await)?)
}

/// Revoke one of `user`'s sessions. False when there is no such live session.
pub async fn revoke(store: &Store, user: UserId, session: SessionId) -> AppResult<bool> {
    let done = db!(store.write(), c => sqlx::query(
        "UPDATE sessions SET revoked_at = $1 WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL"
    )
    .bind(now_ms())
    .bind(session)
    .bind(user)
    .execute(c)
    .await.map(|r| r.rows_affected()))?;
    Ok(done == 1)
}

/// Revoke all of `user`'s live sessions except `keep`; returns the revoked ids.
pub async fn revoke_all(
    store: &Store,
    user: UserId,
    keep: Option<SessionId>,
) -> AppResult<Vec<SessionId>> {
    let ids: Vec<SessionId> = db!(store.write(), c => sqlx::query_scalar(
        "UPDATE sessions SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL AND ($3 IS NULL OR id <> $3)
         RETURNING id"
    )
    .bind(now_ms())
    .bind(user)
    .bind(keep)
    .fetch_all(c)
    .await)?;
    Ok(ids)
}

/// The user's live sessions, most recently seen first.
pub async fn list(store: &Store, user: UserId, current: SessionId) -> AppResult<Vec<Session>> {
    let rows: Vec<SessionRow> = db!(store.read(), c => sqlx::query_as(
        "SELECT id, device, user_agent, ip, created_at, last_seen_at FROM sessions
         WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2 ORDER BY last_seen_at DESC"
    )
    .bind(user)
    .bind(now_ms())
    .fetch_all(c)
    .await)?;
    Ok(rows
        .into_iter()
        .map(|r| Session {
            current: r.id == current,
            id: r.id,
            device: r.device,
            user_agent: r.user_agent,
            ip: r.ip,
            created_at: rfc3339(r.created_at),
            last_seen_at: rfc3339(r.last_seen_at),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::device_name;

    #[test]
    fn device_names_are_readable() {
        let ua = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36";
        assert_eq!(device_name(Some(ua)), "Chrome on Windows");
        assert_eq!(device_name(None), "API client");
    }
}
