//! Sign-in, refresh, sign-out and registration. Unknown account and wrong password get
//! the same answer after the same work; attempts are rate limited per account and per
//! address; every sign-in and failed sign-in is audited.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::AppState;
use crate::accounts::lifecycle;
use crate::accounts::model::{Email, User, UserRow, Username, display_name, locale, time_zone};
use crate::accounts::sessions::{self, Origin, Rotation};
use crate::accounts::users::{self, NewUser};
use crate::auth::CurrentUser;
use crate::auth::password::check_new_password;
use crate::error::{AppError, AppResult, ErrorBody};
use crate::http::client::ClientInfo;
use crate::http::extract::Json;
use crate::orgs::Role;
use crate::orgs::audit::{self, Event};
use crate::orgs::invites;
use crate::orgs::members;
use crate::orgs::workspaces::{self, OpenWorkspace};
use crate::store::ids::{SessionId, WorkspaceId};

/// Name of the refresh-token cookie (scoped to `/api/auth`).
pub const REFRESH_COOKIE: &str = "convene_refresh";

/// Tokens for a new or refreshed session.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuthResponse {
    /// Bearer token for API calls and the websocket; short-lived.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until `access_token` expires.
    pub expires_in: u64,
    /// Opaque, single-use: exchange it at `/api/auth/refresh` for new tokens. Browsers
    /// get it as an HttpOnly cookie as well.
    pub refresh_token: String,
    pub session_id: SessionId,
    pub user: User,
}

fn refresh_cookie(state: &AppState, value: String, max_age_secs: i64) -> Cookie<'static> {
    Cookie::build((REFRESH_COOKIE, value))
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(state.public_url().starts_with("https://"))
        .path("/api/auth")
        .max_age(time::Duration::seconds(max_age_secs))
        .build()
}

/// The JSON body plus the refresh cookie.
pub fn auth_response(
    state: &AppState,
    user: UserRow,
    session: SessionId,
    refresh: String,
    status: StatusCode,
) -> AppResult<Response> {
    let access_token = state.tokens.issue(user.id, session)?;
    let cookie = refresh_cookie(state, refresh.clone(), state.session_ttl_ms() / 1000);
    let body = AuthResponse {
        access_token,
        token_type: "Bearer",
        expires_in: state.tokens.ttl_secs,
        refresh_token: refresh,
        session_id: session,
        user: user.into(),
    };
    let mut response = (status, Json(body)).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(v) = HeaderValue::from_str(&cookie.to_string()) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(response)
}

fn clear_cookie(state: &AppState) -> (header::HeaderName, String) {
    (
        header::SET_COOKIE,
        refresh_cookie(state, String::new(), 0).to_string(),
    )
}

/// Validated sign-up fields shared by setup and registration.
pub struct SignUp {
    pub email: Email,
    pub username: Username,
    pub display_name: String,
    pub locale: String,
    pub time_zone: String,
}

impl SignUp {
    pub fn parse(
        email: &str,
        username: &str,
        name: &str,
        password: &str,
        loc: Option<&str>,
        tz: Option<&str>,
    ) -> AppResult<SignUp> {
        let email = Email::parse(email)?;
        let username = Username::parse(username)?;
        let display_name = display_name(name)?;
        let locale = loc.map(locale).transpose()?.unwrap_or_else(|| "en".into());
        let time_zone = tz
            .map(time_zone)
            .transpose()?
            .unwrap_or_else(|| "UTC".into());
        check_new_password(password, &[&email.0, &username.0, &display_name])?;
        Ok(SignUp {
            email,
            username,
            display_name,
            locale,
            time_zone,
        })
    }

    pub fn into_new_user(self, password_hash: String) -> NewUser {
        NewUser {
            email: self.email,
            username: self.username,
            display_name: self.display_name,
            password_hash,
            locale: self.locale,
            time_zone: self.time_zone,
        }
    }
}

fn origin(client: &ClientInfo, device: Option<&str>) -> Origin {
    Origin {
        device: device
            .map(|d| d.trim().chars().take(80).collect::<String>())
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| sessions::device_name(client.user_agent.as_deref())),
        user_agent: client.user_agent.clone(),
        ip: client.ip_string(),
    }
}

/// Credentials for signing in.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// Email address or username.
    pub login: String,
    pub password: String,
    /// A name for this device, shown in the sessions list.
    pub device: Option<String>,
}

/// Sign in with email or username and password.
#[utoipa::path(post, path = "/api/auth/login", tag = "auth", operation_id = "login",
    request_body = LoginRequest,
    responses((status = 200, body = AuthResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn login(
    State(state): State<AppState>,
    client: ClientInfo,
    Json(body): Json<LoginRequest>,
) -> AppResult<Response> {
    if body.login.len() > 254 || body.password.chars().count() > crate::auth::password::MAX_LEN {
        return Err(AppError::Unauthorized(
            "wrong email, username or password".into(),
        ));
    }
    state.limits.login(&body.login, client.ip)?;
    let found = users::find_for_login(&state.store, &body.login).await?;
    let (user, hash) = match found {
        Some((u, h)) => {
            // Email and username of one account share one budget.
            // The address was counted by `limits.login`; count the account here.
            state.limits.password_attempt(u.id, None)?;
            (Some(u), Some(h))
        }
        None => (None, None),
    };
    let ok = state.passwords.verify(body.password, hash).await;
    let user = match user {
        Some(u) if ok && u.deactivated_at.is_none() => u,
        other => {
            let event = Event {
                workspace: None,
                actor: None,
                action: "auth.login_failed",
                target_type: Some("user"),
                target_id: other.as_ref().map(|u| u.id.to_string()),
                detail: serde_json::json!({ "login": body.login.chars().take(100).collect::<String>() }),
                ip: client.ip_string(),
            };
            match &other {
                Some(u) => audit::record_for_user_workspaces(&state.store, u.id, event).await?,
                None => audit::record(&state.store, event).await?,
            }
            return Err(AppError::Unauthorized(
                "wrong email, username or password".into(),
            ));
        }
    };
    let (session, refresh) = sessions::create(
        &state.store,
        user.id,
        &origin(&client, body.device.as_deref()),
        state.session_ttl_ms(),
    )
    .await?;
    audit::record_for_user_workspaces(
        &state.store,
        user.id,
        Event {
            workspace: None,
            actor: Some(user.id),
            action: "auth.login",
            target_type: Some("session"),
            target_id: Some(session.to_string()),
            detail: serde_json::json!({}),
            ip: client.ip_string(),
        },
    )
    .await?;
    auth_response(&state, user, session, refresh, StatusCode::OK)
}

/// A refresh request; browsers may leave `refresh_token` out and rely on the cookie.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: Option<String>,
}

/// Exchange a refresh token for new tokens. Each refresh token works once; presenting
/// a used one ends the whole session.
#[utoipa::path(post, path = "/api/auth/refresh", tag = "auth", operation_id = "refresh",
    request_body = RefreshRequest,
    responses((status = 200, body = AuthResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn refresh(
    State(state): State<AppState>,
    jar: CookieJar,
    Json(body): Json<RefreshRequest>,
) -> AppResult<Response> {
    let token = body
        .refresh_token
        .or_else(|| jar.get(REFRESH_COOKIE).map(|c| c.value().to_owned()))
        .filter(|t| !t.is_empty() && t.len() <= 200)
        .ok_or_else(|| AppError::Unauthorized("no refresh token".into()))?;
    match sessions::rotate(&state.store, &token, state.session_ttl_ms()).await {
        Ok(Rotation::Rotated {
            user,
            session,
            refresh,
        }) => {
            let user = users::get(&state.store, user).await?;
            auth_response(&state, user, session, refresh, StatusCode::OK)
        }
        Ok(Rotation::ReuseDetected { session }) => {
            state
                .bus
                .publish(crate::realtime::bus::Delivery::DisconnectSession { session })
                .await;
            tracing::warn!(%session, "refresh token reuse detected; session revoked");
            Ok((
                [clear_cookie(&state)],
                AppError::Unauthorized(
                    "this refresh token was already used; the session has been ended".into(),
                ),
            )
                .into_response())
        }
        Err(e) => Ok(([clear_cookie(&state)], e).into_response()),
    }
}

/// Sign out this device: the session named by the bearer token, or else by the
/// refresh cookie (so a browser whose access token expired can still sign out).
#[utoipa::path(post, path = "/api/auth/logout", tag = "auth", operation_id = "logout",
    security(("bearer" = []), ()), responses((status = 204), (status = 401, body = ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn logout(
    State(state): State<AppState>,
    me: Result<CurrentUser, AppError>,
    jar: CookieJar,
) -> AppResult<impl IntoResponse> {
    let (user, session) = match me {
        Ok(me) => (me.user_id, me.session_id),
        Err(e) => match jar.get(REFRESH_COOKIE) {
            Some(c) => sessions::of_refresh_token(&state.store, c.value())
                .await?
                .ok_or(e)?,
            None => return Err(e),
        },
    };
    sessions::revoke(&state.store, user, session).await?;
    state
        .bus
        .publish(crate::realtime::bus::Delivery::DisconnectSession { session })
        .await;
    Ok((StatusCode::NO_CONTENT, [clear_cookie(&state)]))
}

/// Sign out every device, this one included.
#[utoipa::path(post, path = "/api/auth/logout-all", tag = "auth", operation_id = "logoutAll",
    security(("bearer" = [])), responses((status = 204), (status = 401, body = ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn logout_all(
    State(state): State<AppState>,
    me: CurrentUser,
) -> AppResult<impl IntoResponse> {
    lifecycle::end_sessions(&state, me.user_id, None).await?;
    Ok((StatusCode::NO_CONTENT, [clear_cookie(&state)]))
}

/// A new account, joining a workspace through an invitation or open registration.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// Token of an invitation link.
    pub invite_token: Option<String>,
    /// A workspace with open registration (when there is no invitation).
    pub workspace_id: Option<WorkspaceId>,
    pub email: String,
    pub username: String,
    pub display_name: String,
    pub password: String,
    /// `en` or `zh-CN`.
    pub locale: Option<String>,
    /// IANA time zone, e.g. `Asia/Shanghai` (default UTC).
    pub time_zone: Option<String>,
    pub device: Option<String>,
}

/// How a new account joins its first workspace.
enum Join {
    Invite(String),
    Open(WorkspaceId),
}

/// Create an account through an invitation or a workspace's open registration.
#[utoipa::path(post, path = "/api/auth/register", tag = "auth", operation_id = "register",
    request_body = RegisterRequest,
    responses((status = 201, body = AuthResponse), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn register(
    State(state): State<AppState>,
    client: ClientInfo,
    Json(body): Json<RegisterRequest>,
) -> AppResult<Response> {
    state.limits.register(client.ip)?;
    let sign_up = SignUp::parse(
        &body.email,
        &body.username,
        &body.display_name,
        &body.password,
        body.locale.as_deref(),
        body.time_zone.as_deref(),
    )?;
    let join = match (body.invite_token, body.workspace_id) {
        (Some(_), Some(_)) => return Err(AppError::Validation("give either invite_token or workspace_id, not both".into())),
        (None, None) => return Err(AppError::Validation("registration needs an invite_token or the workspace_id of a workspace with open registration".into())),
        (None, Some(ws)) => {
            workspaces::require_open_registration(&state.store, ws).await?;
            Join::Open(ws)
        }
        (Some(token), None) => Join::Invite(token),
    };
    if users::exists(&state.store, &sign_up.email, &sign_up.username).await? {
        return Err(AppError::Conflict(
            "that email or username is already taken".into(),
        ));
    }
    let email = sign_up.email.0.clone();
    let password_hash = state.passwords.hash(body.password).await?;
    let mut tx = state.store.begin().await?;
    let user = users::create(&mut tx, sign_up.into_new_user(password_hash)).await?;
    let (ws, role, via) = match join {
        Join::Invite(token) => {
            let (ws, role) = invites::redeem_in(&mut tx, &token, user.id, &email).await?;
            (ws, role, "invite")
        }
        Join::Open(ws) => {
            members::add_in(&mut tx, ws, user.id, Role::Member).await?;
            (ws, Role::Member, "open_registration")
        }
    };
    let (session, refresh) = sessions::create_in(
        &mut tx,
        user.id,
        &origin(&client, body.device.as_deref()),
        state.session_ttl_ms(),
    )
    .await?;
    audit::record_in(
        &mut tx,
        Event {
            workspace: Some(ws),
            actor: Some(user.id),
            action: "member.joined",
            target_type: Some("user"),
            target_id: Some(user.id.to_string()),
            detail: serde_json::json!({ "role": role, "via": via, "username": user.username }),
            ip: client.ip_string(),
        },
    )
    .await?;
    tx.commit().await?;
    auth_response(&state, user, session, refresh, StatusCode::CREATED)
}

/// Workspaces anyone may join by registering.
#[utoipa::path(get, path = "/api/auth/open-workspaces", tag = "auth", operation_id = "listOpenWorkspaces",
    responses((status = 200, body = Vec<OpenWorkspace>)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn open_workspaces(State(state): State<AppState>) -> AppResult<Json<Vec<OpenWorkspace>>> {
    Ok(Json(workspaces::open_workspaces(&state.store).await?))
}
