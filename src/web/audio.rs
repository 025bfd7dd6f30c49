//! A recording's stored audio, for listening: `GET /api/v1/recordings/{id}/audio` (bearer
//! token) and `GET /recordings/{id}/audio` (page session, for the profile page's `<audio>`
//! element, which cannot send headers). Seen only by who may see the recording (a salesperson
//! their own, a manager their dealership; devices push, they do not listen), every request
//! audited. HTTP Range requests are answered with 206 so the player can seek to a quote.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::auth::Caller;
use super::error::{ApiError, ErrorBody};
use super::AppState;
use crate::store::accounts::Principal;
use crate::store::StoreError;

/// A recording's stored audio (the read is audited); `Range` requests get `206`.
#[utoipa::path(
    get,
    path = "/api/v1/recordings/{id}/audio",
    tag = "recordings",
    params(("id" = String, Path, description = "The recording's id")),
    responses(
        (status = 200, description = "The audio as stored", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 206, description = "The requested byte range", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 401, description = "Missing or unknown token", body = ErrorBody),
        (status = 404, description = "No such recording visible to the caller, or its audio is gone", body = ErrorBody),
        (status = 416, description = "The range is outside the audio"),
    ),
    security(("bearer" = []))
)]
pub async fn api(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    match serve(&state, &who, &id, &headers).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

/// The recording's audio for `who`, whole or the requested byte range.
pub async fn serve(
    state: &AppState,
    who: &Principal,
    id: &str,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let not_found = || ApiError::NotFound(format!("no recording `{id}`"));
    let rec = state.store.recording(id).await?.ok_or_else(not_found)?;
    if matches!(who, Principal::Device { .. }) || !state.store.may_see_recording(who, &rec).await? {
        return Err(not_found());
    }
    if !rec.content_type.starts_with("audio/") {
        return Err(ApiError::NotFound(format!(
            "recording `{id}` is a transcript: it has no audio"
        )));
    }
    let Some(key) = rec.object_key.as_deref() else {
        return Ok((
            StatusCode::GONE,
            axum::Json(
                serde_json::json!({ "error": "the audio was deleted; the analysis is kept" }),
            ),
        )
            .into_response());
    };
    let size = state
        .store
        .objects
        .size(key)
        .await
        .map_err(StoreError::from)?;
    state.store.audit(who, "listen", "recording", id).await?;

    let requested = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    let range = match requested.map(|r| byte_range(r, size)) {
        None => None,
        Some(Ok(r)) => r,
        Some(Err(())) => {
            return Ok((
                StatusCode::RANGE_NOT_SATISFIABLE,
                [(header::CONTENT_RANGE, format!("bytes */{size}"))],
            )
                .into_response())
        }
    };
    let stream = state
        .store
        .objects
        .stream(key, range.clone())
        .await
        .map_err(StoreError::from)?;
    let mut response = Response::new(Body::from_stream(stream));
    let h = response.headers_mut();
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    if let Ok(v) = HeaderValue::from_str(&rec.content_type) {
        h.insert(header::CONTENT_TYPE, v);
    }
    let length = match &range {
        Some(r) => {
            let content_range = format!("bytes {}-{}/{size}", r.start, r.end - 1);
            if let Ok(v) = HeaderValue::from_str(&content_range) {
                h.insert(header::CONTENT_RANGE, v);
            }
            *response.status_mut() = StatusCode::PARTIAL_CONTENT;
            r.end - r.start
        }
        None => size,
    };
    response
        .headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    Ok(response)
}

/// The one byte range (end exclusive) a `Range` header asks of an object of `size` bytes:
/// `Ok(None)` to send it whole (several ranges, or a header this server does not use),
/// `Err(())` when nothing of it is satisfiable.
fn byte_range(header: &str, size: u64) -> Result<Option<std::ops::Range<u64>>, ()> {
    let Ok(parsed) = http_range_header::parse_range_header(header) else {
        return Ok(None);
    };
    let ranges = parsed.validate(size).map_err(|_| ())?;
    match ranges.as_slice() {
        [one] => Ok(Some(*one.start()..*one.end() + 1)),
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::byte_range;

    #[test]
    fn ranges_as_browsers_ask_for_them() {
        assert_eq!(byte_range("bytes=0-", 1000), Ok(Some(0..1000)));
        assert_eq!(byte_range("bytes=500-", 1000), Ok(Some(500..1000)));
        assert_eq!(byte_range("bytes=10-19", 1000), Ok(Some(10..20)));
        assert_eq!(byte_range("bytes=-100", 1000), Ok(Some(900..1000)));
        // Past the end: unsatisfiable (416); several ranges or garbage: the whole object.
        assert_eq!(byte_range("bytes=2000-", 1000), Err(()));
        assert_eq!(byte_range("bytes=0-1,5-6", 1000), Ok(None));
        assert_eq!(byte_range("pages=1", 1000), Ok(None));
    }
}
