//! Signing in and out, and the language switch.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use axum_extra::extract::Form;
use serde::Deserialize;

use super::session::{self, Csrf, PageUser, CSRF_COOKIE, SESSION_COOKIE};
use super::{local_path, render, Lang, Page, Tr};
use crate::web::AppState;

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    page: Page,
    error: Option<String>,
    email: String,
    next: String,
}

fn login_page(tr: Tr, csrf: Csrf, error: Option<&str>, email: String, next: String) -> LoginPage {
    LoginPage {
        page: Page {
            tr,
            csrf: csrf.0,
            user: None,
            path: "/login".into(),
            back: format!(
                "/login?next={}",
                url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
            ),
            title: tr.t("login-title"),
        },
        error: error.map(|key| tr.t(key)),
        email,
        next,
    }
}

#[derive(Deserialize)]
pub struct Next {
    next: Option<String>,
}

fn next_or_home(next: Option<&str>) -> String {
    next.and_then(local_path).unwrap_or("/").to_string()
}

pub async fn form(tr: Tr, csrf: Csrf, user: Option<PageUser>, Query(q): Query<Next>) -> Response {
    let next = next_or_home(q.next.as_deref());
    if user.is_some() {
        return Redirect::to(&next).into_response();
    }
    render(&login_page(tr, csrf, None, String::new(), next))
}

#[derive(Deserialize)]
pub struct Credentials {
    email: String,
    password: String,
    #[serde(default)]
    csrf: String,
    next: Option<String>,
}

pub async fn submit(
    State(state): State<AppState>,
    tr: Tr,
    csrf: Csrf,
    headers: HeaderMap,
    jar: CookieJar,
    Form(form): Form<Credentials>,
) -> Response {
    let next = next_or_home(form.next.as_deref());
    if !csrf.accepts(&form.csrf) {
        let page = login_page(tr, csrf, Some("form-expired"), form.email, next);
        return (StatusCode::FORBIDDEN, render(&page)).into_response();
    }
    match state.store.login(&form.email, &form.password).await {
        Ok(Some(token)) => {
            // A new CSRF token with the new session: one planted before sign-in is useless after.
            let jar = jar
                .add(session::session_cookie(token, &headers))
                .add(session::csrf_cookie(session::new_csrf_token(), &headers));
            (jar, Redirect::to(&next)).into_response()
        }
        Ok(None) => {
            let page = login_page(tr, csrf, Some("login-failed"), form.email, next);
            (StatusCode::UNAUTHORIZED, render(&page)).into_response()
        }
        Err(e) => {
            tracing::error!("sign-in: {e}");
            super::server_error()
        }
    }
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

pub async fn logout(
    State(state): State<AppState>,
    csrf: Csrf,
    jar: CookieJar,
    user: Option<PageUser>,
    Form(form): Form<CsrfOnly>,
) -> Response {
    if !csrf.accepts(&form.csrf) {
        return (
            StatusCode::FORBIDDEN,
            "the form had expired; go back and try again",
        )
            .into_response();
    }
    if let Some(user) = user {
        if let Err(e) = state.store.revoke_user_token(&user.token).await {
            tracing::error!("sign-out: {e}");
            return super::server_error();
        }
    }
    let jar = jar
        .add(session::expired(SESSION_COOKIE))
        .add(session::expired(CSRF_COOKIE));
    (jar, Redirect::to("/login")).into_response()
}

#[derive(Deserialize)]
pub struct LanguageChoice {
    lang: String,
    #[serde(default)]
    csrf: String,
    back: Option<String>,
}

/// The language switch: remembered in a cookie, then back to the page it was used on.
pub async fn language(
    csrf: Csrf,
    headers: HeaderMap,
    jar: CookieJar,
    Form(form): Form<LanguageChoice>,
) -> Response {
    let back = next_or_home(form.back.as_deref());
    match Lang::from_tag(&form.lang) {
        Some(lang) if csrf.accepts(&form.csrf) => (
            jar.add(session::lang_cookie(lang, &headers)),
            Redirect::to(&back),
        )
            .into_response(),
        _ => Redirect::to(&back).into_response(),
    }
}
