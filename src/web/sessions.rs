//! `POST /api/v1/sessions`: a person exchanges email and password for a bearer token.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::error::{ApiError, ErrorBody};
use super::AppState;

#[derive(Deserialize, utoipa::ToSchema)]
pub struct Login {
    email: String,
    password: String,
}

/// A bearer token for the API.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Token {
    token: String,
}

/// Sign in: exchange a person's email and password for a bearer token.
#[utoipa::path(
    post,
    path = "/api/v1/sessions",
    tag = "sessions",
    request_body = Login,
    responses(
        (status = 201, description = "Signed in", body = Token),
        (status = 401, description = "Wrong email or password", body = ErrorBody),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    Json(login): Json<Login>,
) -> Result<(StatusCode, Json<Token>), ApiError> {
    let token = state
        .store
        .login(&login.email, &login.password)
        .await?
        .ok_or(ApiError::Unauthorized)?;
    Ok((StatusCode::CREATED, Json(Token { token })))
}
