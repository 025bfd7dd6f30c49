//! Customer records: profiles, lists by tag and tier, the follow-up queue, the forecast,
//! outcomes, merges and deletion.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::auth::Caller;
use super::error::{ApiError, ErrorBody};
use super::AppState;
use crate::profile::customer::{CustomerProfile, OutcomeKind};
use crate::profile::forecast_report::{summarize, ForecastReport};
use crate::store::accounts::Principal;
use crate::store::profiles::{CustomerFilter, CustomerSummary};

/// The customer `id` names (following merges) if the caller may see it; 404 otherwise, so
/// other dealerships' ids reveal nothing.
pub(super) async fn visible(
    state: &AppState,
    who: &Principal,
    id: &str,
) -> Result<CustomerSummary, ApiError> {
    let not_found = || ApiError::NotFound(format!("no customer `{id}`"));
    let mut conn = state
        .store
        .pool
        .acquire()
        .await
        .map_err(crate::store::StoreError::from)?;
    let current = crate::store::customers::current_id(&mut conn, who.dealership_id(), id)
        .await?
        .ok_or_else(not_found)?;
    drop(conn);
    let customer = state
        .store
        .customer(&current)
        .await?
        .ok_or_else(not_found)?;
    if !state.store.may_see_customer(who, &customer) {
        return Err(not_found());
    }
    Ok(customer)
}

pub(super) fn require_manager(who: &Principal) -> Result<(), ApiError> {
    if who.sees_whole_dealership() {
        Ok(())
    } else {
        Err(ApiError::Forbidden("only a manager may do this".into()))
    }
}

/// A customer's profile, aggregated over every conversation (the read is audited).
#[utoipa::path(
    get,
    path = "/api/v1/customers/{id}",
    tag = "customers",
    params(("id" = String, Path, description = "The customer's id (a merged-away id leads to the record it was merged into)")),
    responses(
        (status = 200, description = "The profile: budget with its history, preferences, objections, intents, tags with evidence, priority, forecast", body = Object),
        (status = 401, description = "Missing or unknown token", body = ErrorBody),
        (status = 404, description = "No such customer visible to the caller", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn get(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(id): Path<String>,
) -> Result<Json<CustomerProfile>, ApiError> {
    let customer = visible(&state, &who, &id).await?;
    let profile = state
        .store
        .profile(&customer.id, state.pipeline.config(), chrono::Utc::now())
        .await?;
    state
        .store
        .audit(&who, "read", "customer", &customer.id)
        .await?;
    Ok(Json(profile))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CustomerList {
    customers: Vec<CustomerSummary>,
}

/// The caller's customers (a group by tag and tier filters), highest priority first.
#[utoipa::path(
    get,
    path = "/api/v1/customers",
    tag = "customers",
    params(CustomerFilter),
    responses(
        (status = 200, description = "Up to 500 customers", body = CustomerList),
        (status = 401, description = "Missing or unknown token", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    Caller(who): Caller,
    Query(filter): Query<CustomerFilter>,
) -> Result<Json<CustomerList>, ApiError> {
    let customers = state.store.customers(&who, &filter, 500).await?;
    Ok(Json(CustomerList { customers }))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct FollowUps {
    follow_ups: Vec<CustomerSummary>,
}

/// The caller's follow-up queue, as the follow-ups page shows it: their open customers whose
/// current follow-up is not done, highest priority first.
#[utoipa::path(
    get,
    path = "/api/v1/follow-ups",
    tag = "customers",
    responses(
        (status = 200, description = "Up to 100 customers to follow up", body = FollowUps),
        (status = 401, description = "Missing or unknown token", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn follow_ups(
    State(state): State<AppState>,
    Caller(who): Caller,
) -> Result<Json<FollowUps>, ApiError> {
    let open = CustomerFilter {
        open_follow_up: true,
        ..CustomerFilter::default()
    };
    let queue = state.store.customers(&who, &open, 100).await?;
    Ok(Json(FollowUps { follow_ups: queue }))
}

/// The opportunity forecast of the caller's customers: expected value by stage, week and
/// salesperson.
#[utoipa::path(
    get,
    path = "/api/v1/forecast",
    tag = "customers",
    responses(
        (status = 200, description = "The forecast report", body = Object),
        (status = 401, description = "Missing or unknown token", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn forecast(
    State(state): State<AppState>,
    Caller(who): Caller,
) -> Result<Json<ForecastReport>, ApiError> {
    Ok(Json(summarize(&state.store.opportunities(&who).await?)))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct OutcomeBody {
    /// `won` or `lost`.
    #[schema(value_type = String, example = "won")]
    result: OutcomeKind,
}

/// Record how the sale ended (for later calibration).
#[utoipa::path(
    post,
    path = "/api/v1/customers/{id}/outcome",
    tag = "customers",
    params(("id" = String, Path, description = "The customer's id (a merged-away id leads to the record it was merged into)")),
    request_body = OutcomeBody,
    responses(
        (status = 200, description = "The customer's updated summary", body = CustomerSummary),
        (status = 401, description = "Missing or unknown token", body = ErrorBody),
        (status = 404, description = "No such customer visible to the caller", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn outcome(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(id): Path<String>,
    Json(body): Json<OutcomeBody>,
) -> Result<Json<CustomerSummary>, ApiError> {
    let customer = visible(&state, &who, &id).await?;
    state
        .store
        .set_outcome(
            &customer.id,
            body.result,
            state.pipeline.config(),
            chrono::Utc::now(),
        )
        .await?;
    state
        .store
        .audit(&who, "outcome", "customer", &customer.id)
        .await?;
    let updated = state.store.customer(&customer.id).await?;
    updated
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("no customer `{id}`")))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct MergeBody {
    /// The customer that remains.
    into: String,
}

/// Merge this customer into another, keeping all history (managers).
#[utoipa::path(
    post,
    path = "/api/v1/customers/{id}/merge",
    tag = "customers",
    params(("id" = String, Path, description = "The customer's id (a merged-away id leads to the record it was merged into)")),
    request_body = MergeBody,
    responses(
        (status = 200, description = "The merged profile", body = Object),
        (status = 400, description = "A customer merged into itself", body = ErrorBody),
        (status = 401, description = "Missing or unknown token", body = ErrorBody),
        (status = 403, description = "Not a manager", body = ErrorBody),
        (status = 404, description = "No such customer visible to the caller", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn merge(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(id): Path<String>,
    Json(body): Json<MergeBody>,
) -> Result<Json<CustomerProfile>, ApiError> {
    require_manager(&who)?;
    let from = visible(&state, &who, &id).await?;
    let into = visible(&state, &who, &body.into).await?;
    if from.id == into.id {
        return Err(ApiError::BadRequest(
            "a customer cannot be merged into itself".into(),
        ));
    }
    let profile = state
        .store
        .merge_customers(
            &from.id,
            &into.id,
            state.pipeline.config(),
            chrono::Utc::now(),
        )
        .await?;
    state
        .store
        .audit(&who, "merge", "customer", &from.id)
        .await?;
    Ok(Json(profile))
}

/// Delete a customer with their recordings' audio, transcripts, tags and evidence (managers).
#[utoipa::path(
    delete,
    path = "/api/v1/customers/{id}",
    tag = "customers",
    params(("id" = String, Path, description = "The customer's id (a merged-away id leads to the record it was merged into)")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Missing or unknown token", body = ErrorBody),
        (status = 403, description = "Not a manager", body = ErrorBody),
        (status = 404, description = "No such customer visible to the caller", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn delete(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    require_manager(&who)?;
    let customer = visible(&state, &who, &id).await?;
    state.store.delete_customer(&customer.id).await?;
    state
        .store
        .audit(&who, "delete", "customer", &customer.id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
