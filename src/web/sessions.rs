//! `POST /api/v1/sessions`: a person exchanges email and password for a bearer token.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;

use super::error::ApiError;
use super::AppState;

#[derive(Deserialize)]
pub struct Login {
    email: String,
    password: String,
}

pub async fn create(
    State(state): State<AppState>,
    Json(login): Json<Login>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let token = state
        .store
        .login(&login.email, &login.password)
        .await?
        .ok_or(ApiError::Unauthorized)?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({ "token": token })),
    ))
}
