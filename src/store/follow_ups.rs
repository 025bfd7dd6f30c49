//! The follow-up queue: the open customers whose profile names a next action, highest
//! priority first, and marking the current follow-up done.

use sqlx::Row as _;

use super::accounts::Principal;
use super::dashboard::OPEN_FOLLOW_UP;
use super::{to_time, Store, StoreError};

#[derive(Debug, Clone)]
pub struct FollowUp {
    pub customer_id: String,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub salesperson_email: Option<String>,
    pub priority_score: i64,
    pub tier: Option<String>,
    pub stage: Option<String>,
    pub next_action: Option<String>,
    /// `YYYY-MM-DD`.
    pub due: Option<String>,
    pub last_seen_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl FollowUp {
    /// Due before `today` (`YYYY-MM-DD`; ISO dates compare as text).
    pub fn is_overdue(&self, today: &str) -> bool {
        self.due.as_deref().is_some_and(|d| d < today)
    }
}

impl Store {
    /// The caller's queue (a salesperson's own customers; a manager's whole dealership).
    pub async fn follow_up_queue(
        &self,
        who: &Principal,
        limit: i64,
    ) -> Result<Vec<FollowUp>, StoreError> {
        // The open-follow-up columns are customers' only: unambiguous beside users.
        let mut sql = format!(
            "SELECT c.id, c.name, c.phone, u.email, c.priority_score, c.tier, c.stage,
                 c.next_action, c.due, c.last_seen_at
             FROM customers c LEFT JOIN users u ON u.id = c.salesperson_id
             WHERE c.dealership_id = $1 AND c.merged_into IS NULL AND {OPEN_FOLLOW_UP}"
        );
        let limited = !who.sees_whole_dealership();
        if limited {
            sql.push_str(" AND c.salesperson_id = $2");
        }
        sql.push_str(&format!(
            " ORDER BY c.priority_score DESC, c.due, c.id LIMIT {}",
            limit.clamp(1, 1000)
        ));
        let mut q = sqlx::query(&sql).bind(who.dealership_id());
        if limited {
            q = q.bind(who.id());
        }
        q.fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| {
                Ok(FollowUp {
                    customer_id: r.try_get("id")?,
                    name: r.try_get("name")?,
                    phone: r.try_get("phone")?,
                    salesperson_email: r.try_get("email")?,
                    priority_score: r.try_get("priority_score")?,
                    tier: r.try_get("tier")?,
                    stage: r.try_get("stage")?,
                    next_action: r.try_get("next_action")?,
                    due: r.try_get("due")?,
                    last_seen_at: r.try_get::<Option<i64>, _>("last_seen_at")?.map(to_time),
                })
            })
            .collect()
    }

    /// Marks the customer's current follow-up (their next action and due date) done; they
    /// return to the queue when their profile names another.
    pub async fn mark_follow_up_done(&self, customer_id: &str) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE customers SET follow_up_done = due || ' ' || next_action WHERE id = $1",
        )
        .bind(customer_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
