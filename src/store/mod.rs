//! The service's storage: SQL (SQLite by default, PostgreSQL by URL) through sqlx's `Any`
//! driver, and recordings' audio through `object_store`.
//!
//! One code path for both databases: every query is written once with `$N` placeholders (both
//! drivers accept them) and only types `Any` maps identically (text, BIGINT, DOUBLE, NULL), so
//! the schema in `migrations/` is shared too. The one place the dialects differ (claiming a job
//! with `FOR UPDATE SKIP LOCKED`) asks [`Store::backend`]. `Any` was preferred to a generic
//! layer over `sqlx::Database` because the queries stay plain strings that both engines run
//! in the integration tests, instead of trait bounds repeated on every function.

pub mod accounts;
pub mod audit;
pub mod corrections;
pub mod customers;
pub mod dashboard;
pub mod follow_ups;
pub mod objects;
pub mod profiles;
pub mod recordings;
pub mod retention;
pub mod uploads;

use std::path::{Path, PathBuf};
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor as _};

pub use objects::Objects;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("audio store: {0}")]
    Objects(#[from] object_store::Error),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error(
        "unsupported object store `{0}`: use s3://bucket[/prefix] (or none for the data directory)"
    )]
    UnsupportedObjectStore(String),
    #[error("unsupported database URL `{0}`: use postgres://... (or no URL for SQLite in the data directory)")]
    UnsupportedUrl(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// A unique or primary-key constraint refused the write.
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, StoreError::Database(sqlx::Error::Database(e)) if e.is_unique_violation())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Where the service keeps its data: `--data-dir` always (audio unless an object store is
/// given, the SQLite file unless a database URL is given, resumable uploads in progress),
/// `--database-url` and `--object-store` optionally.
#[derive(Debug, Clone)]
pub struct Location {
    pub data_dir: PathBuf,
    pub database_url: Option<String>,
    /// Where audio goes instead of `DATA_DIR/audio`: `s3://bucket[/prefix]`.
    pub object_store: Option<String>,
}

#[derive(Clone)]
pub struct Store {
    pub pool: AnyPool,
    pub objects: Objects,
    /// Resumable uploads' bytes until they are complete (local even when audio is in S3).
    pub staging_dir: PathBuf,
    backend: Backend,
}

impl Store {
    /// Opens (creating if needed) the database and audio store, and brings the schema up to date.
    pub async fn open(location: &Location) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        std::fs::create_dir_all(&location.data_dir)?;
        let (url, backend) = match &location.database_url {
            None => {
                let file = location.data_dir.join("dealerscope.db");
                (sqlite_url(&file), Backend::Sqlite)
            }
            Some(u) if u.starts_with("postgres://") || u.starts_with("postgresql://") => {
                (u.clone(), Backend::Postgres)
            }
            Some(u) if u.starts_with("sqlite:") => (u.clone(), Backend::Sqlite),
            Some(u) => return Err(StoreError::UnsupportedUrl(redact_url(u))),
        };
        let options: AnyConnectOptions = url.parse()?;
        let pool = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite { 8 } else { 16 })
            .acquire_timeout(Duration::from_secs(30))
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL lets readers run beside the one writer; the busy timeout makes a
                        // second writer wait instead of failing; foreign keys enforce cascades.
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        conn.execute("PRAGMA synchronous = NORMAL").await?;
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                        conn.execute("PRAGMA busy_timeout = 10000").await?;
                        // Lists and the dashboard scan thousands of customer rows: with the
                        // default 2 MB page cache each scan re-read the file (10x slower).
                        conn.execute("PRAGMA cache_size = -16384").await?;
                        conn.execute("PRAGMA mmap_size = 268435456").await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        MIGRATOR.run(&pool).await?;
        let objects = match &location.object_store {
            Some(url) => Objects::from_url(url)?,
            None => Objects::local(&location.data_dir.join("audio"))?,
        };
        let staging_dir = location.data_dir.join("uploads");
        std::fs::create_dir_all(&staging_dir)?;
        Ok(Store {
            pool,
            objects,
            staging_dir,
            backend,
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A transaction that will write. On SQLite it takes the write lock up front: a
    /// transaction that reads first and upgrades later can fail with SQLITE_BUSY at once,
    /// which the busy timeout does not cover.
    pub async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, StoreError> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }

    /// True when the database answers (for `/readyz`).
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }
}

fn sqlite_url(file: &Path) -> String {
    format!("sqlite://{}?mode=rwc", file.display())
}

/// A database URL without its password, for error messages.
fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

/// A new id: a short type prefix and a random UUID, e.g. `rec_3f2a...`.
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}

/// Now, in the stored form: milliseconds since the Unix epoch, UTC.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

pub fn to_time(ms: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// A new secret token (256 random bits) with a readable prefix.
pub fn new_token(prefix: &str) -> Result<String, StoreError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(format!("{prefix}_{}", hex::encode(bytes)))
}

/// What is stored for a token: its SHA-256. Tokens are 256 random bits, so a fast hash is
/// enough (unlike passwords, which get argon2).
pub fn token_hash(token: &str) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(token.as_bytes()))
}
pub mod pages;
