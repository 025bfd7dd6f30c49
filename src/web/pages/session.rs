//! Page sessions: the store's bearer token kept in an HttpOnly cookie, a CSRF token in a
//! second cookie that every form post and every page-made API call must repeat, and the
//! language cookie.
//!
//! The session cookie holds the same kind of token `POST /api/v1/sessions` issues, so signing
//! out revokes it and the API recognises it. The CSRF token is a random value (double-submit):
//! a cross-site page can make the browser send the cookie, but cannot read it to repeat it in
//! the form or header.

use axum::extract::{FromRequestParts, OptionalFromRequestParts, Request};
use axum::http::header::{ACCEPT_LANGUAGE, AUTHORIZATION};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};

use super::i18n::{Lang, Tr};
use crate::store::accounts::{Principal, Role};
use crate::web::AppState;

pub const SESSION_COOKIE: &str = "ds_session";
pub const CSRF_COOKIE: &str = "ds_csrf";
pub const LANG_COOKIE: &str = "ds_lang";
/// The header page scripts repeat the CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// A page session lasts this long in the browser (signing out ends it at once).
const SESSION_DAYS: i64 = 7;

/// Cookies are marked `Secure` when the service is reached over HTTPS through a proxy that
/// says so; on plain HTTP (a dealership's LAN, the tests) they could not be sent back otherwise.
fn behind_https(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

fn cookie(
    name: &'static str,
    value: String,
    headers: &HeaderMap,
    same_site: SameSite,
) -> Cookie<'static> {
    Cookie::build((name, value))
        .path("/")
        .http_only(true)
        .same_site(same_site)
        .secure(behind_https(headers))
        .build()
}

pub fn session_cookie(token: String, headers: &HeaderMap) -> Cookie<'static> {
    let mut c = cookie(SESSION_COOKIE, token, headers, SameSite::Lax);
    c.set_max_age(time::Duration::days(SESSION_DAYS));
    c
}

pub fn csrf_cookie(token: String, headers: &HeaderMap) -> Cookie<'static> {
    cookie(CSRF_COOKIE, token, headers, SameSite::Strict)
}

pub fn lang_cookie(lang: Lang, headers: &HeaderMap) -> Cookie<'static> {
    let mut c = cookie(LANG_COOKIE, lang.tag().to_string(), headers, SameSite::Lax);
    c.set_max_age(time::Duration::days(365));
    c
}

/// A cookie that removes `name`.
pub fn expired(name: &'static str) -> Cookie<'static> {
    let mut c = Cookie::build((name, "")).path("/").build();
    c.make_removal();
    c
}

pub fn new_csrf_token() -> String {
    // The store's token generator: 256 random bits.
    crate::store::new_token("csrf").unwrap_or_else(|_| crate::store::new_id("csrf"))
}

/// Compares without stopping at the first difference, so timing says nothing about the token.
fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The request's CSRF token (from its cookie, or a new one the response sets).
#[derive(Debug, Clone)]
pub struct Csrf(pub String);

impl Csrf {
    /// Whether a submitted value repeats this request's token; a request that arrived without
    /// the cookie has a fresh token no form can know.
    pub fn accepts(&self, submitted: &str) -> bool {
        !submitted.is_empty() && same_secret(&self.0, submitted)
    }
}

/// Gives every page request a CSRF token: the cookie's, or a new one set on the response.
pub async fn ensure_csrf(jar: CookieJar, mut request: Request, next: Next) -> Response {
    let existing = jar
        .get(CSRF_COOKIE)
        .map(|c| c.value().to_string())
        .filter(|v| !v.is_empty());
    let token = existing.clone().unwrap_or_else(new_csrf_token);
    let headers = request.headers().clone();
    request.extensions_mut().insert(Csrf(token.clone()));
    let response = next.run(request).await;
    if existing.is_some() {
        return response;
    }
    // A handler that rotated the token (sign-in) already set the cookie.
    let already_set = response
        .headers()
        .get_all(axum::http::header::SET_COOKIE)
        .iter()
        .any(|v| v.to_str().is_ok_and(|s| s.starts_with(CSRF_COOKIE)));
    if already_set {
        return response;
    }
    (CookieJar::new().add(csrf_cookie(token, &headers)), response).into_response()
}

impl<S: Send + Sync> FromRequestParts<S> for Csrf {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        // Outside `ensure_csrf` (never for page routes) the token is one nothing can match.
        Ok(parts
            .extensions
            .get::<Csrf>()
            .cloned()
            .unwrap_or_else(|| Csrf(new_csrf_token())))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Tr {
    type Rejection = std::convert::Infallible;

    /// The language cookie when set (the switch), else the browser's preference.
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let jar = CookieJar::from_headers(&parts.headers);
        let chosen = jar.get(LANG_COOKIE).and_then(|c| Lang::from_tag(c.value()));
        let lang = chosen.unwrap_or_else(|| {
            Lang::negotiate(
                parts
                    .headers
                    .get(ACCEPT_LANGUAGE)
                    .and_then(|v| v.to_str().ok()),
            )
        });
        Ok(Tr { lang })
    }
}

/// A signed-in person on a page.
#[derive(Debug, Clone)]
pub struct PageUser {
    pub principal: Principal,
    pub role: Role,
    pub email: String,
    /// The session's token (to revoke on sign-out).
    pub token: String,
}

impl PageUser {
    pub fn is_salesperson(&self) -> bool {
        self.role == Role::Salesperson
    }

    pub fn role_key(&self) -> &'static str {
        match self.role {
            Role::Salesperson => "role-salesperson",
            Role::Manager => "role-manager",
            Role::Admin => "role-admin",
        }
    }
}

/// Pages that need a person answer an anonymous visitor with the sign-in page, remembering
/// where they were going.
pub struct ToLogin(String);

impl IntoResponse for ToLogin {
    fn into_response(self) -> Response {
        Redirect::to(&format!(
            "/login?next={}",
            url::form_urlencoded::byte_serialize(self.0.as_bytes()).collect::<String>()
        ))
        .into_response()
    }
}

impl PageUser {
    /// The person the request's session cookie belongs to, if it is a live session.
    async fn from_session(parts: &Parts, state: &AppState) -> Result<Option<PageUser>, Response> {
        let jar = CookieJar::from_headers(&parts.headers);
        let Some(token) = jar.get(SESSION_COOKIE).map(|c| c.value().to_string()) else {
            return Ok(None);
        };
        let failed = |e: crate::store::StoreError| {
            tracing::error!("page session lookup: {e}");
            super::server_error()
        };
        // Device tokens cannot sign in to pages; only people can.
        let Some(principal @ Principal::User { .. }) =
            state.store.authenticate(&token).await.map_err(failed)?
        else {
            return Ok(None);
        };
        let (role, email) = match &principal {
            Principal::User { id, role, .. } => {
                (*role, state.store.user_email(id).await.map_err(failed)?)
            }
            Principal::Device { .. } => return Ok(None),
        };
        Ok(Some(PageUser {
            principal,
            role,
            email: email.unwrap_or_default(),
            token,
        }))
    }
}

impl FromRequestParts<AppState> for PageUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        match PageUser::from_session(parts, state).await? {
            Some(user) => Ok(user),
            None => {
                let here = parts
                    .uri
                    .path_and_query()
                    .map_or("/".into(), |p| p.to_string());
                Err(ToLogin(here).into_response())
            }
        }
    }
}

impl OptionalFromRequestParts<AppState> for PageUser {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Option<Self>, Response> {
        PageUser::from_session(parts, state).await
    }
}

/// Lets page scripts call the JSON API with the page session: a request to `/api/` without an
/// `Authorization` header, carrying the session cookie and repeating the CSRF cookie in the
/// `X-CSRF-Token` header, is treated as if it carried the session's bearer token. Without the
/// matching header (a cross-site request cannot produce it) the cookie is ignored.
pub async fn api_session_bridge(jar: CookieJar, mut request: Request, next: Next) -> Response {
    let headers = request.headers();
    let is_api = request.uri().path().starts_with("/api/");
    if is_api && !headers.contains_key(AUTHORIZATION) {
        let session = jar.get(SESSION_COOKIE).map(|c| c.value().to_string());
        let csrf_cookie = jar.get(CSRF_COOKIE).map(|c| c.value().to_string());
        let csrf_header = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
        if let (Some(session), Some(cookie), Some(header)) = (session, csrf_cookie, csrf_header) {
            if Csrf(cookie).accepts(header) {
                if let Ok(value) = HeaderValue::from_str(&format!("Bearer {session}")) {
                    request.headers_mut().insert(AUTHORIZATION, value);
                }
            }
        }
    }
    next.run(request).await
}
