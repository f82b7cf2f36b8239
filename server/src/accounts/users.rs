//! SQL for accounts: create, look up, update profile, password, avatar, deactivation.

use crate::accounts::model::{Email, USER_COLUMNS, UserRow, Username};
use crate::error::{AppError, AppResult};
use crate::store::ids::UserId;
use crate::store::{Store, Tx, now_ms};
use crate::{db, tx};

/// A new account's fields, already validated.
pub struct NewUser {
    pub email: Email,
    pub username: Username,
    pub display_name: String,
    pub password_hash: String,
    pub locale: String,
    pub time_zone: String,
}

/// Insert an account inside `tx`. A taken email or username is a 409.
pub async fn create(tx: &mut Tx, new: NewUser) -> AppResult<UserRow> {
    let id = UserId::new();
    let now = now_ms();
    let row: Result<UserRow, sqlx::Error> = tx!(tx, c => sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO users (id, email, username, display_name, password_hash, locale, time_zone, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {USER_COLUMNS}"
    )))
    .bind(id)
    .bind(&new.email.0)
    .bind(&new.username.0)
    .bind(&new.display_name)
    .bind(&new.password_hash)
    .bind(&new.locale)
    .bind(&new.time_zone)
    .bind(now)
    .fetch_one(c)
    .await);
    row.map_err(|e| match AppError::from(e) {
        AppError::Conflict(_) => {
            AppError::Conflict("that email or username is already taken".into())
        }
        other => other,
    })
}

/// Is this email or username taken? Checked before hashing so a duplicate fails fast.
pub async fn exists(store: &Store, email: &Email, username: &Username) -> AppResult<bool> {
    let n: i64 = db!(store.read(), c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM users WHERE email = $1 OR username = $2"
    )
    .bind(&email.0)
    .bind(&username.0)
    .fetch_one(c)
    .await)?;
    Ok(n > 0)
}

pub async fn get(store: &Store, id: UserId) -> AppResult<UserRow> {
    db!(store.read(), c => sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1")))
        .bind(id)
        .fetch_optional(c)
        .await)?
    .ok_or_else(|| AppError::not_found("user"))
}

/// Find an account by email (when `login` contains `@`) or username, with its hash.
pub async fn find_for_login(store: &Store, login: &str) -> AppResult<Option<(UserRow, String)>> {
    let login = login.trim().to_lowercase();
    let column = if login.contains('@') {
        "email"
    } else {
        "username"
    };
    #[derive(sqlx::FromRow)]
    struct Row {
        #[sqlx(flatten)]
        user: UserRow,
        password_hash: String,
    }
    let row: Option<Row> = db!(store.read(), c => sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {USER_COLUMNS}, password_hash FROM users WHERE {column} = $1"
    )))
    .bind(&login)
    .fetch_optional(c)
    .await)?;
    Ok(row.map(|r| (r.user, r.password_hash)))
}

pub async fn password_hash(store: &Store, id: UserId) -> AppResult<String> {
    db!(store.read(), c => sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
        .bind(id)
        .fetch_optional(c)
        .await)?
    .ok_or_else(|| AppError::not_found("user"))
}

pub async fn set_password_hash(store: &Store, id: UserId, hash: &str) -> AppResult<()> {
    db!(store.write(), c => sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
        .bind(hash)
        .bind(id)
        .execute(c)
        .await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Profile fields to change; `None` leaves a field as it is.
#[derive(Default)]
pub struct ProfileChange {
    pub display_name: Option<String>,
    pub locale: Option<String>,
    pub time_zone: Option<String>,
    pub share_read_receipts: Option<bool>,
}

pub async fn update_profile(
    store: &Store,
    id: UserId,
    change: ProfileChange,
) -> AppResult<UserRow> {
    db!(store.write(), c => sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE users SET display_name = COALESCE($1, display_name), locale = COALESCE($2, locale),
         time_zone = COALESCE($3, time_zone), share_read_receipts = COALESCE($4, share_read_receipts)
         WHERE id = $5 RETURNING {USER_COLUMNS}"
    )))
    .bind(change.display_name)
    .bind(change.locale)
    .bind(change.time_zone)
    .bind(change.share_read_receipts)
    .bind(id)
    .fetch_optional(c)
    .await)?
    .ok_or_else(|| AppError::not_found("user"))
}

/// Store (or with `None`, remove) the avatar PNG.
pub async fn set_avatar(store: &Store, id: UserId, png: Option<Vec<u8>>) -> AppResult<UserRow> {
    let mut tx = store.begin().await?;
    let stamp = png.as_ref().map(|_| now_ms());
    tx!(&mut tx, c => {
        sqlx::query("DELETE FROM user_avatars WHERE user_id = $1").bind(id).execute(&mut *c).await?;
        if let Some(png) = &png {
            sqlx::query("INSERT INTO user_avatars (user_id, data) VALUES ($1, $2)")
                .bind(id)
                .bind(png)
                .execute(&mut *c)
                .await?;
        }
        sqlx::query("UPDATE users SET avatar_updated_at = $1 WHERE id = $2")
            .bind(stamp)
            .bind(id)
            .execute(&mut *c)
            .await?;
        Ok::<_, sqlx::Error>(())
    })?;
    tx.commit().await?;
    get(store, id).await
}

pub async fn avatar(store: &Store, id: UserId) -> AppResult<Vec<u8>> {
    db!(store.read(), c => sqlx::query_scalar("SELECT data FROM user_avatars WHERE user_id = $1")
        .bind(id)
        .fetch_optional(c)
        .await)?
    .ok_or_else(|| AppError::not_found("avatar"))
}

/// Do two users share at least one workspace? (Profiles are visible only then.)
pub async fn share_a_workspace(store: &Store, a: UserId, b: UserId) -> AppResult<bool> {
    if a == b {
        return Ok(true);
    }
    let n: i64 = db!(store.read(), c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM memberships m1 JOIN memberships m2 ON m1.workspace_id = m2.workspace_id
         WHERE m1.user_id = $1 AND m2.user_id = $2"
    )
    .bind(a)
    .bind(b)
    .fetch_one(c)
    .await)?;
    Ok(n > 0)
}

/// Set or clear `deactivated_at`. Returns false when the user does not exist.
pub async fn set_deactivated(store: &Store, id: UserId, deactivated: bool) -> AppResult<bool> {
    let stamp = deactivated.then(now_ms);
    let done = db!(store.write(), c => sqlx::query("UPDATE users SET deactivated_at = $1 WHERE id = $2")
        .bind(stamp)
        .bind(id)
        .execute(c)
        .await.map(|r| r.rows_affected()))?;
    Ok(done == 1)
}
