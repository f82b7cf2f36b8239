//! Full-text search over every message the caller may read: their channels and DMs,
//! plus public channels of the workspace. Filters by channel, person and date.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use utoipa::{IntoParams, ToSchema};

use crate::auth::CurrentUser;
use crate::chat::load::{self, COLUMNS, MessageRow};
use crate::chat::model::Message;
use crate::error::{AppError, AppResult, ErrorBody};
use crate::http::extract::{Json, Path, Query};
use crate::orgs::Role;
use crate::orgs::access::member_role;
use crate::store::ids::{ChannelId, MessageId, UserId, WorkspaceId};
use crate::store::text_search::body_contains;
use crate::{AppState, db};

/// A search.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// Text to find anywhere in a message (1–200 characters).
    pub q: String,
    /// Only in this channel.
    pub channel_id: Option<ChannelId>,
    /// Only messages from this person.
    pub from: Option<UserId>,
    /// Only messages at or after this time (RFC 3339 or YYYY-MM-DD, UTC).
    pub after: Option<String>,
    /// Only messages before this time (RFC 3339 or YYYY-MM-DD, UTC).
    pub before: Option<String>,
    /// Continue after this result (paging).
    pub cursor: Option<MessageId>,
    /// At most this many results (1–50, default 20).
    #[param(minimum = 1, maximum = 50)]
    pub limit: Option<i64>,
}

/// One hit.
#[derive(Debug, Serialize, ToSchema)]
pub struct SearchHit {
    pub message: Message,
    pub channel_name: Option<String>,
}

/// Search results, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct SearchResults {
    pub hits: Vec<SearchHit>,
    /// Pass as `cursor` for the next page; null when there is none.
    pub next_cursor: Option<MessageId>,
}

fn parse_time(raw: &str, name: &str) -> AppResult<i64> {
    let bad = || {
        AppError::Validation(format!(
            "{name} must be an RFC 3339 time or a date like 2026-11-28"
        ))
    };
    let t = if raw.len() == 10 {
        let date = time::Date::parse(
            raw,
            time::macros::format_description!("[year]-[month]-[day]"),
        )
        .map_err(|_| bad())?;
        date.midnight().assume_utc()
    } else {
        OffsetDateTime::parse(raw, &Rfc3339).map_err(|_| bad())?
    };
    Ok((t.unix_timestamp_nanos() / 1_000_000) as i64)
}

#[derive(sqlx::FromRow)]
struct HitRow {
    #[sqlx(flatten)]
    message: MessageRow,
    channel_name: Option<String>,
}

/// Search messages.
#[utoipa::path(get, path = "/api/workspaces/{ws}/search", tag = "search", operation_id = "searchMessages",
    params(("ws" = String, Path, description = "workspace id"), SearchQuery), security(("bearer" = [])),
    responses((status = 200, body = SearchResults), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn search(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(ws): Path<WorkspaceId>,
    Query(q): Query<SearchQuery>,
) -> AppResult<Json<SearchResults>> {
    let role = member_role(&state.store, ws, me.user_id).await?;
    let text = q.q.trim();
    let len = text.chars().count();
    if len == 0 || len > 200 {
        return Err(AppError::Validation("q must be 1-200 characters".into()));
    }
    let limit = q.limit.unwrap_or(20);
    if !(1..=50).contains(&limit) {
        return Err(AppError::Validation(
            "limit must be between 1 and 50".into(),
        ));
    }
    let after = q
        .after
        .as_deref()
        .map(|s| parse_time(s, "after"))
        .transpose()?;
    let before = q
        .before
        .as_deref()
        .map(|s| parse_time(s, "before"))
        .transpose()?;
    let (condition, pattern) = body_contains(state.store.read(), text, 9);
    let sql = format!(
        "SELECT {COLUMNS}, c.name AS channel_name FROM messages m JOIN channels c ON c.id = m.channel_id
         LEFT JOIN channel_members cm ON cm.channel_id = c.id AND cm.user_id = $2
         WHERE c.workspace_id = $1 AND m.deleted_at IS NULL
           AND (cm.user_id IS NOT NULL OR ($3 AND c.kind IN ('public', 'announcement')))
           AND ($4 IS NULL OR m.channel_id = $4)
           AND ($5 IS NULL OR m.sender_id = $5)
           AND ($6 IS NULL OR m.created_at >= $6)
           AND ($7 IS NULL OR m.created_at < $7)
           AND ($8 IS NULL OR m.id < $8)
           AND {condition}
         ORDER BY m.id DESC LIMIT $10"
    );
    let rows: Vec<HitRow> = db!(state.store.read(), c => sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(ws)
        .bind(me.user_id)
        .bind(role != Role::Guest)
        .bind(q.channel_id)
        .bind(q.from)
        .bind(after)
        .bind(before)
        .bind(q.cursor)
        .bind(&pattern)
        .bind(limit + 1)
        .fetch_all(c)
        .await)?;
    let more = rows.len() as i64 > limit;
    let rows: Vec<HitRow> = rows.into_iter().take(limit as usize).collect();
    let next_cursor = if more {
        rows.last().map(|r| r.message.id)
    } else {
        None
    };
    let names: Vec<Option<String>> = rows.iter().map(|r| r.channel_name.clone()).collect();
    let messages =
        load::hydrate(&state.store, rows.into_iter().map(|r| r.message).collect()).await?;
    Ok(Json(SearchResults {
        hits: messages
            .into_iter()
            .zip(names)
            .map(|(message, channel_name)| SearchHit {
                message,
                channel_name,
            })
            .collect(),
        next_cursor,
    }))
}

#[cfg(test)]
mod tests {
    use super::parse_time;

    #[test]
    fn dates_and_times_parse() {
        assert_eq!(parse_time("1970-01-02", "after").expect("date"), 86_400_000);
        assert_eq!(
            parse_time("1970-01-01T00:00:01Z", "after").expect("time"),
            1000
        );
        assert!(parse_time("yesterday", "after").is_err());
    }
}
