//! Recordings' audio (and transcript bodies) in an object store: the local filesystem under
//! the data directory by default, an S3-compatible bucket by configuration (`--object-store`). Uploads stream through in parts and become visible only
//! when complete and verified, so a broken upload leaves nothing behind.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::{Stream, StreamExt as _};
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::prefix::PrefixStore;
use object_store::{ObjectStore, WriteMultipart};
use sha2::Digest as _;

#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error("the body is larger than the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("the upload broke off: {0}")]
    Incomplete(String),
    #[error("X-Content-SHA256 is {expected} but the body's SHA-256 is {actual}")]
    ChecksumMismatch { expected: String, actual: String },
    #[error("the upload is empty")]
    Empty,
    #[error("audio store: {0}")]
    Store(#[from] object_store::Error),
    #[error("audio store: {0}")]
    Io(#[from] std::io::Error),
}

/// What was stored: the body's SHA-256 (hex) and size.
#[derive(Debug, Clone)]
pub struct Stored {
    pub sha256: String,
    pub size: u64,
}

#[derive(Clone)]
pub struct Objects {
    store: Arc<dyn ObjectStore>,
    /// Set for the local filesystem store, whose writes we fsync ourselves.
    local_root: Option<PathBuf>,
}

impl Objects {
    pub fn local(root: &Path) -> Result<Objects, super::StoreError> {
        std::fs::create_dir_all(root)?;
        let root = root.canonicalize()?;
        Ok(Objects {
            store: Arc::new(LocalFileSystem::new_with_prefix(&root)?),
            local_root: Some(root),
        })
    }

    /// An S3-compatible bucket, `s3://bucket[/prefix]`, with credentials, region and endpoint
    /// from the standard `AWS_*` environment variables (`AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`; `AWS_ENDPOINT` and `AWS_ALLOW_HTTP=true` for a
    /// server other than Amazon's).
    pub fn from_url(url: &str) -> Result<Objects, super::StoreError> {
        let unsupported = || super::StoreError::UnsupportedObjectStore(url.to_string());
        let parsed = url::Url::parse(url).map_err(|_| unsupported())?;
        if parsed.scheme() != "s3" {
            return Err(unsupported());
        }
        let bucket = AmazonS3Builder::from_env().with_url(url).build()?;
        let prefix = parsed.path().trim_matches('/');
        let store: Arc<dyn ObjectStore> = if prefix.is_empty() {
            Arc::new(bucket)
        } else {
            Arc::new(PrefixStore::new(bucket, prefix))
        };
        Ok(Objects {
            store,
            local_root: None,
        })
    }

    /// Streams `body` to `key`, hashing as it goes. The object exists only if the whole body
    /// arrived, fits in `limit`, and matches `expected_sha256` when one is given; it is on disk
    /// (fsynced) when this returns.
    pub async fn put_verified<S, E>(
        &self,
        key: &str,
        mut body: S,
        limit: u64,
        expected_sha256: Option<&str>,
    ) -> Result<Stored, UploadError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let path = ObjectPath::from(key);
        let mut upload = WriteMultipart::new(self.store.put_multipart(&path).await?);
        let received = receive(&mut upload, &mut body, limit, expected_sha256).await;
        let stored = match received {
            Ok(stored) => stored,
            Err(e) => {
                // Local staging data goes with the upload either way; an S3 multipart upload
                // must be aborted, or the bucket keeps its parts. (A future dropped midway, a
                // client gone, cannot abort: the bucket's lifecycle rule for incomplete
                // multipart uploads covers that.)
                if let Err(abort) = upload.abort().await {
                    tracing::warn!(key, "cannot abort a refused upload: {abort}");
                }
                return Err(e);
            }
        };
        upload.finish().await?;
        if let Some(root) = &self.local_root {
            let file = root.join(key);
            tokio::task::spawn_blocking(move || sync_file_and_dir(&file))
                .await
                .map_err(|e| std::io::Error::other(e.to_string()))??;
        }
        Ok(stored)
    }

    pub async fn get(&self, key: &str) -> Result<Bytes, object_store::Error> {
        self.store.get(&ObjectPath::from(key)).await?.bytes().await
    }

    /// An object's size in bytes.
    pub async fn size(&self, key: &str) -> Result<u64, object_store::Error> {
        Ok(self.store.head(&ObjectPath::from(key)).await?.size)
    }

    /// Streams an object, or the bytes `range` of it.
    pub async fn stream(
        &self,
        key: &str,
        range: Option<std::ops::Range<u64>>,
    ) -> Result<BoxStream<'static, object_store::Result<Bytes>>, object_store::Error> {
        let options = object_store::GetOptions {
            range: range.map(object_store::GetRange::Bounded),
            ..Default::default()
        };
        Ok(self
            .store
            .get_opts(&ObjectPath::from(key), options)
            .await?
            .into_stream())
    }

    /// Copies an object into a local file (for the decoder, which reads files).
    pub async fn download(&self, key: &str, to: &Path) -> Result<(), UploadError> {
        let mut stream = self.store.get(&ObjectPath::from(key)).await?.into_stream();
        let mut file = tokio::fs::File::create(to).await?;
        while let Some(chunk) = stream.next().await {
            tokio::io::AsyncWriteExt::write_all(&mut file, &chunk?).await?;
        }
        tokio::io::AsyncWriteExt::flush(&mut file).await?;
        Ok(())
    }

    /// Deletes an object; one already gone is not an error.
    pub async fn delete(&self, key: &str) -> Result<(), object_store::Error> {
        match self.store.delete(&ObjectPath::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    pub async fn exists(&self, key: &str) -> Result<bool, object_store::Error> {
        match self.store.head(&ObjectPath::from(key)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

/// Feeds `body` into `upload`, hashing and counting: the body's checksum and size if it is
/// complete, within `limit` and matches `expected_sha256`.
async fn receive<S, E>(
    upload: &mut WriteMultipart,
    body: &mut S,
    limit: u64,
    expected_sha256: Option<&str>,
) -> Result<Stored, UploadError>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let mut hasher = sha2::Sha256::new();
    let mut size = 0u64;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| UploadError::Incomplete(e.to_string()))?;
        size += chunk.len() as u64;
        if size > limit {
            return Err(UploadError::TooLarge { limit });
        }
        hasher.update(&chunk);
        upload.wait_for_capacity(4).await?;
        upload.put(chunk);
    }
    if size == 0 {
        return Err(UploadError::Empty);
    }
    let actual = hex::encode(hasher.finalize());
    if let Some(expected) = expected_sha256 {
        if !expected.eq_ignore_ascii_case(&actual) {
            return Err(UploadError::ChecksumMismatch {
                expected: expected.to_lowercase(),
                actual,
            });
        }
    }
    Ok(Stored {
        sha256: actual,
        size,
    })
}

/// A rename is durable only once the file's data and its directory entry are synced.
fn sync_file_and_dir(file: &Path) -> std::io::Result<()> {
    std::fs::File::open(file)?.sync_all()?;
    if let Some(dir) = file.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}
