//! `POST /api/v1/recordings` (a device or person pushes a recording) and
//! `GET /api/v1/recordings/{id}`.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::auth::Caller;
use super::error::{ApiError, ErrorBody};
use super::AppState;
use crate::store::accounts::Principal;
use crate::store::customers::CustomerHint;
use crate::store::new_id;
use crate::store::recordings::{Inserted, NewRecording, Recording, Status};
use crate::store::uploads::PushMeta;

fn header_text(headers: &HeaderMap, name: &str) -> Result<Option<String>, ApiError> {
    match headers.get(name) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .map(|s| Some(s.trim().to_string()).filter(|s| !s.is_empty()))
            .map_err(|_| ApiError::BadRequest(format!("{name} must be visible ASCII"))),
    }
}

/// `X-Customer-Name` may be any UTF-8 name: percent-encoded (`%E7%8E%8B%E7%A3%8A` for 王磊,
/// which every HTTP client can send) or as raw UTF-8 bytes.
fn customer_name(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get("x-customer-name") else {
        return Ok(None);
    };
    let refused =
        || ApiError::BadRequest("X-Customer-Name must be UTF-8, preferably percent-encoded".into());
    let raw = std::str::from_utf8(value.as_bytes()).map_err(|_| refused())?;
    let name = percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .map_err(|_| refused())?;
    Ok(Some(name.trim().to_string()).filter(|s| !s.is_empty()))
}

/// The push's metadata, checked before any byte of the body is read.
pub(super) fn push_headers(headers: &HeaderMap) -> Result<PushMeta, ApiError> {
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
    Ok(PushMeta {
        idempotency_key,
        recorded_at,
        sha256,
        content_type: header_text(headers, header::CONTENT_TYPE.as_str())?
            .unwrap_or_else(|| "application/octet-stream".into()),
        customer: CustomerHint {
            phone: header_text(headers, "x-customer-phone")?,
            name: customer_name(headers)?,
            id: header_text(headers, "x-customer-id")?,
        },
    })
}

/// The short answer to a push: the recording's id and status.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Receipt {
    id: String,
    status: Status,
    customer_id: Option<String>,
}

pub(super) fn receipt(status: StatusCode, rec: &Recording) -> Response {
    let body = Receipt {
        id: rec.id.clone(),
        status: rec.status,
        customer_id: rec.customer_id.clone(),
    };
    (status, Json(body)).into_response()
}

/// Push a recording: the raw body, streamed to the audio store and verified before the answer.
#[utoipa::path(
    post,
    path = "/api/v1/recordings",
    tag = "recordings",
    params(
        ("Idempotency-Key" = Option<String>, Header, description = "The device's own id for the recording: the same key again returns the same recording (200)"),
        ("X-Recorded-At" = Option<String>, Header, description = "When it was recorded, RFC 3339 (default: now)"),
        ("X-Customer-Phone" = Option<String>, Header, description = "The customer's phone: matched after normalisation"),
        ("X-Customer-Name" = Option<String>, Header, description = "The customer's name, UTF-8, percent-encoded beyond ASCII"),
        ("X-Customer-Id" = Option<String>, Header, description = "A unified customer id, or the dealership's own id for the customer"),
        ("X-Content-SHA256" = Option<String>, Header, description = "The body's SHA-256 (hex); a mismatch is refused with 422"),
    ),
    request_body(content = String, content_type = "application/octet-stream", description = "Audio (WAV, MP3, M4A/AAC, FLAC, Ogg; the Content-Type names it) or a transcript (text/plain, application/json)"),
    responses(
        (status = 202, description = "Stored, verified and queued for processing", body = Receipt),
        (status = 200, description = "This source pushed the same Idempotency-Key before: that recording", body = Receipt),
        (status = 400, description = "A malformed header, or the body broke off", body = ErrorBody),
        (status = 401, description = "Missing or unknown token", body = ErrorBody),
        (status = 413, description = "Larger than the service's limit", body = ErrorBody),
        (status = 422, description = "The body does not match X-Content-SHA256", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
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
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let limit = state.config.max_upload_bytes;
    if declared.is_some_and(|n| n > limit) {
        return Err(crate::store::objects::UploadError::TooLarge { limit }.into());
    }
    let (status, rec) = record(&state, &caller, push, body.into_data_stream()).await?;
    Ok(receipt(status, &rec))
}

/// Stores a body (verified against the size limit and the declared checksum) and records it
/// with its processing job: `202` and the new recording, or `200` and the one a concurrent
/// push with the same idempotency key made first. A push and a completed resumable upload
/// both end here.
pub(super) async fn record<S, E>(
    state: &AppState,
    caller: &Principal,
    push: PushMeta,
    body: S,
) -> Result<(StatusCode, Recording), ApiError>
where
    S: futures_util::Stream<Item = Result<bytes::Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let id = new_id("rec");
    let object_key = format!("recordings/{}/{id}", caller.dealership_id());
    let stored = state
        .store
        .objects
        .put_verified(
            &object_key,
            body,
            state.config.max_upload_bytes,
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
    let inserted = state.store.insert_recording(caller, &new).await;
    if !matches!(inserted, Ok(Inserted::New(_))) {
        // Lost a race on the same key, or the database refused: the body stays only if recorded.
        if let Err(e) = state.store.objects.delete(&object_key).await {
            tracing::warn!(key = %object_key, "cannot delete an unrecorded upload: {e}");
        }
    }
    match inserted? {
        Inserted::New(rec) => {
            state.jobs_waiting.notify_one();
            Ok((StatusCode::ACCEPTED, rec))
        }
        Inserted::Existing(rec) => Ok((StatusCode::OK, rec)),
    }
}

/// A recording: its processing status, and its analysis once done (the read is audited).
#[utoipa::path(
    get,
    path = "/api/v1/recordings/{id}",
    tag = "recordings",
    params(("id" = String, Path, description = "The recording's id")),
    responses(
        (status = 200, description = "The recording", body = Recording),
        (status = 401, description = "Missing or unknown token", body = ErrorBody),
        (status = 404, description = "No such recording visible to the caller", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
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
