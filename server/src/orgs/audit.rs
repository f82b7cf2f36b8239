//! The audit log: who did what to whom, when and from where. Written for every change
//! an admin or owner makes and for sign-ins; read by admins of the workspace.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::CurrentUser;
use crate::error::{AppError, AppResult};
use crate::http::extract::{Json, Path, Query};
use crate::orgs::access::require_admin;
use crate::store::ids::{AuditId, UserId, WorkspaceId, rfc3339};
use crate::store::{Store, Tx, now_ms};
use crate::{AppState, db, tx};

/// One event to record.
pub struct Event<'a> {
    /// The workspace it concerns; `None` for instance-level events (unknown-account sign-in).
    pub workspace: Option<WorkspaceId>,
    pub actor: Option<UserId>,
    /// Dotted verb, e.g. `member.role_changed`.
    pub action: &'a str,
    pub target_type: Option<&'a str>,
    pub target_id: Option<String>,
    pub detail: serde_json::Value,
    pub ip: Option<String>,
}

const INSERT: &str = "INSERT INTO audit_log (id, workspace_id, actor_id, action, target_type, target_id, detail, ip, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";

/// Record an event inside `tx`, so it lands with the change it describes.
pub async fn record_in(tx: &mut Tx, e: Event<'_>) -> AppResult<()> {
    let detail = e.detail.to_string();
    tx!(tx, c => sqlx::query(INSERT)
        .bind(AuditId::new())
        .bind(e.workspace)
        .bind(e.actor)
        .bind(e.action)
        .bind(e.target_type)
        .bind(&e.target_id)
        .bind(&detail)
        .bind(&e.ip)
        .bind(now_ms())
        .execute(&mut *c)
        .await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Record an event on its own.
pub async fn record(store: &Store, e: Event<'_>) -> AppResult<()> {
    let mut tx = store.begin().await?;
    record_in(&mut tx, e).await?;
    tx.commit().await?;
    Ok(())
}

/// Record `e` once in each workspace `user` belongs to (or once instance-wide when none),
/// so each workspace's admins see sign-ins of their own people.
pub async fn record_for_user_workspaces(
    store: &Store,
    user: UserId,
    e: Event<'_>,
) -> AppResult<()> {
    let workspaces: Vec<WorkspaceId> = db!(store.read(), c => sqlx::query_scalar(
        "SELECT workspace_id FROM memberships WHERE user_id = $1"
    )
    .bind(user)
    .fetch_all(c)
    .await)?;
    let mut tx = store.begin().await?;
    if workspaces.is_empty() {
        record_in(&mut tx, e).await?;
    } else {
        for ws in workspaces {
            record_in(
                &mut tx,
                Event {
                    workspace: Some(ws),
                    target_id: e.target_id.clone(),
                    detail: e.detail.clone(),
                    ip: e.ip.clone(),
                    ..e
                },
            )
            .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// An audit entry as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntry {
    pub id: AuditId,
    pub actor_id: Option<UserId>,
    pub actor_name: Option<String>,
    pub action: String,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    /// Event-specific details.
    pub detail: serde_json::Value,
    pub ip: Option<String>,
    pub created_at: String,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: AuditId,
    actor_id: Option<UserId>,
    actor_name: Option<String>,
    action: String,
    target_type: Option<String>,
    target_id: Option<String>,
    detail: String,
    ip: Option<String>,
    created_at: i64,
}

/// Filters for the audit log.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only events by this user.
    pub actor: Option<UserId>,
    /// Only this action, or actions starting with it when it ends in `.` (e.g. `member.`).
    pub action: Option<String>,
    /// Only events at or after this time: a UTC date (`2026-01-31`) or an RFC 3339 time.
    pub from: Option<String>,
    /// Only events up to this time: a UTC date (the whole day counts) or an RFC 3339 time (exclusive).
    pub to: Option<String>,
    /// Only events older than this entry id (paging).
    pub before: Option<AuditId>,
    /// At most this many entries (1–200, default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
}

/// Filters for the CSV export: the JSON route's, without paging.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditExportQuery {
    /// Only events by this user.
    pub actor: Option<UserId>,
    /// Only this action, or actions starting with it when it ends in `.` (e.g. `member.`).
    pub action: Option<String>,
    /// Only events at or after this time: a UTC date (`2026-01-31`) or an RFC 3339 time.
    pub from: Option<String>,
    /// Only events up to this time: a UTC date (the whole day counts) or an RFC 3339 time (exclusive).
    pub to: Option<String>,
}

/// Validated filters, shared by the JSON list and the CSV export.
struct Filters {
    actor: Option<UserId>,
    exact: Option<String>,
    prefix: Option<String>,
    from_ms: Option<i64>,
    to_ms: Option<i64>,
}

/// Milliseconds for a bound given as a UTC date or an RFC 3339 time. A date as an
/// upper bound means the end of that day.
fn parse_bound(raw: &str, name: &str, upper: bool) -> AppResult<i64> {
    use time::format_description::well_known::Rfc3339;
    let bad = || {
        AppError::Validation(format!(
            "{name} must be a date (YYYY-MM-DD) or an RFC 3339 time"
        ))
    };
    let raw = raw.trim();
    if raw.len() > 40 {
        return Err(bad());
    }
    let t = if let Ok(t) = time::OffsetDateTime::parse(raw, &Rfc3339) {
        t
    } else {
        let d = time::Date::parse(
            raw,
            time::macros::format_description!("[year]-[month]-[day]"),
        )
        .map_err(|_| bad())?;
        let d = if upper {
            d.next_day().ok_or_else(bad)?
        } else {
            d
        };
        d.midnight().assume_utc()
    };
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).map_err(|_| bad())
}

fn filters(
    actor: Option<UserId>,
    action: Option<String>,
    from: Option<&str>,
    to: Option<&str>,
) -> AppResult<Filters> {
    let action = action.unwrap_or_default();
    if action.len() > 100 {
        return Err(AppError::Validation("action filter is too long".into()));
    }
    let (exact, prefix) = if action.is_empty() {
        (None, None)
    } else if action.ends_with('.') {
        (None, Some(format!("{action}%")))
    } else {
        (Some(action), None)
    };
    let from_ms = from.map(|f| parse_bound(f, "from", false)).transpose()?;
    let to_ms = to.map(|t| parse_bound(t, "to", true)).transpose()?;
    Ok(Filters {
        actor,
        exact,
        prefix,
        from_ms,
        to_ms,
    })
}

/// One page of entries matching `f`, newest first.
async fn fetch(
    store: &Store,
    ws: WorkspaceId,
    f: &Filters,
    before: Option<AuditId>,
    limit: i64,
) -> AppResult<Vec<AuditEntry>> {
    let rows: Vec<Row> = db!(store.read(), c => sqlx::query_as(
        "SELECT a.id, a.actor_id, u.display_name AS actor_name, a.action, a.target_type, a.target_id, a.detail, a.ip, a.created_at
         FROM audit_log a LEFT JOIN users u ON u.id = a.actor_id
         WHERE a.workspace_id = $1
           AND ($2 IS NULL OR a.actor_id = $2)
           AND ($3 IS NULL OR a.action = $3)
           AND ($4 IS NULL OR a.action LIKE $4)
           AND ($5 IS NULL OR a.id < $5)
           AND ($6 IS NULL OR a.created_at >= $6)
           AND ($7 IS NULL OR a.created_at < $7)
         ORDER BY a.id DESC LIMIT $8"
    )
    .bind(ws)
    .bind(f.actor)
    .bind(&f.exact)
    .bind(&f.prefix)
    .bind(before)
    .bind(f.from_ms)
    .bind(f.to_ms)
    .bind(limit)
    .fetch_all(c)
    .await)?;
    Ok(rows
        .into_iter()
        .map(|r| AuditEntry {
            id: r.id,
            actor_id: r.actor_id,
            actor_name: r.actor_name,
            action: r.action,
            target_type: r.target_type,
            target_id: r.target_id,
            detail: serde_json::from_str(&r.detail).unwrap_or(serde_json::Value::Null),
            ip: r.ip,
            created_at: rfc3339(r.created_at),
        })
        .collect())
}

/// List a workspace's audit log, newest first (admins and owners).
#[utoipa::path(get, path = "/api/workspaces/{ws}/audit", tag = "audit", operation_id = "listAudit",
    params(("ws" = String, Path, description = "workspace id"), AuditQuery),
    security(("bearer" = [])),
    responses((status = 200, body = Vec<AuditEntry>), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn list(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(ws): Path<WorkspaceId>,
    Query(q): Query<AuditQuery>,
) -> AppResult<Json<Vec<AuditEntry>>> {
    require_admin(&state.store, ws, me.user_id).await?;
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(AppError::Validation(
            "limit must be between 1 and 200".into(),
        ));
    }
    let f = filters(q.actor, q.action, q.from.as_deref(), q.to.as_deref())?;
    Ok(Json(fetch(&state.store, ws, &f, q.before, limit).await?))
}

/// A CSV cell: quoted when it holds a comma, quote or line break; a cell a spreadsheet
/// would run as a formula (starting with `=`, `+`, `-`, `@`, tab or carriage return)
/// gets a leading `'`.
pub fn csv_cell(raw: &str) -> String {
    let mut v = String::with_capacity(raw.len() + 2);
    if raw.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        v.push('\'');
    }
    v.push_str(raw);
    if v.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v
    }
}

fn csv_row(out: &mut String, cells: &[&str]) {
    for (i, c) in cells.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&csv_cell(c));
    }
    out.push_str("\r\n");
}

/// Download a workspace's audit log as CSV, newest first (admins and owners).
#[utoipa::path(get, path = "/api/workspaces/{ws}/audit.csv", tag = "audit", operation_id = "exportAuditCsv",
    params(("ws" = String, Path, description = "workspace id"), AuditExportQuery),
    security(("bearer" = [])),
    responses((status = 200, content_type = "text/csv", body = String, description = "a header row, then one row per entry"),
        (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn export_csv(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(ws): Path<WorkspaceId>,
    Query(q): Query<AuditExportQuery>,
) -> AppResult<axum::response::Response> {
    use axum::http::header;
    use axum::response::IntoResponse;
    require_admin(&state.store, ws, me.user_id).await?;
    let f = filters(q.actor, q.action, q.from.as_deref(), q.to.as_deref())?;
    let mut out = String::new();
    csv_row(
        &mut out,
        &[
            "time",
            "actor_id",
            "actor_name",
            "action",
            "target_type",
            "target_id",
            "detail",
            "ip",
            "id",
        ],
    );
    let mut before = None;
    loop {
        let page = fetch(&state.store, ws, &f, before, 1000).await?;
        for e in &page {
            let actor_id = e.actor_id.map(|a| a.to_string()).unwrap_or_default();
            let detail = e.detail.to_string();
            let id = e.id.to_string();
            csv_row(
                &mut out,
                &[
                    &e.created_at,
                    &actor_id,
                    e.actor_name.as_deref().unwrap_or(""),
                    &e.action,
                    e.target_type.as_deref().unwrap_or(""),
                    e.target_id.as_deref().unwrap_or(""),
                    &detail,
                    e.ip.as_deref().unwrap_or(""),
                    &id,
                ],
            );
        }
        match page.last() {
            Some(last) if page.len() == 1000 => before = Some(last.id),
            _ => break,
        }
    }
    let name = format!("audit-{}.csv", time::OffsetDateTime::now_utc().date());
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        out,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::csv_cell;

    #[test]
    fn cells_are_quoted_and_formulas_defused() {
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("two\nlines"), "\"two\nlines\"");
        assert_eq!(csv_cell("=1+2"), "'=1+2");
        assert_eq!(csv_cell("+1"), "'+1");
        assert_eq!(csv_cell("-1"), "'-1");
        assert_eq!(csv_cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(
            csv_cell("=HYPERLINK(\"x\",\"y\")"),
            "\"'=HYPERLINK(\"\"x\"\",\"\"y\"\")\""
        );
        assert_eq!(csv_cell(""), "");
    }
}
