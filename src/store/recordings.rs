//! Recordings: what was pushed, where its body is, and what became of it.

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row as _;

use super::accounts::Principal;
use super::customers::{self, CustomerHint};
use super::{new_id, now_ms, to_time, Store, StoreError};

/// A job may be tried this many times before the recording is marked failed.
pub const MAX_ATTEMPTS: i64 = 5;

/// A verified body, ready to be recorded.
#[derive(Debug, Clone)]
pub struct NewRecording {
    pub id: String,
    pub idempotency_key: Option<String>,
    pub sha256: String,
    pub size: u64,
    pub content_type: String,
    pub object_key: String,
    pub recorded_at: chrono::DateTime<chrono::Utc>,
    pub customer: CustomerHint,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Queued,
    Processing,
    Done,
    Failed,
}

impl Status {
    fn parse(s: &str) -> Result<Status, StoreError> {
        Ok(match s {
            "queued" => Status::Queued,
            "processing" => Status::Processing,
            "done" => Status::Done,
            "failed" => Status::Failed,
            other => return Err(StoreError::Corrupt(format!("recording status `{other}`"))),
        })
    }
}

/// Whether a recording's audio (or transcript body) is still kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AudioState {
    Stored,
    /// Deleted by the retention period; the analysis stays.
    Expired,
}

/// A recording as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Recording {
    pub id: String,
    pub status: Status,
    pub error: Option<String>,
    pub customer_id: Option<String>,
    pub salesperson_id: Option<String>,
    pub device_id: Option<String>,
    pub recorded_at: chrono::DateTime<chrono::Utc>,
    pub received_at: chrono::DateTime<chrono::Utc>,
    pub content_type: String,
    pub size_bytes: i64,
    pub sha256: String,
    pub attempts: i64,
    pub audio: AudioState,
    pub audio_expired_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The same document as `dealerscope analyze --json`, once done.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub analysis: Option<serde_json::Value>,
    #[serde(skip)]
    pub dealership_id: String,
    #[serde(skip)]
    pub object_key: Option<String>,
}

const SELECT: &str =
    "SELECT r.id, r.dealership_id, r.status, r.error, r.customer_id, r.salesperson_id,
    r.device_id, r.recorded_at, r.received_at, r.content_type, r.size_bytes, r.sha256, r.analysis,
    r.object_key, r.audio_expired_at, COALESCE(j.attempts, 0) AS attempts
    FROM recordings r LEFT JOIN jobs j ON j.recording_id = r.id";

fn from_row(row: &AnyRow) -> Result<Recording, StoreError> {
    let analysis: Option<String> = row.try_get("analysis")?;
    let object_key: Option<String> = row.try_get("object_key")?;
    Ok(Recording {
        audio: if object_key.is_some() {
            AudioState::Stored
        } else {
            AudioState::Expired
        },
        audio_expired_at: row
            .try_get::<Option<i64>, _>("audio_expired_at")?
            .map(to_time),
        id: row.try_get("id")?,
        dealership_id: row.try_get("dealership_id")?,
        status: Status::parse(&row.try_get::<String, _>("status")?)?,
        error: row.try_get("error")?,
        customer_id: row.try_get("customer_id")?,
        salesperson_id: row.try_get("salesperson_id")?,
        device_id: row.try_get("device_id")?,
        recorded_at: to_time(row.try_get("recorded_at")?),
        received_at: to_time(row.try_get("received_at")?),
        content_type: row.try_get("content_type")?,
        size_bytes: row.try_get("size_bytes")?,
        sha256: row.try_get("sha256")?,
        attempts: row.try_get("attempts")?,
        analysis: analysis
            .map(|a| serde_json::from_str(&a))
            .transpose()
            .map_err(|e| StoreError::Corrupt(format!("analysis JSON: {e}")))?,
        object_key,
    })
}

/// The outcome of recording a push.
pub enum Inserted {
    New(Recording),
    /// The same idempotency key was pushed before by the same source: that recording.
    Existing(Recording),
}

impl Store {
    pub async fn recording(&self, id: &str) -> Result<Option<Recording>, StoreError> {
        let row = sqlx::query(&format!("{SELECT} WHERE r.id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// The recording this source already pushed under `key`, if any.
    pub async fn recording_by_key(
        &self,
        by: &Principal,
        key: &str,
    ) -> Result<Option<Recording>, StoreError> {
        let row = sqlx::query(&format!(
            "{SELECT} WHERE r.dealership_id = $1 AND r.source_id = $2 AND r.idempotency_key = $3"
        ))
        .bind(by.dealership_id())
        .bind(by.id())
        .bind(key)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Records a stored body, its customer and its processing job in one transaction.
    pub async fn insert_recording(
        &self,
        by: &Principal,
        new: &NewRecording,
    ) -> Result<Inserted, StoreError> {
        // A concurrent push can create the same customer or use the same key first; the unique
        // indexes refuse the loser, which then finds the winner's rows on its second try.
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.try_insert_recording(by, new).await {
                Ok(()) => break,
                Err(e) if e.is_unique_violation() && attempt < 3 => {
                    if let Some(key) = &new.idempotency_key {
                        if let Some(existing) = self.recording_by_key(by, key).await? {
                            return Ok(Inserted::Existing(existing));
                        }
                    }
                }
                Err(e) => return Err(e),
            }
        }
        self.recording(&new.id)
            .await?
            .map(Inserted::New)
            .ok_or_else(|| StoreError::NotFound(format!("recording `{}` vanished", new.id)))
    }

    async fn try_insert_recording(
        &self,
        by: &Principal,
        new: &NewRecording,
    ) -> Result<(), StoreError> {
        let dealership_id = by.dealership_id();
        let salesperson_id = by.salesperson_id();
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        let customer_id =
            customers::resolve(&mut tx, dealership_id, salesperson_id, &new.customer).await?;
        let device_id = match by {
            Principal::Device { id, .. } => Some(id.as_str()),
            Principal::User { .. } => None,
        };
        sqlx::query(
            "INSERT INTO recordings (id, dealership_id, source_id, device_id, salesperson_id, customer_id,
                idempotency_key, sha256, size_bytes, content_type, object_key, recorded_at, received_at, status)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 'queued')",
        )
        .bind(&new.id)
        .bind(dealership_id)
        .bind(by.id())
        .bind(device_id)
        .bind(salesperson_id)
        .bind(&customer_id)
        .bind(new.idempotency_key.as_deref())
        .bind(&new.sha256)
        .bind(new.size as i64)
        .bind(&new.content_type)
        .bind(&new.object_key)
        .bind(new.recorded_at.timestamp_millis())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO jobs (id, recording_id, status, attempts, max_attempts, next_run_at, created_at, updated_at)
             VALUES ($1, $2, 'queued', 0, $3, $4, $4, $4)",
        )
        .bind(new_id("job"))
        .bind(&new.id)
        .bind(MAX_ATTEMPTS)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Whether `who` may see this recording: managers and admins their dealership's, a
    /// salesperson their own recordings and their customers', a device what it pushed.
    pub async fn may_see_recording(
        &self,
        who: &Principal,
        rec: &Recording,
    ) -> Result<bool, StoreError> {
        if rec.dealership_id != who.dealership_id() {
            return Ok(false);
        }
        if who.sees_whole_dealership() {
            return Ok(true);
        }
        match who {
            Principal::Device { id, .. } => Ok(rec.device_id.as_deref() == Some(id)),
            Principal::User { id, .. } => {
                if rec.salesperson_id.as_deref() == Some(id) {
                    return Ok(true);
                }
                let Some(customer) = &rec.customer_id else {
                    return Ok(false);
                };
                let row = sqlx::query("SELECT salesperson_id FROM customers WHERE id = $1")
                    .bind(customer)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(match row {
                    Some(row) => {
                        row.try_get::<Option<String>, _>("salesperson_id")?
                            .as_deref()
                            == Some(id)
                    }
                    None => false,
                })
            }
        }
    }
}
