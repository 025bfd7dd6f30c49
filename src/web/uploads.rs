//! Resumable uploads for long recordings over flaky Wi-Fi: the tus 1.0.0 protocol
//! (<https://tus.io/protocols/resumable-upload>), core plus the `creation`, `termination` and
//! `expiration` extensions, so off-the-shelf tus clients work.
//!
//! - `POST /api/v1/uploads` with `Upload-Length` and the same metadata as a push (the
//!   `Idempotency-Key`, `X-Recorded-At`, `X-Customer-*`, `X-Content-SHA256` and `Content-Type`
//!   headers, or tus `Upload-Metadata` keys `idempotency_key`, `recorded_at`, `customer_phone`,
//!   `customer_name`, `customer_id`, `sha256`, `filetype`): `201` with `Location`. The same
//!   Idempotency-Key again finds the same upload (or, once complete, its recording: `200`).
//! - `HEAD` (or `GET`, with a JSON body) `/api/v1/uploads/{id}`: `Upload-Offset`, the bytes kept.
//! - `PATCH /api/v1/uploads/{id}` with `Upload-Offset` and `application/offset+octet-stream`:
//!   appends. A chunk cut off midway keeps what arrived; the client asks for the offset and
//!   goes on from there. The last byte ends the upload in the same path as a push
//!   (size limit, checksum, customer, job) and the answer names the recording in
//!   `X-Recording-Id`.
//! - `DELETE /api/v1/uploads/{id}`: abandons an unfinished upload.
//! - An unfinished upload expires (tus `expiration`): `Upload-Expires` says when, it is not
//!   found after that, and the service's upkeep deletes its staged bytes.
//!
//! The bytes are staged in a local file whose length is the offset (fsynced before each
//! answer), so one upload must be continued on the same server; the finished body then goes
//! to the audio store like any push. The tus checksum extension is not offered: the whole
//! body's `X-Content-SHA256` is checked when it completes.

use std::collections::HashSet;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use futures_util::StreamExt as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use super::auth::Caller;
use super::error::{ApiError, ErrorBody};
use super::recordings::{push_headers, receipt, record, Receipt};
use super::AppState;
use crate::store::accounts::Principal;
use crate::store::objects::UploadError;
use crate::store::recordings::Recording;
use crate::store::uploads::Upload;

pub const TUS_VERSION: &str = "1.0.0";
const TUS_RESUMABLE: HeaderName = HeaderName::from_static("tus-resumable");
const UPLOAD_OFFSET: HeaderName = HeaderName::from_static("upload-offset");
const UPLOAD_LENGTH: HeaderName = HeaderName::from_static("upload-length");
const RECORDING_ID: HeaderName = HeaderName::from_static("x-recording-id");

/// A chunk whose sender goes quiet this long is treated as cut off, so a dead connection does
/// not hold its upload.
const IDLE: Duration = Duration::from_secs(30);

/// Uploads a request is appending to right now: one writer per upload.
#[derive(Default)]
pub struct Writing(std::sync::Mutex<HashSet<String>>);

struct WritingGuard<'a> {
    writing: &'a Writing,
    id: String,
}

impl Writing {
    fn claim(&self, id: &str) -> Option<WritingGuard<'_>> {
        let mut ids = self.0.lock().unwrap_or_else(|p| p.into_inner());
        ids.insert(id.to_string()).then(|| WritingGuard {
            writing: self,
            id: id.to_string(),
        })
    }
}

impl Drop for WritingGuard<'_> {
    fn drop(&mut self) {
        let mut ids = self.writing.0.lock().unwrap_or_else(|p| p.into_inner());
        ids.remove(&self.id);
    }
}

/// Every answer on the upload routes, errors included, names the protocol version.
pub async fn tus_resumable(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let mut response = next.run(request).await;
    response
        .headers_mut()
        .insert(TUS_RESUMABLE, HeaderValue::from_static(TUS_VERSION));
    response
}

fn tus_response(status: StatusCode, headers: &[(HeaderName, String)]) -> Response {
    let mut response = status.into_response();
    let map = response.headers_mut();
    for (name, value) in headers {
        if let Ok(v) = HeaderValue::from_str(value) {
            map.insert(name.clone(), v);
        }
    }
    response
}

/// A client speaking another tus version is refused (`412`), as the protocol asks.
fn check_version(headers: &HeaderMap) -> Result<(), ApiError> {
    match headers.get(&TUS_RESUMABLE) {
        Some(v) if v != TUS_VERSION => Err(ApiError::PreconditionFailed(format!(
            "this server speaks tus {TUS_VERSION}"
        ))),
        _ => Ok(()),
    }
}

fn number_header(headers: &HeaderMap, name: &HeaderName) -> Result<Option<u64>, ApiError> {
    headers
        .get(name)
        .map(|v| {
            v.to_str()
                .ok()
                .and_then(|s| s.trim().parse::<u64>().ok())
                .ok_or_else(|| ApiError::BadRequest(format!("{name} must be a whole number")))
        })
        .transpose()
}

/// What this server supports of tus (`Tus-Version`, `Tus-Extension`, `Tus-Max-Size`).
#[utoipa::path(
    options,
    path = "/api/v1/uploads",
    tag = "uploads",
    responses((status = 204, description = "The tus capabilities, in headers"))
)]
pub async fn options(State(state): State<AppState>) -> Response {
    tus_response(
        StatusCode::NO_CONTENT,
        &[
            (HeaderName::from_static("tus-version"), TUS_VERSION.into()),
            (
                HeaderName::from_static("tus-extension"),
                "creation,termination,expiration".into(),
            ),
            (
                HeaderName::from_static("tus-max-size"),
                state.config.max_upload_bytes.to_string(),
            ),
        ],
    )
}

/// tus `Upload-Metadata` (`key base64value,...`) as the push headers it stands for; headers
/// given directly win.
fn with_metadata(headers: &HeaderMap) -> Result<HeaderMap, ApiError> {
    let mut merged = headers.clone();
    let Some(metadata) = headers.get("upload-metadata") else {
        return Ok(merged);
    };
    let bad = || ApiError::BadRequest("Upload-Metadata is not `key base64value,...`".into());
    for pair in metadata.to_str().map_err(|_| bad())?.split(',') {
        let mut parts = pair.trim().splitn(2, ' ');
        let key = parts.next().unwrap_or_default();
        let value = base64::engine::general_purpose::STANDARD
            .decode(parts.next().unwrap_or_default().trim())
            .map_err(|_| bad())?;
        let header = match key {
            "idempotency_key" => "idempotency-key",
            "recorded_at" => "x-recorded-at",
            "customer_phone" => "x-customer-phone",
            "customer_name" => "x-customer-name",
            "customer_id" => "x-customer-id",
            "sha256" => "x-content-sha256",
            "filetype" => "content-type",
            _ => continue,
        };
        if !merged.contains_key(header) {
            let value = HeaderValue::from_bytes(&value).map_err(|_| bad())?;
            merged.insert(HeaderName::from_static(header), value);
        }
    }
    Ok(merged)
}

/// Start a resumable upload (tus creation) with the push's metadata.
#[utoipa::path(
    post,
    path = "/api/v1/uploads",
    tag = "uploads",
    params(
        ("Upload-Length" = u64, Header, description = "The whole body's size in bytes"),
        ("Tus-Resumable" = Option<String>, Header, description = "1.0.0"),
        ("Upload-Metadata" = Option<String>, Header, description = "tus metadata: `key base64value,...` with keys idempotency_key, recorded_at, customer_phone, customer_name, customer_id, sha256, filetype"),
        ("Content-Type" = Option<String>, Header, description = "The finished body's type, as for a push"),
        ("Idempotency-Key" = Option<String>, Header, description = "As for a push: the same key finds the same upload, or its recording once complete"),
        ("X-Recorded-At" = Option<String>, Header, description = "As for a push"),
        ("X-Customer-Phone" = Option<String>, Header, description = "As for a push"),
        ("X-Customer-Name" = Option<String>, Header, description = "As for a push"),
        ("X-Customer-Id" = Option<String>, Header, description = "As for a push"),
        ("X-Content-SHA256" = Option<String>, Header, description = "The whole body's SHA-256, checked when the last chunk arrives"),
    ),
    responses(
        (status = 201, description = "Created (or found by Idempotency-Key): its address in Location, the bytes kept in Upload-Offset"),
        (status = 200, description = "A recording with this Idempotency-Key exists", body = Receipt),
        (status = 400, description = "No Upload-Length, or bad metadata", body = ErrorBody),
        (status = 401, description = "Missing or unknown token", body = ErrorBody),
        (status = 412, description = "Another tus version", body = ErrorBody),
        (status = 413, description = "Upload-Length is beyond the limit", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn create(
    State(state): State<AppState>,
    Caller(caller): Caller,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    check_version(&headers)?;
    let headers = with_metadata(&headers)?;
    let push = push_headers(&headers)?;
    if let Some(key) = &push.idempotency_key {
        if let Some(existing) = state.store.recording_by_key(&caller, key).await? {
            return Ok(receipt(StatusCode::OK, &existing));
        }
    }
    if headers.contains_key("upload-defer-length") {
        return Err(ApiError::BadRequest(
            "Upload-Defer-Length is not supported: give Upload-Length".into(),
        ));
    }
    let length = number_header(&headers, &UPLOAD_LENGTH)?
        .ok_or_else(|| ApiError::BadRequest("Upload-Length is required".into()))?;
    if length == 0 {
        return Err(UploadError::Empty.into());
    }
    let limit = state.config.max_upload_bytes;
    if length > limit {
        return Err(UploadError::TooLarge { limit }.into());
    }
    let mut upload = state.store.create_upload(&caller, length, &push).await?;
    if expires_at(&state, &upload).is_some_and(|at| at <= chrono::Utc::now()) {
        // Found by its Idempotency-Key but expired before the upkeep deleted it: start afresh.
        state.store.delete_upload(&upload.id).await?;
        upload = state.store.create_upload(&caller, length, &push).await?;
    }
    if upload.length != length {
        return Err(ApiError::BadRequest(format!(
            "the upload with this Idempotency-Key is {} bytes long, not {length}",
            upload.length
        )));
    }
    let offset = staged(&state, &upload).await?;
    let location = format!("/api/v1/uploads/{}", upload.id);
    let mut headers = vec![(header::LOCATION, location)];
    headers.extend(progress_headers(&state, &upload, offset));
    let mut response = tus_response(StatusCode::CREATED, &headers);
    *response.body_mut() = Body::from(
        serde_json::json!({ "id": upload.id, "offset": offset, "length": length }).to_string(),
    );
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(response)
}

/// The caller's own upload: only the device or person that started it may see or continue it,
/// and not after it expired.
async fn own_upload(state: &AppState, caller: &Principal, id: &str) -> Result<Upload, ApiError> {
    let upload = state
        .store
        .upload(id)
        .await?
        .filter(|u| u.dealership_id == caller.dealership_id() && u.source_id == caller.id())
        .ok_or_else(|| ApiError::NotFound(format!("no upload `{id}`")))?;
    match expires_at(state, &upload) {
        Some(at) if at <= chrono::Utc::now() => Err(ApiError::NotFound(format!(
            "upload `{id}` expired unfinished at {at}; start a new one"
        ))),
        _ => Ok(upload),
    }
}

/// `Upload-Expires` for an unfinished upload, in RFC 9110's HTTP date format as tus asks.
fn expires_header(state: &AppState, upload: &Upload) -> Option<(HeaderName, String)> {
    let at = expires_at(state, upload)?;
    let date = at.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
    Some((HeaderName::from_static("upload-expires"), date))
}

/// When an unfinished upload expires (`None` once it is recorded).
fn expires_at(state: &AppState, upload: &Upload) -> Option<chrono::DateTime<chrono::Utc>> {
    upload
        .recording_id
        .is_none()
        .then(|| upload.created_at + state.config.upload_expiry)
}

/// Bytes kept so far: the staging file's length, or all of them once recorded.
async fn staged(state: &AppState, upload: &Upload) -> Result<u64, ApiError> {
    if upload.recording_id.is_some() {
        return Ok(upload.length);
    }
    match tokio::fs::metadata(state.store.staging_file(&upload.id)).await {
        Ok(m) => Ok(m.len()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(UploadError::Io(e).into()),
    }
}

fn progress_headers(state: &AppState, upload: &Upload, offset: u64) -> Vec<(HeaderName, String)> {
    let mut headers = vec![
        (UPLOAD_OFFSET, offset.to_string()),
        (UPLOAD_LENGTH, upload.length.to_string()),
        (header::CACHE_CONTROL, "no-store".to_string()),
    ];
    headers.extend(expires_header(state, upload));
    if let Some(rec) = &upload.recording_id {
        headers.push((RECORDING_ID, rec.clone()));
    }
    headers
}

/// Where to resume: `Upload-Offset` (and the same as JSON for GET); `X-Recording-Id` once
/// complete.
#[utoipa::path(
    method(get, head),
    path = "/api/v1/uploads/{id}",
    tag = "uploads",
    params(("id" = String, Path, description = "The upload's id (from Location)")),
    responses(
        (status = 200, description = "Upload-Offset, Upload-Length, and X-Recording-Id when complete"),
        (status = 401, description = "Missing or unknown token", body = ErrorBody),
        (status = 404, description = "No such upload of the caller's", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn status(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let upload = own_upload(&state, &caller, &id).await?;
    let offset = staged(&state, &upload).await?;
    let mut response = tus_response(StatusCode::OK, &progress_headers(&state, &upload, offset));
    let body = serde_json::json!({
        "id": upload.id,
        "offset": offset,
        "length": upload.length,
        "recording_id": upload.recording_id,
    });
    *response.body_mut() = Body::from(body.to_string());
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(response)
}

/// Append a chunk at `Upload-Offset`. The last one records the upload like a push and names
/// the recording in `X-Recording-Id`.
#[utoipa::path(
    patch,
    path = "/api/v1/uploads/{id}",
    tag = "uploads",
    params(
        ("id" = String, Path, description = "The upload's id (from Location)"),
        ("Upload-Offset" = u64, Header, description = "Where this chunk starts: the offset the server reported"),
    ),
    request_body(content = String, content_type = "application/offset+octet-stream", description = "The next bytes"),
    responses(
        (status = 204, description = "Appended: the new Upload-Offset, and X-Recording-Id when complete"),
        (status = 400, description = "The chunk broke off (what arrived is kept) or runs past Upload-Length", body = ErrorBody),
        (status = 401, description = "Missing or unknown token", body = ErrorBody),
        (status = 404, description = "No such upload of the caller's", body = ErrorBody),
        (status = 409, description = "Upload-Offset is not where the upload is: the right one is in Upload-Offset"),
        (status = 415, description = "Not application/offset+octet-stream", body = ErrorBody),
        (status = 422, description = "The finished body does not match X-Content-SHA256: the upload is dropped", body = ErrorBody),
        (status = 423, description = "Another request is appending to this upload", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn append(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    check_version(&headers)?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    if content_type != Some("application/offset+octet-stream") {
        return Err(ApiError::UnsupportedMediaType(
            "a chunk is sent as application/offset+octet-stream".into(),
        ));
    }
    let claimed = number_header(&headers, &UPLOAD_OFFSET)?
        .ok_or_else(|| ApiError::BadRequest("Upload-Offset is required".into()))?;
    let upload = own_upload(&state, &caller, &id).await?;
    let Some(_writing) = state.uploads_writing.claim(&upload.id) else {
        return Err(ApiError::Locked(
            "another request is appending to this upload; ask for its offset and retry".into(),
        ));
    };
    let mut offset = staged(&state, &upload).await?;
    if claimed != offset || upload.recording_id.is_some() {
        let mut response = tus_response(
            StatusCode::CONFLICT,
            &progress_headers(&state, &upload, offset),
        );
        *response.body_mut() = Body::from(
            serde_json::json!({ "error": format!("the upload is at offset {offset}, not {claimed}") })
                .to_string(),
        );
        return Ok(response);
    }
    let path = state.store.staging_file(&upload.id);
    let mut file = tokio::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .await
        .map_err(UploadError::Io)?;
    let mut body = body.into_data_stream();
    let mut broke_off = None;
    loop {
        let chunk = match tokio::time::timeout(IDLE, body.next()).await {
            Err(_) => {
                broke_off = Some(format!("nothing arrived for {} s", IDLE.as_secs()));
                break;
            }
            Ok(None) => break,
            Ok(Some(Err(e))) => {
                broke_off = Some(e.to_string());
                break;
            }
            Ok(Some(Ok(chunk))) => chunk,
        };
        if offset + chunk.len() as u64 > upload.length {
            // Nothing of a chunk that overruns the declared length is kept.
            file.set_len(claimed).await.map_err(UploadError::Io)?;
            file.sync_all().await.map_err(UploadError::Io)?;
            return Err(ApiError::BadRequest(format!(
                "the chunk goes past Upload-Length ({} bytes)",
                upload.length
            )));
        }
        file.write_all(&chunk).await.map_err(UploadError::Io)?;
        offset += chunk.len() as u64;
    }
    // What arrived is kept (and durable) even when the chunk broke off: the client resumes
    // from the offset it asks for next.
    file.sync_all().await.map_err(UploadError::Io)?;
    drop(file);
    if let Some(reason) = broke_off {
        return Err(UploadError::Incomplete(format!(
            "{reason}; {offset} bytes are kept, resume from there"
        ))
        .into());
    }
    let mut headers = vec![(UPLOAD_OFFSET, offset.to_string())];
    if offset == upload.length {
        let rec = finish(&state, &caller, &upload).await?;
        headers.push((RECORDING_ID, rec.id));
    } else {
        headers.extend(expires_header(&state, &upload));
    }
    Ok(tus_response(StatusCode::NO_CONTENT, &headers))
}

/// Records a complete upload exactly as a push of the same body would be.
async fn finish(
    state: &AppState,
    caller: &Principal,
    upload: &Upload,
) -> Result<Recording, ApiError> {
    let mut push = upload.meta.clone();
    // An upload is never recorded twice: without a key of its own, its id is the key.
    let key = push
        .idempotency_key
        .get_or_insert_with(|| format!("upload:{}", upload.id))
        .clone();
    let path = state.store.staging_file(&upload.id);
    // The recording may exist already: the server stopped before noting it on the upload.
    let rec = match state.store.recording_by_key(caller, &key).await? {
        Some(rec) => rec,
        None => {
            let file = tokio::fs::File::open(&path)
                .await
                .map_err(UploadError::Io)?;
            match record(state, caller, push, file_chunks(file)).await {
                Ok((_, rec)) => rec,
                Err(
                    e @ ApiError::Upload(
                        UploadError::ChecksumMismatch { .. }
                        | UploadError::TooLarge { .. }
                        | UploadError::Empty,
                    ),
                ) => {
                    // A body that can never be recorded leaves nothing behind.
                    state.store.delete_upload(&upload.id).await?;
                    return Err(e);
                }
                Err(e) => return Err(e),
            }
        }
    };
    state
        .store
        .set_upload_recording(&upload.id, &rec.id)
        .await?;
    if let Err(e) = tokio::fs::remove_file(&path).await {
        tracing::warn!(upload = %upload.id, "cannot remove a finished upload's staging file: {e}");
    }
    Ok(rec)
}

/// A file as a stream of chunks, for the audio store.
fn file_chunks(
    file: tokio::fs::File,
) -> impl futures_util::Stream<Item = std::io::Result<bytes::Bytes>> + Unpin {
    Box::pin(futures_util::stream::try_unfold(
        file,
        |mut file| async move {
            let mut buf = vec![0u8; 256 * 1024];
            let n = file.read(&mut buf).await?;
            if n == 0 {
                return Ok(None);
            }
            buf.truncate(n);
            Ok(Some((bytes::Bytes::from(buf), file)))
        },
    ))
}

/// Abandon an unfinished upload (tus termination); a finished one stays recorded.
#[utoipa::path(
    delete,
    path = "/api/v1/uploads/{id}",
    tag = "uploads",
    params(("id" = String, Path, description = "The upload's id (from Location)")),
    responses(
        (status = 204, description = "Dropped"),
        (status = 401, description = "Missing or unknown token", body = ErrorBody),
        (status = 404, description = "No such upload of the caller's", body = ErrorBody),
        (status = 423, description = "A request is appending to it", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn terminate(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let upload = own_upload(&state, &caller, &id).await?;
    let Some(_writing) = state.uploads_writing.claim(&upload.id) else {
        return Err(ApiError::Locked(
            "a request is appending to this upload".into(),
        ));
    };
    if upload.recording_id.is_none() {
        state.store.delete_upload(&upload.id).await?;
    }
    Ok(tus_response(StatusCode::NO_CONTENT, &[]))
}
