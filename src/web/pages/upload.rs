//! The upload page, and the small JSON calls its script makes to find or create the customer.
//! The files themselves go straight to `POST /api/v1/recordings` (see `static/upload.js`).

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

use super::session::{Csrf, PageUser, CSRF_HEADER};
use super::{render, Page, Tr};
use crate::store::StoreError;
use crate::web::AppState;

#[derive(Template)]
#[template(path = "upload.html")]
struct UploadPage {
    page: Page,
    /// The script's own text in the page's language, as JSON safe inside `<script>`.
    text_json: String,
}

/// The messages `upload.js` shows.
const SCRIPT_TEXT: [&str; 8] = [
    "status-uploading",
    "status-queued",
    "status-processing",
    "status-done",
    "status-failed",
    "customer-none-found",
    "customer-choose",
    "customer-unnamed",
];

/// JSON that cannot end a `<script>` element or open a comment inside it.
fn script_json(value: &serde_json::Value) -> String {
    value
        .to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

pub async fn page(user: PageUser, tr: Tr, csrf: Csrf) -> Response {
    let mut text: serde_json::Map<String, serde_json::Value> = SCRIPT_TEXT
        .iter()
        .map(|key| (key.to_string(), tr.t(key).into()))
        .collect();
    // Messages with an argument: the script fills in `{}`.
    text.insert(
        "upload-failed".into(),
        tr.t1("upload-failed", "reason", "{}").into(),
    );
    text.insert(
        "customer-chosen".into(),
        tr.t1("customer-chosen", "name", "{}").into(),
    );
    text.insert(
        "upload-progress".into(),
        tr.t1("upload-progress", "file", "{}").into(),
    );
    render(&UploadPage {
        page: Page {
            tr,
            csrf: csrf.0,
            user: Some(user),
            path: "/upload".into(),
            back: "/upload".into(),
            title: tr.t("upload-title"),
        },
        text_json: script_json(&serde_json::Value::Object(text)),
    })
}

#[derive(Deserialize)]
pub struct Search {
    #[serde(default)]
    q: String,
}

fn store_failure(e: StoreError) -> Response {
    match e {
        StoreError::Invalid(message) => (
            StatusCode::BAD_REQUEST,
            Json(serde_json::json!({ "error": message })),
        )
            .into_response(),
        e => {
            tracing::error!("page customer lookup: {e}");
            super::server_error()
        }
    }
}

pub async fn find_customers(
    State(state): State<AppState>,
    user: PageUser,
    Query(search): Query<Search>,
) -> Response {
    if search.q.trim().chars().count() < 2 {
        return Json(Vec::<()>::new()).into_response();
    }
    match state
        .store
        .find_customers(&user.principal, &search.q, 10)
        .await
    {
        Ok(found) => Json(found).into_response(),
        Err(e) => store_failure(e),
    }
}

#[derive(Deserialize)]
pub struct NewCustomer {
    name: Option<String>,
    phone: Option<String>,
}

pub async fn create_customer(
    State(state): State<AppState>,
    user: PageUser,
    csrf: Csrf,
    headers: HeaderMap,
    Json(new): Json<NewCustomer>,
) -> Response {
    let submitted = headers
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !csrf.accepts(submitted) {
        return (
            StatusCode::FORBIDDEN,
            Json(serde_json::json!({ "error": "missing or stale CSRF token" })),
        )
            .into_response();
    }
    let clean = |s: Option<String>| s.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    let (name, phone) = (clean(new.name), clean(new.phone));
    if name.is_none() && phone.is_none() {
        return store_failure(StoreError::Invalid(
            "a new customer needs a name or a phone".into(),
        ));
    }
    match state
        .store
        .find_or_create_customer(&user.principal, name.as_deref(), phone.as_deref())
        .await
    {
        Ok(customer) => (StatusCode::CREATED, Json(customer)).into_response(),
        Err(e) => store_failure(e),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn script_json_cannot_close_the_script_element() {
        let v = serde_json::json!({ "x": "</script><!-- &" });
        let s = super::script_json(&v);
        assert!(
            !s.contains('<') && !s.contains('>') && !s.contains('&'),
            "{s}"
        );
        assert_eq!(serde_json::from_str::<serde_json::Value>(&s).unwrap(), v);
    }
}
