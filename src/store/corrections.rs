//! Managers' tag verdicts (see [`crate::profile::corrections`]): stored per customer and tag.

use sqlx::{AnyConnection, Row as _};

use super::accounts::Principal;
use chrono::{DateTime, Utc};

use super::profiles::refresh_customer_on;
use super::{to_time, Store, StoreError};
use crate::analysis::TagCategory;
use crate::config::PipelineConfig;
use crate::profile::corrections::{TagCorrection, Verdict};
use crate::profile::customer::CustomerProfile;

fn category_name(c: TagCategory) -> &'static str {
    match c {
        TagCategory::Fact => "fact",
        TagCategory::Psychological => "psychological",
        TagCategory::Behavioral => "behavioral",
    }
}

fn parse_category(s: &str) -> Result<TagCategory, StoreError> {
    Ok(match s {
        "fact" => TagCategory::Fact,
        "psychological" => TagCategory::Psychological,
        "behavioral" => TagCategory::Behavioral,
        other => return Err(StoreError::Corrupt(format!("tag category `{other}`"))),
    })
}

impl Store {
    /// Records (or replaces) `by`'s verdict on `tag` of the customer and rebuilds the
    /// customer's cached summary in the same transaction; returns the profile as it now is.
    #[allow(clippy::too_many_arguments)]
    pub async fn set_tag_correction(
        &self,
        customer_id: &str,
        tag: &str,
        verdict: Verdict,
        category: TagCategory,
        rule: &str,
        by: &Principal,
        config: &PipelineConfig,
        now: DateTime<Utc>,
    ) -> Result<CustomerProfile, StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO tag_corrections (customer_id, tag_id, verdict, category, rule, user_id, at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (customer_id, tag_id) DO UPDATE SET verdict = excluded.verdict,
                 user_id = excluded.user_id, at = excluded.at",
        )
        .bind(customer_id)
        .bind(tag)
        .bind(verdict.name())
        .bind(category_name(category))
        .bind(rule)
        .bind(by.id())
        .bind(now.timestamp_millis())
        .execute(&mut *tx)
        .await?;
        let profile = refresh_customer_on(&mut tx, customer_id, config, now).await?;
        tx.commit().await?;
        Ok(profile)
    }

    /// The customer's verdicts, oldest first.
    pub async fn tag_corrections(
        &self,
        customer_id: &str,
    ) -> Result<Vec<TagCorrection>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        tag_corrections_on(&mut conn, customer_id).await
    }
}

/// The customer's verdicts, oldest first, on `conn` (inside the caller's transaction when it is one).
pub(super) async fn tag_corrections_on(
    conn: &mut AnyConnection,
    customer_id: &str,
) -> Result<Vec<TagCorrection>, StoreError> {
    let rows = sqlx::query(
        "SELECT t.tag_id, t.verdict, t.category, t.rule, t.at, u.email
         FROM tag_corrections t LEFT JOIN users u ON u.id = t.user_id
         WHERE t.customer_id = $1 ORDER BY t.at, t.tag_id",
    )
    .bind(customer_id)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            let verdict: String = r.try_get("verdict")?;
            Ok(TagCorrection {
                tag: r.try_get("tag_id")?,
                verdict: Verdict::parse(&verdict)
                    .ok_or_else(|| StoreError::Corrupt(format!("verdict `{verdict}`")))?,
                category: parse_category(&r.try_get::<String, _>("category")?)?,
                rule: r.try_get("rule")?,
                by: r.try_get("email")?,
                at: to_time(r.try_get("at")?),
            })
        })
        .collect()
}
