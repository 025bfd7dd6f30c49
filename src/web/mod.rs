//! The HTTP service: the JSON API under `/api/v1`, health and readiness.

mod audio;
mod auth;
mod corrections;
mod customers;
mod error;
mod pages;
mod recordings;
mod sessions;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;

use crate::pipeline::Pipeline;
use crate::store::Store;

#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// Pushes larger than this are refused with 413.
    pub max_upload_bytes: u64,
}

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub config: Arc<ServiceConfig>,
    /// The analysis pipeline; its configuration also builds customer profiles.
    pub pipeline: Arc<Pipeline>,
    /// Woken on every new recording so in-process workers start without waiting for a poll.
    pub jobs_waiting: Arc<tokio::sync::Notify>,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .route("/api/v1/sessions", post(sessions::create))
        .route("/api/v1/recordings", post(recordings::create))
        .route("/api/v1/recordings/{id}", get(recordings::get))
        .route("/api/v1/customers", get(customers::list))
        .route(
            "/api/v1/customers/{id}",
            get(customers::get).delete(customers::delete),
        )
        .route("/api/v1/customers/{id}/outcome", post(customers::outcome))
        .route("/api/v1/customers/{id}/merge", post(customers::merge))
        .route("/api/v1/follow-ups", get(customers::follow_ups))
        // Pages' additions: listening to a recording, correcting a tag.
        .route("/api/v1/recordings/{id}/audio", get(audio::api))
        .route(
            "/api/v1/customers/{id}/tags/{tag}/correction",
            axum::routing::put(corrections::put),
        )
        .route("/api/v1/forecast", get(customers::forecast))
        .merge(pages::router())
        .layer(axum::middleware::from_fn(pages::api_session_bridge))
        // Uploads stream to the object store under their own limit (ServiceConfig).
        .layer(DefaultBodyLimit::disable())
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

async fn ready(State(state): State<AppState>) -> (StatusCode, &'static str) {
    if state.store.ping().await {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
    }
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
