//! Resumable uploads: what a finished upload will be recorded as, and which source may
//! continue it. The bytes themselves are a staging file (see `crate::web::uploads`).

use std::path::PathBuf;

use sqlx::any::AnyRow;
use sqlx::Row as _;

use super::accounts::Principal;
use super::customers::CustomerHint;
use super::{new_id, now_ms, to_time, Store, StoreError};

/// A push's metadata, given when the upload is created and used when it completes.
#[derive(Debug, Clone)]
pub struct PushMeta {
    pub idempotency_key: Option<String>,
    pub recorded_at: chrono::DateTime<chrono::Utc>,
    pub sha256: Option<String>,
    pub content_type: String,
    pub customer: CustomerHint,
}

#[derive(Debug, Clone)]
pub struct Upload {
    pub id: String,
    pub dealership_id: String,
    pub source_id: String,
    /// The whole body's size, declared when the upload was created.
    pub length: u64,
    pub meta: PushMeta,
    /// The recording it became, once complete.
    pub recording_id: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

const SELECT: &str = "SELECT id, dealership_id, source_id, length, idempotency_key, content_type,
    recorded_at, sha256, customer_phone, customer_name, customer_id, recording_id, created_at
    FROM uploads";

fn from_row(row: &AnyRow) -> Result<Upload, StoreError> {
    Ok(Upload {
        id: row.try_get("id")?,
        dealership_id: row.try_get("dealership_id")?,
        source_id: row.try_get("source_id")?,
        length: u64::try_from(row.try_get::<i64, _>("length")?)
            .map_err(|_| StoreError::Corrupt("a negative upload length".into()))?,
        meta: PushMeta {
            idempotency_key: row.try_get("idempotency_key")?,
            recorded_at: to_time(row.try_get("recorded_at")?),
            sha256: row.try_get("sha256")?,
            content_type: row.try_get("content_type")?,
            customer: CustomerHint {
                phone: row.try_get("customer_phone")?,
                name: row.try_get("customer_name")?,
                id: row.try_get("customer_id")?,
            },
        },
        recording_id: row.try_get("recording_id")?,
        created_at: to_time(row.try_get("created_at")?),
    })
}

impl Store {
    /// Where an upload's bytes are staged.
    pub fn staging_file(&self, upload_id: &str) -> PathBuf {
        self.staging_dir.join(upload_id)
    }

    /// Starts an upload; when this source already has one under the same idempotency key,
    /// that one (so a client that lost the upload's address can find it again).
    pub async fn create_upload(
        &self,
        by: &Principal,
        length: u64,
        meta: &PushMeta,
    ) -> Result<Upload, StoreError> {
        if let Some(key) = &meta.idempotency_key {
            if let Some(existing) = self.upload_by_key(by, key).await? {
                return Ok(existing);
            }
        }
        let id = new_id("upl");
        let inserted = sqlx::query(
            "INSERT INTO uploads (id, dealership_id, source_id, length, idempotency_key,
                content_type, recorded_at, sha256, customer_phone, customer_name, customer_id, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(&id)
        .bind(by.dealership_id())
        .bind(by.id())
        .bind(length as i64)
        .bind(meta.idempotency_key.as_deref())
        .bind(&meta.content_type)
        .bind(meta.recorded_at.timestamp_millis())
        .bind(meta.sha256.as_deref())
        .bind(meta.customer.phone.as_deref())
        .bind(meta.customer.name.as_deref())
        .bind(meta.customer.id.as_deref())
        .bind(now_ms())
        .execute(&self.pool)
        .await
        .map_err(StoreError::from);
        match inserted {
            Ok(_) => {}
            // A concurrent creation with the same key won.
            Err(e) if e.is_unique_violation() => {
                if let Some(key) = &meta.idempotency_key {
                    if let Some(existing) = self.upload_by_key(by, key).await? {
                        return Ok(existing);
                    }
                }
                return Err(e);
            }
            Err(e) => return Err(e),
        }
        self.upload(&id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("upload `{id}` vanished")))
    }

    async fn upload_by_key(&self, by: &Principal, key: &str) -> Result<Option<Upload>, StoreError> {
        let row = sqlx::query(&format!(
            "{SELECT} WHERE dealership_id = $1 AND source_id = $2 AND idempotency_key = $3"
        ))
        .bind(by.dealership_id())
        .bind(by.id())
        .bind(key)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    pub async fn upload(&self, id: &str) -> Result<Option<Upload>, StoreError> {
        let row = sqlx::query(&format!("{SELECT} WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    pub async fn set_upload_recording(
        &self,
        upload_id: &str,
        recording_id: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE uploads SET recording_id = $1 WHERE id = $2")
            .bind(recording_id)
            .bind(upload_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Forgets the unfinished uploads created before `cutoff`, with their staged bytes, and
    /// staged files untouched since then whose upload is gone (deleted through another server,
    /// which cannot reach this one's disk). Returns how many uploads were forgotten.
    pub async fn expire_uploads(
        &self,
        cutoff: chrono::DateTime<chrono::Utc>,
    ) -> Result<usize, StoreError> {
        let expired: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM uploads WHERE recording_id IS NULL AND created_at < $1",
        )
        .bind(cutoff.timestamp_millis())
        .fetch_all(&self.pool)
        .await?;
        for id in &expired {
            self.delete_upload(id).await?;
        }
        let mut staged = tokio::fs::read_dir(&self.staging_dir).await?;
        while let Some(entry) = staged.next_entry().await? {
            let modified = entry.metadata().await?.modified()?;
            let id = entry.file_name().to_string_lossy().into_owned();
            if chrono::DateTime::<chrono::Utc>::from(modified) < cutoff
                && self
                    .upload(&id)
                    .await?
                    .is_none_or(|u| u.recording_id.is_some())
            {
                match tokio::fs::remove_file(entry.path()).await {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
                    _ => {}
                }
            }
        }
        Ok(expired.len())
    }

    /// Forgets an unfinished upload and its staged bytes.
    pub async fn delete_upload(&self, upload_id: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM uploads WHERE id = $1")
            .bind(upload_id)
            .execute(&self.pool)
            .await?;
        match tokio::fs::remove_file(self.staging_file(upload_id)).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }
}
