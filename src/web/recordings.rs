//! `POST /api/v1/recordings` (a device or person pushes a recording) and
//! `GET /api/v1/recordings/{id}`.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::auth::Caller;
use super::error::ApiError;
use super::AppState;
use crate::store::customers::CustomerHint;
use crate::store::new_id;
use crate::store::recordings::{Inserted, NewRecording, Recording};

fn header_text(headers: &HeaderMap, name: &str) -> Result<Option<String>, ApiError> {
    match headers.get(name) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .map(|s| Some(s.trim().to_string()).filter(|s| !s.is_empty()))
            .map_err(|_| ApiError::BadRequest(format!("{name} must be visible ASCII"))),
    }
}

/// The push's metadata, checked before any byte of the body is read.
struct PushHeaders {
    idempotency_key: Option<String>,
    recorded_at: chrono::DateTime<chrono::Utc>,
    sha256: Option<String>,
    content_type: String,
    customer: CustomerHint,
}

fn push_headers(headers: &HeaderMap) -> Result<PushHeaders, ApiError> {
    let idempotency_key = header_text(headers, "idempotency-key")?;
    if idempotency_key.as_ref().is_some_and(|k| k.len() > 200) {
        return Err(ApiError::BadRequest(
            "Idempotency-Key is longer than 200 characters".into(),
        ));
    }
    let recorded_at = match header_text(headers, "x-recorded-at")? {
        None => chrono::Utc::now(),
        Some(s) => chrono::DateTime::parse_from_rfc3339(&s)
            .map_err(|e| {
                ApiError::BadRequest(format!("X-Recorded-At `{s}` is not an RFC 3339 time: {e}"))
            })?
            .to_utc(),
    };
    let sha256 = header_text(headers, "x-content-sha256")?;
    if let Some(s) = &sha256 {
        if s.len() != 64 || !s.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(ApiError::BadRequest(
                "X-Content-SHA256 must be 64 hex digits".into(),
            ));
        }
    }
    Ok(PushHeaders {
        idempotency_key,
        recorded_at,
        sha256,
        content_type: header_text(headers, header::CONTENT_TYPE.as_str())?
            .unwrap_or_else(|| "application/octet-stream".into()),
        customer: CustomerHint {
            phone: header_text(headers, "x-customer-phone")?,
            name: header_text(headers, "x-customer-name")?,
            id: header_text(headers, "x-customer-id")?,
        },
    })
}

/// The short answer to a push: the recording's id and status.
fn receipt(status: StatusCode, rec: &Recording) -> Response {
    (
        status,
        Json(serde_json::json!({ "id": rec.id, "status": rec.status, "customer_id": rec.customer_id })),
    )
        .into_response()
}

pub async fn create(
    State(state): State<AppState>,
    Caller(caller): Caller,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let push = push_headers(&headers)?;
    if let Some(key) = &push.idempotency_key {
        if let Some(existing) = state.store.recording_by_key(&caller, key).await? {
            return Ok(receipt(StatusCode::OK, &existing));
        }
    }
    let limit = state.config.max_upload_bytes;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(crate::store::objects::UploadError::TooLarge { limit }.into());
    }
    let id = new_id("rec");
    let object_key = format!("recordings/{}/{id}", caller.dealership_id());
    let stored = state
        .store
        .objects
        .put_verified(
            &object_key,
            body.into_data_stream(),
            limit,
            push.sha256.as_deref(),
        )
        .await?;
    let new = NewRecording {
        id,
        idempotency_key: push.idempotency_key,
        sha256: stored.sha256,
        size: stored.size,
        content_type: push.content_type,
        object_key: object_key.clone(),
        recorded_at: push.recorded_at,
        customer: push.customer,
    };
    let inserted = state.store.insert_recording(&caller, &new).await;
    if !matches!(inserted, Ok(Inserted::New(_))) {
        // Lost a race on the same key, or the database refused: the body stays only if recorded.
        if let Err(e) = state.store.objects.delete(&object_key).await {
            tracing::warn!(key = %object_key, "cannot delete an unrecorded upload: {e}");
        }
    }
    match inserted? {
        Inserted::New(rec) => {
            state.jobs_waiting.notify_one();
            Ok(receipt(StatusCode::ACCEPTED, &rec))
        }
        Inserted::Existing(rec) => Ok(receipt(StatusCode::OK, &rec)),
    }
}

pub async fn get(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<Json<Recording>, ApiError> {
    let not_found = || ApiError::NotFound(format!("no recording `{id}`"));
    let rec = state.store.recording(&id).await?.ok_or_else(not_found)?;
    // Another dealership's recording, or one outside a salesperson's customers, does not exist
    // as far as the caller can tell.
    if !state.store.may_see_recording(&caller, &rec).await? {
        return Err(not_found());
    }
    state
        .store
        .audit(&caller, "read", "recording", &rec.id)
        .await?;
    Ok(Json(rec))
}
