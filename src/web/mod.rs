//! The HTTP service: the JSON API under `/api/v1`, the pages, and monitoring.

mod api;
mod audio;
mod auth;
mod corrections;
mod customers;
mod error;
mod monitoring;
mod pages;
mod recordings;
mod sessions;
mod uploads;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use axum::Router;

use crate::pipeline::Pipeline;
use crate::store::Store;

#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// Pushes larger than this are refused with 413.
    pub max_upload_bytes: u64,
    /// An unfinished resumable upload is forgotten this long after it was created.
    pub upload_expiry: chrono::TimeDelta,
}

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub config: Arc<ServiceConfig>,
    /// The analysis pipeline; its configuration also builds customer profiles.
    pub pipeline: Arc<Pipeline>,
    /// Woken on every new recording so in-process workers start without waiting for a poll.
    pub jobs_waiting: Arc<tokio::sync::Notify>,
    /// Resumable uploads being appended to (one request at a time each).
    pub uploads_writing: Arc<uploads::Writing>,
    /// Renders the process's Prometheus metrics.
    pub metrics: metrics_exporter_prometheus::PrometheusHandle,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(monitoring::health))
        .route("/readyz", get(monitoring::ready))
        .route("/metrics", get(monitoring::metrics))
        // The documented JSON API: add API routes in api.rs.
        .merge(api::router())
        .merge(pages::router())
        .layer(axum::middleware::from_fn(pages::api_session_bridge))
        // Uploads stream to the object store under their own limit (ServiceConfig).
        .layer(DefaultBodyLimit::disable())
        .layer(axum::middleware::from_fn(monitoring::track))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

/// Serves until `shutdown` resolves, then lets requests in flight finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
