//! Reads and small writes the staff pages need beyond the API's: who is signed in, signing
//! out, the recordings list with its filters, and finding or creating a customer to upload for.
//! Scoped exactly like the API: a salesperson sees their own recordings and customers, a
//! manager or admin their dealership.

use sqlx::Row as _;

use super::accounts::Principal;
use super::customers::{self, CustomerHint};
use super::{now_ms, to_time, token_hash, Store, StoreError};

/// One line of the recordings list.
#[derive(Debug, Clone)]
pub struct RecordingLine {
    pub id: String,
    pub status: String,
    pub error: Option<String>,
    pub recorded_at: chrono::DateTime<chrono::Utc>,
    /// From the analysis, once processed.
    pub duration_s: Option<f64>,
    pub salesperson_email: Option<String>,
    pub customer_id: Option<String>,
    pub customer_name: Option<String>,
    pub customer_phone: Option<String>,
}

/// The recordings list's filters; times are milliseconds since the epoch, `to` exclusive.
#[derive(Debug, Clone, Default)]
pub struct RecordingFilter {
    pub status: Option<String>,
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    /// Only recordings before this time (the "older" page).
    pub before_ms: Option<i64>,
    pub limit: i64,
}

/// A customer offered when picking who an upload is for.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CustomerChoice {
    pub id: String,
    pub name: Option<String>,
    pub phone: Option<String>,
}

pub const STATUSES: [&str; 4] = ["queued", "processing", "done", "failed"];

enum Bind {
    Text(String),
    Int(i64),
}

/// The salesperson the caller is limited to, if any (`None`: the whole dealership).
fn limited_to(who: &Principal) -> Option<&str> {
    if who.sees_whole_dealership() {
        None
    } else {
        Some(who.id())
    }
}

impl Store {
    pub async fn user_email(&self, user_id: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT email FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get("email")).transpose()?)
    }

    /// Ends a person's session: the token stops authenticating at once.
    pub async fn revoke_user_token(&self, token: &str) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE api_tokens SET revoked_at = $1 WHERE token_hash = $2 AND revoked_at IS NULL",
        )
        .bind(now_ms())
        .bind(token_hash(token))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The caller's recordings, newest first.
    pub async fn recording_lines(
        &self,
        who: &Principal,
        filter: &RecordingFilter,
    ) -> Result<Vec<RecordingLine>, StoreError> {
        let mut conditions = vec!["r.dealership_id = $1".to_string()];
        let mut binds = vec![Bind::Text(who.dealership_id().to_string())];
        let mut add = |condition: &str, bind: Bind| {
            binds.push(bind);
            conditions.push(condition.replace('?', &format!("${}", binds.len())));
        };
        if let Some(me) = limited_to(who) {
            add(
                "(r.salesperson_id = ? OR c.salesperson_id = ?)",
                Bind::Text(me.to_string()),
            );
        }
        if let Some(status) = &filter.status {
            add("r.status = ?", Bind::Text(status.clone()));
        }
        if let Some(from) = filter.from_ms {
            add("r.recorded_at >= ?", Bind::Int(from));
        }
        if let Some(to) = filter.to_ms {
            add("r.recorded_at < ?", Bind::Int(to));
        }
        if let Some(before) = filter.before_ms {
            add("r.recorded_at < ?", Bind::Int(before));
        }
        // The page's ids first, then its columns: a planner that sorts the filtered rows
        // (PostgreSQL does with a status filter) would otherwise read every row's analysis
        // document before the sort (363 ms with 50,000 recordings, against 2 ms unfiltered).
        let sql = format!(
            "SELECT r.id, r.status, r.error, r.recorded_at, r.customer_id, r.duration_s,
                    -- The document only for recordings analysed before duration_s was kept.
                    CASE WHEN r.duration_s IS NULL THEN r.analysis END AS analysis,
                    u.email AS salesperson_email, c.name AS customer_name, c.phone AS customer_phone
             FROM (SELECT r.id FROM recordings r
                   LEFT JOIN customers c ON c.id = r.customer_id
                   WHERE {}
                   ORDER BY r.recorded_at DESC, r.id DESC
                   LIMIT {}) page
             JOIN recordings r ON r.id = page.id
             LEFT JOIN customers c ON c.id = r.customer_id
             LEFT JOIN users u ON u.id = r.salesperson_id
             ORDER BY r.recorded_at DESC, r.id DESC",
            conditions.join(" AND "),
            filter.limit.clamp(1, 500)
        );
        let mut query = sqlx::query(&sql);
        for bind in binds {
            query = match bind {
                Bind::Text(s) => query.bind(s),
                Bind::Int(n) => query.bind(n),
            };
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter()
            .map(|row| {
                let analysis: Option<String> = row.try_get("analysis")?;
                Ok(RecordingLine {
                    id: row.try_get("id")?,
                    status: row.try_get("status")?,
                    error: row.try_get("error")?,
                    recorded_at: to_time(row.try_get("recorded_at")?),
                    duration_s: row
                        .try_get::<Option<f64>, _>("duration_s")?
                        .or_else(|| analysis.as_deref().and_then(duration_of)),
                    salesperson_email: row.try_get("salesperson_email")?,
                    customer_id: row.try_get("customer_id")?,
                    customer_name: row.try_get("customer_name")?,
                    customer_phone: row.try_get("customer_phone")?,
                })
            })
            .collect()
    }

    /// Customers whose name contains `query`, or whose phone contains its digits.
    pub async fn find_customers(
        &self,
        who: &Principal,
        query: &str,
        limit: i64,
    ) -> Result<Vec<CustomerChoice>, StoreError> {
        let query = query.trim().to_lowercase();
        let digits: String = query.chars().filter(char::is_ascii_digit).collect();
        // LIKE wildcards typed by the user match themselves.
        let escape = |s: &str| {
            s.replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        };
        let name_like = format!("%{}%", escape(&query));
        let mut binds = vec![who.dealership_id().to_string(), name_like];
        let mut matches = "LOWER(name) LIKE $2 ESCAPE '\\'".to_string();
        // Fewer than 3 digits would match nearly every phone.
        if digits.len() >= 3 {
            binds.push(format!("%{digits}%"));
            matches.push_str(&format!(" OR phone LIKE ${}", binds.len()));
        }
        let mut sql = format!(
            "SELECT id, name, phone FROM customers
             WHERE dealership_id = $1 AND merged_into IS NULL AND ({matches})"
        );
        if let Some(me) = limited_to(who) {
            binds.push(me.to_string());
            sql.push_str(&format!(" AND salesperson_id = ${}", binds.len()));
        }
        sql.push_str(&format!(
            " ORDER BY updated_at DESC LIMIT {}",
            limit.clamp(1, 50)
        ));
        let mut q = sqlx::query(&sql);
        for b in binds {
            q = q.bind(b);
        }
        let rows = q.fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                Ok(CustomerChoice {
                    id: r.try_get("id")?,
                    name: r.try_get("name")?,
                    phone: r.try_get("phone")?,
                })
            })
            .collect()
    }

    /// The customer with this phone, or a new one with this name and phone (the same rule as
    /// a push's `X-Customer-*` headers), owned by the caller when they are a salesperson.
    pub async fn find_or_create_customer(
        &self,
        who: &Principal,
        name: Option<&str>,
        phone: Option<&str>,
    ) -> Result<CustomerChoice, StoreError> {
        let hint = CustomerHint {
            name: name.map(str::to_string),
            phone: phone.map(str::to_string),
            id: None,
        };
        if phone.is_some_and(|p| customers::normalise_phone(p).is_none()) {
            return Err(StoreError::Invalid(
                "the phone number needs at least 5 digits".into(),
            ));
        }
        let mut tx = self.begin_write().await?;
        let id =
            customers::resolve(&mut tx, who.dealership_id(), who.salesperson_id(), &hint).await?;
        let row = sqlx::query("SELECT name, phone, salesperson_id FROM customers WHERE id = $1")
            .bind(&id)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        // A phone can lead to another salesperson's customer: the upload goes to that record,
        // but a salesperson is not shown what that record says.
        let owner: Option<String> = row.try_get("salesperson_id")?;
        if limited_to(who).is_some_and(|me| owner.as_deref() != Some(me)) {
            return Ok(CustomerChoice {
                id,
                name: name.map(str::to_string),
                phone: phone.and_then(customers::normalise_phone),
            });
        }
        Ok(CustomerChoice {
            id,
            name: row.try_get("name")?,
            phone: row.try_get("phone")?,
        })
    }
}

impl Store {
    /// The ids of a customer's recordings whose audio can be played (audio still stored).
    pub async fn playable_recordings(
        &self,
        customer_id: &str,
    ) -> Result<std::collections::HashSet<String>, StoreError> {
        let rows = sqlx::query(
            "SELECT id FROM recordings WHERE customer_id = $1 AND object_key IS NOT NULL
                 AND content_type LIKE 'audio/%'",
        )
        .bind(customer_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok(r.try_get("id")?)).collect()
    }

    /// Every user of the dealership: id → email.
    pub async fn user_emails(
        &self,
        dealership_id: &str,
    ) -> Result<std::collections::HashMap<String, String>, StoreError> {
        let rows = sqlx::query("SELECT id, email FROM users WHERE dealership_id = $1")
            .bind(dealership_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("id")?, r.try_get("email")?)))
            .collect()
    }

    /// A customer's name and phone.
    pub async fn customer_contact(&self, customer_id: &str) -> Result<CustomerChoice, StoreError> {
        let r = sqlx::query("SELECT id, name, phone FROM customers WHERE id = $1")
            .bind(customer_id)
            .fetch_one(&self.pool)
            .await?;
        Ok(CustomerChoice {
            id: r.try_get("id")?,
            name: r.try_get("name")?,
            phone: r.try_get("phone")?,
        })
    }
}

/// `duration_s` of a stored analysis document.
fn duration_of(analysis: &str) -> Option<f64> {
    #[derive(serde::Deserialize)]
    struct Head {
        duration_s: Option<f64>,
    }
    serde_json::from_str::<Head>(analysis).ok()?.duration_s
}
