//! Video meetings: stored meetings and their REST routes, guest tokens, TURN credentials,
//! signalling on the realtime websocket, and the SFU that forwards media over one UDP port.
//!
//! - [`records`]: the stored meeting and who hosts or is invited.
//! - [`routes`]: REST (create, schedule, change, end, calendar file, guest tokens).
//! - [`signal`]: `meeting.*` websocket frames.
//! - [`sfu`]: rooms and media on the shared UDP port (webrtc-rs' sans-I/O core).

pub mod guests;
pub mod ics;
pub mod records;
pub mod routes;
pub mod sfu;
pub mod signal;
pub mod turn;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::AppResult;
use crate::store::ids::MeetingId;
use crate::store::now_ms;
use crate::{AppState, db};

/// Meetings' shared handles.
#[derive(Clone)]
pub struct Meetings {
    pub sfu: sfu::Sfu,
}

/// REST routes of meetings.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(routes::list, routes::create))
        .routes(routes!(routes::get_one, routes::update))
        .routes(routes!(routes::public))
        .routes(routes!(routes::end))
        .routes(routes!(routes::calendar))
        .routes(routes!(routes::guest))
}

/// Record that a meeting ended and send everyone out.
pub async fn mark_ended(state: &AppState, meeting: MeetingId) -> AppResult<()> {
    db!(state.store.write(), c => sqlx::query("UPDATE meetings SET ended_at = $1 WHERE id = $2 AND ended_at IS NULL")
        .bind(now_ms())
        .bind(meeting)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    state.meetings.sfu.send(sfu::Command::End { meeting }).await
}
