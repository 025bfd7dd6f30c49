//! What the manager's dashboard counts, as grouped queries over the cached columns (customers'
//! stage, tier, due date and tags; recordings' metrics; the mentions table) so it stays fast
//! with tens of thousands of customers and recordings.

use std::collections::BTreeMap;

use sqlx::{AnyConnection, Row as _};

use super::accounts::Principal;
use super::{Store, StoreError};
use crate::profile::customer::CustomerProfile;

/// The figures a recording's analysis gives the dashboard, kept in columns.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Deserialize)]
pub struct RecordingMetrics {
    pub duration_s: Option<f64>,
    pub customer_talk_share: Option<f64>,
}

impl RecordingMetrics {
    /// From a stored analysis document; missing fields stay `None`.
    pub fn of(analysis_json: &str) -> RecordingMetrics {
        #[derive(serde::Deserialize)]
        struct Metrics {
            customer_talk_share: Option<f64>,
        }
        #[derive(serde::Deserialize)]
        struct Head {
            duration_s: Option<f64>,
            metrics: Option<Metrics>,
        }
        match serde_json::from_str::<Head>(analysis_json) {
            Ok(h) => RecordingMetrics {
                duration_s: h.duration_s,
                customer_talk_share: h.metrics.and_then(|m| m.customer_talk_share),
            },
            Err(_) => RecordingMetrics::default(),
        }
    }
}

/// One salesperson's activity.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Activity {
    pub email: String,
    /// Recordings in the period.
    pub recordings: i64,
    /// Open customers in the hot tier.
    pub hot_leads: i64,
    /// The salesperson's average share of the talking (0–1) over the period's recordings.
    pub talk_share: Option<f64>,
    pub overdue: i64,
}

/// How often something is named, across customers.
#[derive(Debug, Clone, PartialEq)]
pub struct Frequency {
    pub value: String,
    pub customers: i64,
}

/// Still open (not won or lost) and not marked done for the follow-up the profile now names.
pub const OPEN_FOLLOW_UP: &str =
    "priority_score IS NOT NULL AND (stage IS NULL OR stage NOT IN ('won', 'lost'))
    AND (follow_up_done IS NULL OR follow_up_done <> due || ' ' || next_action)";

impl Store {
    /// Per salesperson of the dealership: recordings since `since_ms`, hot leads, talk share
    /// and overdue follow-ups (due before `today`, `YYYY-MM-DD`).
    pub async fn activity(
        &self,
        who: &Principal,
        since_ms: i64,
        today: &str,
    ) -> Result<Vec<Activity>, StoreError> {
        let dealership = who.dealership_id();
        let mut by_id: BTreeMap<String, Activity> = BTreeMap::new();
        for row in sqlx::query(
            "SELECT id, email FROM users WHERE dealership_id = $1 AND role = 'salesperson'",
        )
        .bind(dealership)
        .fetch_all(&self.pool)
        .await?
        {
            by_id.insert(
                row.try_get("id")?,
                Activity {
                    email: row.try_get("email")?,
                    ..Activity::default()
                },
            );
        }
        for row in sqlx::query(
            "SELECT salesperson_id, COUNT(*) AS n, AVG(customer_talk_share) AS share
             FROM recordings WHERE dealership_id = $1 AND recorded_at >= $2
                 AND salesperson_id IS NOT NULL
             GROUP BY salesperson_id",
        )
        .bind(dealership)
        .bind(since_ms)
        .fetch_all(&self.pool)
        .await?
        {
            if let Some(a) = by_id.get_mut(&row.try_get::<String, _>("salesperson_id")?) {
                a.recordings = row.try_get("n")?;
                a.talk_share = row
                    .try_get::<Option<f64>, _>("share")?
                    .map(|customer| 1.0 - customer);
            }
        }
        let sql = format!(
            "SELECT salesperson_id,
                 SUM(CASE WHEN tier = 'hot' THEN 1 ELSE 0 END) AS hot,
                 SUM(CASE WHEN due < $2 THEN 1 ELSE 0 END) AS overdue
             FROM customers
             WHERE dealership_id = $1 AND merged_into IS NULL AND salesperson_id IS NOT NULL
                 AND {OPEN_FOLLOW_UP}
             GROUP BY salesperson_id"
        );
        for row in sqlx::query(&sql)
            .bind(dealership)
            .bind(today)
            .fetch_all(&self.pool)
            .await?
        {
            if let Some(a) = by_id.get_mut(&row.try_get::<String, _>("salesperson_id")?) {
                a.hot_leads = row.try_get("hot")?;
                a.overdue = row.try_get("overdue")?;
            }
        }
        let mut out: Vec<Activity> = by_id.into_values().collect();
        out.sort_by(|a, b| b.recordings.cmp(&a.recordings).then(a.email.cmp(&b.email)));
        Ok(out)
    }

    /// How many of the dealership's customers name each objection (`kind` "objection") or
    /// competitor ("competitor"), most often first.
    pub async fn mention_frequency(
        &self,
        who: &Principal,
        kind: &str,
        limit: i64,
    ) -> Result<Vec<Frequency>, StoreError> {
        let rows = sqlx::query(
            "SELECT m.value, COUNT(*) AS n FROM customer_mentions m
             JOIN customers c ON c.id = m.customer_id
             WHERE c.dealership_id = $1 AND c.merged_into IS NULL AND m.kind = $2
             GROUP BY m.value ORDER BY n DESC, m.value LIMIT $3",
        )
        .bind(who.dealership_id())
        .bind(kind)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Frequency {
                    value: r.try_get("value")?,
                    customers: r.try_get("n")?,
                })
            })
            .collect()
    }

    /// Every tag the dealership's customers carry, with how many carry it, most first.
    pub async fn tag_counts(&self, who: &Principal) -> Result<Vec<Frequency>, StoreError> {
        let rows = sqlx::query(
            "SELECT tags FROM customers
             WHERE dealership_id = $1 AND merged_into IS NULL AND tags IS NOT NULL",
        )
        .bind(who.dealership_id())
        .fetch_all(&self.pool)
        .await?;
        let mut counts: BTreeMap<String, i64> = BTreeMap::new();
        for row in &rows {
            let tags: String = row.try_get("tags")?;
            for tag in tags.split_whitespace() {
                *counts.entry(tag.to_string()).or_default() += 1;
            }
        }
        let mut out: Vec<Frequency> = counts
            .into_iter()
            .map(|(value, customers)| Frequency { value, customers })
            .collect();
        out.sort_by(|a, b| b.customers.cmp(&a.customers).then(a.value.cmp(&b.value)));
        Ok(out)
    }
}

/// A customer in a tag group (the dashboard's list and CSV export).
#[derive(Debug, Clone, serde::Serialize)]
pub struct GroupMember {
    pub id: String,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub salesperson: Option<String>,
    pub priority_score: Option<i64>,
    pub tier: Option<String>,
    pub stage: Option<String>,
    pub next_action: Option<String>,
    pub due: Option<String>,
    pub tags: String,
}

impl Store {
    /// The dealership's customers carrying `tag` (all, with an empty tag), highest priority
    /// first.
    pub async fn tag_group(
        &self,
        who: &Principal,
        tag: &str,
        limit: i64,
    ) -> Result<Vec<GroupMember>, StoreError> {
        let rows = sqlx::query(
            "SELECT c.id, c.name, c.phone, u.email, c.priority_score, c.tier, c.stage,
                 c.next_action, c.due, c.tags
             FROM customers c LEFT JOIN users u ON u.id = c.salesperson_id
             WHERE c.dealership_id = $1 AND c.merged_into IS NULL AND c.tags LIKE $2
             ORDER BY COALESCE(c.priority_score, -1) DESC, c.id LIMIT $3",
        )
        .bind(who.dealership_id())
        .bind(if tag.is_empty() {
            "%".to_string()
        } else {
            format!("% {tag} %")
        })
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(GroupMember {
                    id: r.try_get("id")?,
                    name: r.try_get("name")?,
                    phone: r.try_get("phone")?,
                    salesperson: r.try_get("email")?,
                    priority_score: r.try_get("priority_score")?,
                    tier: r.try_get("tier")?,
                    stage: r.try_get("stage")?,
                    next_action: r.try_get("next_action")?,
                    due: r.try_get("due")?,
                    tags: r
                        .try_get::<Option<String>, _>("tags")?
                        .unwrap_or_default()
                        .trim()
                        .to_string(),
                })
            })
            .collect()
    }
}

/// Refreshes the open objections and the competitors named in a customer's profile, on `conn`
/// (inside the caller's transaction: the dashboard counts change with the profile).
pub(super) async fn store_mentions_on(
    conn: &mut AnyConnection,
    customer_id: &str,
    p: &CustomerProfile,
) -> Result<(), StoreError> {
    let open = p.objections.iter().filter(|o| o.resolved.is_none());
    let mut mentions: Vec<(&str, String)> =
        open.clone().map(|o| ("objection", o.id.clone())).collect();
    mentions.extend(
        open.filter(|o| o.id == "obj.competitor")
            .filter_map(|o| o.value.clone())
            .map(|v| ("competitor", v)),
    );
    mentions.sort();
    mentions.dedup();
    sqlx::query("DELETE FROM customer_mentions WHERE customer_id = $1")
        .bind(customer_id)
        .execute(&mut *conn)
        .await?;
    for (kind, value) in mentions {
        sqlx::query("INSERT INTO customer_mentions (customer_id, kind, value) VALUES ($1, $2, $3)")
            .bind(customer_id)
            .bind(kind)
            .bind(value)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::RecordingMetrics;

    #[test]
    fn metrics_come_from_the_analysis_and_tolerate_gaps() {
        let m = RecordingMetrics::of(
            r#"{"duration_s": 61.5, "metrics": {"customer_talk_share": 0.4, "turns": 3}}"#,
        );
        assert_eq!(m.duration_s, Some(61.5));
        assert_eq!(m.customer_talk_share, Some(0.4));
        assert_eq!(
            RecordingMetrics::of("not json"),
            RecordingMetrics::default()
        );
        assert_eq!(
            RecordingMetrics::of(r#"{"duration_s": 2.0}"#).customer_talk_share,
            None
        );
    }
}
