//! Pages for sales staff and managers, served by `dealerscope serve` itself: server-rendered
//! askama templates (`templates/`), text from Fluent translation files (`locales/`), and a
//! little JavaScript for uploads (`static/`), all embedded in the binary.
//!
//! askama was chosen over minijinja because its templates are compiled with the binary: a
//! misspelt field or method fails the build rather than a page in front of a customer, and
//! rendering is plain Rust code with no template parsing at run time.

mod charts;
mod dashboard;
mod follow_ups;
mod format;
mod i18n;
mod login;
mod profile;
mod recordings;
mod session;
mod upload;

use askama::Template;
use axum::extract::Path;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;

pub use i18n::{Lang, Tr};
pub use session::api_session_bridge;
use session::PageUser;

use super::AppState;

/// The pages' routes; merged into the service's router.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/login", get(login::form).post(login::submit))
        .route("/logout", post(login::logout))
        .route("/language", post(login::language))
        .route("/upload", get(upload::page))
        .route(
            "/page-api/customers",
            get(upload::find_customers).post(upload::create_customer),
        )
        .route("/recordings", get(recordings::page))
        .route("/recordings/{id}/audio", get(profile::audio))
        .route("/customers/{id}", get(profile::page))
        .route("/customers/{id}/tags/{tag}", post(profile::correct))
        .route("/follow-ups", get(follow_ups::page))
        .route("/follow-ups/{id}", post(follow_ups::act))
        .route("/dashboard", get(dashboard::page))
        .route("/dashboard/customers.csv", get(dashboard::export))
        .route("/static/{file}", get(asset))
        .layer(axum::middleware::from_fn(session::ensure_csrf))
        .layer(axum::middleware::from_fn(server_timing))
}

/// Says in a `Server-Timing` header how long the server took to produce a page (until its
/// headers; streamed bodies such as audio are not included), for the browser's developer tools
/// and the page timing bench (`benches/pages.rs`).
async fn server_timing(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let started = std::time::Instant::now();
    let mut response = next.run(request).await;
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    if let Ok(v) = header::HeaderValue::from_str(&format!("app;dur={ms:.2}")) {
        response.headers_mut().insert("server-timing", v);
    }
    response
}

/// What every page's layout needs.
pub struct Page {
    pub tr: Tr,
    pub csrf: String,
    pub user: Option<PageUser>,
    /// This page's path, for the navigation's current item.
    pub path: String,
    /// Where the language switch returns to (path and query).
    pub back: String,
    pub title: String,
}

impl Page {
    pub fn t(&self, key: &str) -> String {
        self.tr.t(key)
    }

    pub fn languages(&self) -> [Lang; 2] {
        Lang::ALL
    }

    pub fn is_current(&self, lang: &Lang) -> bool {
        *lang == self.tr.lang
    }

    pub fn signed_in(&self) -> String {
        match &self.user {
            Some(u) => format!(
                "{} · {}",
                self.tr.t1("signed-in-as", "email", &u.email),
                self.tr.t(u.role_key())
            ),
            None => String::new(),
        }
    }
}

/// Renders a page; a template error is logged and answered with a plain 500.
pub fn render(template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!("page template: {e}");
            server_error()
        }
    }
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage {
    page: Page,
    text: String,
}

/// A page saying what went wrong, with the status the API would give (no details of a server
/// fault, which is logged instead).
pub fn api_failure(tr: Tr, error: crate::web::error::ApiError) -> Response {
    use crate::web::error::ApiError;
    let (status, title, text) = match &error {
        ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not-found-title", tr.t("not-found")),
        ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden-title", tr.t("forbidden")),
        ApiError::BadRequest(m) => (StatusCode::BAD_REQUEST, "bad-request-title", m.clone()),
        _ => {
            tracing::error!("page: {error}");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "server-error-title",
                tr.t("server-error"),
            )
        }
    };
    message(tr, status, title, text)
}

/// A form posted without this session's CSRF token.
pub fn expired_form(tr: Tr) -> Response {
    message(
        tr,
        StatusCode::FORBIDDEN,
        "forbidden-title",
        tr.t("form-expired"),
    )
}

fn message(tr: Tr, status: StatusCode, title: &str, text: String) -> Response {
    let page = MessagePage {
        page: Page {
            tr,
            csrf: String::new(),
            user: None,
            path: String::new(),
            back: "/".into(),
            title: tr.t(title),
        },
        text,
    };
    (status, render(&page)).into_response()
}

pub fn server_error() -> Response {
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal error; see the server log",
    )
        .into_response()
}

/// A redirect target from a form is only ever a path on this site.
pub fn local_path(target: &str) -> Option<&str> {
    let ok = target.starts_with('/') && !target.starts_with("//") && !target.contains('\\');
    ok.then_some(target)
}

async fn home(user: Option<PageUser>) -> Redirect {
    match user {
        None => Redirect::to("/login"),
        Some(u) if u.is_salesperson() => Redirect::to("/upload"),
        Some(_) => Redirect::to("/dashboard"),
    }
}

/// Embedded stylesheet and script, revalidated by ETag so a new binary's files are used at once.
async fn asset(Path(file): Path<String>, headers: HeaderMap) -> Response {
    let (body, content_type): (&'static str, &str) = match file.as_str() {
        "app.css" => (
            include_str!("../../../static/app.css"),
            "text/css; charset=utf-8",
        ),
        "upload.js" => (
            include_str!("../../../static/upload.js"),
            "text/javascript; charset=utf-8",
        ),
        "profile.js" => (
            include_str!("../../../static/profile.js"),
            "text/javascript; charset=utf-8",
        ),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    let etag = format!("\"{}\"", &crate::store::token_hash(body)[..16]);
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == etag)
    {
        return StatusCode::NOT_MODIFIED.into_response();
    }
    (
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (header::CACHE_CONTROL, "no-cache".to_string()),
            (header::ETAG, etag),
        ],
        body,
    )
        .into_response()
}
