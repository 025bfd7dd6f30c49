//! The sales forecast over many customers: expected value by stage, by ISO week and by
//! salesperson, from one row per customer profile.
//!
//! Won and lost deals are counted by stage only; the totals, weeks and salespeople count the
//! open opportunities, which are what a manager can still move. Amounts in different currencies
//! are never added: every bucket is per currency.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::analysis::Stage;

use super::customer::CustomerProfile;

/// One customer's opportunity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpportunityRow {
    pub customer_id: String,
    pub salesperson: Option<String>,
    pub stage: Stage,
    /// The day the opportunity is counted in; from a profile, the next action's due date (the
    /// week the next step on it falls due).
    pub date: NaiveDate,
    pub p30: f64,
    pub expected_value: f64,
    pub currency: String,
}

impl OpportunityRow {
    pub fn from_profile(p: &CustomerProfile) -> Self {
        let date = NaiveDate::parse_from_str(&p.priority.due, "%Y-%m-%d")
            .unwrap_or_else(|_| p.as_of.date_naive());
        OpportunityRow {
            customer_id: p.id.clone(),
            salesperson: p.salesperson.clone(),
            stage: p.forecast.stage,
            date,
            p30: p.forecast.p30,
            expected_value: p.forecast.expected_value,
            currency: p.currency.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bucket {
    /// The stage, the ISO week (`2026-W47`), the salesperson (`""` when unknown), or `total`.
    pub key: String,
    pub currency: String,
    pub customers: usize,
    pub expected_value: f64,
    /// The sum of the 30-day probabilities: how many of these customers should buy.
    pub expected_deals: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForecastReport {
    pub total: Vec<Bucket>,
    pub by_stage: Vec<Bucket>,
    pub by_week: Vec<Bucket>,
    pub by_salesperson: Vec<Bucket>,
}

pub fn iso_week(date: NaiveDate) -> String {
    let w = date.iso_week();
    format!("{}-W{:02}", w.year(), w.week())
}

/// Buckets in key order, then currency.
fn group<'a>(
    rows: impl Iterator<Item = &'a OpportunityRow>,
    key: impl Fn(&OpportunityRow) -> String,
) -> Vec<Bucket> {
    let mut buckets: BTreeMap<(String, String), Bucket> = BTreeMap::new();
    for row in rows {
        let k = key(row);
        let b = buckets
            .entry((k.clone(), row.currency.clone()))
            .or_insert_with(|| Bucket {
                key: k,
                currency: row.currency.clone(),
                customers: 0,
                expected_value: 0.0,
                expected_deals: 0.0,
            });
        b.customers += 1;
        b.expected_value += row.expected_value;
        b.expected_deals += row.p30;
    }
    buckets
        .into_values()
        .map(|mut b| {
            b.expected_deals = (b.expected_deals * 100.0).round() / 100.0;
            b
        })
        .collect()
}

pub fn summarize(rows: &[OpportunityRow]) -> ForecastReport {
    let open = || {
        rows.iter()
            .filter(|r| !matches!(r.stage, Stage::Won | Stage::Lost))
    };
    let mut by_stage = group(rows.iter(), |r| r.stage.name().to_string());
    // The funnel's order, not the alphabet's.
    by_stage.sort_by_key(|b| Stage::ALL.iter().position(|s| s.name() == b.key));
    ForecastReport {
        total: group(open(), |_| "total".into()),
        by_stage,
        by_week: group(open(), |r| iso_week(r.date)),
        by_salesperson: group(open(), |r| r.salesperson.clone().unwrap_or_default()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, who: &str, stage: Stage, date: &str, p30: f64, value: f64) -> OpportunityRow {
        OpportunityRow {
            customer_id: id.into(),
            salesperson: (!who.is_empty()).then(|| who.to_string()),
            stage,
            date: date.parse().unwrap(),
            p30,
            expected_value: value,
            currency: "USD".into(),
        }
    }

    #[test]
    fn sums_open_deals_by_week_and_salesperson_and_all_by_stage() {
        let mut cny = row("c5", "li", Stage::Considering, "2026-11-18", 0.15, 27000.0);
        cny.currency = "CNY".into();
        let rows = [
            row("c1", "ann", Stage::Negotiating, "2026-11-16", 0.5, 19000.0),
            row("c2", "ann", Stage::Considering, "2026-11-22", 0.1, 3500.0),
            row("c3", "bob", Stage::Considering, "2026-11-23", 0.2, 7000.0),
            row("c4", "bob", Stage::Won, "2026-11-23", 1.0, 40000.0),
            row("c6", "", Stage::Browsing, "2026-11-23", 0.03, 1050.0),
            cny,
        ];
        let r = summarize(&rows);
        let view = |bs: &[Bucket]| -> Vec<(String, String, usize, f64)> {
            bs.iter()
                .map(|b| {
                    (
                        b.key.clone(),
                        b.currency.clone(),
                        b.customers,
                        b.expected_value,
                    )
                })
                .collect()
        };
        let v = |k: &str, c: &str, n: usize, e: f64| (k.to_string(), c.to_string(), n, e);
        assert_eq!(
            view(&r.total),
            [v("total", "CNY", 1, 27000.0), v("total", "USD", 4, 30550.0)]
        );
        // 2026-11-16 to 22 is ISO week 47; the 23rd starts week 48.
        assert_eq!(
            view(&r.by_week),
            [
                v("2026-W47", "CNY", 1, 27000.0),
                v("2026-W47", "USD", 2, 22500.0),
                v("2026-W48", "USD", 2, 8050.0),
            ]
        );
        assert_eq!(
            view(&r.by_salesperson),
            [
                v("", "USD", 1, 1050.0),
                v("ann", "USD", 2, 22500.0),
                v("bob", "USD", 1, 7000.0),
                v("li", "CNY", 1, 27000.0),
            ]
        );
        let stages: Vec<(String, usize)> = r
            .by_stage
            .iter()
            .map(|b| (b.key.clone(), b.customers))
            .collect();
        let want = [
            ("browsing", 1),
            ("considering", 1),
            ("considering", 2),
            ("negotiating", 1),
            ("won", 1),
        ];
        assert_eq!(stages, want.map(|(k, n)| (k.to_string(), n)));
        assert_eq!(r.total[1].expected_deals, 0.83);
        assert_eq!(summarize(&[]).total, []);
    }

    #[test]
    fn iso_week_crosses_the_year() {
        assert_eq!(iso_week("2026-12-31".parse().unwrap()), "2026-W53");
        assert_eq!(iso_week("2027-01-04".parse().unwrap()), "2027-W01");
    }
}
