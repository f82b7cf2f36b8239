//! REST routes of meetings: create (instant or scheduled), list, read, change, end, the
//! calendar file, and guest tokens.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::records::{self, COLUMNS, Meeting, MeetingRow};
use super::{guests, ics, sfu};
use crate::auth::CurrentUser;
use crate::chat::access::ChannelAccess;
use crate::chat::messages::{self, SendMessage};
use crate::error::{AppError, AppResult, ErrorBody};
use crate::http::client::ClientInfo;
use crate::http::extract::{Json, Path};
use crate::orgs::access::{Role, member_role};
use crate::store::ids::{ChannelId, MeetingId, UserId, WorkspaceId};
use crate::store::now_ms;
use crate::{AppState, db, tx};

/// Longest meeting title, in characters.
const MAX_TITLE: usize = 200;
/// Instant meetings stay in the list this long after they were started.
const INSTANT_LISTED_MS: i64 = 24 * 3600 * 1000;
/// Most invitees or co-hosts of one meeting.
const MAX_PEOPLE: usize = 500;

/// Create a meeting.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct CreateMeeting {
    /// At most 200 characters; default "Meeting".
    pub title: Option<String>,
    /// Start it from this channel or DM: a card with the link is posted there.
    pub channel_id: Option<ChannelId>,
    /// Scheduled start (RFC 3339); omit for an instant meeting.
    pub starts_at: Option<String>,
    /// Planned length in minutes (5–1440).
    pub duration_min: Option<i32>,
    #[serde(default)]
    pub invitee_ids: Vec<UserId>,
    #[serde(default)]
    pub cohost_ids: Vec<UserId>,
    pub allow_guests: Option<bool>,
    pub lobby: Option<bool>,
    /// 2–500; default from the server configuration (50).
    pub max_participants: Option<i32>,
}

/// Change a meeting (hosts, co-hosts and workspace admins). Absent fields stay.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct UpdateMeeting {
    pub title: Option<String>,
    pub starts_at: Option<String>,
    pub duration_min: Option<i32>,
    pub invitee_ids: Option<Vec<UserId>>,
    pub cohost_ids: Option<Vec<UserId>>,
    pub allow_guests: Option<bool>,
    pub lobby: Option<bool>,
    pub locked: Option<bool>,
    pub max_participants: Option<i32>,
}

/// Meetings list.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeetingList {
    pub meetings: Vec<Meeting>,
}

/// What anyone holding the link may see before joining.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublicMeeting {
    pub code: String,
    pub title: String,
    pub workspace_name: String,
    /// Whether people without an account may join.
    pub allow_guests: bool,
    pub ended: bool,
}

/// Join as a guest.
#[derive(Debug, Deserialize, ToSchema)]
pub struct GuestRequest {
    /// Display name, 1–64 characters.
    pub name: String,
}

/// A guest token: authenticate the websocket with it; it admits to this meeting only.
#[derive(Debug, Serialize, ToSchema)]
pub struct GuestToken {
    pub token: String,
    pub expires_at: String,
}

fn title(t: Option<&str>) -> AppResult<String> {
    let t = t.map(str::trim).unwrap_or("");
    if t.chars().count() > MAX_TITLE {
        return Err(AppError::Validation(format!(
            "title must be at most {MAX_TITLE} characters"
        )));
    }
    Ok(if t.is_empty() {
        "Meeting".into()
    } else {
        t.into()
    })
}

fn starts_at(s: Option<&str>) -> AppResult<Option<i64>> {
    s.map(|s| {
        time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
            .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
            .map_err(|_| AppError::Validation("starts_at must be an RFC 3339 time".into()))
    })
    .transpose()
}

fn duration(d: Option<i32>) -> AppResult<Option<i32>> {
    match d {
        Some(d) if !(5..=1440).contains(&d) => Err(AppError::Validation(
            "duration_min must be between 5 and 1440".into(),
        )),
        d => Ok(d),
    }
}

fn max_participants(m: Option<i32>, default: u32) -> AppResult<i32> {
    let m = m.unwrap_or(default as i32);
    if (2..=500).contains(&m) {
        Ok(m)
    } else {
        Err(AppError::Validation(
            "max_participants must be between 2 and 500".into(),
        ))
    }
}

/// Every id must be a member of the workspace.
async fn check_members(state: &AppState, ws: WorkspaceId, ids: &[UserId]) -> AppResult<()> {
    if ids.len() > MAX_PEOPLE {
        return Err(AppError::Validation(format!(
            "at most {MAX_PEOPLE} invitees or co-hosts"
        )));
    }
    for id in ids {
        if member_role(&state.store, ws, *id).await.is_err() {
            return Err(AppError::Validation(format!(
                "{id} is not a member of this workspace"
            )));
        }
    }
    Ok(())
}

async fn replace_people(
    state: &AppState,
    meeting: MeetingId,
    table: &'static str,
    ids: &[UserId],
) -> AppResult<()> {
    let mut unique = ids.to_vec();
    unique.sort();
    unique.dedup();
    let mut tx = state.store.begin().await?;
    tx!(&mut tx, c => sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table} WHERE meeting_id = $1")))
        .bind(meeting)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    for id in &unique {
        tx!(&mut tx, c => sqlx::query(sqlx::AssertSqlSafe(format!("INSERT INTO {table} (meeting_id, user_id) VALUES ($1, $2)")))
            .bind(meeting)
            .bind(*id)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
    }
    tx.commit().await?;
    Ok(())
}

async fn reload(state: &AppState, id: MeetingId) -> AppResult<MeetingRow> {
    let row: Option<MeetingRow> = db!(state.store.read(), c => sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM meetings WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(c)
    .await)?;
    row.ok_or_else(|| AppError::not_found("meeting"))
}

/// Start or schedule a meeting.
#[utoipa::path(post, path = "/api/workspaces/{id}/meetings", tag = "meetings", operation_id = "createMeeting",
    params(("id" = String, Path, description = "workspace id")), request_body = CreateMeeting, security(("bearer" = [])),
    responses((status = 201, body = Meeting), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn create(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(ws): Path<WorkspaceId>,
    Json(body): Json<CreateMeeting>,
) -> AppResult<(StatusCode, Json<Meeting>)> {
    let role = member_role(&state.store, ws, me.user_id).await?;
    if role == Role::Guest {
        return Err(AppError::Forbidden(
            "workspace guests may join meetings but not start them".into(),
        ));
    }
    let creators: String = db!(state.store.read(), c => sqlx::query_scalar(
        "SELECT meeting_creators FROM workspaces WHERE id = $1"
    )
    .bind(ws)
    .fetch_one(c)
    .await)?;
    if creators == "admins" && !role.is_admin() {
        return Err(AppError::Forbidden(
            "only workspace admins may start meetings here".into(),
        ));
    }
    let title = title(body.title.as_deref())?;
    let starts = starts_at(body.starts_at.as_deref())?;
    let duration = duration(body.duration_min)?;
    let max = max_participants(body.max_participants, state.config.meeting_max_participants)?;
    check_members(&state, ws, &body.invitee_ids).await?;
    check_members(&state, ws, &body.cohost_ids).await?;
    if let Some(channel) = body.channel_id {
        let access = ChannelAccess::load(&state.store, channel, me.user_id).await?;
        if access.channel.workspace_id != ws {
            return Err(AppError::not_found("channel"));
        }
        access.require_post()?;
    }
    let id = MeetingId::new();
    let code = records::new_code();
    db!(state.store.write(), c => sqlx::query(
        "INSERT INTO meetings (id, workspace_id, code, title, created_by, channel_id, starts_at, duration_min, allow_guests, lobby, locked, max_participants, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, FALSE, $11, $12)"
    )
    .bind(id)
    .bind(ws)
    .bind(&code)
    .bind(&title)
    .bind(me.user_id)
    .bind(body.channel_id)
    .bind(starts)
    .bind(duration)
    .bind(body.allow_guests.unwrap_or(true))
    .bind(body.lobby.unwrap_or(false))
    .bind(max)
    .bind(now_ms())
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    replace_people(&state, id, "meeting_invitees", &body.invitee_ids).await?;
    replace_people(&state, id, "meeting_hosts", &body.cohost_ids).await?;
    if let Some(channel) = body.channel_id {
        let link = format!("{}/m/{code}", state.public_url());
        let when = match starts {
            Some(ms) => format!(" · {}", crate::store::ids::rfc3339(ms)),
            None => String::new(),
        };
        let card = SendMessage {
            body: format!("📹 [{}]({link}){when}", title.replace(['[', ']'], "")),
            ..SendMessage::default()
        };
        messages::send(&state.chat, me.user_id, channel, card).await?;
    }
    let row = reload(&state, id).await?;
    Ok((
        StatusCode::CREATED,
        Json(records::view(&state.store, &row).await?),
    ))
}

/// Meetings of a workspace I host, co-host or am invited to that have not ended:
/// scheduled ones until their planned end, instant ones for a day; by start time.
#[utoipa::path(get, path = "/api/workspaces/{id}/meetings", tag = "meetings", operation_id = "listMeetings",
    params(("id" = String, Path, description = "workspace id")), security(("bearer" = [])),
    responses((status = 200, body = MeetingList), (status = 404, body = ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn list(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(ws): Path<WorkspaceId>,
) -> AppResult<Json<MeetingList>> {
    member_role(&state.store, ws, me.user_id).await?;
    let rows: Vec<MeetingRow> = db!(state.store.read(), c => sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM meetings m WHERE m.workspace_id = $1 AND m.ended_at IS NULL
         AND CASE WHEN m.starts_at IS NULL THEN m.created_at > $3
                  ELSE m.starts_at + COALESCE(m.duration_min, 60) * 60000 > $4 END AND (
            m.created_by = $2
            OR EXISTS (SELECT 1 FROM meeting_hosts h WHERE h.meeting_id = m.id AND h.user_id = $2)
            OR EXISTS (SELECT 1 FROM meeting_invitees i WHERE i.meeting_id = m.id AND i.user_id = $2))
         ORDER BY COALESCE(m.starts_at, m.created_at) LIMIT 200"
    )))
    .bind(ws)
    .bind(me.user_id)
    .bind(now_ms() - INSTANT_LISTED_MS)
    .bind(now_ms())
    .fetch_all(c)
    .await)?;
    let mut meetings = Vec::with_capacity(rows.len());
    for row in &rows {
        meetings.push(records::view(&state.store, row).await?);
    }
    Ok(Json(MeetingList { meetings }))
}

/// A meeting, for members of its workspace.
#[utoipa::path(get, path = "/api/meetings/{code}", tag = "meetings", operation_id = "getMeeting",
    params(("code" = String, Path, description = "link code")), security(("bearer" = [])),
    responses((status = 200, body = Meeting), (status = 404, body = ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn get_one(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(code): Path<String>,
) -> AppResult<Json<Meeting>> {
    let row = records::by_code(&state.store, &code).await?;
    records::standing(&state.store, &row, me.user_id).await?;
    Ok(Json(records::view(&state.store, &row).await?))
}

/// The title and guest policy behind a link, for the join page (no sign-in needed).
#[utoipa::path(get, path = "/api/meetings/{code}/public", tag = "meetings", operation_id = "getMeetingPublic",
    params(("code" = String, Path, description = "link code")),
    responses((status = 200, body = PublicMeeting), (status = 404, body = ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn public(
    State(state): State<AppState>,
    Path(code): Path<String>,
) -> AppResult<Json<PublicMeeting>> {
    let row = records::by_code(&state.store, &code).await?;
    let (workspace_name, workspace_guests): (String, bool) = db!(state.store.read(), c => sqlx::query_as(
        "SELECT name, meeting_guests_allowed FROM workspaces WHERE id = $1"
    )
    .bind(row.workspace_id)
    .fetch_one(c)
    .await)?;
    Ok(Json(PublicMeeting {
        code: row.code,
        title: row.title,
        workspace_name,
        allow_guests: row.allow_guests && workspace_guests,
        ended: row.ended_at.is_some(),
    }))
}

/// Change a meeting: title, schedule, people, guests, lobby, lock, size.
#[utoipa::path(patch, path = "/api/meetings/{code}", tag = "meetings", operation_id = "updateMeeting",
    params(("code" = String, Path, description = "link code")), request_body = UpdateMeeting, security(("bearer" = [])),
    responses((status = 200, body = Meeting), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn update(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(code): Path<String>,
    Json(body): Json<UpdateMeeting>,
) -> AppResult<Json<Meeting>> {
    let row = records::by_code(&state.store, &code).await?;
    let standing = records::standing(&state.store, &row, me.user_id).await?;
    if !standing.manages {
        return Err(AppError::Forbidden(
            "only the meeting's hosts and workspace admins may change it".into(),
        ));
    }
    if row.ended_at.is_some() {
        return Err(AppError::Conflict("ended: the meeting has ended".into()));
    }
    let title = match &body.title {
        Some(t) => title(Some(t))?,
        None => row.title.clone(),
    };
    let starts = match &body.starts_at {
        Some(s) => starts_at(Some(s))?,
        None => row.starts_at,
    };
    let duration = match body.duration_min {
        Some(d) => duration(Some(d))?,
        None => row.duration_min,
    };
    let max = max_participants(body.max_participants.or(Some(row.max_participants)), 50)?;
    if let Some(ids) = &body.invitee_ids {
        check_members(&state, row.workspace_id, ids).await?;
    }
    if let Some(ids) = &body.cohost_ids {
        check_members(&state, row.workspace_id, ids).await?;
    }
    let allow_guests = body.allow_guests.unwrap_or(row.allow_guests);
    let lobby = body.lobby.unwrap_or(row.lobby);
    let locked = body.locked.unwrap_or(row.locked);
    db!(state.store.write(), c => sqlx::query(
        "UPDATE meetings SET title = $1, starts_at = $2, duration_min = $3, allow_guests = $4, lobby = $5, locked = $6, max_participants = $7 WHERE id = $8"
    )
    .bind(&title)
    .bind(starts)
    .bind(duration)
    .bind(allow_guests)
    .bind(lobby)
    .bind(locked)
    .bind(max)
    .bind(row.id)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    if let Some(ids) = &body.invitee_ids {
        replace_people(&state, row.id, "meeting_invitees", ids).await?;
    }
    if let Some(ids) = &body.cohost_ids {
        replace_people(&state, row.id, "meeting_hosts", ids).await?;
    }
    state
        .meetings
        .sfu
        .send(sfu::Command::Settings {
            meeting: row.id,
            locked,
            lobby,
            max_participants: max as u32,
        })
        .await?;
    let row = reload(&state, row.id).await?;
    Ok(Json(records::view(&state.store, &row).await?))
}

/// End a meeting for everyone; its link stops working.
#[utoipa::path(post, path = "/api/meetings/{code}/end", tag = "meetings", operation_id = "endMeeting",
    params(("code" = String, Path, description = "link code")), security(("bearer" = [])),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn end(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(code): Path<String>,
) -> AppResult<StatusCode> {
    let row = records::by_code(&state.store, &code).await?;
    let standing = records::standing(&state.store, &row, me.user_id).await?;
    if !standing.manages {
        return Err(AppError::Forbidden(
            "only the meeting's hosts and workspace admins may end it".into(),
        ));
    }
    super::mark_ended(&state, row.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The meeting as an iCalendar file.
#[utoipa::path(get, path = "/api/meetings/{code}/ics", tag = "meetings", operation_id = "getMeetingCalendar",
    params(("code" = String, Path, description = "link code")), security(("bearer" = [])),
    responses((status = 200, content_type = "text/calendar", body = String), (status = 404, body = ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn calendar(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(code): Path<String>,
) -> AppResult<Response> {
    let row = records::by_code(&state.store, &code).await?;
    records::standing(&state.store, &row, me.user_id).await?;
    let link = format!("{}/m/{}", state.public_url(), row.code);
    let body = ics::calendar(&row, &link, now_ms());
    let mut response = body.into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/calendar; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!(
        "attachment; filename=\"meeting-{}.ics\"",
        row.code
    )) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(response)
}

/// A guest token for this meeting (no account needed), when guests are allowed.
#[utoipa::path(post, path = "/api/meetings/{code}/guests", tag = "meetings", operation_id = "joinMeetingAsGuest",
    params(("code" = String, Path, description = "link code")), request_body = GuestRequest,
    responses((status = 201, body = GuestToken), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn guest(
    State(state): State<AppState>,
    client: ClientInfo,
    Path(code): Path<String>,
    Json(body): Json<GuestRequest>,
) -> AppResult<(StatusCode, Json<GuestToken>)> {
    state.limits.register(client.ip)?;
    let row = records::by_code(&state.store, &code).await?;
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
        return Err(AppError::Validation(
            "name must be 1 to 64 characters".into(),
        ));
    }
    if row.ended_at.is_some() {
        return Err(AppError::Conflict("ended: the meeting has ended".into()));
    }
    let workspace_guests: bool = db!(state.store.read(), c => sqlx::query_scalar(
        "SELECT meeting_guests_allowed FROM workspaces WHERE id = $1"
    )
    .bind(row.workspace_id)
    .fetch_one(c)
    .await)?;
    if !(row.allow_guests && workspace_guests) {
        return Err(AppError::Forbidden(
            "this meeting does not admit guests: sign in to join".into(),
        ));
    }
    let (token, exp) = guests::issue(&state.tokens, row.id, name)?;
    Ok((
        StatusCode::CREATED,
        Json(GuestToken {
            token,
            expires_at: crate::store::ids::rfc3339(exp * 1000),
        }),
    ))
}
