//! The follow-up queue: the salesperson's open customers (a manager's: the dealership's) by
//! priority, with next action and due date, overdue ones marked; one click marks the
//! follow-up done or records the sale won or lost.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::Form;
use serde::Deserialize;

use super::profile::{stage_key, tier_key};
use super::session::{Csrf, PageUser};
use super::{api_failure, render, Page, Tr};
use crate::profile::customer::OutcomeKind;
use crate::store::follow_ups::FollowUp;
use crate::web::error::ApiError;
use crate::web::AppState;

const QUEUE_LENGTH: i64 = 200;

pub struct Row {
    pub id: String,
    pub name: String,
    pub salesperson: String,
    pub score: i64,
    pub tier: String,
    pub tier_class: String,
    pub stage: String,
    pub next_action: String,
    pub due: String,
    pub overdue: bool,
}

#[derive(Template)]
#[template(path = "follow_ups.html")]
struct FollowUpsPage {
    page: Page,
    rows: Vec<Row>,
    /// How many are overdue, in words.
    summary: String,
    show_salesperson: bool,
}

fn row(f: FollowUp, today: &str, tr: Tr) -> Row {
    let stage = f
        .stage
        .as_deref()
        .and_then(|s| serde_json::from_value(serde_json::Value::String(s.into())).ok())
        .map(|s| tr.t(stage_key(s)))
        .unwrap_or_default();
    let tier = f.tier.clone().unwrap_or_default();
    Row {
        overdue: f.is_overdue(today),
        name: match (&f.name, &f.phone) {
            (Some(n), _) => n.clone(),
            (None, Some(p)) => p.clone(),
            (None, None) => tr.t("customer-unnamed"),
        },
        id: f.customer_id,
        salesperson: f.salesperson_email.unwrap_or_else(|| "—".into()),
        score: f.priority_score,
        tier: tr.t(tier_key(&tier)),
        tier_class: tier,
        stage,
        next_action: f.next_action.unwrap_or_default(),
        due: f.due.unwrap_or_default(),
    }
}

pub async fn page(State(state): State<AppState>, user: PageUser, tr: Tr, csrf: Csrf) -> Response {
    let queue = match state
        .store
        .follow_up_queue(&user.principal, QUEUE_LENGTH)
        .await
    {
        Ok(q) => q,
        Err(e) => return api_failure(tr, e.into()),
    };
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let rows: Vec<Row> = queue.into_iter().map(|f| row(f, &today, tr)).collect();
    render(&FollowUpsPage {
        summary: tr.t1(
            "follow-ups-summary",
            "overdue",
            &rows.iter().filter(|r| r.overdue).count().to_string(),
        ),
        show_salesperson: !user.is_salesperson(),
        rows,
        page: Page {
            tr,
            csrf: csrf.0,
            user: Some(user),
            path: "/follow-ups".into(),
            back: "/follow-ups".into(),
            title: tr.t("follow-ups-title"),
        },
    })
}

#[derive(Deserialize)]
pub struct Action {
    action: String,
    #[serde(default)]
    csrf: String,
}

pub async fn act(
    State(state): State<AppState>,
    user: PageUser,
    tr: Tr,
    csrf: Csrf,
    Path(id): Path<String>,
    Form(form): Form<Action>,
) -> Response {
    if !csrf.accepts(&form.csrf) {
        return super::expired_form(tr);
    }
    let who = &user.principal;
    let done = async {
        let customer = crate::web::customers::visible(&state, who, &id).await?;
        let outcome = match form.action.as_str() {
            "done" => None,
            "won" => Some(OutcomeKind::Won),
            "lost" => Some(OutcomeKind::Lost),
            _ => return Err(ApiError::BadRequest("action: done, won or lost".into())),
        };
        match outcome {
            None => state.store.mark_follow_up_done(&customer.id).await?,
            Some(result) => {
                state
                    .store
                    .set_outcome(
                        &customer.id,
                        result,
                        state.pipeline.config(),
                        chrono::Utc::now(),
                    )
                    .await?;
            }
        }
        let action = if outcome.is_some() {
            "outcome"
        } else {
            "follow-up-done"
        };
        state
            .store
            .audit(who, action, "customer", &customer.id)
            .await?;
        Ok(())
    };
    match done.await {
        Ok(()) => Redirect::to("/follow-ups").into_response(),
        Err(e) => api_failure(tr, e),
    }
}
