//! A manager's verdict on one of a customer's tags: `PUT
//! /api/v1/customers/{id}/tags/{tag}/correction` with `{"verdict": "accepted" | "rejected"}`.
//! The verdict is kept across re-analysis and shown in the profile (`tags[].correction`); see
//! [`crate::profile::corrections`].

use axum::extract::{Path, State};
use axum::Json;
use serde::Deserialize;

use super::auth::Caller;
use super::customers::{require_manager, visible};
use super::error::{ApiError, ErrorBody};
use super::AppState;
use crate::profile::corrections::Verdict;
use crate::profile::customer::ProfileTag;
use crate::store::accounts::Principal;

#[derive(Deserialize, utoipa::ToSchema)]
pub struct CorrectionBody {
    /// `accepted` or `rejected`.
    #[schema(value_type = String)]
    verdict: Verdict,
}

/// A manager's verdict on a customer's tag, kept across re-analysis.
#[utoipa::path(
    put,
    path = "/api/v1/customers/{id}/tags/{tag}/correction",
    tag = "customers",
    params(
        ("id" = String, Path, description = "The customer's id"),
        ("tag" = String, Path, description = "A tag id the profile shows, e.g. `pref.body.suv`"),
    ),
    request_body = CorrectionBody,
    responses(
        (status = 200, description = "The tag as the profile now shows it, with its correction", body = Object),
        (status = 401, description = "Missing or unknown token", body = ErrorBody),
        (status = 403, description = "Only managers correct tags", body = ErrorBody),
        (status = 404, description = "No such customer visible to the caller, or no such tag on the profile", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn put(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path((id, tag)): Path<(String, String)>,
    Json(body): Json<CorrectionBody>,
) -> Result<Json<ProfileTag>, ApiError> {
    correct_tag(&state, &who, &id, &tag, body.verdict)
        .await
        .map(Json)
}

/// Records the verdict (managers only, on a tag the customer's profile shows); returns the
/// tag as the profile now shows it.
pub async fn correct_tag(
    state: &AppState,
    who: &Principal,
    customer_id: &str,
    tag: &str,
    verdict: Verdict,
) -> Result<ProfileTag, ApiError> {
    require_manager(who)?;
    let customer = visible(state, who, customer_id).await?;
    let config = state.pipeline.config();
    let now = chrono::Utc::now();
    let profile = state.store.profile(&customer.id, config, now).await?;
    let Some(current) = profile.tags.iter().find(|t| t.id == tag) else {
        return Err(ApiError::NotFound(format!(
            "customer `{customer_id}` has no tag `{tag}`"
        )));
    };
    let profile = state
        .store
        .set_tag_correction(
            &customer.id,
            tag,
            verdict,
            current.category,
            &current.rule,
            who,
            config,
            now,
        )
        .await?;
    state
        .store
        .audit(who, "correct-tag", "customer", &customer.id)
        .await?;
    profile
        .tags
        .into_iter()
        .find(|t| t.id == tag)
        .ok_or_else(|| ApiError::NotFound(format!("customer `{customer_id}` has no tag `{tag}`")))
}
