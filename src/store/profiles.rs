//! Customer profiles over the store: built from a customer's analysed recordings by
//! [`crate::profile::customer::build_profile_with_outcome`], with priority, tier, stage, tags and
//! forecast cached on the customer row so lists, follow-ups and the forecast are queries.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row as _};

use super::accounts::Principal;
use super::dashboard::OPEN_FOLLOW_UP;
use super::{now_ms, to_time, Store, StoreError};
use crate::config::PipelineConfig;
use crate::profile::customer::{
    build_profile_with_outcome, CustomerProfile, Outcome, OutcomeKind, Visit,
};
use crate::profile::forecast_report::OpportunityRow;

/// A customer row as lists show it (the cached summary, not the full profile).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CustomerSummary {
    pub id: String,
    pub name: Option<String>,
    pub salesperson_id: Option<String>,
    pub priority_score: Option<i64>,
    pub tier: Option<String>,
    pub stage: Option<String>,
    pub next_action: Option<String>,
    pub due: Option<String>,
    pub tags: Vec<String>,
    pub last_seen_at: Option<DateTime<Utc>>,
    #[serde(skip)]
    pub dealership_id: String,
    #[serde(skip)]
    pub merged_into: Option<String>,
}

const SUMMARY: &str = "SELECT id, dealership_id, name, salesperson_id, merged_into, priority_score,
    tier, stage, next_action, due, tags, last_seen_at FROM customers";

fn summary(row: &AnyRow) -> Result<CustomerSummary, StoreError> {
    Ok(CustomerSummary {
        id: row.try_get("id")?,
        dealership_id: row.try_get("dealership_id")?,
        name: row.try_get("name")?,
        salesperson_id: row.try_get("salesperson_id")?,
        merged_into: row.try_get("merged_into")?,
        priority_score: row.try_get("priority_score")?,
        tier: row.try_get("tier")?,
        stage: row.try_get("stage")?,
        next_action: row.try_get("next_action")?,
        due: row.try_get("due")?,
        tags: row
            .try_get::<Option<String>, _>("tags")?
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_string)
            .collect(),
        last_seen_at: row.try_get::<Option<i64>, _>("last_seen_at")?.map(to_time),
    })
}

/// Which customers a caller may see, as a WHERE clause over `customers` with the dealership
/// as `$1` and, when scoped to a salesperson, their id as `$2`. Devices push; they see none.
fn scope(who: &Principal) -> (&'static str, Option<&str>) {
    match who {
        Principal::Device { .. } => ("dealership_id = $1 AND 1 = 0", None),
        _ if who.sees_whole_dealership() => ("dealership_id = $1 AND merged_into IS NULL", None),
        Principal::User { id, .. } => (
            "dealership_id = $1 AND merged_into IS NULL AND salesperson_id = $2",
            Some(id.as_str()),
        ),
    }
}

/// Filters for `GET /api/v1/customers`.
#[derive(Debug, Default, Clone, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CustomerFilter {
    /// Only customers carrying this tag id (e.g. `intent.test_drive`).
    pub tag: Option<String>,
    /// Only customers of this priority tier (`hot`, `warm`, `cold`).
    pub tier: Option<String>,
    /// Only customers in the follow-up queue: a priority, no outcome yet, and a follow-up not
    /// marked done.
    #[serde(default)]
    pub open_follow_up: bool,
}

impl Store {
    pub async fn customer(&self, id: &str) -> Result<Option<CustomerSummary>, StoreError> {
        let row = sqlx::query(&format!("{SUMMARY} WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(summary).transpose()
    }

    /// Managers see their dealership's customers, a salesperson their own; devices none.
    pub fn may_see_customer(&self, who: &Principal, c: &CustomerSummary) -> bool {
        c.dealership_id == who.dealership_id()
            && match who {
                Principal::Device { .. } => false,
                Principal::User { id, .. } => {
                    who.sees_whole_dealership() || c.salesperson_id.as_deref() == Some(id)
                }
            }
    }

    /// The customer's full profile as of `now`.
    pub async fn profile(
        &self,
        customer_id: &str,
        config: &PipelineConfig,
        now: DateTime<Utc>,
    ) -> Result<CustomerProfile, StoreError> {
        Ok(self.profile_with_visits(customer_id, config, now).await?.0)
    }

    /// The profile and the visits it was built from (the profile page shows their
    /// transcripts), with managers' tag verdicts laid over it.
    pub async fn profile_with_visits(
        &self,
        customer_id: &str,
        config: &PipelineConfig,
        now: DateTime<Utc>,
    ) -> Result<(CustomerProfile, Vec<Visit>), StoreError> {
        let mut conn = self.pool.acquire().await?;
        profile_with_visits_on(&mut conn, customer_id, config, now).await
    }

    /// Rebuilds the profile and stores its summary on the customer row.
    pub async fn refresh_customer(
        &self,
        customer_id: &str,
        config: &PipelineConfig,
        now: DateTime<Utc>,
    ) -> Result<CustomerProfile, StoreError> {
        let mut conn = self.pool.acquire().await?;
        refresh_customer_on(&mut conn, customer_id, config, now).await
    }

    /// Recomputes every live customer's cached summary (priorities decay as time passes:
    /// `beh.gone_quiet`). Returns how many were refreshed.
    pub async fn refresh_all_customers(
        &self,
        config: &PipelineConfig,
    ) -> Result<usize, StoreError> {
        let ids: Vec<String> = sqlx::query("SELECT id FROM customers WHERE merged_into IS NULL")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| r.try_get("id"))
            .collect::<Result<_, _>>()?;
        let now = Utc::now();
        for id in &ids {
            self.refresh_customer(id, config, now).await?;
        }
        Ok(ids.len())
    }

    /// The caller's customers, filtered by tag and tier, highest priority first.
    pub async fn customers(
        &self,
        who: &Principal,
        filter: &CustomerFilter,
        limit: i64,
    ) -> Result<Vec<CustomerSummary>, StoreError> {
        let (clause, salesperson) = scope(who);
        let mut sql = format!("{SUMMARY} WHERE {clause}");
        let mut next = if salesperson.is_some() { 3 } else { 2 };
        let mut binds = Vec::new();
        if let Some(tag) = &filter.tag {
            sql += &format!(" AND tags LIKE ${next}");
            binds.push(format!("% {tag} %"));
            next += 1;
        }
        if let Some(tier) = &filter.tier {
            sql += &format!(" AND tier = ${next}");
            binds.push(tier.clone());
            next += 1;
        }
        if filter.open_follow_up {
            sql += &format!(" AND {OPEN_FOLLOW_UP}");
        }
        sql += &format!(" ORDER BY COALESCE(priority_score, -1) DESC, due, id LIMIT ${next}");
        let mut q = sqlx::query(&sql).bind(who.dealership_id());
        if let Some(s) = salesperson {
            q = q.bind(s);
        }
        for b in binds {
            q = q.bind(b);
        }
        let rows = q.bind(limit).fetch_all(&self.pool).await?;
        rows.iter().map(summary).collect()
    }

    /// The opportunity rows of the caller's customers (for the forecast report).
    pub async fn opportunities(&self, who: &Principal) -> Result<Vec<OpportunityRow>, StoreError> {
        let (clause, salesperson) = scope(who);
        let sql = format!(
            "SELECT forecast_row FROM customers WHERE {clause} AND forecast_row IS NOT NULL"
        );
        let mut q = sqlx::query(&sql).bind(who.dealership_id());
        if let Some(s) = salesperson {
            q = q.bind(s);
        }
        q.fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| {
                let text: String = r.try_get("forecast_row")?;
                serde_json::from_str(&text)
                    .map_err(|e| StoreError::Corrupt(format!("forecast row: {e}")))
            })
            .collect()
    }

    /// Records a won or lost outcome and rebuilds the customer's cached summary in the same
    /// transaction, so lists and the forecast never show the customer still open.
    pub async fn set_outcome(
        &self,
        customer_id: &str,
        result: OutcomeKind,
        config: &PipelineConfig,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "UPDATE customers SET outcome = $1, outcome_at = $2, updated_at = $2 WHERE id = $3",
        )
        .bind(match result {
            OutcomeKind::Won => "won",
            OutcomeKind::Lost => "lost",
        })
        .bind(now.timestamp_millis())
        .bind(customer_id)
        .execute(&mut *tx)
        .await?;
        refresh_customer_on(&mut tx, customer_id, config, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Merges `from` into `into` (same dealership): every recording moves, `from` forwards to
    /// `into` from now on, managers' tag verdicts move too (for a tag both have, the later
    /// one stands), and `into`'s summary is rebuilt in the same transaction. Nothing is lost.
    pub async fn merge_customers(
        &self,
        from: &str,
        into: &str,
        config: &PipelineConfig,
        now: DateTime<Utc>,
    ) -> Result<CustomerProfile, StoreError> {
        if from == into {
            return Err(StoreError::Invalid(
                "a customer cannot be merged into itself".into(),
            ));
        }
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE recordings SET customer_id = $1 WHERE customer_id = $2")
            .bind(into)
            .bind(from)
            .execute(&mut *tx)
            .await?;
        // Forwarding ids that pointed at `from` now point at `into` directly.
        sqlx::query("UPDATE customers SET merged_into = $1 WHERE merged_into = $2")
            .bind(into)
            .bind(from)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "DELETE FROM tag_corrections WHERE customer_id = $1 AND tag_id IN (
                 SELECT f.tag_id FROM tag_corrections f JOIN tag_corrections i
                     ON i.tag_id = f.tag_id AND i.customer_id = $1
                 WHERE f.customer_id = $2 AND f.at > i.at)",
        )
        .bind(into)
        .bind(from)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE tag_corrections SET customer_id = $1 WHERE customer_id = $2
                 AND tag_id NOT IN (SELECT tag_id FROM tag_corrections WHERE customer_id = $1)",
        )
        .bind(into)
        .bind(from)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM tag_corrections WHERE customer_id = $1")
            .bind(from)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE customers SET merged_into = $1, priority_score = NULL, tier = NULL, stage = NULL,
                 tags = NULL, forecast_row = NULL, updated_at = $2 WHERE id = $3",
        )
        .bind(into)
        .bind(now.timestamp_millis())
        .bind(from)
        .execute(&mut *tx)
        .await?;
        let profile = refresh_customer_on(&mut tx, into, config, now).await?;
        tx.commit().await?;
        Ok(profile)
    }

    /// Deletes a customer with everything about them: recordings (their analyses, transcripts,
    /// tags and evidence live in them), jobs, the records merged into them, and the audio.
    pub async fn delete_customer(&self, customer_id: &str) -> Result<(), StoreError> {
        let keys: Vec<String> = sqlx::query(
            "SELECT r.object_key FROM recordings r JOIN customers c ON c.id = r.customer_id
             WHERE (c.id = $1 OR c.merged_into = $1) AND r.object_key IS NOT NULL",
        )
        .bind(customer_id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| r.try_get("object_key"))
        .collect::<Result<_, _>>()?;
        // Rows first: if deleting audio then fails, no record points at it any more and the
        // remaining objects are orphans, never the other way round.
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM customers WHERE merged_into = $1")
            .bind(customer_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM customers WHERE id = $1")
            .bind(customer_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        for key in keys {
            self.objects.delete(&key).await?;
        }
        Ok(())
    }
}

/// A value's JSON text; for the unit enums (tier, stage) the bare name.
fn json<T: Serialize>(value: &T) -> String {
    let text = serde_json::to_string(value).unwrap_or_default();
    text.trim_matches('"').to_string()
}

/// The analysed conversations of a customer (including those of records merged into it).
async fn visits(conn: &mut AnyConnection, customer_id: &str) -> Result<Vec<Visit>, StoreError> {
    let rows = sqlx::query(
        "SELECT id, recorded_at, salesperson_id, analysis FROM recordings
         WHERE customer_id = $1 AND status = 'done' AND analysis IS NOT NULL
         ORDER BY recorded_at",
    )
    .bind(customer_id)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|row| {
            let analysis: String = row.try_get("analysis")?;
            Ok(Visit {
                recording_id: row.try_get("id")?,
                recorded_at: to_time(row.try_get("recorded_at")?),
                salesperson: row.try_get("salesperson_id")?,
                analysis: serde_json::from_str(&analysis)
                    .map_err(|e| StoreError::Corrupt(format!("analysis JSON: {e}")))?,
            })
        })
        .collect()
}

async fn outcome(
    conn: &mut AnyConnection,
    customer_id: &str,
) -> Result<Option<Outcome>, StoreError> {
    let row = sqlx::query("SELECT outcome, outcome_at FROM customers WHERE id = $1")
        .bind(customer_id)
        .fetch_optional(&mut *conn)
        .await?;
    let Some(row) = row else { return Ok(None) };
    let result = match row.try_get::<Option<String>, _>("outcome")?.as_deref() {
        Some("won") => OutcomeKind::Won,
        Some("lost") => OutcomeKind::Lost,
        _ => return Ok(None),
    };
    Ok(Some(Outcome {
        result,
        recorded_at: to_time(row.try_get::<Option<i64>, _>("outcome_at")?.unwrap_or(0)),
    }))
}

async fn profile_with_visits_on(
    conn: &mut AnyConnection,
    customer_id: &str,
    config: &PipelineConfig,
    now: DateTime<Utc>,
) -> Result<(CustomerProfile, Vec<Visit>), StoreError> {
    let visits = visits(conn, customer_id).await?;
    let outcome = outcome(conn, customer_id).await?;
    let mut profile = build_profile_with_outcome(customer_id, &visits, outcome, now, config);
    let corrections = super::corrections::tag_corrections_on(conn, customer_id).await?;
    crate::profile::corrections::apply(&mut profile, &corrections);
    Ok((profile, visits))
}

/// Rebuilds a customer's profile, stores its summary on their row and returns it, on `conn`: inside the
/// caller's transaction when it is one, so the summary changes with what changed it.
pub async fn refresh_customer_on(
    conn: &mut AnyConnection,
    customer_id: &str,
    config: &PipelineConfig,
    now: DateTime<Utc>,
) -> Result<CustomerProfile, StoreError> {
    let (p, _) = profile_with_visits_on(conn, customer_id, config, now).await?;
    let tags: String = p
        .tags
        .iter()
        .filter(|t| t.counts())
        .map(|t| format!(" {} ", t.id))
        .collect();
    sqlx::query(
        "UPDATE customers SET priority_score = $1, tier = $2, stage = $3, next_action = $4,
             due = $5, tags = $6, forecast_row = $7, last_seen_at = $8, updated_at = $9
         WHERE id = $10",
    )
    .bind(i64::from(p.priority.score))
    .bind(json(&p.priority.tier))
    .bind(json(&p.forecast.stage))
    .bind(&p.priority.next_action)
    .bind(&p.priority.due)
    .bind(tags)
    .bind(json(&OpportunityRow::from_profile(&p)))
    .bind(p.last_contact.map(|t| t.timestamp_millis()))
    .bind(now_ms())
    .bind(customer_id)
    .execute(&mut *conn)
    .await?;
    super::dashboard::store_mentions_on(conn, customer_id, &p).await?;
    Ok(p)
}
