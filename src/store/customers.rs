//! Customer records: one unified id per person, found by normalised phone or explicit id.

use sqlx::{AnyConnection, Row as _};

use super::{new_id, now_ms, StoreError};

/// What a push says about its customer (the `X-Customer-*` headers).
#[derive(Debug, Clone, Default)]
pub struct CustomerHint {
    pub phone: Option<String>,
    pub name: Option<String>,
    /// Either a unified customer id of this dealership, or the dealership's own id for them.
    pub id: Option<String>,
}

/// A phone number reduced to what identifies it: its digits, with a leading `+` kept.
/// `None` when fewer than 5 digits remain (not a phone number).
pub fn normalise_phone(raw: &str) -> Option<String> {
    let trimmed = raw.trim();
    let digits: String = trimmed.chars().filter(char::is_ascii_digit).collect();
    if digits.len() < 5 {
        return None;
    }
    Some(if trimmed.starts_with('+') {
        format!("+{digits}")
    } else if let Some(rest) = digits.strip_prefix("00") {
        format!("+{rest}")
    } else {
        digits
    })
}

/// Follows `merged_into` to the record that is current.
pub async fn current_id(
    conn: &mut AnyConnection,
    dealership_id: &str,
    id: &str,
) -> Result<Option<String>, StoreError> {
    let mut id = id.to_string();
    // Merges form a chain of bounded length; the bound guards against a cycle in bad data.
    for _ in 0..32 {
        let row =
            sqlx::query("SELECT merged_into FROM customers WHERE id = $1 AND dealership_id = $2")
                .bind(&id)
                .bind(dealership_id)
                .fetch_optional(&mut *conn)
                .await?;
        match row {
            None => return Ok(None),
            Some(row) => match row.try_get::<Option<String>, _>("merged_into")? {
                None => return Ok(Some(id)),
                Some(next) => id = next,
            },
        }
    }
    Err(StoreError::Corrupt(format!(
        "customer `{id}` merges in a cycle"
    )))
}

/// The customer a recording belongs to: the explicit id, else the one with this phone, else a
/// new record. Runs inside the caller's transaction.
pub async fn resolve(
    conn: &mut AnyConnection,
    dealership_id: &str,
    salesperson_id: Option<&str>,
    hint: &CustomerHint,
) -> Result<String, StoreError> {
    let phone = hint.phone.as_deref().and_then(normalise_phone);
    let mut external_id = None;
    if let Some(id) = hint.id.as_deref() {
        if let Some(found) = current_id(conn, dealership_id, id).await? {
            return Ok(found);
        }
        external_id = Some(id);
    }
    for (column, value) in [("external_id", external_id), ("phone", phone.as_deref())] {
        let Some(value) = value else { continue };
        let sql = format!(
            "SELECT id FROM customers WHERE dealership_id = $1 AND {column} = $2 AND merged_into IS NULL"
        );
        if let Some(row) = sqlx::query(&sql)
            .bind(dealership_id)
            .bind(value)
            .fetch_optional(&mut *conn)
            .await?
        {
            return Ok(row.try_get("id")?);
        }
    }
    let id = new_id("cus");
    let now = now_ms();
    sqlx::query(
        "INSERT INTO customers (id, dealership_id, phone, name, external_id, salesperson_id, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
    )
    .bind(&id)
    .bind(dealership_id)
    .bind(phone)
    .bind(hint.name.as_deref().map(str::trim).filter(|n| !n.is_empty()))
    .bind(external_id)
    .bind(salesperson_id)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::normalise_phone;

    #[test]
    fn phones_compare_by_digits() {
        assert_eq!(
            normalise_phone("+86 138-0013-8000").as_deref(),
            Some("+8613800138000")
        );
        assert_eq!(
            normalise_phone("0086 13800138000").as_deref(),
            Some("+8613800138000")
        );
        assert_eq!(
            normalise_phone("(555) 010-4477").as_deref(),
            Some("5550104477")
        );
        assert_eq!(normalise_phone("n/a"), None);
    }
}
