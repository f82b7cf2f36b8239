//! Usage of a workspace per UTC day: active people, messages and meeting minutes.

use std::collections::BTreeMap;

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::CurrentUser;
use crate::error::{AppError, AppResult, ErrorBody};
use crate::http::extract::{Json, Path, Query};
use crate::orgs::access::require_admin;
use crate::store::ids::WorkspaceId;
use crate::store::{Store, now_ms};
use crate::{AppState, db};

const DAY_MS: i64 = 86_400_000;

/// One UTC day of a workspace.
#[derive(Debug, Serialize, ToSchema)]
pub struct UsageDay {
    /// The UTC date, `YYYY-MM-DD`.
    pub date: String,
    /// Distinct people who posted a message or signed in that day.
    pub active_people: i64,
    /// Messages posted that day (replies included).
    pub messages: i64,
    /// Minutes people spent in the workspace's meetings that day, summed over attendees.
    pub meeting_minutes: i64,
}

/// Usage over the last days, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct Usage {
    pub days: Vec<UsageDay>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UsageQuery {
    /// How many days back, today included (1–366, default 30).
    #[param(minimum = 1, maximum = 366)]
    pub days: Option<i64>,
}

fn date_of(day: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(day * 86_400)
        .map(|t| t.date().to_string())
        .unwrap_or_default()
}

/// Usage of `ws` for the `days` UTC days ending today (as of `now` in ms).
pub async fn usage(store: &Store, ws: WorkspaceId, days: i64, now: i64) -> AppResult<Usage> {
    let today = now.div_euclid(DAY_MS);
    let first = today - days + 1;
    let start = first * DAY_MS;
    let messages: Vec<(i64, i64)> = db!(store.read(), c => sqlx::query_as(
        "SELECT m.created_at / 86400000 AS day, COUNT(*) FROM messages m JOIN channels ch ON ch.id = m.channel_id
         WHERE ch.workspace_id = $1 AND m.created_at >= $2 GROUP BY m.created_at / 86400000"
    )
    .bind(ws)
    .bind(start)
    .fetch_all(c)
    .await)?;
    let active: Vec<(i64, i64)> = db!(store.read(), c => sqlx::query_as(
        "SELECT day, COUNT(DISTINCT user_id) FROM (
             SELECT m.created_at / 86400000 AS day, m.sender_id AS user_id
             FROM messages m JOIN channels ch ON ch.id = m.channel_id
             WHERE ch.workspace_id = $1 AND m.created_at >= $2 AND m.sender_id IS NOT NULL
             UNION
             SELECT a.created_at / 86400000 AS day, a.actor_id AS user_id FROM audit_log a
             WHERE a.workspace_id = $1 AND a.action = 'auth.login' AND a.created_at >= $2 AND a.actor_id IS NOT NULL
         ) t GROUP BY day"
    )
    .bind(ws)
    .bind(start)
    .fetch_all(c)
    .await)?;
    // An attendance still open counts until the meeting ended, or until now.
    let spans: Vec<(i64, i64)> = db!(store.read(), c => sqlx::query_as(
        "SELECT a.joined_at, COALESCE(a.left_at, m.ended_at, $3) FROM meeting_attendance a
         JOIN meetings m ON m.id = a.meeting_id
         WHERE m.workspace_id = $1 AND COALESCE(a.left_at, m.ended_at, $3) > $2"
    )
    .bind(ws)
    .bind(start)
    .bind(now)
    .fetch_all(c)
    .await)?;
    let mut meeting_ms: BTreeMap<i64, i64> = BTreeMap::new();
    for (joined, left) in spans {
        let (mut from, to) = (joined.max(start), left.min(now));
        while from < to {
            let day = from.div_euclid(DAY_MS);
            let end = ((day + 1) * DAY_MS).min(to);
            *meeting_ms.entry(day).or_default() += end - from;
            from = end;
        }
    }
    let messages: BTreeMap<i64, i64> = messages.into_iter().collect();
    let active: BTreeMap<i64, i64> = active.into_iter().collect();
    Ok(Usage {
        days: (first..=today)
            .map(|day| UsageDay {
                date: date_of(day),
                active_people: active.get(&day).copied().unwrap_or(0),
                messages: messages.get(&day).copied().unwrap_or(0),
                meeting_minutes: (meeting_ms.get(&day).copied().unwrap_or(0) + 30_000) / 60_000,
            })
            .collect(),
    })
}

/// Usage of a workspace per UTC day, oldest first (admins and owners).
#[utoipa::path(get, path = "/api/workspaces/{ws}/usage", tag = "workspaces", operation_id = "workspaceUsage",
    params(("ws" = String, Path, description = "workspace id"), UsageQuery), security(("bearer" = [])),
    responses((status = 200, body = Usage), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn get_usage(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(ws): Path<WorkspaceId>,
    Query(q): Query<UsageQuery>,
) -> AppResult<Json<Usage>> {
    require_admin(&state.store, ws, me.user_id).await?;
    let days = q.days.unwrap_or(30);
    if !(1..=366).contains(&days) {
        return Err(AppError::Validation(
            "days must be between 1 and 366".into(),
        ));
    }
    Ok(Json(usage(&state.store, ws, days, now_ms()).await?))
}
