//! The recordings list: newest first, filtered by status and date, scoped like the API.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::Uri;
use axum::response::Response;
use chrono::NaiveDate;
use serde::Deserialize;

use super::session::{Csrf, PageUser};
use super::{render, Page, Tr};
use crate::store::pages::{RecordingFilter, RecordingLine, STATUSES};
use crate::web::AppState;

const PAGE_SIZE: i64 = 50;

#[derive(Template)]
#[template(path = "recordings.html")]
struct RecordingsPage {
    page: Page,
    lines: Vec<RecordingLine>,
    statuses: [&'static str; 4],
    filter_status: String,
    from: String,
    to: String,
    /// Managers see whose recording each one is; a salesperson's are all their own.
    show_salesperson: bool,
    older: Option<String>,
}

impl RecordingsPage {
    fn status_key(&self, status: &str) -> &'static str {
        match status {
            "queued" => "status-queued",
            "processing" => "status-processing",
            "done" => "status-done",
            _ => "status-failed",
        }
    }

    fn is_filtered_status(&self, status: &str) -> bool {
        self.filter_status == status
    }

    // askama passes fields by reference.
    #[allow(clippy::ref_option)]
    fn duration(&self, seconds: &Option<f64>) -> String {
        match *seconds {
            Some(s) if s.is_finite() && s >= 0.0 => {
                let s = s.round() as u64;
                format!("{}:{:02}", s / 60, s % 60)
            }
            _ => "—".into(),
        }
    }

    fn customer_label(&self, line: &RecordingLine) -> String {
        match (&line.customer_name, &line.customer_phone) {
            (Some(name), Some(phone)) => format!("{name} · {phone}"),
            (Some(name), None) => name.clone(),
            (None, Some(phone)) => phone.clone(),
            (None, None) if line.customer_id.is_some() => self.page.t("customer-unnamed"),
            (None, None) => "—".into(),
        }
    }

    fn shown(&self) -> String {
        self.page
            .tr
            .t1("recordings-shown", "count", &self.lines.len().to_string())
    }
}

#[derive(Deserialize, Default)]
pub struct Filters {
    #[serde(default)]
    status: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    /// Milliseconds since the epoch: only recordings before it (the "older" link).
    before: Option<i64>,
}

/// Midnight UTC starting `date` (`YYYY-MM-DD`), in milliseconds; `None` for anything else.
fn day_start_ms(date: &str) -> Option<i64> {
    let day = NaiveDate::parse_from_str(date.trim(), "%Y-%m-%d").ok()?;
    Some(day.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis())
}

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

pub async fn page(
    State(state): State<AppState>,
    user: PageUser,
    tr: Tr,
    csrf: Csrf,
    uri: Uri,
    Query(f): Query<Filters>,
) -> Response {
    // Unknown values are ignored rather than refused: the form only offers valid ones.
    let status = STATUSES
        .iter()
        .find(|s| **s == f.status)
        .map(|s| s.to_string());
    let filter = RecordingFilter {
        status: status.clone(),
        from_ms: day_start_ms(&f.from),
        // The "to" day is included.
        to_ms: day_start_ms(&f.to).map(|ms| ms + DAY_MS),
        before_ms: f.before,
        limit: PAGE_SIZE,
    };
    let lines = match state.store.recording_lines(&user.principal, &filter).await {
        Ok(lines) => lines,
        Err(e) => {
            tracing::error!("recordings list: {e}");
            return super::server_error();
        }
    };
    let query = |before: i64| {
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("status", &f.status)
            .append_pair("from", &f.from)
            .append_pair("to", &f.to)
            .append_pair("before", &before.to_string())
            .finish()
    };
    let older = (lines.len() as i64 == PAGE_SIZE)
        .then(|| {
            lines
                .last()
                .map(|l| format!("/recordings?{}", query(l.recorded_at.timestamp_millis())))
        })
        .flatten();
    let title = if user.is_salesperson() {
        "recordings-title-own"
    } else {
        "recordings-title"
    };
    let show_salesperson = !user.is_salesperson();
    let back = uri
        .path_and_query()
        .map_or("/recordings".into(), |p| p.to_string());
    render(&RecordingsPage {
        page: Page {
            tr,
            csrf: csrf.0,
            user: Some(user),
            path: "/recordings".into(),
            back,
            title: tr.t(title),
        },
        lines,
        statuses: STATUSES,
        filter_status: status.unwrap_or_default(),
        from: f.from,
        to: f.to,
        show_salesperson,
        older,
    })
}
