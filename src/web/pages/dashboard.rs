//! The manager's dashboard: the pipeline by stage, expected value by week (chart), each
//! salesperson's activity, how often objections and competitors come up (charts), and groups of
//! customers by tag with a CSV export.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::{Datelike, Duration, Utc};
use serde::Deserialize;

use super::charts::{self, Bar};
use super::format::{amount, compact, LabelNames};
use super::profile::stage_key;
use super::session::{Csrf, PageUser};
use super::{api_failure, render, Page, Tr};
use crate::analysis::Stage;
use crate::profile::forecast_report::{iso_week, summarize, Bucket};
use crate::store::dashboard::{Activity, Frequency, GroupMember};
use crate::web::error::ApiError;
use crate::web::AppState;

/// Activity counts recordings of the last this many days.
const ACTIVITY_DAYS: i64 = 30;
/// The week chart shows this many weeks from the current one.
const WEEKS: i64 = 12;
const GROUP_SHOWN: i64 = 50;
const EXPORT_LIMIT: i64 = 100_000;

pub struct StageRow {
    pub name: String,
    pub customers: usize,
    pub expected_value: String,
}

pub struct ActivityRow {
    pub email: String,
    pub recordings: i64,
    pub hot_leads: i64,
    pub talk_share: String,
    pub overdue: i64,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    page: Page,
    currency: String,
    stages: Vec<StageRow>,
    stage_chart: String,
    week_chart: String,
    /// Said when some open value is in other currencies than the charted one.
    other_currencies: Option<String>,
    activity: Vec<ActivityRow>,
    objection_chart: String,
    competitor_chart: String,
    tags: Vec<Frequency>,
    /// The tags' names in the page's language.
    tag_names: HashMap<String, String>,
    tag: String,
    group: Vec<GroupMember>,
    group_count: String,
    export_href: String,
}

impl DashboardPage {
    fn is_selected(&self, tag: &str) -> bool {
        self.tag == tag
    }

    fn tag_label(&self, tag: &str) -> String {
        self.tag_names
            .get(tag)
            .cloned()
            .unwrap_or_else(|| tag.to_string())
    }
}

#[derive(Deserialize, Default)]
pub struct GroupQuery {
    #[serde(default)]
    tag: String,
}

fn managers_only(user: &PageUser) -> Result<(), ApiError> {
    if user.is_salesperson() {
        Err(ApiError::Forbidden("managers only".into()))
    } else {
        Ok(())
    }
}

/// The currency most of the open value is in (amounts are never added across currencies).
fn main_currency(total: &[Bucket]) -> String {
    total
        .iter()
        .max_by(|a, b| a.expected_value.total_cmp(&b.expected_value))
        .map_or_else(|| "CNY".into(), |b| b.currency.clone())
}

fn week_bars(by_week: &[Bucket], currency: &str, tr: Tr) -> Vec<Bar> {
    let today = Utc::now().date_naive();
    let this_week = iso_week(today);
    let mut earlier = 0.0;
    let weeks: Vec<String> = (0..WEEKS)
        .map(|i| iso_week(today + Duration::weeks(i)))
        .collect();
    let mut values = vec![0.0; weeks.len()];
    for b in by_week.iter().filter(|b| b.currency == currency) {
        if b.key < this_week {
            earlier += b.expected_value;
        } else if let Some(i) = weeks.iter().position(|w| *w == b.key) {
            values[i] += b.expected_value;
        }
    }
    let mut bars = vec![Bar {
        label: tr.t("weeks-earlier"),
        value: earlier,
        shown: compact(earlier),
    }];
    bars.extend(weeks.iter().zip(values).map(|(w, v)| {
        Bar {
            // `2026-W48` → `W48`: the year is in the chart's title.
            label: w
                .split_once('-')
                .map_or(w.as_str(), |(_, wk)| wk)
                .to_string(),
            value: v,
            shown: amount(v),
        }
    }));
    bars
}

fn frequency_bars(items: &[Frequency], name: impl Fn(&str) -> String) -> Vec<Bar> {
    items
        .iter()
        .map(|f| Bar {
            label: name(&f.value),
            value: f.customers as f64,
            shown: f.customers.to_string(),
        })
        .collect()
}

pub async fn page(
    State(state): State<AppState>,
    user: PageUser,
    tr: Tr,
    csrf: Csrf,
    Query(q): Query<GroupQuery>,
) -> Response {
    if let Err(e) = managers_only(&user) {
        return api_failure(tr, e);
    }
    let who = &user.principal;
    let today = Utc::now();
    let since = (today - Duration::days(ACTIVITY_DAYS)).timestamp_millis();
    let tag = q.tag.trim().to_string();
    let day = today.format("%Y-%m-%d").to_string();
    let store = &state.store;
    // Independent reads, on as many pooled connections.
    let loaded = tokio::try_join!(
        store.opportunities(who),
        store.activity(who, since, &day),
        store.mention_frequency(who, "objection", 10),
        store.mention_frequency(who, "competitor", 10),
        store.tag_counts(who),
        store.tag_group(who, &tag, GROUP_SHOWN),
    );
    let (opportunities, activity, objections, competitors, tags, group) = match loaded {
        Ok(all) => all,
        Err(e) => return api_failure(tr, e.into()),
    };
    let names = LabelNames::new(&state.pipeline.config().taxonomy, tr);
    let report = summarize(&opportunities);
    let currency = main_currency(&report.total);
    let stages: Vec<StageRow> = Stage::ALL
        .iter()
        .map(|s| {
            let in_stage = report
                .by_stage
                .iter()
                .filter(|b| b.key == s.name() && b.currency == currency);
            let (customers, value) = in_stage.fold((0, 0.0), |(n, v), b| {
                (n + b.customers, v + b.expected_value)
            });
            StageRow {
                name: tr.t(stage_key(*s)),
                customers,
                expected_value: amount(value),
            }
        })
        .collect();
    let stage_chart = charts::horizontal(
        "chart-stages",
        &tr.t("pipeline-chart"),
        &stages
            .iter()
            .map(|s| Bar {
                label: s.name.clone(),
                value: s.customers as f64,
                shown: s.customers.to_string(),
            })
            .collect::<Vec<_>>(),
    );
    let week_chart = charts::vertical(
        "chart-weeks",
        &tr.t1("weeks-chart", "currency", &currency),
        &week_bars(&report.by_week, &currency, tr),
    );
    let group_total = tags
        .iter()
        .find(|t| t.value == tag)
        .map_or(group.len() as i64, |t| t.customers);
    let export_href = format!(
        "/dashboard/customers.csv?{}",
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("tag", &tag)
            .finish()
    );
    render(&DashboardPage {
        other_currencies: (report.total.len() > 1)
            .then(|| tr.t1("other-currencies", "currency", &currency)),
        activity: activity.into_iter().map(activity_row).collect(),
        objection_chart: charts::horizontal(
            "chart-objections",
            &tr.t("objections-chart"),
            &frequency_bars(&objections, |id| names.name(id)),
        ),
        competitor_chart: charts::horizontal(
            "chart-competitors",
            &tr.t("competitors-chart"),
            &frequency_bars(&competitors, str::to_string),
        ),
        currency,
        stages,
        stage_chart,
        week_chart,
        tag_names: tags
            .iter()
            .map(|t| (t.value.clone(), names.name(&t.value)))
            .collect(),
        tags,
        tag,
        group,
        group_count: tr.t1("groups-count", "count", &group_total.to_string()),
        export_href,
        page: Page {
            tr,
            csrf: csrf.0,
            user: Some(user),
            path: "/dashboard".into(),
            back: "/dashboard".into(),
            title: tr.t("dashboard-title"),
        },
    })
}

fn activity_row(a: Activity) -> ActivityRow {
    ActivityRow {
        email: a.email,
        recordings: a.recordings,
        hot_leads: a.hot_leads,
        talk_share: a
            .talk_share
            .map_or_else(|| "—".into(), |s| format!("{:.0} %", s * 100.0)),
        overdue: a.overdue,
    }
}

/// The tag group as CSV (every member, not just those shown).
pub async fn export(
    State(state): State<AppState>,
    user: PageUser,
    tr: Tr,
    Query(q): Query<GroupQuery>,
) -> Response {
    if let Err(e) = managers_only(&user) {
        return api_failure(tr, e);
    }
    let tag = q.tag.trim();
    let members = match state
        .store
        .tag_group(&user.principal, tag, EXPORT_LIMIT)
        .await
    {
        Ok(m) => m,
        Err(e) => return api_failure(tr, e.into()),
    };
    if let Err(e) = state
        .store
        .audit(&user.principal, "export", "tag-group", tag)
        .await
    {
        return api_failure(tr, e.into());
    }
    let mut out = csv::Writer::from_writer(Vec::new());
    let written = members.iter().try_for_each(|m| out.serialize(m));
    let body = match written
        .map_err(|e| e.to_string())
        .and_then(|()| out.into_inner().map_err(|e| e.to_string()))
    {
        Ok(body) => body,
        Err(e) => {
            tracing::error!("tag group CSV: {e}");
            return super::server_error();
        }
    };
    let name = if tag.is_empty() { "customers" } else { tag };
    let day = Utc::now().date_naive();
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!(
                    "attachment; filename=\"{}-{}{:02}{:02}.csv\"",
                    name.replace(|c: char| !c.is_ascii_alphanumeric() && c != '.', "_"),
                    day.year(),
                    day.month(),
                    day.day()
                ),
            ),
        ],
        body,
    )
        .into_response()
}
