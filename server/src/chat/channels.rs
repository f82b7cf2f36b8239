//! Channels and direct messages: create, list mine with unread and mention counts,
//! browse public ones, rename, topic, archive, join, leave, members, notifications.

use std::collections::HashMap;

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::CurrentUser;
use crate::chat::Chat;
use crate::chat::access::{ChannelAccess, ChannelRow};
use crate::chat::events::{self, Event};
use crate::chat::load::{placeholders, user_summaries};
use crate::chat::model::{Channel, ChannelKind, NotifyLevel, UserSummary};
use crate::chat::team_channels;
use crate::error::{AppError, AppResult, ErrorBody};
use crate::http::client::ClientInfo;
use crate::http::extract::{Json, Path};
use crate::orgs::Role;
use crate::orgs::access::member_role;
use crate::orgs::audit::{self, Event as AuditEvent};
use crate::realtime::bus::Delivery;
use crate::store::ids::{ChannelId, TeamId, UserId, WorkspaceId, rfc3339};
use crate::store::{Store, Tx, now_ms};
use crate::{AppState, db, tx};

/// Most people in a group DM.
pub const MAX_GROUP_MEMBERS: usize = 50;

#[derive(sqlx::FromRow)]
struct ListRow {
    #[sqlx(flatten)]
    channel: ChannelRow,
    role: Option<String>,
    notify: Option<String>,
    last_read_seq: Option<i64>,
    member_count: i64,
    unread_count: i64,
    mention_count: i64,
}

const LIST_SELECT: &str = "SELECT c.id, c.workspace_id, c.kind, c.name, c.topic, c.team_id, c.created_at, c.archived_at,
        c.last_seq, c.last_message_at, cm.role, cm.notify, cm.last_read_seq,
        (SELECT COUNT(*) FROM channel_members x WHERE x.channel_id = c.id) AS member_count,
        (SELECT COUNT(*) FROM messages m WHERE m.channel_id = c.id AND m.seq > COALESCE(cm.last_read_seq, c.last_seq)
            AND m.thread_root_id IS NULL AND m.deleted_at IS NULL
            AND (m.sender_id IS NULL OR m.sender_id <> $2)) AS unread_count,
        (SELECT COUNT(*) FROM messages m WHERE m.channel_id = c.id AND m.seq > COALESCE(cm.last_read_seq, c.last_seq)
            AND m.deleted_at IS NULL AND (m.sender_id IS NULL OR m.sender_id <> $2)
            AND (m.mention_all OR EXISTS (SELECT 1 FROM message_mentions mm WHERE mm.message_id = m.id AND mm.user_id = $2))
        ) AS mention_count
    FROM channels c LEFT JOIN channel_members cm ON cm.channel_id = c.id AND cm.user_id = $2";

/// Are read receipts tracked in a channel of this kind and size, under this policy?
pub fn receipts_enabled(chat: &Chat, kind: ChannelKind, member_count: i64, policy: &str) -> bool {
    policy != "off" && (kind.is_direct() || member_count <= chat.settings.receipts_max_members)
}

pub async fn receipts_policy(store: &Store, ws: WorkspaceId) -> AppResult<String> {
    Ok(db!(store.read(), c => sqlx::query_scalar("SELECT receipts_policy FROM workspaces WHERE id = $1")
        .bind(ws)
        .fetch_optional(c)
        .await)?
    .unwrap_or_else(|| "on".into()))
}

async fn to_channels(chat: &Chat, user: UserId, rows: Vec<ListRow>) -> AppResult<Vec<Channel>> {
    let direct: Vec<ChannelId> = rows
        .iter()
        .filter(|r| r.channel.kind == "dm" || r.channel.kind == "group")
        .map(|r| r.channel.id)
        .collect();
    let mut peers: HashMap<ChannelId, Vec<UserId>> = HashMap::new();
    for chunk in direct.chunks(500) {
        let sql = format!(
            "SELECT channel_id, user_id FROM channel_members WHERE channel_id IN ({})",
            placeholders(1, chunk.len())
        );
        let pairs: Vec<(ChannelId, UserId)> = db!(chat.store.read(), c => {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
            for id in chunk {
                q = q.bind(*id);
            }
            q.fetch_all(c).await
        })?;
        for (c, u) in pairs {
            if u != user {
                peers.entry(c).or_default().push(u);
            }
        }
    }
    let everyone: Vec<UserId> = peers.values().flatten().copied().collect();
    let summaries = user_summaries(&chat.store, &everyone).await?;
    let mut policies: HashMap<WorkspaceId, String> = HashMap::new();
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let kind = ChannelKind::parse(&r.channel.kind)?;
        let ws = r.channel.workspace_id;
        let policy = match policies.entry(ws) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(receipts_policy(&chat.store, ws).await?)
            }
        }
        .as_str();
        let peer_list: Vec<UserSummary> = peers
            .remove(&r.channel.id)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|u| summaries.get(&u).cloned())
            .collect();
        out.push(Channel {
            id: r.channel.id,
            workspace_id: ws,
            kind,
            name: r.channel.name,
            topic: r.channel.topic,
            team_id: r.channel.team_id,
            archived: r.channel.archived_at.is_some(),
            created_at: rfc3339(r.channel.created_at),
            last_seq: r.channel.last_seq,
            last_message_at: r.channel.last_message_at.map(rfc3339),
            member_count: r.member_count,
            is_member: r.role.is_some(),
            my_role: r.role,
            notify: NotifyLevel::parse(r.notify.as_deref().unwrap_or("all")),
            last_read_seq: r.last_read_seq.unwrap_or(r.channel.last_seq),
            unread_count: if r.last_read_seq.is_some() {
                r.unread_count
            } else {
                0
            },
            mention_count: if r.last_read_seq.is_some() {
                r.mention_count
            } else {
                0
            },
            receipts: receipts_enabled(chat, kind, r.member_count, policy),
            peers: peer_list,
        });
    }
    Ok(out)
}

/// One channel as `user` sees it.
pub async fn channel_for(chat: &Chat, user: UserId, channel: ChannelId) -> AppResult<Channel> {
    let rows: Vec<ListRow> = db!(chat.store.read(), c => sqlx::query_as(sqlx::AssertSqlSafe(format!("{LIST_SELECT} WHERE c.id = $1")))
        .bind(channel)
        .bind(user)
        .fetch_all(c)
        .await)?;
    to_channels(chat, user, rows)
        .await?
        .pop()
        .ok_or_else(|| AppError::not_found("channel"))
}

/// List my channels and DMs in a workspace, with unread and mention counts.
#[utoipa::path(get, path = "/api/workspaces/{ws}/channels", tag = "channels", operation_id = "listMyChannels",
    params(("ws" = String, Path, description = "workspace id")), security(("bearer" = [])),
    responses((status = 200, body = Vec<Channel>), (status = 404, body = ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn list_mine(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(ws): Path<WorkspaceId>,
) -> AppResult<Json<Vec<Channel>>> {
    member_role(&state.store, ws, me.user_id).await?;
    let rows: Vec<ListRow> = db!(state.store.read(), c => sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{LIST_SELECT} WHERE c.workspace_id = $1 AND cm.user_id IS NOT NULL ORDER BY COALESCE(c.last_message_at, c.created_at) DESC"
    )))
    .bind(ws)
    .bind(me.user_id)
    .fetch_all(c)
    .await)?;
    Ok(Json(to_channels(&state.chat, me.user_id, rows).await?))
}

/// Public and announcement channels of a workspace, joined or not (not for guests).
#[utoipa::path(get, path = "/api/workspaces/{ws}/channels/browse", tag = "channels", operation_id = "browseChannels",
    params(("ws" = String, Path, description = "workspace id")), security(("bearer" = [])),
    responses((status = 200, body = Vec<Channel>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn browse(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(ws): Path<WorkspaceId>,
) -> AppResult<Json<Vec<Channel>>> {
    if member_role(&state.store, ws, me.user_id).await? == Role::Guest {
        return Err(AppError::Forbidden("guests cannot browse channels".into()));
    }
    let rows: Vec<ListRow> = db!(state.store.read(), c => sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{LIST_SELECT} WHERE c.workspace_id = $1 AND c.kind IN ('public', 'announcement') ORDER BY c.name LIMIT 1000"
    )))
    .bind(ws)
    .bind(me.user_id)
    .fetch_all(c)
    .await)?;
    Ok(Json(to_channels(&state.chat, me.user_id, rows).await?))
}

/// Get one channel.
#[utoipa::path(get, path = "/api/channels/{id}", tag = "channels", operation_id = "getChannel",
    params(("id" = String, Path, description = "channel id")), security(("bearer" = [])),
    responses((status = 200, body = Channel), (status = 404, body = ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn get_one(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(id): Path<ChannelId>,
) -> AppResult<Json<Channel>> {
    ChannelAccess::load(&state.store, id, me.user_id).await?;
    Ok(Json(channel_for(&state.chat, me.user_id, id).await?))
}

fn parse_name(raw: &str) -> AppResult<String> {
    let n = raw.trim().trim_start_matches('#').trim();
    let len = n.chars().count();
    if len == 0 || len > 80 || n.chars().any(char::is_control) {
        return Err(AppError::Validation(
            "channel name must be 1-80 characters".into(),
        ));
    }
    Ok(n.to_owned())
}

fn parse_topic(raw: &str) -> AppResult<String> {
    let t = raw.trim();
    if t.chars().count() > 250 || t.chars().any(|c| c.is_control() && c != '\n') {
        return Err(AppError::Validation(
            "topic must be at most 250 characters".into(),
        ));
    }
    Ok(t.to_owned())
}

async fn name_taken(
    store: &Store,
    ws: WorkspaceId,
    name: &str,
    except: Option<ChannelId>,
) -> AppResult<bool> {
    let n: i64 = db!(store.read(), c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM channels WHERE workspace_id = $1 AND LOWER(name) = LOWER($2) AND ($3 IS NULL OR id <> $3)"
    )
    .bind(ws)
    .bind(name)
    .bind(except)
    .fetch_one(c)
    .await)?;
    Ok(n > 0)
}

/// Check that every user is an active member of the workspace.
async fn require_workspace_members(
    store: &Store,
    ws: WorkspaceId,
    users: &[UserId],
) -> AppResult<()> {
    if users.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "SELECT COUNT(*) FROM memberships m JOIN users u ON u.id = m.user_id
         WHERE m.workspace_id = $1 AND u.deactivated_at IS NULL AND m.user_id IN ({})",
        placeholders(2, users.len())
    );
    let n: i64 = db!(store.read(), c => {
        let mut q = sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).bind(ws);
        for u in users {
            q = q.bind(*u);
        }
        q.fetch_one(c).await
    })?;
    if n as usize != users.len() {
        return Err(AppError::Validation(
            "every person must be an active member of this workspace".into(),
        ));
    }
    Ok(())
}

/// Add members inside `tx` (existing members are left as they are).
pub async fn add_members_in(
    tx: &mut Tx,
    channel: ChannelId,
    users: &[UserId],
    role: &str,
) -> AppResult<Vec<UserId>> {
    let mut added = Vec::new();
    let now = now_ms();
    for u in users {
        // Start new members at the current end: they have nothing unread.
        let n = tx!(tx, c => sqlx::query(
            "INSERT INTO channel_members (channel_id, user_id, role, notify, joined_at, last_read_seq)
             SELECT $1, $2, $3, 'all', $4, last_seq FROM channels WHERE id = $1
             ON CONFLICT (channel_id, user_id) DO NOTHING"
        )
        .bind(channel)
        .bind(*u)
        .bind(role)
        .bind(now)
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected()))?;
        if n > 0 {
            added.push(*u);
        }
    }
    Ok(added)
}

/// Tell the hubs and the people concerned that membership changed.
pub async fn announce_membership(
    chat: &Chat,
    ws: WorkspaceId,
    channel: ChannelId,
    added: Vec<UserId>,
    removed: Vec<UserId>,
) {
    if added.is_empty() && removed.is_empty() {
        return;
    }
    chat.bus.publish(Delivery::MembersChanged { channel }).await;
    events::to_users(
        &chat.bus,
        added,
        Event::ChannelJoined {
            channel_id: channel,
            workspace_id: ws,
        },
    )
    .await;
    events::to_users(
        &chat.bus,
        removed,
        Event::ChannelLeft {
            channel_id: channel,
            workspace_id: ws,
        },
    )
    .await;
    events::to_channel(
        &chat.bus,
        channel,
        Event::ChannelUpdated {
            channel_id: channel,
            workspace_id: ws,
        },
    )
    .await;
}

/// A new channel.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateChannel {
    pub name: String,
    /// `public` (default), `private`, `announcement` (admins only) or `team` (admins only).
    pub kind: Option<ChannelKind>,
    #[serde(default)]
    pub topic: String,
    /// For team channels: the team whose members (and sub-teams' members) belong.
    pub team_id: Option<TeamId>,
    /// People to add besides me.
    #[serde(default)]
    pub member_ids: Vec<UserId>,
}

/// Create a channel; I become its admin.
#[utoipa::path(post, path = "/api/workspaces/{ws}/channels", tag = "channels", operation_id = "createChannel",
    params(("ws" = String, Path, description = "workspace id")), request_body = CreateChannel, security(("bearer" = [])),
    responses((status = 201, body = Channel), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn create(
    State(state): State<AppState>,
    me: CurrentUser,
    client: ClientInfo,
    Path(ws): Path<WorkspaceId>,
    Json(body): Json<CreateChannel>,
) -> AppResult<(StatusCode, Json<Channel>)> {
    let chat = &state.chat;
    let role = member_role(&state.store, ws, me.user_id).await?;
    if role == Role::Guest {
        return Err(AppError::Forbidden("guests cannot create channels".into()));
    }
    let kind = body.kind.unwrap_or(ChannelKind::Public);
    match kind {
        ChannelKind::Dm | ChannelKind::Group => {
            return Err(AppError::Validation(
                "start direct messages with POST /api/workspaces/{ws}/dms".into(),
            ));
        }
        ChannelKind::Announcement | ChannelKind::Team if !role.is_admin() => {
            return Err(AppError::Forbidden(
                "only workspace admins create announcement and team channels".into(),
            ));
        }
        _ => {}
    }
    let name = parse_name(&body.name)?;
    let topic = parse_topic(&body.topic)?;
    let team = match (kind, body.team_id) {
        (ChannelKind::Team, Some(t)) => {
            team_channels::team_member_ids(&state.store, ws, t)
                .await?
                .ok_or_else(|| AppError::Validation("team not found in this workspace".into()))?;
            Some(t)
        }
        (ChannelKind::Team, None) => {
            return Err(AppError::Validation("a team channel needs team_id".into()));
        }
        (_, Some(_)) => {
            return Err(AppError::Validation(
                "team_id is only for team channels".into(),
            ));
        }
        (_, None) => None,
    };
    if body.member_ids.len() > 1000 {
        return Err(AppError::Validation(
            "add at most 1000 people at once".into(),
        ));
    }
    let mut others = body.member_ids.clone();
    others.retain(|u| *u != me.user_id);
    others.sort();
    others.dedup();
    if kind == ChannelKind::Team && !others.is_empty() {
        return Err(AppError::Validation(
            "team channel membership follows the team; do not list members".into(),
        ));
    }
    require_workspace_members(&state.store, ws, &others).await?;
    if name_taken(&state.store, ws, &name, None).await? {
        return Err(AppError::Conflict(
            "a channel with that name already exists".into(),
        ));
    }
    let id = ChannelId::new();
    let mut tx = state.store.begin().await?;
    tx!(&mut tx, c => sqlx::query(
        "INSERT INTO channels (id, workspace_id, kind, name, topic, team_id, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
    )
    .bind(id)
    .bind(ws)
    .bind(kind.as_str())
    .bind(&name)
    .bind(&topic)
    .bind(team)
    .bind(me.user_id)
    .bind(now_ms())
    .execute(&mut *c)
    .await.map(|r| r.rows_affected()))
    .map_err(|e| match AppError::from(e) {
        AppError::Conflict(_) => AppError::Conflict("a channel with that name already exists".into()),
        other => other,
    })?;
    let mut added = Vec::new();
    if kind != ChannelKind::Team {
        added.extend(add_members_in(&mut tx, id, &[me.user_id], "admin").await?);
        added.extend(add_members_in(&mut tx, id, &others, "member").await?);
    }
    audit::record_in(
        &mut tx,
        AuditEvent {
            workspace: Some(ws),
            actor: Some(me.user_id),
            action: "channel.created",
            target_type: Some("channel"),
            target_id: Some(id.to_string()),
            detail: serde_json::json!({ "name": name, "kind": kind }),
            ip: client.ip_string(),
        },
    )
    .await?;
    tx.commit().await?;
    if kind == ChannelKind::Team {
        team_channels::sync_workspace(chat, ws).await?;
    } else {
        announce_membership(
            chat,
            ws,
            id,
            added.into_iter().filter(|u| *u != me.user_id).collect(),
            vec![],
        )
        .await;
    }
    Ok((
        StatusCode::CREATED,
        Json(channel_for(chat, me.user_id, id).await?),
    ))
}

/// People to talk to directly.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenDm {
    /// The other people (1 for a DM, up to 49 for a group DM). Empty means notes to myself.
    pub user_ids: Vec<UserId>,
}

/// Open the direct message (or group DM) with these people, creating it if needed.
#[utoipa::path(post, path = "/api/workspaces/{ws}/dms", tag = "channels", operation_id = "openDm",
    params(("ws" = String, Path, description = "workspace id")), request_body = OpenDm, security(("bearer" = [])),
    responses((status = 200, body = Channel), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn open_dm(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(ws): Path<WorkspaceId>,
    Json(body): Json<OpenDm>,
) -> AppResult<Json<Channel>> {
    let chat = &state.chat;
    member_role(&state.store, ws, me.user_id).await?;
    let mut people = body.user_ids.clone();
    people.push(me.user_id);
    people.sort();
    people.dedup();
    if people.len() > MAX_GROUP_MEMBERS {
        return Err(AppError::Validation(format!(
            "a group DM holds at most {MAX_GROUP_MEMBERS} people"
        )));
    }
    require_workspace_members(&state.store, ws, &people).await?;
    let kind = if people.len() <= 2 {
        ChannelKind::Dm
    } else {
        ChannelKind::Group
    };
    let key = format!(
        "{ws}:{}",
        people
            .iter()
            .map(|u| u.to_string())
            .collect::<Vec<_>>()
            .join(":")
    );
    let existing: Option<ChannelId> = db!(state.store.read(), c => sqlx::query_scalar("SELECT id FROM channels WHERE dm_key = $1")
        .bind(&key)
        .fetch_optional(c)
        .await)?;
    if let Some(id) = existing {
        return Ok(Json(channel_for(chat, me.user_id, id).await?));
    }
    let id = ChannelId::new();
    let mut tx = state.store.begin().await?;
    let inserted = tx!(&mut tx, c => sqlx::query(
        "INSERT INTO channels (id, workspace_id, kind, name, topic, dm_key, created_by, created_at) VALUES ($1, $2, $3, NULL, '', $4, $5, $6)
         ON CONFLICT (dm_key) DO NOTHING"
    )
    .bind(id)
    .bind(ws)
    .bind(kind.as_str())
    .bind(&key)
    .bind(me.user_id)
    .bind(now_ms())
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?;
    if inserted == 0 {
        drop(tx);
        let id: ChannelId = db!(state.store.read(), c => sqlx::query_scalar("SELECT id FROM channels WHERE dm_key = $1")
            .bind(&key)
            .fetch_one(c)
            .await)?;
        return Ok(Json(channel_for(chat, me.user_id, id).await?));
    }
    add_members_in(&mut tx, id, &people, "member").await?;
    tx.commit().await?;
    announce_membership(
        chat,
        ws,
        id,
        people.into_iter().filter(|u| *u != me.user_id).collect(),
        vec![],
    )
    .await;
    Ok(Json(channel_for(chat, me.user_id, id).await?))
}

/// Channel settings to change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateChannel {
    pub name: Option<String>,
    pub topic: Option<String>,
    /// Archive (true) or unarchive (false): archived channels are read-only.
    pub archived: Option<bool>,
}

/// Rename a channel, set its topic, archive or unarchive it (channel or workspace admins).
#[utoipa::path(patch, path = "/api/channels/{id}", tag = "channels", operation_id = "updateChannel",
    params(("id" = String, Path, description = "channel id")), request_body = UpdateChannel, security(("bearer" = [])),
    responses((status = 200, body = Channel), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn update(
    State(state): State<AppState>,
    me: CurrentUser,
    client: ClientInfo,
    Path(id): Path<ChannelId>,
    Json(body): Json<UpdateChannel>,
) -> AppResult<Json<Channel>> {
    let chat = &state.chat;
    let access = ChannelAccess::load(&state.store, id, me.user_id).await?;
    access.require_manage()?;
    let ws = access.channel.workspace_id;
    let name = body.name.as_deref().map(parse_name).transpose()?;
    let topic = body.topic.as_deref().map(parse_topic).transpose()?;
    if let Some(n) = &name
        && name_taken(&state.store, ws, n, Some(id)).await?
    {
        return Err(AppError::Conflict(
            "a channel with that name already exists".into(),
        ));
    }
    let archived_at = match body.archived {
        Some(true) => Some(access.channel.archived_at.unwrap_or_else(now_ms)),
        Some(false) => None,
        None => access.channel.archived_at,
    };
    let mut tx = state.store.begin().await?;
    tx!(&mut tx, c => sqlx::query("UPDATE channels SET name = COALESCE($1, name), topic = COALESCE($2, topic), archived_at = $3 WHERE id = $4")
        .bind(&name)
        .bind(&topic)
        .bind(archived_at)
        .bind(id)
        .execute(&mut *c)
        .await.map(|r| r.rows_affected()))?;
    audit::record_in(
        &mut tx,
        AuditEvent {
            workspace: Some(ws),
            actor: Some(me.user_id),
            action: match body.archived {
                Some(true) if access.channel.archived_at.is_none() => "channel.archived",
                Some(false) if access.channel.archived_at.is_some() => "channel.unarchived",
                _ => "channel.updated",
            },
            target_type: Some("channel"),
            target_id: Some(id.to_string()),
            detail: serde_json::json!({ "name": name, "topic": topic }),
            ip: client.ip_string(),
        },
    )
    .await?;
    tx.commit().await?;
    events::to_channel(
        &chat.bus,
        id,
        Event::ChannelUpdated {
            channel_id: id,
            workspace_id: ws,
        },
    )
    .await;
    Ok(Json(channel_for(chat, me.user_id, id).await?))
}

fn refuse_manual_membership(access: &ChannelAccess) -> AppResult<()> {
    match access.kind {
        ChannelKind::Team => Err(AppError::Conflict(
            "membership of a team channel follows its team".into(),
        )),
        ChannelKind::Dm => Err(AppError::Conflict(
            "a direct message has fixed members; start a group DM instead".into(),
        )),
        _ => Ok(()),
    }
}

/// Join a public or announcement channel.
#[utoipa::path(post, path = "/api/channels/{id}/join", tag = "channels", operation_id = "joinChannel",
    params(("id" = String, Path, description = "channel id")), security(("bearer" = [])),
    responses((status = 200, body = Channel), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn join(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(id): Path<ChannelId>,
) -> AppResult<Json<Channel>> {
    let chat = &state.chat;
    let access = ChannelAccess::load(&state.store, id, me.user_id).await?;
    if !access.is_member() {
        refuse_manual_membership(&access)?;
        if access.channel.archived_at.is_some() {
            return Err(AppError::Conflict("this channel is archived".into()));
        }
        let mut tx = state.store.begin().await?;
        let added = add_members_in(&mut tx, id, &[me.user_id], "member").await?;
        tx.commit().await?;
        announce_membership(chat, access.channel.workspace_id, id, added, vec![]).await;
    }
    Ok(Json(channel_for(chat, me.user_id, id).await?))
}

async fn remove_member_in(store: &Store, channel: ChannelId, user: UserId) -> AppResult<bool> {
    let n = db!(store.write(), c => sqlx::query("DELETE FROM channel_members WHERE channel_id = $1 AND user_id = $2")
        .bind(channel)
        .bind(user)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// Leave a channel or group DM.
#[utoipa::path(post, path = "/api/channels/{id}/leave", tag = "channels", operation_id = "leaveChannel",
    params(("id" = String, Path, description = "channel id")), security(("bearer" = [])),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn leave(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(id): Path<ChannelId>,
) -> AppResult<StatusCode> {
    let access = ChannelAccess::load(&state.store, id, me.user_id).await?;
    access.require_member()?;
    refuse_manual_membership(&access)?;
    if remove_member_in(&state.store, id, me.user_id).await? {
        announce_membership(
            &state.chat,
            access.channel.workspace_id,
            id,
            vec![],
            vec![me.user_id],
        )
        .await;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// A channel member.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelMember {
    pub user: UserSummary,
    /// `admin` or `member`.
    pub role: String,
}

/// List a channel's members.
#[utoipa::path(get, path = "/api/channels/{id}/members", tag = "channels", operation_id = "listChannelMembers",
    params(("id" = String, Path, description = "channel id")), security(("bearer" = [])),
    responses((status = 200, body = Vec<ChannelMember>), (status = 404, body = ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn members(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(id): Path<ChannelId>,
) -> AppResult<Json<Vec<ChannelMember>>> {
    ChannelAccess::load(&state.store, id, me.user_id).await?;
    let rows: Vec<(UserId, String)> = db!(state.store.read(), c => sqlx::query_as(
        "SELECT user_id, role FROM channel_members WHERE channel_id = $1 ORDER BY joined_at LIMIT 10000"
    )
    .bind(id)
    .fetch_all(c)
    .await)?;
    let ids: Vec<UserId> = rows.iter().map(|r| r.0).collect();
    let users = user_summaries(&state.store, &ids).await?;
    Ok(Json(
        rows.into_iter()
            .filter_map(|(u, role)| {
                users
                    .get(&u)
                    .cloned()
                    .map(|user| ChannelMember { user, role })
            })
            .collect(),
    ))
}

/// Add a person to a channel (members of private and public channels and group DMs
/// may add people; announcement channels need an admin).
#[utoipa::path(put, path = "/api/channels/{id}/members/{user}", tag = "channels", operation_id = "addChannelMember",
    params(("id" = String, Path, description = "channel id"), ("user" = String, Path, description = "user id")), security(("bearer" = [])),
    responses((status = 200, body = Channel), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn add_member(
    State(state): State<AppState>,
    me: CurrentUser,
    Path((id, user)): Path<(ChannelId, UserId)>,
) -> AppResult<Json<Channel>> {
    let chat = &state.chat;
    let access = ChannelAccess::load(&state.store, id, me.user_id).await?;
    access.require_participate()?;
    refuse_manual_membership(&access)?;
    if access.kind == ChannelKind::Announcement && !access.may_manage() {
        return Err(AppError::Forbidden(
            "only admins add people to announcement channels".into(),
        ));
    }
    let ws = access.channel.workspace_id;
    require_workspace_members(&state.store, ws, &[user]).await?;
    if access.kind == ChannelKind::Group {
        let count: i64 = db!(state.store.read(), c => sqlx::query_scalar("SELECT COUNT(*) FROM channel_members WHERE channel_id = $1")
            .bind(id)
            .fetch_one(c)
            .await)?;
        if count as usize >= MAX_GROUP_MEMBERS {
            return Err(AppError::Conflict(format!(
                "a group DM holds at most {MAX_GROUP_MEMBERS} people"
            )));
        }
    }
    let mut tx = state.store.begin().await?;
    let added = add_members_in(&mut tx, id, &[user], "member").await?;
    tx.commit().await?;
    announce_membership(chat, ws, id, added, vec![]).await;
    Ok(Json(channel_for(chat, me.user_id, id).await?))
}

/// Remove a person from a channel (channel or workspace admins).
#[utoipa::path(delete, path = "/api/channels/{id}/members/{user}", tag = "channels", operation_id = "removeChannelMember",
    params(("id" = String, Path, description = "channel id"), ("user" = String, Path, description = "user id")), security(("bearer" = [])),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn remove_member(
    State(state): State<AppState>,
    me: CurrentUser,
    Path((id, user)): Path<(ChannelId, UserId)>,
) -> AppResult<StatusCode> {
    let access = ChannelAccess::load(&state.store, id, me.user_id).await?;
    refuse_manual_membership(&access)?;
    if access.kind == ChannelKind::Group {
        return Err(AppError::Conflict(
            "people leave group DMs themselves".into(),
        ));
    }
    access.require_manage()?;
    if !remove_member_in(&state.store, id, user).await? {
        return Err(AppError::not_found("channel member"));
    }
    announce_membership(
        &state.chat,
        access.channel.workspace_id,
        id,
        vec![],
        vec![user],
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}

/// My notification level for a channel.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetNotify {
    pub level: NotifyLevel,
}

/// Set how a channel notifies me: all, mentions or mute.
#[utoipa::path(put, path = "/api/channels/{id}/notify", tag = "channels", operation_id = "setChannelNotify",
    params(("id" = String, Path, description = "channel id")), request_body = SetNotify, security(("bearer" = [])),
    responses((status = 200, body = Channel), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn set_notify(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(id): Path<ChannelId>,
    Json(body): Json<SetNotify>,
) -> AppResult<Json<Channel>> {
    let access = ChannelAccess::load(&state.store, id, me.user_id).await?;
    access.require_member()?;
    db!(state.store.write(), c => sqlx::query("UPDATE channel_members SET notify = $1 WHERE channel_id = $2 AND user_id = $3")
        .bind(body.level.as_str())
        .bind(id)
        .bind(me.user_id)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(Json(channel_for(&state.chat, me.user_id, id).await?))
}

/// Remove `user` from every channel of `ws` (they left or were removed from the workspace).
pub async fn remove_from_workspace(chat: &Chat, ws: WorkspaceId, user: UserId) -> AppResult<()> {
    let channels: Vec<ChannelId> = db!(chat.store.write(), c => sqlx::query_scalar(
        "DELETE FROM channel_members WHERE user_id = $1 AND channel_id IN (SELECT id FROM channels WHERE workspace_id = $2) RETURNING channel_id"
    )
    .bind(user)
    .bind(ws)
    .fetch_all(c)
    .await)?;
    for channel in channels {
        announce_membership(chat, ws, channel, vec![], vec![user]).await;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_names_are_trimmed_and_checked() {
        assert_eq!(parse_name(" #general ").expect("ok"), "general");
        assert_eq!(parse_name("产品讨论").expect("ok"), "产品讨论");
        assert!(parse_name("").is_err());
        assert!(parse_name(&"x".repeat(81)).is_err());
    }
}
