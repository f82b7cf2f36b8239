//! `/healthz` (the process is up), `/readyz` (the database answers) and Prometheus
//! `/metrics`.

use std::sync::OnceLock;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::AppState;

static RECORDER: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// The process-wide Prometheus recorder, installed on first use (tests run many apps
/// in one process; a recorder can be installed only once).
pub fn prometheus() -> Option<PrometheusHandle> {
    RECORDER
        .get_or_init(|| {
            PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Suffix("_seconds".into()),
                    &[
                        0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                    ],
                )
                .ok()?
                .install_recorder()
                .ok()
        })
        .clone()
}

pub async fn healthz() -> &'static str {
    "ok"
}

pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let db = state.store.ping().await;
    let status = if db {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(serde_json::json!({ "ready": db, "database": state.store.backend() })),
    )
}

pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    match prometheus() {
        Some(handle) => {
            record_pool_usage(&state);
            handle.run_upkeep();
            (
                StatusCode::OK,
                [("content-type", "text/plain; version=0.0.4")],
                handle.render(),
            )
        }
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            [("content-type", "text/plain; version=0.0.4")],
            String::from("# metrics recorder unavailable\n"),
        ),
    }
}

/// Database pool gauges, read at scrape time (the pools keep the counts themselves).
fn record_pool_usage(state: &AppState) {
    for (pool, usage) in state.store.pool_usage() {
        let busy = usage.open.saturating_sub(usage.idle);
        metrics::gauge!("convene_db_pool_connections", "pool" => pool, "state" => "busy")
            .set(f64::from(busy));
        metrics::gauge!("convene_db_pool_connections", "pool" => pool, "state" => "idle")
            .set(f64::from(usage.idle));
        metrics::gauge!("convene_db_pool_max_connections", "pool" => pool)
            .set(f64::from(usage.max));
    }
}
