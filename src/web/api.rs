//! The JSON API under `/api/v1`, registered together with its OpenAPI description: each
//! handler's `#[utoipa::path]` annotation documents it, and `routes!` adds the route and its
//! documentation in one step, so the document served at `/api/v1/openapi.json` cannot leave a
//! route out (a test also checks the source for `/api/v1` paths registered elsewhere).

use axum::routing::get;
use axum::{Json, Router};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{audio, corrections, customers, recordings, sessions, uploads, AppState};

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "dealerscope",
        description = "Recordings of showroom conversations in, customer profiles out. Devices push \
            recordings with their own tokens; people sign in for theirs. A salesperson sees their own \
            customers, a manager the dealership."
    ),
    modifiers(&BearerTokens),
    tags(
        (name = "recordings", description = "Pushing recordings and reading their analysis"),
        (name = "uploads", description = "Resumable uploads (tus 1.0.0) for long recordings"),
        (name = "customers", description = "Customer profiles, groups, follow-ups and the forecast"),
        (name = "sessions", description = "Signing in"),
    )
)]
struct ApiDoc;

/// Declares the `bearer` scheme the operations' `security` names.
struct BearerTokens;

impl utoipa::Modify for BearerTokens {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme(
                "bearer",
                SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
            );
    }
}

/// The API's routes, and `/api/v1/openapi.json` describing them.
pub fn router() -> Router<AppState> {
    let tus = OpenApiRouter::new()
        .routes(routes!(uploads::create, uploads::options))
        .routes(routes!(
            uploads::status,
            uploads::append,
            uploads::terminate
        ))
        .layer(axum::middleware::from_fn(uploads::tus_resumable));
    let (router, document) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(sessions::create))
        .routes(routes!(recordings::create))
        .routes(routes!(recordings::get))
        .routes(routes!(audio::api))
        .routes(routes!(customers::list))
        .routes(routes!(customers::get, customers::delete))
        .routes(routes!(customers::outcome))
        .routes(routes!(customers::merge))
        .routes(routes!(corrections::put))
        .routes(routes!(customers::follow_ups))
        .routes(routes!(customers::forecast))
        .merge(tus)
        .split_for_parts();
    router.route(
        "/api/v1/openapi.json",
        get(move || async move { Json(document) }),
    )
}
