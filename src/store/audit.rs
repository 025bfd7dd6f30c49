//! The audit log: who read or changed which profile or recording, and when.

use super::accounts::Principal;
use super::{new_id, now_ms, Store, StoreError};

impl Store {
    pub async fn audit(
        &self,
        who: &Principal,
        action: &str,
        subject_kind: &str,
        subject_id: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO audit_log (id, at, dealership_id, actor_kind, actor_id, action, subject_kind, subject_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(new_id("aud"))
        .bind(now_ms())
        .bind(who.dealership_id())
        .bind(who.kind())
        .bind(who.id())
        .bind(action)
        .bind(subject_kind)
        .bind(subject_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
