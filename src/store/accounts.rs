//! Dealerships, people, recorder devices and the bearer tokens they authenticate with.

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use sqlx::Row as _;

use super::{new_id, new_token, now_ms, token_hash, Store, StoreError};

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Salesperson,
    Manager,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Salesperson => "salesperson",
            Role::Manager => "manager",
            Role::Admin => "admin",
        }
    }

    fn parse(s: &str) -> Result<Role, StoreError> {
        match s {
            "salesperson" => Ok(Role::Salesperson),
            "manager" => Ok(Role::Manager),
            "admin" => Ok(Role::Admin),
            other => Err(StoreError::Corrupt(format!("unknown role `{other}`"))),
        }
    }
}

/// Who is calling, as established from a bearer token.
#[derive(Debug, Clone)]
pub enum Principal {
    Device {
        id: String,
        dealership_id: String,
        salesperson_id: Option<String>,
    },
    User {
        id: String,
        dealership_id: String,
        role: Role,
    },
}

impl Principal {
    pub fn dealership_id(&self) -> &str {
        match self {
            Principal::Device { dealership_id, .. } | Principal::User { dealership_id, .. } => {
                dealership_id
            }
        }
    }

    pub fn id(&self) -> &str {
        match self {
            Principal::Device { id, .. } | Principal::User { id, .. } => id,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Principal::Device { .. } => "device",
            Principal::User { .. } => "user",
        }
    }

    /// The salesperson a recording pushed by this caller belongs to.
    pub fn salesperson_id(&self) -> Option<&str> {
        match self {
            Principal::Device { salesperson_id, .. } => salesperson_id.as_deref(),
            Principal::User {
                id,
                role: Role::Salesperson,
                ..
            } => Some(id),
            Principal::User { .. } => None,
        }
    }

    /// Managers and admins see their whole dealership.
    pub fn sees_whole_dealership(&self) -> bool {
        matches!(
            self,
            Principal::User {
                role: Role::Manager | Role::Admin,
                ..
            }
        )
    }
}

impl Store {
    pub async fn create_dealership(&self, name: &str) -> Result<String, StoreError> {
        let name = name.trim();
        if name.is_empty() {
            return Err(StoreError::Invalid("a dealership needs a name".into()));
        }
        let id = new_id("dlr");
        sqlx::query("INSERT INTO dealerships (id, name, created_at) VALUES ($1, $2, $3)")
            .bind(&id)
            .bind(name)
            .bind(now_ms())
            .execute(&self.pool)
            .await?;
        Ok(id)
    }

    async fn require_dealership(&self, id: &str) -> Result<(), StoreError> {
        sqlx::query("SELECT id FROM dealerships WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .map(|_| ())
            .ok_or_else(|| StoreError::NotFound(format!("no dealership `{id}`")))
    }

    pub async fn create_user(
        &self,
        dealership_id: &str,
        email: &str,
        role: Role,
        password: &str,
    ) -> Result<String, StoreError> {
        let email = email.trim().to_lowercase();
        if !email.contains('@') {
            return Err(StoreError::Invalid(format!(
                "`{email}` is not an email address"
            )));
        }
        self.require_dealership(dealership_id).await?;
        let hash = hash_password(password).await?;
        let id = new_id("usr");
        let inserted = sqlx::query(
            "INSERT INTO users (id, dealership_id, email, role, password_hash, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&id)
        .bind(dealership_id)
        .bind(&email)
        .bind(role.as_str())
        .bind(&hash)
        .bind(now_ms())
        .execute(&self.pool)
        .await
        .map_err(StoreError::from);
        match inserted {
            Err(e) if e.is_unique_violation() => Err(StoreError::Invalid(format!(
                "a user with email `{email}` already exists"
            ))),
            other => other.map(|_| id),
        }
    }

    /// Registers a recorder and returns `(device id, token)`; the token is shown only once.
    pub async fn create_device(
        &self,
        dealership_id: &str,
        name: &str,
        salesperson_email: Option<&str>,
    ) -> Result<(String, String), StoreError> {
        self.require_dealership(dealership_id).await?;
        let salesperson_id = match salesperson_email {
            None => None,
            Some(email) => {
                let email = email.trim().to_lowercase();
                let row =
                    sqlx::query("SELECT id FROM users WHERE email = $1 AND dealership_id = $2")
                        .bind(&email)
                        .bind(dealership_id)
                        .fetch_optional(&self.pool)
                        .await?
                        .ok_or_else(|| {
                            StoreError::NotFound(format!(
                                "no user `{email}` in dealership `{dealership_id}`"
                            ))
                        })?;
                Some(row.try_get::<String, _>("id")?)
            }
        };
        let id = new_id("dev");
        let token = new_token("dsd")?;
        sqlx::query(
            "INSERT INTO devices (id, dealership_id, name, salesperson_id, token_hash, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&id)
        .bind(dealership_id)
        .bind(name.trim())
        .bind(salesperson_id)
        .bind(token_hash(&token))
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok((id, token))
    }

    pub async fn revoke_device(&self, device_id: &str) -> Result<(), StoreError> {
        let done =
            sqlx::query("UPDATE devices SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                .bind(now_ms())
                .bind(device_id)
                .execute(&self.pool)
                .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!(
                "no active device `{device_id}`"
            )));
        }
        Ok(())
    }

    /// The dealership of the user with this email, if there is one.
    pub async fn user_dealership(&self, email: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT dealership_id FROM users WHERE email = $1")
            .bind(email.trim().to_lowercase())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get("dealership_id")).transpose()?)
    }

    /// Replaces a user's password; their existing tokens stay valid.
    pub async fn set_password(&self, email: &str, password: &str) -> Result<(), StoreError> {
        let hash = hash_password(password).await?;
        let email = email.trim().to_lowercase();
        let done = sqlx::query("UPDATE users SET password_hash = $1 WHERE email = $2")
            .bind(hash)
            .bind(&email)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("no user `{email}`")));
        }
        Ok(())
    }

    /// Checks a person's password and issues a bearer token for the API. `None`: wrong email or
    /// password (deliberately not saying which).
    pub async fn login(&self, email: &str, password: &str) -> Result<Option<String>, StoreError> {
        let email = email.trim().to_lowercase();
        let row = sqlx::query("SELECT id, password_hash FROM users WHERE email = $1")
            .bind(&email)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let user_id: String = row.try_get("id")?;
        let hash: String = row.try_get("password_hash")?;
        let password = password.to_string();
        let ok = tokio::task::spawn_blocking(move || verify_password(&password, &hash))
            .await
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        if !ok {
            return Ok(None);
        }
        let token = new_token("dsu")?;
        sqlx::query(
            "INSERT INTO api_tokens (id, user_id, token_hash, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(new_id("tok"))
        .bind(&user_id)
        .bind(token_hash(&token))
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(Some(token))
    }

    /// Who a bearer token belongs to; `None` for unknown or revoked tokens.
    pub async fn authenticate(&self, token: &str) -> Result<Option<Principal>, StoreError> {
        let hash = token_hash(token);
        if let Some(row) = sqlx::query(
            "SELECT id, dealership_id, salesperson_id FROM devices
             WHERE token_hash = $1 AND revoked_at IS NULL",
        )
        .bind(&hash)
        .fetch_optional(&self.pool)
        .await?
        {
            return Ok(Some(Principal::Device {
                id: row.try_get("id")?,
                dealership_id: row.try_get("dealership_id")?,
                salesperson_id: row.try_get("salesperson_id")?,
            }));
        }
        let row = sqlx::query(
            "SELECT u.id, u.dealership_id, u.role FROM api_tokens t JOIN users u ON u.id = t.user_id
             WHERE t.token_hash = $1 AND t.revoked_at IS NULL",
        )
        .bind(&hash)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok(Principal::User {
                id: row.try_get("id")?,
                dealership_id: row.try_get("dealership_id")?,
                role: Role::parse(&row.try_get::<String, _>("role")?)?,
            })
        })
        .transpose()
    }
}

/// Checks the password rule and hashes it with argon2 (on a blocking thread: it is slow on
/// purpose).
async fn hash_password(password: &str) -> Result<String, StoreError> {
    if password.chars().count() < 8 {
        return Err(StoreError::Invalid(
            "a password needs at least 8 characters".into(),
        ));
    }
    let password = password.to_string();
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| StoreError::Invalid(format!("cannot hash the password: {e}")))
    })
    .await
    .map_err(|e| StoreError::Invalid(e.to_string()))?
}

fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}
