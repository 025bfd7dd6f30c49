//! The audio retention period: processed recordings' audio is deleted once it is older than
//! the configured number of days, and their analysis is kept.

use chrono::{DateTime, Utc};
use sqlx::Row as _;

use super::{now_ms, Store, StoreError};

/// Recordings expired per query; the sweep repeats until none are left.
const BATCH: i64 = 200;

impl Store {
    /// Deletes the audio of every processed (done or failed) recording recorded before `cutoff`
    /// and marks it expired. Returns how many recordings lost their audio.
    pub async fn expire_audio(&self, cutoff: DateTime<Utc>) -> Result<usize, StoreError> {
        let mut expired = 0;
        loop {
            let rows = sqlx::query(
                "SELECT id, object_key FROM recordings
                 WHERE object_key IS NOT NULL AND status IN ('done', 'failed') AND recorded_at < $1
                 ORDER BY recorded_at LIMIT $2",
            )
            .bind(cutoff.timestamp_millis())
            .bind(BATCH)
            .fetch_all(&self.pool)
            .await?;
            for row in &rows {
                let id: String = row.try_get("id")?;
                let key: String = row.try_get("object_key")?;
                // The object goes first: if the update below fails, the next sweep finds the
                // row again and deleting a missing object is not an error. The other order
                // could leave audio nobody points to.
                self.objects.delete(&key).await?;
                sqlx::query(
                    "UPDATE recordings SET object_key = NULL, audio_expired_at = $1
                     WHERE id = $2 AND object_key = $3",
                )
                .bind(now_ms())
                .bind(&id)
                .bind(&key)
                .execute(&self.pool)
                .await?;
                expired += 1;
            }
            if (rows.len() as i64) < BATCH {
                return Ok(expired);
            }
        }
    }
}
