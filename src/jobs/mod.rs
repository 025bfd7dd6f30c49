//! Durable processing jobs: one per recording, claimed by workers under a lease.
//!
//! A worker claims a job atomically (PostgreSQL: `FOR UPDATE SKIP LOCKED`, so concurrent
//! workers skip each other's rows; SQLite: one `UPDATE ... RETURNING`, serialised by its single
//! writer), gets a fresh lease token, and extends the lease while it works. A job whose lease
//! expired (its worker died) can be claimed again. Every later write (result, retry, failure)
//! is fenced on the token: once another worker has re-claimed the job, the first one's writes
//! change nothing, so a recording is never processed into two results.

pub mod worker;

use std::time::Duration;

use sqlx::Row as _;

use crate::config::PipelineConfig;
use crate::store::profiles::refresh_customer_on;
use crate::store::{new_id, now_ms, Backend, Store, StoreError};

/// A claimed job.
#[derive(Debug, Clone)]
pub struct Lease {
    pub job_id: String,
    pub recording_id: String,
    pub token: String,
    /// This claim's attempt number (1 for the first).
    pub attempt: i64,
    pub max_attempts: i64,
}

/// The delay before retry `attempt` + 1: exponential from 2 s, at most 5 minutes.
pub fn backoff(attempt: i64) -> Duration {
    let exp = attempt.clamp(1, 10) as u32;
    Duration::from_secs((1u64 << exp).min(300))
}

impl Store {
    /// Claims the next due job (queued and due, or running with an expired lease) for `owner`.
    pub async fn claim_job(
        &self,
        owner: &str,
        lease: Duration,
    ) -> Result<Option<Lease>, StoreError> {
        let now = now_ms();
        let lock = match self.backend() {
            Backend::Postgres => "FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let sql = format!(
            "UPDATE jobs SET status = 'running', lease_owner = $1, lease_token = $2,
                 lease_expires_at = $3, attempts = attempts + 1, updated_at = $4
             WHERE id = (
                 SELECT id FROM jobs
                 WHERE (status = 'queued' AND next_run_at <= $4)
                    OR (status = 'running' AND lease_expires_at < $4)
                 ORDER BY next_run_at, created_at
                 LIMIT 1 {lock})
             RETURNING id, recording_id, attempts, max_attempts"
        );
        let token = new_id("lease");
        // The job and its recording change together: nobody sees a claimed job whose
        // recording still says queued.
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(&sql)
            .bind(owner)
            .bind(&token)
            .bind(now + lease.as_millis() as i64)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let lease = Lease {
            job_id: row.try_get("id")?,
            recording_id: row.try_get("recording_id")?,
            token,
            attempt: row.try_get("attempts")?,
            max_attempts: row.try_get("max_attempts")?,
        };
        sqlx::query(
            "UPDATE recordings SET status = 'processing' WHERE id = $1 AND status = 'queued'",
        )
        .bind(&lease.recording_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(lease))
    }

    /// Extends the lease; `false` when it is no longer ours (another worker re-claimed it).
    pub async fn heartbeat(&self, lease: &Lease, extend: Duration) -> Result<bool, StoreError> {
        let now = now_ms();
        let done = sqlx::query(
            "UPDATE jobs SET lease_expires_at = $1, updated_at = $2
             WHERE id = $3 AND lease_token = $4 AND status = 'running'",
        )
        .bind(now + extend.as_millis() as i64)
        .bind(now)
        .bind(&lease.job_id)
        .bind(&lease.token)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Commits the analysis if the lease is still ours; `false` (and nothing written) if not.
    /// The customer's cached summary (priority, tags, stage, forecast) is rebuilt in the same
    /// transaction, so lists and the follow-up queue never lag behind a committed result.
    pub async fn complete_job(
        &self,
        lease: &Lease,
        analysis_json: &str,
        config: &PipelineConfig,
    ) -> Result<bool, StoreError> {
        let now = now_ms();
        let metrics = crate::store::dashboard::RecordingMetrics::of(analysis_json);
        let mut tx = self.begin_write().await?;
        let fenced = sqlx::query(
            "UPDATE jobs SET status = 'done', lease_expires_at = NULL, last_error = NULL,
                 finished_at = $1, updated_at = $1
             WHERE id = $2 AND lease_token = $3 AND status = 'running'",
        )
        .bind(now)
        .bind(&lease.job_id)
        .bind(&lease.token)
        .execute(&mut *tx)
        .await?;
        if fenced.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        sqlx::query(
            "UPDATE recordings SET status = 'done', error = NULL, analysis = $1, analysed_at = $2,
                 duration_s = $3, customer_talk_share = $4 WHERE id = $5",
        )
        .bind(analysis_json)
        .bind(now)
        .bind(metrics.duration_s)
        .bind(metrics.customer_talk_share)
        .bind(&lease.recording_id)
        .execute(&mut *tx)
        .await?;
        let customer: Option<String> =
            sqlx::query("SELECT customer_id FROM recordings WHERE id = $1")
                .bind(&lease.recording_id)
                .fetch_one(&mut *tx)
                .await?
                .try_get("customer_id")?;
        if let Some(customer) = customer {
            refresh_customer_on(&mut tx, &customer, config, chrono::Utc::now()).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Records a failed attempt: retried after a backoff while attempts remain and the error
    /// may pass (`retry`), otherwise the job and its recording are failed with `error`.
    /// Fenced like [`Store::complete_job`].
    pub async fn fail_job(
        &self,
        lease: &Lease,
        error: &str,
        retry: bool,
    ) -> Result<bool, StoreError> {
        let now = now_ms();
        let give_up = !retry || lease.attempt >= lease.max_attempts;
        let mut tx = self.begin_write().await?;
        let fenced = sqlx::query(
            "UPDATE jobs SET status = $1, lease_expires_at = NULL, last_error = $2, next_run_at = $3,
                 finished_at = $4, updated_at = $5
             WHERE id = $6 AND lease_token = $7 AND status = 'running'",
        )
        .bind(if give_up { "failed" } else { "queued" })
        .bind(error)
        .bind(now + backoff(lease.attempt).as_millis() as i64)
        .bind(give_up.then_some(now))
        .bind(now)
        .bind(&lease.job_id)
        .bind(&lease.token)
        .execute(&mut *tx)
        .await?;
        if fenced.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        sqlx::query("UPDATE recordings SET status = $1, error = $2 WHERE id = $3")
            .bind(if give_up { "failed" } else { "queued" })
            .bind(error)
            .bind(&lease.recording_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// How many jobs are in each status (for `/metrics`), every status listed.
    pub async fn job_counts(&self) -> Result<Vec<(&'static str, i64)>, StoreError> {
        let rows = sqlx::query("SELECT status, COUNT(*) AS n FROM jobs GROUP BY status")
            .fetch_all(&self.pool)
            .await?;
        let mut counts: Vec<(&'static str, i64)> = ["queued", "running", "done", "failed"]
            .into_iter()
            .map(|status| (status, 0))
            .collect();
        for row in rows {
            let status: String = row.try_get("status")?;
            let n: i64 = row.try_get("n")?;
            match counts.iter_mut().find(|(s, _)| *s == status) {
                Some(slot) => slot.1 = n,
                None => return Err(StoreError::Corrupt(format!("job status `{status}`"))),
            }
        }
        Ok(counts)
    }
}
